//! Another customer's token → 404 on every buyer route that takes an id (in the path, the
//! query or the body), exactly like a missing id, and nothing is written for them.

use axum::http::Method;
use serde_json::{json, Value};

use savedwallet_app::ids::CustomerId;

use super::harness::*;

#[tokio::test]
async fn another_customers_ids_are_404_everywhere() {
    let app = TestApp::spawn().await;
    app.plan("gold", "9.99", "USD").await;
    let wallet = app.wallet("alice", "always-approve").await;
    let w = wallet.as_str();
    let sub = app
        .buyer("alice", Method::POST, "/v1/subscriptions")
        .key("s-1")
        .json(json!({"walletId": w, "planId": "gold"}))
        .send()
        .await;
    sub.expect(201);
    let sid = sub.json["subscription"]["subscriptionId"]
        .as_str()
        .expect("id")
        .to_string();
    let order = app.order("alice", "10.00", true).await;
    let unpaid = app.order("alice", "11.00", true).await;
    let paid = app
        .buyer("alice", Method::POST, &format!("/v1/orders/{order}/pay"))
        .json(json!({"walletId": w}))
        .send()
        .await;
    paid.expect(201);
    let pid = paid.json["paymentId"].as_str().expect("id").to_string();
    // A setup session alice started and consented to (its id leaked to bob).
    let setup = app
        .buyer("alice", Method::POST, "/v1/wallets/setup")
        .json(json!({"returnUrl": format!("{SHOP}/done")}))
        .send()
        .await;
    let session = consent(
        setup.json["redirectUrl"].as_str().expect("url"),
        "always-approve",
    )
    .await;

    // Bob's own wallet and order, for the routes where the foreign id is in the body.
    let bobs_wallet = app.wallet("bob", "always-approve").await;
    let bobs_order = app.order("bob", "12.00", true).await;
    let bw = bobs_wallet.as_str();

    let cases: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/v1/wallets/{w}"), None),
        (Method::DELETE, format!("/v1/wallets/{w}"), None),
        (
            Method::GET,
            format!("/v1/wallets/button?walletId={w}"),
            None,
        ),
        (Method::GET, format!("/v1/subscriptions/{sid}"), None),
        (
            Method::PATCH,
            format!("/v1/subscriptions/{sid}"),
            Some(json!({"walletId": bw})),
        ),
        (Method::DELETE, format!("/v1/subscriptions/{sid}"), None),
        (Method::GET, format!("/v1/orders/{order}"), None),
        (
            Method::POST,
            format!("/v1/orders/{unpaid}/pay"),
            Some(json!({"walletId": bw})),
        ),
        (Method::GET, format!("/v1/payments/{pid}"), None),
        (
            Method::POST,
            format!("/v1/payments/{pid}/retry"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/v1/payments/{pid}/complete"),
            Some(json!({"amazonCheckoutSessionId": session})),
        ),
        // Foreign ids in bodies.
        (
            Method::POST,
            "/v1/wallets".into(),
            Some(json!({"amazonCheckoutSessionId": session})),
        ),
        (
            Method::POST,
            "/v1/subscriptions".into(),
            Some(json!({"walletId": w, "planId": "gold"})),
        ),
        (
            Method::POST,
            format!("/v1/orders/{bobs_order}/pay"),
            Some(json!({"walletId": w})),
        ),
    ];
    for (method, path, body) in cases {
        let mut call = app.buyer("bob", method.clone(), &path).key("bob-key");
        if let Some(b) = body {
            call = call.json(b);
        }
        let r = call.send().await;
        assert_eq!(r.status, 404, "{method} {path}: {}", r.json);
        r.expect_error(404, "not_found");
    }
    // Indistinguishable from a missing id.
    let foreign = app
        .buyer("bob", Method::GET, &format!("/v1/wallets/{w}"))
        .send()
        .await;
    let missing = app
        .buyer("bob", Method::GET, "/v1/wallets/S01-0000000-0000000")
        .send()
        .await;
    assert_eq!(
        foreign.json["error"]["message"],
        missing.json["error"]["message"]
    );

    // Nothing of bob's changed: his order is unpaid, he has no subscription, one wallet.
    let bob = CustomerId::parse("bob").expect("id");
    let subs = app
        .service
        .list_subscriptions(&bob, 10, None)
        .await
        .expect("subs");
    assert!(subs.items.is_empty());
    let pays = app
        .service
        .list_payments(&bob, 10, None)
        .await
        .expect("pays");
    assert!(pays.items.is_empty());
    let wallets = app
        .service
        .list_wallets(&bob, 10, None)
        .await
        .expect("wallets");
    assert_eq!(wallets.items.len(), 1);
    // Alice's things are untouched too.
    let w = app
        .buyer("alice", Method::GET, &format!("/v1/wallets/{w}"))
        .send()
        .await;
    assert_eq!(w.json["state"], "Chargeable");
    let s = app
        .buyer("alice", Method::GET, &format!("/v1/subscriptions/{sid}"))
        .send()
        .await;
    assert_eq!(s.json["status"], "active");
    assert_eq!(s.json["walletId"], wallet.as_str());
    let done = app
        .buyer("alice", Method::POST, "/v1/wallets")
        .json(json!({"amazonCheckoutSessionId": session}))
        .send()
        .await;
    done.expect(201);
}

#[tokio::test]
async fn malformed_path_ids_are_404_like_missing_ones() {
    let app = TestApp::spawn().await;
    for path in [
        "/v1/wallets/not%20an%20id",
        "/v1/wallets/a%23b",
        "/v1/subscriptions/..%2F..%2Fetc",
        "/v1/orders/%00",
        "/v1/payments/x%2Fy",
        "/admin/v1/refunds/%E2%82%AC",
    ] {
        let who = if path.starts_with("/admin") {
            Who::Admin
        } else {
            Who::Buyer("alice".into())
        };
        let r = app.call(Method::GET, path, who).send().await;
        r.expect_error(404, "not_found");
    }
    let long = format!("/v1/payments/{}", "p".repeat(65));
    app.buyer("alice", Method::GET, &long)
        .send()
        .await
        .expect_error(404, "not_found");
}
