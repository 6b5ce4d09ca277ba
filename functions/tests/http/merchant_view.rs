//! The merchant view's lists across customers: recent payments with attempts and Amazon's
//! reason codes, subscriptions by status, wallets waiting for a payment-method update.

use axum::http::Method;
use serde_json::json;

use super::harness::*;

#[tokio::test]
async fn the_merchant_sees_every_customers_payments_subscriptions_and_wallets_to_update() {
    let app = TestApp::spawn().await;
    app.plan("gold", "9.99", "USD").await;
    let good = app.wallet("ann", "always-approve").await;
    let bad = app.wallet("ben", "hard-decline-until-updated").await;
    let sub = app
        .buyer("ann", Method::POST, "/v1/subscriptions")
        .key("sub-ann")
        .json(json!({"walletId": good.as_str(), "planId": "gold"}))
        .send()
        .await;
    sub.expect(201);
    let sid = sub.json["subscription"]["subscriptionId"].clone();
    // A minute later (the test clock is frozen), so "newest first" has an order to show.
    app.sandbox
        .advance_clock(std::time::Duration::from_secs(60));
    let declined = app
        .admin(Method::POST, "/admin/v1/payments")
        .key("mitu-ben")
        .json(json!({"walletId": bad.as_str(),
            "amount": {"amount": "5.00", "currencyCode": "USD"}, "reason": "Late fee"}))
        .send()
        .await;
    declined.expect(201);
    assert_eq!(declined.json["status"], "declined", "{}", declined.json);

    // Every customer's payments, newest first, with their attempts.
    let recent = app.admin(Method::GET, "/admin/v1/payments").send().await;
    recent.expect(200);
    let payments = recent.json["payments"].as_array().expect("payments");
    assert_eq!(payments.len(), 2, "{}", recent.json);
    assert_eq!(payments[0]["customerId"], "ben");
    assert_eq!(payments[0]["attempts"][0]["reasonCode"], "HardDeclined");
    assert_eq!(payments[1]["customerId"], "ann");
    assert_eq!(payments[1]["status"], "succeeded");
    let page = app
        .admin(Method::GET, "/admin/v1/payments?limit=1")
        .send()
        .await;
    page.expect(200);
    let cursor = page.json["nextCursor"]
        .as_str()
        .expect("a cursor")
        .to_string();
    let next = app
        .admin(
            Method::GET,
            &format!("/admin/v1/payments?limit=1&cursor={cursor}"),
        )
        .send()
        .await;
    next.expect(200);
    assert_eq!(next.json["payments"][0]["customerId"], "ann");

    // Subscriptions by status; an unknown status is a 400 naming the parameter.
    let active = app
        .admin(Method::GET, "/admin/v1/subscriptions?status=active")
        .send()
        .await;
    active.expect(200);
    assert_eq!(active.json["subscriptions"][0]["subscriptionId"], sid);
    assert_eq!(active.json["subscriptions"][0]["customerId"], "ann");
    let canceled = app
        .admin(Method::GET, "/admin/v1/subscriptions?status=canceled")
        .send()
        .await;
    canceled.expect(200);
    assert_eq!(canceled.json["subscriptions"], json!([]));
    let bad_status = app
        .admin(Method::GET, "/admin/v1/subscriptions?status=paused")
        .send()
        .await;
    bad_status.expect_error(400, "invalid_request");
    assert_eq!(bad_status.param(), Some("status"));
    app.admin(Method::GET, "/admin/v1/subscriptions")
        .send()
        .await
        .expect_error(400, "invalid_request");

    // The hard-declined wallet waits for its buyer; the good one is not listed.
    let to_update = app
        .admin(Method::GET, "/admin/v1/wallets/update-required")
        .send()
        .await;
    to_update.expect(200);
    let wallets = to_update.json["wallets"].as_array().expect("wallets");
    assert_eq!(wallets.len(), 1, "{}", to_update.json);
    assert_eq!(wallets[0]["walletId"], bad.as_str());
    assert_eq!(wallets[0]["customerId"], "ben");
    assert_eq!(wallets[0]["updateRequired"], true);

    // Merchant routes: a buyer's token opens none of them.
    for path in [
        "/admin/v1/payments",
        "/admin/v1/subscriptions?status=active",
        "/admin/v1/wallets/update-required",
    ] {
        let r = app.buyer("ann", Method::GET, path).send().await;
        r.expect_error(401, "unauthenticated");
    }
}
