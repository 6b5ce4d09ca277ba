//! Answers from Amazon lost on the way back (the sandbox's drop-response fault: the
//! request is applied, then the connection is torn down mid-response): the service resends
//! the same idempotency key and the same body — Amazon replays its first answer, and would
//! refuse another body under that key — so exactly one charge (or refund) exists in the
//! sandbox's ledger. The payment ends `succeeded` at once or, when every resend of the
//! request was lost too, answers `pending` until Amazon's IPN names the charge — or, for
//! a decline (no charge, no IPN), until the jobs replay the same attempt.

use reqwest::Method;
use savedwallet_tests::{Preset, System};
use serde_json::{json, Value};

fn eur(amount: &str) -> Value {
    json!({ "amount": amount, "currencyCode": "EUR" })
}

/// Loses the answers of the next `remaining` calls of `operation` (all of them: `None`).
async fn drop_answers(sys: &System, operation: &str, remaining: Option<u32>) {
    let r = sys
        .control_call(
            Method::PUT,
            "/faults",
            json!({ "dropResponseRate": 1.0, "dropMode": "abort",
                "operations": [operation], "remaining": remaining }),
        )
        .await;
    assert!(r.status.is_success(), "faults: {:#}", r.body);
}

async fn clear_faults(sys: &System) {
    let r = sys.control_call(Method::DELETE, "/faults", json!({})).await;
    assert!(r.status.is_success(), "faults: {:#}", r.body);
}

/// The service's `unknownReplayAfter` (60 s): when an unanswered attempt is replayed.
const REPLAY_AFTER_SECS: u64 = 60;

#[tokio::test]
async fn a_lost_create_charge_answer_is_resent_and_charges_once() {
    let sys = System::start().await;
    let token = sys.token("cust_lost").await;
    let wallet = sys.wallet_id(&token, Preset::AlwaysApprove).await;
    let order = sys.order("cust_lost", "21.00", true).await;

    drop_answers(&sys, "CreateCharge", Some(1)).await;
    let paid = sys.pay(&token, &order, &wallet).await;
    assert_eq!(paid.ok(201)["status"], "succeeded", "{:#}", paid.body);
    let pid = paid.body["paymentId"].as_str().expect("id").to_string();

    // Amazon saw the request twice and made one charge: the resend was a replay.
    assert_eq!(sys.amazon_calls("CreateCharge").await, 2);
    let charges = sys.charges_of(&wallet).await;
    assert_eq!(charges.len(), 1, "{charges:#?}");
    assert_eq!(charges[0]["chargeId"], paid.body["chargeId"]);
    assert_eq!(charges[0]["chargeAmount"], eur("21.00"));
    assert_eq!(charges[0]["statusDetails"]["state"], "Captured");
    // One attempt (one key) for the payment, not one per send.
    let admin = sys.admin_payment(&pid).await;
    assert_eq!(
        admin["attempts"].as_array().map(Vec::len),
        Some(1),
        "{admin:#}"
    );
    assert_eq!(admin["attempts"][0]["chargeId"], paid.body["chargeId"]);
    let w = sys.get_wallet(&token, &wallet).await;
    assert_eq!(w["monthlyUsage"]["used"], eur("21.00"), "counted once");
}

#[tokio::test]
async fn every_answer_lost_leaves_the_payment_pending_until_amazon_tells() {
    let sys = System::start().await;
    let token = sys.token("cust_lost_all").await;
    let wallet = sys.wallet_id(&token, Preset::AlwaysApprove).await;
    let order = sys.order("cust_lost_all", "33.00", true).await;

    // Every answer of the request and its resends lost: never a gateway timeout, never a
    // second attempt with a new key.
    drop_answers(&sys, "CreateCharge", None).await;
    let paid = sys.pay(&token, &order, &wallet).await;
    // No outcome from the sends: `pending` — unless Amazon's CHARGE IPN came in while
    // the request was still resending, and named the charge.
    match paid.ok(201)["status"].as_str() {
        Some("pending") => assert_eq!(paid.body["chargeId"], Value::Null),
        Some("succeeded") => assert!(paid.body["chargeId"].is_string()),
        other => panic!("unexpected {other:?}: {:#}", paid.body),
    }
    let pid = paid.body["paymentId"].as_str().expect("id").to_string();
    let sends = sys.amazon_calls("CreateCharge").await;
    assert!(sends >= 2, "the lost answer was resent ({sends} sends)");
    // Amazon did charge, once.
    let charges = sys.charges_of(&wallet).await;
    assert_eq!(charges.len(), 1, "{charges:#?}");
    assert_eq!(
        charges[0]["merchantMetadata"]["merchantReferenceId"],
        pid.as_str()
    );

    // Amazon's CHARGE IPN names the charge; the service fetches it and the payment is
    // done (once the jobs ran at the latest) — nothing resent, even after the replay time.
    clear_faults(&sys).await;
    sys.jobs().await;
    let p = sys.payment(&token, &pid).await;
    assert_eq!(p["status"], "succeeded", "{p:#}");
    assert_eq!(p["chargeId"], charges[0]["chargeId"]);
    sys.advance(REPLAY_AFTER_SECS + 1).await;
    sys.jobs().await;
    assert_eq!(sys.amazon_calls("CreateCharge").await, sends);
    assert_eq!(sys.charges_of(&wallet).await.len(), 1);
    let admin = sys.admin_payment(&pid).await;
    assert_eq!(
        admin["attempts"].as_array().map(Vec::len),
        Some(1),
        "{admin:#}"
    );
    let w = sys.get_wallet(&token, &wallet).await;
    assert_eq!(w["monthlyUsage"]["used"], eur("33.00"), "counted once");
    // The order is paid by that payment; paying again is refused, nothing sent.
    sys.pay(&token, &order, &wallet)
        .await
        .error(409, "order_has_payment");
    assert_eq!(sys.amazon_calls("CreateCharge").await, sends);
    let kinds = sys.event_types().await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "payment.succeeded").count(),
        1,
        "{kinds:?}"
    );
}

#[tokio::test]
async fn a_lost_decline_is_learnt_by_replaying_the_same_attempt() {
    let sys = System::start().await;
    let token = sys.token("cust_lost_decline").await;
    let wallet = sys.wallet_id(&token, Preset::HardDeclineUntilUpdated).await;
    let order = sys.order("cust_lost_decline", "18.00", true).await;

    // A decline makes no Charge object and no IPN: only a replay can tell.
    drop_answers(&sys, "CreateCharge", None).await;
    let paid = sys.pay(&token, &order, &wallet).await;
    assert_eq!(paid.ok(201)["status"], "pending", "{:#}", paid.body);
    let pid = paid.body["paymentId"].as_str().expect("id").to_string();
    let sends = sys.amazon_calls("CreateCharge").await;
    clear_faults(&sys).await;

    // Not before the replay time.
    sys.jobs().await;
    assert_eq!(sys.amazon_calls("CreateCharge").await, sends);
    assert_eq!(sys.payment(&token, &pid).await["status"], "pending");
    // Then the same attempt is replayed: Amazon's first answer, a hard decline.
    sys.advance(REPLAY_AFTER_SECS + 1).await;
    sys.jobs().await;
    assert_eq!(sys.amazon_calls("CreateCharge").await, sends + 1);
    let p = sys.payment(&token, &pid).await;
    assert_eq!(p["status"], "declined", "{p:#}");
    assert_eq!(p["declineCode"], "HardDeclined");
    assert_eq!(p["buyerAction"]["kind"], "update_payment_method");
    let admin = sys.admin_payment(&pid).await;
    let attempts = admin["attempts"].as_array().expect("attempts");
    assert_eq!(
        attempts.len(),
        1,
        "the replay is the same attempt: {admin:#}"
    );
    assert!(sys.charges_of(&wallet).await.is_empty());
    let w = sys.get_wallet(&token, &wallet).await;
    assert_eq!(w["monthlyUsage"]["used"], eur("0.00"));
    // Nothing more is sent for it.
    sys.advance(REPLAY_AFTER_SECS + 1).await;
    sys.jobs().await;
    assert_eq!(sys.amazon_calls("CreateCharge").await, sends + 1);
}

#[tokio::test]
async fn a_lost_merchant_charge_answer_is_resent_and_charges_once() {
    let sys = System::start().await;
    let token = sys.token("cust_lost_mit").await;
    let wallet = sys.wallet_id(&token, Preset::AlwaysApprove).await;
    drop_answers(&sys, "CreateCharge", Some(2)).await;
    let r = sys
        .admin_call(
            Method::POST,
            "/admin/v1/payments",
            Some(json!({ "walletId": wallet, "amount": eur("4.00"), "reason": "top-up" })),
            Some("mitu-lost"),
        )
        .await;
    assert_eq!(r.ok(201)["status"], "succeeded", "{:#}", r.body);
    assert_eq!(sys.amazon_calls("CreateCharge").await, 3);
    let charges = sys.charges_of(&wallet).await;
    assert_eq!(charges.len(), 1, "{charges:#?}");
    assert_eq!(charges[0]["chargeInitiator"], "MITU");
}

#[tokio::test]
async fn a_lost_refund_answer_is_resent_and_refunds_once() {
    let sys = System::start().await;
    let token = sys.token("cust_lost_refund").await;
    let wallet = sys.wallet_id(&token, Preset::AlwaysApprove).await;
    let order = sys.order("cust_lost_refund", "30.00", true).await;
    let paid = sys.pay(&token, &order, &wallet).await;
    assert_eq!(paid.ok(201)["status"], "succeeded");
    let pid = paid.body["paymentId"].as_str().expect("id").to_string();

    drop_answers(&sys, "CreateRefund", Some(1)).await;
    let r = sys
        .admin_call(
            Method::POST,
            &format!("/admin/v1/payments/{pid}/refunds"),
            Some(json!({ "amount": eur("10.00") })),
            Some("refund-lost"),
        )
        .await;
    let refund = r.ok(201).clone();
    assert_eq!(sys.amazon_calls("CreateRefund").await, 2);
    let amazon = sys.ledger().await["refunds"].clone();
    assert_eq!(amazon.as_array().map(Vec::len), Some(1), "{amazon:#}");
    assert_eq!(amazon[0]["refundAmount"], eur("10.00"));
    assert_eq!(sys.admin_payment(&pid).await["refunded"], eur("10.00"));
    // It settles as any refund does.
    sys.advance(31).await;
    sys.jobs().await;
    let read = sys
        .admin_call(
            Method::GET,
            &format!(
                "/admin/v1/refunds/{}",
                refund["refundId"].as_str().expect("id")
            ),
            None,
            None,
        )
        .await;
    assert_eq!(read.ok(200)["state"], "succeeded");
    assert_eq!(
        sys.ledger().await["refunds"].as_array().map(Vec::len),
        Some(1)
    );
}
