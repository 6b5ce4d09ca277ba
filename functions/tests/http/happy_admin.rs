//! Merchant routes: each route's happy path, its status and its JSON shape.

use axum::http::Method;
use serde_json::{json, Value};

use super::harness::*;

#[tokio::test]
async fn plans_orders_charges_and_reads() {
    let app = TestApp::spawn().await;
    let plan = app
        .admin(Method::PUT, "/admin/v1/plans/gold")
        .json(
            json!({"name": "Gold", "price": {"amount": "9.99", "currencyCode": "USD"},
            "interval": "month", "intervalCount": 1, "active": true}),
        )
        .send()
        .await;
    plan.expect(200);
    assert_eq!(plan.json["planId"], "gold");
    assert_eq!(plan.json["active"], true);

    let wallet = app.wallet("erin", "always-approve").await;
    let order = app
        .admin(Method::POST, "/admin/v1/orders")
        .key("o-1")
        .json(
            json!({"customerId": "erin", "amount": {"amount": "30.00", "currencyCode": "USD"},
            "description": "Shoes", "softDescriptor": "ACME SHOES"}),
        )
        .send()
        .await;
    order.expect(201);
    assert_eq!(order.json["customerId"], "erin");
    assert_eq!(order.json["captureNow"], true);
    assert_eq!(order.json["softDescriptor"], "ACME SHOES");
    let oid = order.json["orderId"].as_str().expect("orderId").to_string();
    let read = app
        .admin(Method::GET, &format!("/admin/v1/orders/{oid}"))
        .send()
        .await;
    read.expect(200);
    assert_eq!(read.json, order.json);

    let charge = app
        .admin(Method::POST, "/admin/v1/payments")
        .key("mitu-1")
        .json(json!({"walletId": wallet.as_str(),
            "amount": {"amount": "5.00", "currencyCode": "USD"}, "reason": "Late fee"}))
        .send()
        .await;
    charge.expect(201);
    assert_eq!(charge.json["status"], "succeeded", "{}", charge.json);
    assert_eq!(charge.json["purpose"]["type"], "unscheduled");
    let pid = charge.json["paymentId"].as_str().expect("id").to_string();

    let whole = app
        .admin(Method::GET, &format!("/admin/v1/payments/{pid}"))
        .send()
        .await;
    whole.expect(200);
    assert_eq!(whole.json["customerId"], "erin");
    assert_eq!(whole.json["reason"], "Late fee");
    let a = &whole.json["attempts"][0];
    assert_eq!(a["attempt"], 1);
    assert_eq!(a["state"], "Captured");
    assert!(a["idempotencyKey"].as_str().is_some_and(|k| !k.is_empty()));
    assert_eq!(a["chargeId"], charge.json["chargeId"]);
    assert_eq!(a["httpStatus"], 201);

    let customer = |what: &str| format!("/admin/v1/customers/erin/{what}");
    let payments = app.admin(Method::GET, &customer("payments")).send().await;
    payments.expect(200);
    assert_eq!(payments.json["payments"][0]["paymentId"], pid.as_str());
    assert!(payments.json["payments"][0]["attempts"][0]["idempotencyKey"].is_string());
    let wallets = app.admin(Method::GET, &customer("wallets")).send().await;
    wallets.expect(200);
    assert_eq!(wallets.json["wallets"][0]["walletId"], wallet.as_str());
    let subs = app
        .admin(Method::GET, &customer("subscriptions"))
        .send()
        .await;
    subs.expect(200);
    assert_eq!(subs.json["subscriptions"], json!([]));
    assert_eq!(subs.json["nextCursor"], Value::Null);
}

#[tokio::test]
async fn capture_cancel_and_refund() {
    let app = TestApp::spawn().await;
    let wallet = app.wallet("frank", "always-approve").await;
    let pay = |order: String| {
        let w = wallet.as_str().to_string();
        let app = &app;
        async move {
            let r = app
                .buyer("frank", Method::POST, &format!("/v1/orders/{order}/pay"))
                .json(json!({"walletId": w}))
                .send()
                .await;
            r.expect(201);
            r.json
        }
    };
    let authorized = pay(app.order("frank", "40.00", false).await).await;
    assert_eq!(authorized["status"], "authorized", "{authorized}");
    let pid = authorized["paymentId"].as_str().expect("id");
    let captured = app
        .admin(Method::POST, &format!("/admin/v1/payments/{pid}/capture"))
        .json(json!({"amount": {"amount": "40.00", "currencyCode": "USD"}}))
        .send()
        .await;
    captured.expect(200);
    assert_eq!(captured.json["status"], "succeeded", "{}", captured.json);

    let refund = app
        .admin(Method::POST, &format!("/admin/v1/payments/{pid}/refunds"))
        .key("r-1")
        .json(json!({"amount": {"amount": "15.00", "currencyCode": "USD"}, "reason": "Damaged"}))
        .send()
        .await;
    refund.expect(201);
    let state = refund.json["state"].as_str().expect("state");
    assert!(["pending", "succeeded"].contains(&state), "{}", refund.json);
    assert_eq!(refund.json["paymentId"], pid);
    let rid = refund.json["refundId"].as_str().expect("refundId");
    let read = app
        .admin(Method::GET, &format!("/admin/v1/refunds/{rid}"))
        .send()
        .await;
    read.expect(200);
    assert_eq!(read.json["refundId"], rid);
    let too_much = app
        .admin(Method::POST, &format!("/admin/v1/payments/{pid}/refunds"))
        .key("r-2")
        .json(json!({"amount": {"amount": "30.00", "currencyCode": "USD"}}))
        .send()
        .await;
    too_much.expect_error(422, "refund_exceeds_captured");

    let other = pay(app.order("frank", "12.00", false).await).await;
    assert_eq!(other["status"], "authorized");
    let oid = other["paymentId"].as_str().expect("id");
    let canceled = app
        .admin(Method::POST, &format!("/admin/v1/payments/{oid}/cancel"))
        .send()
        .await;
    canceled.expect(200);
    assert_eq!(canceled.json["status"], "canceled", "{}", canceled.json);
    let repeat = app
        .admin(Method::POST, &format!("/admin/v1/payments/{oid}/cancel"))
        .send()
        .await;
    repeat.expect(200);
    assert_eq!(repeat.json["status"], "canceled");
}

#[tokio::test]
async fn subscriptions_events_and_billing() {
    let app = TestApp::spawn().await;
    app.plan("gold", "9.99", "USD").await;
    let wallet = app.wallet("gina", "always-approve").await;
    let created = app
        .buyer("gina", Method::POST, "/v1/subscriptions")
        .key("s-1")
        .json(json!({"walletId": wallet.as_str(), "planId": "gold"}))
        .send()
        .await;
    created.expect(201);
    let sid = created.json["subscription"]["subscriptionId"]
        .as_str()
        .expect("id");

    let run = app
        .admin(Method::POST, "/admin/v1/billing/run")
        .send()
        .await;
    run.expect(200);
    assert_eq!(run.json, json!({"claimed": 0, "enqueued": 0}));

    let canceled = app
        .admin(Method::DELETE, &format!("/admin/v1/subscriptions/{sid}"))
        .send()
        .await;
    canceled.expect(200);
    assert_eq!(canceled.json["status"], "canceled");
    assert_eq!(canceled.json["cancelReason"], "merchant");

    let events = app
        .admin(Method::GET, "/admin/v1/events?limit=100")
        .send()
        .await;
    events.expect(200);
    let kinds: Vec<&str> = events.json["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    for k in [
        "wallet.created",
        "subscription.created",
        "payment.succeeded",
        "subscription.canceled",
    ] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    let first = &events.json["events"][0];
    assert!(
        first["eventId"].is_string() && first["data"].is_object(),
        "{first}"
    );
}
