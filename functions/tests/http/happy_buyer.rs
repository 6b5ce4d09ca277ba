//! Buyer routes: each route's happy path, its status and its JSON shape.

use axum::http::Method;
use serde_json::{json, Value};

use super::harness::*;

/// RFC 3339 UTC with whole seconds.
#[track_caller]
fn assert_time(v: &Value) {
    let s = v.as_str().unwrap_or_else(|| panic!("time: {v}"));
    assert!(s.ends_with('Z') && s.len() == 20, "{s}");
    assert!(chrono::DateTime::parse_from_rfc3339(s).is_ok(), "{s}");
}

#[track_caller]
fn assert_money(v: &Value, amount: &str, currency: &str) {
    assert_eq!(v, &json!({"amount": amount, "currencyCode": currency}));
}

#[tokio::test]
async fn wallet_setup_list_get_button_and_close() {
    let app = TestApp::spawn().await;
    let r = app
        .buyer("alice", Method::POST, "/v1/wallets/setup")
        .json(json!({"returnUrl": format!("{SHOP}/setup-done")}))
        .send()
        .await;
    r.expect(201);
    let sid = r.json["checkoutSessionId"]
        .as_str()
        .expect("id")
        .to_string();
    let redirect = r.json["redirectUrl"]
        .as_str()
        .expect("redirect")
        .to_string();
    assert!(redirect.starts_with(app.sandbox.base_url()), "{redirect}");
    assert_eq!(consent(&redirect, "always-approve").await, sid);

    let done = app
        .buyer("alice", Method::POST, "/v1/wallets")
        .json(json!({"amazonCheckoutSessionId": sid}))
        .send()
        .await;
    done.expect(201);
    let w = &done.json;
    let wid = w["walletId"].as_str().expect("walletId").to_string();
    assert_eq!(w["state"], "Chargeable");
    assert_eq!(w["reasons"], json!([]));
    assert_eq!(w["paymentDescriptor"], "Visa ****1111");
    assert_eq!(w["updateRequired"], false);
    assert!(w["paymentMethodUpdateUrl"]
        .as_str()
        .expect("url")
        .ends_with(&format!("/jr/your-account/ba/{wid}")));
    let month = w["monthlyUsage"]["month"].as_str().expect("month");
    assert_eq!(month.len(), 7, "{month}");
    assert_money(&w["monthlyUsage"]["used"], "0.00", "USD");
    assert_eq!(w["monthlyUsage"]["limit"]["currencyCode"], "USD");
    assert_time(&w["createdAt"]);

    // Completing the same session again answers the same wallet with 200.
    let again = app
        .buyer("alice", Method::POST, "/v1/wallets")
        .json(json!({"amazonCheckoutSessionId": sid}))
        .send()
        .await;
    again.expect(200);
    assert_eq!(again.json["walletId"], wid.as_str());

    let list = app.buyer("alice", Method::GET, "/v1/wallets").send().await;
    list.expect(200);
    assert_eq!(list.json["wallets"].as_array().map(Vec::len), Some(1));
    assert_eq!(list.json["nextCursor"], Value::Null);

    let one = app
        .buyer("alice", Method::GET, &format!("/v1/wallets/{wid}"))
        .send()
        .await;
    one.expect(200);
    assert_eq!(one.json, done.json);

    for path in [
        "/v1/wallets/button".to_string(),
        format!("/v1/wallets/button?walletId={wid}&returnUrl={SHOP}/update-done"),
    ] {
        let b = app.buyer("alice", Method::GET, &path).send().await;
        b.expect(200);
        for f in [
            "payloadJSON",
            "signature",
            "publicKeyId",
            "merchantId",
            "ledgerCurrency",
            "checkoutLanguage",
            "productType",
            "placement",
        ] {
            assert!(b.json[f].is_string(), "{f}: {}", b.json);
        }
        assert_eq!(b.json["sandbox"], true);
        assert_eq!(b.json["publicKeyId"], KEY_ID);
    }

    let closed = app
        .buyer("alice", Method::DELETE, &format!("/v1/wallets/{wid}"))
        .send()
        .await;
    closed.expect(200);
    assert_eq!(closed.json["state"], "Closed");
    let again = app
        .buyer("alice", Method::DELETE, &format!("/v1/wallets/{wid}"))
        .send()
        .await;
    again.expect(200);
    assert_eq!(again.json["state"], "Closed");
}

#[tokio::test]
async fn plans_and_subscriptions() {
    let app = TestApp::spawn().await;
    app.plan("gold", "9.99", "USD").await;
    app.plan("silver", "4.99", "USD").await;
    let plans = app
        .buyer("bob", Method::GET, "/v1/plans?limit=1")
        .send()
        .await;
    plans.expect(200);
    assert_eq!(plans.json["plans"][0]["planId"], "gold");
    assert_money(&plans.json["plans"][0]["price"], "9.99", "USD");
    assert_eq!(plans.json["plans"][0]["interval"], "month");
    assert_eq!(plans.json["plans"][0]["intervalCount"], 1);
    let cursor = plans.json["nextCursor"]
        .as_str()
        .expect("cursor")
        .to_string();
    let rest = app
        .buyer(
            "bob",
            Method::GET,
            &format!("/v1/plans?limit=1&cursor={cursor}"),
        )
        .send()
        .await;
    rest.expect(200);
    assert_eq!(rest.json["plans"][0]["planId"], "silver");
    assert_eq!(rest.json["nextCursor"], Value::Null);

    let w1 = app.wallet("bob", "always-approve").await;
    let w2 = app.wallet("bob", "always-approve").await;
    let created = app
        .buyer("bob", Method::POST, "/v1/subscriptions")
        .key("sub-1")
        .json(json!({"walletId": w1.as_str(), "planId": "gold"}))
        .send()
        .await;
    created.expect(201);
    let sub = &created.json["subscription"];
    let pay = &created.json["payment"];
    let sid = sub["subscriptionId"].as_str().expect("id").to_string();
    assert_eq!(pay["status"], "succeeded", "{pay}");
    assert_money(&pay["amount"], "9.99", "USD");
    assert_eq!(pay["purpose"]["type"], "subscription_period");
    assert_eq!(sub["status"], "active", "{sub}");
    assert_eq!(sub["walletId"], w1.as_str());
    assert_eq!(sub["planId"], "gold");
    // The first period is paid and in force; the second begins at nextBillingAt.
    assert_eq!(sub["currentPeriod"]["number"], 1, "{sub}");
    assert_eq!(
        sub["currentPeriod"]["endsAt"], sub["nextBillingAt"],
        "{sub}"
    );
    assert_eq!(sub["currentPeriod"]["startsAt"], pay["createdAt"], "{sub}");
    assert_time(&sub["nextBillingAt"]);
    assert_eq!(sub["canceledAt"], Value::Null);

    let list = app
        .buyer("bob", Method::GET, "/v1/subscriptions")
        .send()
        .await;
    list.expect(200);
    assert_eq!(
        list.json["subscriptions"][0]["subscriptionId"],
        sid.as_str()
    );
    let one = app
        .buyer("bob", Method::GET, &format!("/v1/subscriptions/{sid}"))
        .send()
        .await;
    one.expect(200);
    assert_eq!(one.json["latestPayment"]["status"], "succeeded");

    let moved = app
        .buyer("bob", Method::PATCH, &format!("/v1/subscriptions/{sid}"))
        .json(json!({"walletId": w2.as_str()}))
        .send()
        .await;
    moved.expect(200);
    assert_eq!(moved.json["walletId"], w2.as_str());

    let canceled = app
        .buyer("bob", Method::DELETE, &format!("/v1/subscriptions/{sid}"))
        .send()
        .await;
    canceled.expect(200);
    assert_eq!(canceled.json["status"], "canceled");
    assert_time(&canceled.json["canceledAt"]);
    assert_eq!(canceled.json["cancelReason"], "buyer");
    assert_eq!(canceled.json["nextBillingAt"], Value::Null);
}

#[tokio::test]
async fn orders_and_payments() {
    let app = TestApp::spawn().await;
    let wallet = app.wallet("carol", "always-approve").await;
    let order = app.order("carol", "14.00", true).await;
    let o = app
        .buyer("carol", Method::GET, &format!("/v1/orders/{order}"))
        .send()
        .await;
    o.expect(200);
    assert_money(&o.json["amount"], "14.00", "USD");
    assert_eq!(o.json["description"], "A book");
    assert_eq!(o.json["payment"], Value::Null);

    let paid = app
        .buyer("carol", Method::POST, &format!("/v1/orders/{order}/pay"))
        .json(json!({"walletId": wallet.as_str()}))
        .send()
        .await;
    paid.expect(201);
    let p = &paid.json;
    let pid = p["paymentId"].as_str().expect("paymentId").to_string();
    assert_eq!(p["status"], "succeeded", "{p}");
    assert!(
        p["chargeId"]
            .as_str()
            .is_some_and(|c| c.starts_with("S01-")),
        "{p}"
    );
    for f in [
        "declineCode",
        "redirectUrl",
        "expiresAt",
        "nextAttemptAt",
        "buyerAction",
        "message",
    ] {
        assert_eq!(p[f], Value::Null, "{f}: {p}");
    }
    assert_eq!(p["purpose"], json!({"type": "order", "orderId": order}));
    assert_money(&p["captured"], "14.00", "USD");

    let again = app
        .buyer("carol", Method::POST, &format!("/v1/orders/{order}/pay"))
        .json(json!({"walletId": wallet.as_str()}))
        .send()
        .await;
    again.expect_error(409, "order_has_payment");
    assert_eq!(again.json["error"]["paymentId"], pid.as_str());

    let o = app
        .buyer("carol", Method::GET, &format!("/v1/orders/{order}"))
        .send()
        .await;
    assert_eq!(o.json["payment"]["paymentId"], pid.as_str());

    let list = app.buyer("carol", Method::GET, "/v1/payments").send().await;
    list.expect(200);
    let first = &list.json["payments"][0];
    assert_eq!(first["paymentId"], pid.as_str());
    assert_eq!(first["attempts"].as_array().map(Vec::len), Some(1));
    let attempt = first["attempts"][0].as_object().expect("attempt");
    assert_eq!(
        attempt.keys().collect::<Vec<_>>(),
        ["createdAt", "status"],
        "buyers see attempts as {{status, createdAt}}"
    );
    assert_eq!(attempt["status"], "succeeded");

    let one = app
        .buyer("carol", Method::GET, &format!("/v1/payments/{pid}"))
        .send()
        .await;
    one.expect(200);
    assert_eq!(one.json, *first);
}

#[tokio::test]
async fn a_declined_payment_is_retried_on_another_wallet() {
    let app = TestApp::spawn().await;
    let hard = app.wallet("dave", "hard-decline-until-updated").await;
    let good = app.wallet("dave", "always-approve").await;
    let order = app.order("dave", "20.00", true).await;
    let paid = app
        .buyer("dave", Method::POST, &format!("/v1/orders/{order}/pay"))
        .json(json!({"walletId": hard.as_str()}))
        .send()
        .await;
    paid.expect(201);
    let p = &paid.json;
    assert_eq!(p["status"], "declined", "{p}");
    assert_eq!(p["declineCode"], "HardDeclined");
    assert_eq!(p["buyerAction"]["kind"], "update_payment_method");
    assert!(p["buyerAction"]["url"]
        .as_str()
        .is_some_and(|u| u.starts_with(app.sandbox.base_url())));
    assert!(p["message"].is_string(), "{p}");
    let pid = p["paymentId"].as_str().expect("id");

    let retried = app
        .buyer("dave", Method::POST, &format!("/v1/payments/{pid}/retry"))
        .json(json!({"walletId": good.as_str()}))
        .send()
        .await;
    retried.expect(201);
    assert_eq!(retried.json["status"], "succeeded", "{}", retried.json);
    assert_eq!(retried.json["walletId"], good.as_str());
    assert_eq!(retried.json["attemptCount"], 2);

    // Succeeded: no new attempt.
    let again = app
        .buyer("dave", Method::POST, &format!("/v1/payments/{pid}/retry"))
        .send()
        .await;
    again.expect_error(409, "payment_in_progress");
}
