//! `POST /ipn` with a verifier double: refusals are 400/403/503 with their code and write
//! nothing; a notification is processed (200), its repeat is a duplicate (200), a
//! confirmation is confirmed through the verifier, and what cannot be handled now is 5xx.

use axum::http::Method;
use serde_json::{json, Value};

use savedwallet_shared::api::ChargePermissionState;

use super::harness::*;

fn ipn(object_type: &str, object_id: &str, notification_id: &str) -> Value {
    json!({"ipn": {"MerchantID": MERCHANT_ID, "ObjectType": object_type, "ObjectId": object_id,
        "NotificationType": "STATE_CHANGE", "NotificationId": notification_id,
        "NotificationVersion": "V2"}, "messageId": format!("m-{notification_id}")})
}

async fn post(app: &TestApp, body: impl Into<Vec<u8>>) -> Reply {
    app.call(Method::POST, "/ipn", Who::Anonymous)
        .raw("text/plain; charset=UTF-8", body)
        .send()
        .await
}

#[tokio::test]
async fn refusals_answer_their_class_and_code_and_write_nothing() {
    let app = TestApp::spawn().await;
    let before = app.counts();
    post(&app, "not json").await.expect_error(400, "malformed");
    post(
        &app,
        json!({"refuse": "bad_signature", "class": "forbidden"}).to_string(),
    )
    .await
    .expect_error(403, "bad_signature");
    post(
        &app,
        json!({"refuse": "topic_not_allowed", "class": "forbidden"}).to_string(),
    )
    .await
    .expect_error(403, "topic_not_allowed");
    let later = post(
        &app,
        json!({"refuse": "cert_fetch_failed", "class": "unavailable"}).to_string(),
    )
    .await;
    later.expect_error(503, "cert_fetch_failed");
    assert!(later.header("retry-after").is_some());
    post(&app, vec![b' '; 600 * 1024])
        .await
        .expect_error(413, "payload_too_large");
    assert_eq!(writes(&app.counts().since(&before)), 0);
}

#[tokio::test]
async fn a_notification_is_applied_once_and_its_repeat_is_a_duplicate() {
    let app = TestApp::spawn().await;
    let wallet = app.wallet("lena", "always-approve").await;
    app.sandbox
        .set_permission_state(
            wallet.as_str(),
            ChargePermissionState::NonChargeable,
            Some(savedwallet_shared::api::ReasonCode::ChargeInProgress),
        )
        .expect("the sandbox moves the permission");
    let body = ipn("CHARGE_PERMISSION", wallet.as_str(), "n-1").to_string();
    let first = post(&app, body.clone()).await;
    first.expect(200);
    assert_eq!(first.json["outcome"], "applied");
    let w = app
        .buyer(
            "lena",
            Method::GET,
            &format!("/v1/wallets/{}", wallet.as_str()),
        )
        .send()
        .await;
    assert_eq!(w.json["state"], "NonChargeable", "{}", w.json);
    let again = post(&app, body).await;
    again.expect(200);
    assert_eq!(again.json["outcome"], "duplicate");

    let foreign = json!({"ipn": {"MerchantID": "ANOTHER", "ObjectType": "CHARGE_PERMISSION",
        "ObjectId": wallet.as_str(), "NotificationType": "STATE_CHANGE", "NotificationId": "n-2"}});
    let ignored = post(&app, foreign.to_string()).await;
    ignored.expect(200);
    assert_eq!(ignored.json["outcome"], "another merchant");
}

#[tokio::test]
async fn what_cannot_be_handled_now_is_5xx_so_sns_retries() {
    let app = TestApp::spawn().await;
    let r = post(
        &app,
        ipn("CHARGE", "S01-0000000-0000000-C000000", "n-9").to_string(),
    )
    .await;
    assert!(r.status >= 500, "{}", r.json);
    assert!(
        ["internal", "upstream_unavailable"].contains(&r.code()),
        "{}",
        r.json
    );
    // Released: the redelivery is processed again, not taken for a duplicate.
    let again = post(
        &app,
        ipn("CHARGE", "S01-0000000-0000000-C000000", "n-9").to_string(),
    )
    .await;
    assert_eq!(again.status, r.status, "{}", again.json);
}

#[tokio::test]
async fn confirmations_are_confirmed_through_the_verifier() {
    let app = TestApp::spawn().await;
    let topic = "arn:aws:sns:eu-west-1:291180941288:A2TESTMERCHANT";
    let r = post(&app, json!({"confirm": topic}).to_string()).await;
    r.expect(200);
    assert_eq!(r.json["outcome"], "subscription_confirmed");
    assert_eq!(*app.ipn.confirmed.lock(), vec![topic.to_string()]);
    let u = post(&app, json!({"unsubscribe": true}).to_string()).await;
    u.expect(200);
    assert_eq!(app.ipn.confirmed.lock().len(), 1);
}
