//! Ownership over real HTTP: another customer's token gets 404 — exactly like a missing
//! id — on every buyer route that takes an id (in the path, the query or the body; the
//! route list is walked so a new route cannot be forgotten), and nothing of either
//! customer changes, at the service or at Amazon.

use reqwest::Method;
use savedwallet_functions::http::{local_route_table, RateLimit};
use savedwallet_tests::{matches_template, returned_session, Preset, System, Who, FRONTEND};
use serde_json::{json, Value};

async fn subscribe(sys: &System, token: &str, wallet: &str, key: &str) -> String {
    let r = sys
        .call(
            Method::POST,
            "/v1/subscriptions",
            &Who::Buyer(token.to_string()),
            Some(json!({ "walletId": wallet, "planId": "demo-monthly",
                "checkoutResultReturnUrl": format!("{FRONTEND}/s") })),
            Some(key),
        )
        .await;
    r.ok(201)["subscription"]["subscriptionId"]
        .as_str()
        .expect("id")
        .to_string()
}

/// What the owners can see of their things, and what Amazon did.
async fn state(sys: &System, alice: &str, bob: &str) -> Value {
    let mut out = serde_json::Map::new();
    for (name, token) in [("alice", alice), ("bob", bob)] {
        for list in ["/v1/wallets", "/v1/subscriptions", "/v1/payments"] {
            let r = sys.buyer_call(token, Method::GET, list, None).await;
            out.insert(format!("{name} {list}"), r.ok(200).clone());
        }
    }
    let calls = sys.ledger().await["apiCalls"].clone();
    for op in [
        "CreateCharge",
        "CloseChargePermission",
        "CompleteCheckoutSession",
        "CreateCheckoutSession",
    ] {
        out.insert(op.to_string(), calls[op].clone());
    }
    Value::Object(out)
}

#[tokio::test]
async fn another_customers_ids_are_404_on_every_buyer_route() {
    let sys = System::start_with(|o| {
        o.buyer_rate_limit = RateLimit {
            burst: 1000,
            per_second: 1000.0,
        }
    })
    .await;
    let alice = sys.token("cust_alice").await;
    let bob = sys.token("cust_bob").await;

    // Alice's things: a wallet with a subscription, a paid and an unpaid order, a declined
    // payment (retryable), and a setup session she consented to (its id leaks to bob).
    let w = sys.wallet_id(&alice, Preset::AlwaysApprove).await;
    let soft = sys.wallet_id(&alice, Preset::SoftDecline).await;
    let sid = subscribe(&sys, &alice, &w, "alice-sub").await;
    let order = sys.order("cust_alice", "10.00", true).await;
    let unpaid = sys.order("cust_alice", "11.00", true).await;
    let paid = sys.pay(&alice, &order, &w).await;
    let pid = paid.ok(201)["paymentId"].as_str().expect("id").to_string();
    let declined_order = sys.order("cust_alice", "12.00", true).await;
    let declined = sys.pay(&alice, &declined_order, &soft).await;
    assert_eq!(declined.ok(201)["status"], "declined");
    let declined_pid = declined.body["paymentId"].as_str().expect("id").to_string();
    let setup = sys
        .buyer_call(
            &alice,
            Method::POST,
            "/v1/wallets/setup",
            Some(json!({ "returnUrl": format!("{FRONTEND}/w") })),
        )
        .await;
    let back = sys
        .buyer
        .consent(
            setup.ok(201)["redirectUrl"].as_str().expect("url"),
            Preset::AlwaysApprove,
        )
        .await
        .expect("consent");
    let session = returned_session(&back).expect("session");

    // Bob's own things, for the routes where the foreign id is in the body.
    let bw = sys.wallet_id(&bob, Preset::AlwaysApprove).await;
    let bsoft = sys.wallet_id(&bob, Preset::SoftDecline).await;
    let bsid = subscribe(&sys, &bob, &bw, "bob-sub").await;
    let border = sys.order("cust_bob", "12.00", true).await;
    let bdeclined_order = sys.order("cust_bob", "13.00", true).await;
    let bdeclined = sys.pay(&bob, &bdeclined_order, &bsoft).await;
    assert_eq!(bdeclined.ok(201)["status"], "declined");
    let bpid = bdeclined.body["paymentId"]
        .as_str()
        .expect("id")
        .to_string();
    sys.jobs().await;

    let ret = format!("{FRONTEND}/r");
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
            Some(json!({ "walletId": bw })),
        ),
        (Method::DELETE, format!("/v1/subscriptions/{sid}"), None),
        (Method::GET, format!("/v1/orders/{order}"), None),
        (
            Method::POST,
            format!("/v1/orders/{unpaid}/pay"),
            Some(json!({ "walletId": bw, "checkoutResultReturnUrl": ret })),
        ),
        (Method::GET, format!("/v1/payments/{pid}"), None),
        (
            Method::POST,
            format!("/v1/payments/{declined_pid}/retry"),
            Some(json!({ "checkoutResultReturnUrl": ret })),
        ),
        (
            Method::POST,
            format!("/v1/payments/{pid}/complete"),
            Some(json!({ "amazonCheckoutSessionId": session })),
        ),
        // Alice's ids inside bodies of bob's own requests.
        (
            Method::POST,
            "/v1/wallets".into(),
            Some(json!({ "amazonCheckoutSessionId": session })),
        ),
        (
            Method::PATCH,
            format!("/v1/subscriptions/{bsid}"),
            Some(json!({ "walletId": w })),
        ),
        (
            Method::POST,
            format!("/v1/orders/{border}/pay"),
            Some(json!({ "walletId": w, "checkoutResultReturnUrl": ret })),
        ),
        (
            Method::POST,
            format!("/v1/payments/{bpid}/retry"),
            Some(json!({ "walletId": w, "checkoutResultReturnUrl": ret })),
        ),
    ];

    // Every buyer route that names something by id is walked.
    for route in local_route_table() {
        if route.path.starts_with("/v1/") && route.path.contains('{') {
            assert!(
                cases
                    .iter()
                    .any(|(m, p, _)| *m == route.method && matches_template(route.path, p)),
                "no ownership case for {} {}",
                route.method,
                route.path
            );
        }
    }

    let before = state(&sys, &alice, &bob).await;
    let writes = sys.store_writes();
    for (method, path, body) in &cases {
        let r = sys
            .buyer_call(&bob, method.clone(), path, body.clone())
            .await;
        assert_eq!(r.status.as_u16(), 404, "{method} {path}: {:#}", r.body);
        r.error(404, "not_found");
    }
    assert_eq!(sys.store_writes(), writes, "nothing written");
    // An Idempotency-Key does not change that (the 404 is the key's saved answer).
    let keyed = sys
        .call(
            Method::POST,
            "/v1/subscriptions",
            &Who::Buyer(bob.clone()),
            Some(json!({ "walletId": w, "planId": "demo-monthly" })),
            Some("bob-steals"),
        )
        .await;
    keyed.error(404, "not_found");
    assert_eq!(state(&sys, &alice, &bob).await, before, "nothing changed");

    // Indistinguishable from a missing id.
    let foreign = sys
        .buyer_call(&bob, Method::GET, &format!("/v1/wallets/{w}"), None)
        .await;
    let missing = sys
        .buyer_call(&bob, Method::GET, "/v1/wallets/S01-0000000-0000000", None)
        .await;
    missing.error(404, "not_found");
    assert_eq!(
        foreign.body["error"]["message"],
        missing.body["error"]["message"]
    );
    // Alice still has everything, and can use it.
    assert_eq!(sys.get_wallet(&alice, &w).await["state"], "Chargeable");
    let sub = sys
        .buyer_call(
            &alice,
            Method::GET,
            &format!("/v1/subscriptions/{sid}"),
            None,
        )
        .await;
    assert_eq!(sub.ok(200)["status"], "active");
    assert_eq!(sub.body["walletId"], w.as_str());
    let saved = sys
        .buyer_call(
            &alice,
            Method::POST,
            "/v1/wallets",
            Some(json!({ "amazonCheckoutSessionId": session })),
        )
        .await;
    assert_eq!(saved.ok(201)["state"], "Chargeable");
    assert_eq!(
        sys.pay(&alice, &unpaid, &w).await.ok(201)["status"],
        "succeeded"
    );
}
