//! `Idempotency-Key`: replayed (same answer, one charge at Amazon), reused with another body
//! (409), raced in parallel (one runs; the other is told it is in progress or gets the
//! replay), scoped per caller, and released when the answer is not worth replaying.

use axum::http::Method;
use serde_json::json;

use super::harness::*;

fn mitu(wallet: &str, amount: &str) -> serde_json::Value {
    json!({"walletId": wallet, "amount": {"amount": amount, "currencyCode": "USD"}, "reason": "Fee"})
}

#[tokio::test]
async fn a_replayed_key_answers_the_first_answer_and_charges_once() {
    let app = TestApp::spawn().await;
    let wallet = app.wallet("ivy", "always-approve").await;
    let charges = app.sandbox_charges();
    let first = app
        .admin(Method::POST, "/admin/v1/payments")
        .key("fee-1")
        .json(mitu(wallet.as_str(), "3.00"))
        .send()
        .await;
    first.expect(201);
    assert_eq!(first.header("idempotent-replayed"), None);
    // The same body with other key order and whitespace is the same body.
    let body = format!(
        r#"{{ "reason": "Fee", "amount": {{"currencyCode": "USD", "amount": "3.00"}}, "walletId": "{}" }}"#,
        wallet.as_str()
    );
    let again = app
        .admin(Method::POST, "/admin/v1/payments")
        .key("fee-1")
        .raw("application/json", body)
        .send()
        .await;
    again.expect(201);
    assert_eq!(again.json, first.json);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(app.sandbox_charges(), charges + 1, "one charge at Amazon");

    let reused = app
        .admin(Method::POST, "/admin/v1/payments")
        .key("fee-1")
        .json(mitu(wallet.as_str(), "4.00"))
        .send()
        .await;
    reused.expect_error(409, "idempotency_key_reused");
    assert_eq!(reused.param(), Some("Idempotency-Key"));
    assert_eq!(app.sandbox_charges(), charges + 1);

    // Another key is another charge.
    let other = app
        .admin(Method::POST, "/admin/v1/payments")
        .key("fee-2")
        .json(mitu(wallet.as_str(), "3.00"))
        .send()
        .await;
    other.expect(201);
    assert_ne!(other.json["paymentId"], first.json["paymentId"]);
    assert_eq!(app.sandbox_charges(), charges + 2);
}

#[tokio::test]
async fn keys_are_scoped_to_the_caller_and_subscriptions_replay() {
    let app = TestApp::spawn().await;
    app.plan("gold", "9.99", "USD").await;
    let wa = app.wallet("alice", "always-approve").await;
    let wb = app.wallet("bob", "always-approve").await;
    let subscribe = |who: &'static str, w: String| {
        let app = &app;
        async move {
            app.buyer(who, Method::POST, "/v1/subscriptions")
                .key("same-key")
                .json(json!({"walletId": w, "planId": "gold"}))
                .send()
                .await
        }
    };
    let a1 = subscribe("alice", wa.as_str().into()).await;
    a1.expect(201);
    let b1 = subscribe("bob", wb.as_str().into()).await;
    b1.expect(201);
    assert_ne!(
        a1.json["subscription"]["subscriptionId"],
        b1.json["subscription"]["subscriptionId"]
    );
    let charges = app.sandbox_charges();
    let a2 = subscribe("alice", wa.as_str().into()).await;
    a2.expect(201);
    assert_eq!(a2.json, a1.json);
    assert_eq!(app.sandbox_charges(), charges);
}

#[tokio::test]
async fn racing_requests_with_one_key_run_once() {
    let app = TestApp::spawn().await;
    let wallet = app.wallet("jack", "always-approve").await;
    for round in 0..5 {
        let charges = app.sandbox_charges();
        let key = format!("race-{round}");
        let send = || {
            app.admin(Method::POST, "/admin/v1/payments")
                .key(&key)
                .json(mitu(wallet.as_str(), "2.00"))
                .send()
        };
        let (x, y) = tokio::join!(send(), send());
        let mut originals = 0;
        for r in [&x, &y] {
            match (r.status, r.header("idempotent-replayed")) {
                (201, None) => originals += 1,
                (201, Some("true")) => {}
                (409, _) => {
                    r.expect_error(409, "idempotency_key_in_progress");
                    assert!(r.header("retry-after").is_some());
                }
                other => panic!("round {round}: unexpected {other:?}: {}", r.json),
            }
        }
        assert_eq!(originals, 1, "round {round}: {} / {}", x.json, y.json);
        assert_eq!(app.sandbox_charges(), charges + 1, "round {round}");
    }
}

#[tokio::test]
async fn refusals_are_replayed_and_transient_answers_released() {
    let app = TestApp::spawn().await;
    let wallet = app.wallet("kate", "always-approve").await;
    // A 404 is a refusal worth replaying.
    let missing = app
        .admin(Method::POST, "/admin/v1/payments")
        .key("k-404")
        .json(mitu("S01-0000000-0000000", "1.00"))
        .send()
        .await;
    missing.expect_error(404, "not_found");
    let replay = app
        .admin(Method::POST, "/admin/v1/payments")
        .key("k-404")
        .json(mitu("S01-0000000-0000000", "1.00"))
        .send()
        .await;
    replay.expect_error(404, "not_found");
    assert_eq!(missing.header("idempotent-replayed"), None);
    assert_eq!(
        replay.header("idempotent-replayed"),
        Some("true"),
        "a saved refusal is replayed like a saved success"
    );
    assert_eq!(
        replay.json["error"]["message"],
        missing.json["error"]["message"]
    );
    assert_ne!(
        replay.json["error"]["requestId"], missing.json["error"]["requestId"],
        "the replay carries its own request id"
    );

    // 409 payment_in_progress is not saved: the record is released, so the same key with
    // another body runs again instead of answering idempotency_key_reused.
    let order = app.order("kate", "8.00", true).await;
    let paid = app
        .buyer("kate", Method::POST, &format!("/v1/orders/{order}/pay"))
        .json(json!({"walletId": wallet.as_str()}))
        .send()
        .await;
    let pid = paid.json["paymentId"].as_str().expect("id");
    let retry = |body: serde_json::Value| {
        app.buyer("kate", Method::POST, &format!("/v1/payments/{pid}/retry"))
            .key("k-retry")
            .json(body)
            .send()
    };
    retry(json!({}))
        .await
        .expect_error(409, "payment_in_progress");
    retry(json!({"walletId": wallet.as_str()}))
        .await
        .expect_error(409, "payment_in_progress");
}
