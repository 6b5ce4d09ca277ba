//! The MFA return (`POST /v1/payments/{id}/complete`) for an EU merchant.

use axum::http::Method;
use serde_json::json;

use savedwallet_shared::region::Region;

use super::harness::*;

#[tokio::test]
async fn an_mfa_payment_is_completed_once() {
    let app = TestApp::with(Opts {
        region: Region::Eu,
        ..Opts::default()
    })
    .await;
    let wallet = app.wallet("hans", "mfa-required").await;
    let order = app.order("hans", "25.00", true).await;

    let missing = app
        .buyer("hans", Method::POST, &format!("/v1/orders/{order}/pay"))
        .json(json!({"walletId": wallet.as_str()}))
        .send()
        .await;
    missing.expect_error(400, "invalid_request");
    assert_eq!(missing.param(), Some("checkoutResultReturnUrl"));

    let paid = app
        .buyer("hans", Method::POST, &format!("/v1/orders/{order}/pay"))
        .json(json!({"walletId": wallet.as_str(),
            "checkoutResultReturnUrl": format!("{SHOP}/mfa-done")}))
        .send()
        .await;
    paid.expect(201);
    let p = &paid.json;
    assert_eq!(p["status"], "action_required", "{p}");
    let redirect = p["redirectUrl"].as_str().expect("redirectUrl");
    assert!(redirect.starts_with(app.sandbox.base_url()), "{redirect}");
    assert!(p["expiresAt"].is_string(), "{p}");
    let pid = p["paymentId"].as_str().expect("id");

    let location = submit_page(redirect, &[("outcome", "approved")]).await;
    assert!(location.contains(&format!("paymentId={pid}")), "{location}");
    let sid = session_from(&location);
    for _ in 0..2 {
        let done = app
            .buyer(
                "hans",
                Method::POST,
                &format!("/v1/payments/{pid}/complete"),
            )
            .json(json!({"amazonCheckoutSessionId": sid}))
            .send()
            .await;
        done.expect(200);
        assert_eq!(done.json["status"], "succeeded", "{}", done.json);
        assert_eq!(done.json["redirectUrl"], serde_json::Value::Null);
    }
    let completes = app.sandbox.ledger()["checkoutSessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .filter(|s| s["checkoutSessionId"] == sid.as_str())
        .filter(|s| s["statusDetails"]["state"] == "Completed")
        .count();
    assert_eq!(completes, 1);
}
