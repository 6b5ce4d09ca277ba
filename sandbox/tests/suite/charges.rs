//! Charges over real HTTP with the project's client: the lifecycle, validation, simulation
//! codes of every operation, presets and monthly limits, refund rules.

use crate::helpers::*;
use savedwallet_amazon_pay::Operation;
use savedwallet_shared::api::*;
use savedwallet_shared::money::{Currency, Price};
use serde_json::json;

#[tokio::test]
async fn authorize_capture_refund_lifecycle() {
    let (sb, c, cp) = with_wallet("always-approve").await;
    let got = c.get_charge_permission(&cp).await.expect("get cp");
    assert_eq!(got.status, 200);
    assert!(got.request_id.is_some(), "x-amz-pay-request-id is sent");
    assert_eq!(
        got.body.status_details.state,
        ChargePermissionState::Chargeable
    );
    assert_eq!(
        got.body.charge_permission_type,
        Some(ChargePermissionType::PaymentMethodOnFile)
    );
    assert_eq!(got.body.release_environment.as_deref(), Some("Sandbox"));
    assert!(got.body.expiration_timestamp.is_none());

    let r = c
        .create_charge(&charge_req(&cp, 1499), &key())
        .await
        .expect("charge");
    assert_eq!(r.status, 201);
    let ch = r.body;
    assert_eq!(ch.status_details.state, ChargeState::Authorized);
    let suffix = ch
        .charge_id
        .strip_prefix(&format!("{cp}-C"))
        .expect("id shape");
    assert!(suffix.len() == 6 && suffix.bytes().all(|b| b.is_ascii_digit()));

    let cap = c
        .capture_charge(&ch.charge_id, &capture(1499), &key())
        .await
        .expect("capture");
    assert_eq!(cap.status, 200);
    assert_eq!(cap.body.status_details.state, ChargeState::Captured);
    assert_eq!(cap.body.capture_amount, Some(eur(1499)));

    let rf = c
        .create_refund(&refund(&ch.charge_id, 500), &key())
        .await
        .expect("refund");
    assert_eq!(rf.status, 201);
    assert_eq!(rf.body.status_details.state, RefundState::RefundInitiated);
    assert!(rf.body.refund_id.starts_with(&format!("{cp}-R")));
    advance(&sb, 31).await;
    let rf2 = c.get_refund(&rf.body.refund_id).await.expect("get refund");
    assert_eq!(rf2.body.status_details.state, RefundState::Refunded);
    let ch2 = c.get_charge(&ch.charge_id).await.expect("get charge");
    assert_eq!(ch2.body.refunded_amount, Some(eur(500)));
    // Refund above captured + min(15 %, 75) → TransactionAmountExceeded.
    let over = c.create_refund(&refund(&ch.charge_id, 1300), &key()).await;
    assert_eq!(api_err(over), (400, "TransactionAmountExceeded".into()));
    // Raw JSON shape: Amazon's timestamp format and field names.
    let raw = c
        .call_raw(Operation::GetCharge, Some(&ch.charge_id), None, None)
        .await
        .expect("raw");
    let ts = raw.body["creationTimestamp"].as_str().expect("ts");
    assert_eq!(ts.len(), 16, "yyyyMMddTHHmmssZ: {ts}");
    assert!(ts.ends_with('Z') && &ts[8..9] == "T");
    assert_eq!(
        raw.body["chargeAmount"],
        json!({"amount": "14.99", "currencyCode": "EUR"})
    );
    assert_eq!(raw.body["releaseEnvironment"], "Sandbox");
}

#[tokio::test]
async fn cancel_expiry_and_capture_rules() {
    let (sb, c, cp) = with_wallet("always-approve").await;
    let a = charge(&c, &cp, 1000).await;
    let canceled = c
        .cancel_charge(&a.charge_id, &cancel("order canceled"))
        .await
        .expect("cancel");
    assert_eq!(canceled.body.status_details.state, ChargeState::Canceled);
    assert_eq!(
        canceled.body.status_details.reason_code,
        Some(ReasonCode::MerchantCanceled)
    );
    let cap = c.capture_charge(&a.charge_id, &capture(1000), &key()).await;
    assert_eq!(api_err(cap), (422, "InvalidChargeStatus".into()));
    let again = c.cancel_charge(&a.charge_id, &cancel("x")).await;
    assert_eq!(api_err(again), (422, "InvalidChargeStatus".into()));

    let b = charge(&c, &cp, 1000).await;
    let refund = c.create_refund(&refund(&b.charge_id, 100), &key()).await;
    assert_eq!(api_err(refund), (422, "InvalidChargeStatus".into()));
    let over = c.capture_charge(&b.charge_id, &capture(1001), &key()).await;
    assert_eq!(api_err(over), (400, "TransactionAmountExceeded".into()));

    // Capture more than 7 days after authorization runs asynchronously.
    advance(&sb, 8 * 24 * 3600).await;
    let late = c
        .capture_charge(&b.charge_id, &capture(1000), &key())
        .await
        .expect("late capture");
    assert_eq!(
        late.body.status_details.state,
        ChargeState::CaptureInitiated
    );
    advance(&sb, 31).await;
    let done = c.get_charge(&b.charge_id).await.expect("get").body;
    assert_eq!(done.status_details.state, ChargeState::Captured);

    // Authorized for 30 days without capture → Canceled / ExpiredUnused.
    let d = charge(&c, &cp, 1000).await;
    assert_eq!(
        charge_status_after(&sb, &c, &d.charge_id, 30 * 24 * 3600 - 1)
            .await
            .0,
        ChargeState::Authorized,
        "still capturable just before 30 days"
    );
    advance(&sb, 1).await;
    let expired = c.get_charge(&d.charge_id).await.expect("get").body;
    assert_eq!(expired.status_details.state, ChargeState::Canceled);
    assert_eq!(
        expired.status_details.reason_code,
        Some(ReasonCode::ExpiredUnused)
    );
}

#[tokio::test]
async fn create_charge_validation_errors() {
    let (sb, c, cp) = with_wallet("always-approve").await;

    // The typed client refuses these before sending; raw bytes reach the simulator.
    let raw = |r: &CreateChargeRequest| {
        let (body, k, c) = (serde_json::to_vec(r).expect("serialise"), key(), &c);
        async move {
            c.call_raw(Operation::CreateCharge, None, Some(body), Some(&k))
                .await
        }
    };
    let mut r = charge_req(&cp, 1000);
    r.soft_descriptor = Some("ACME".into());
    assert_eq!(
        api_err(raw(&r).await),
        (400, "InvalidParameterCombination".into())
    );
    r.capture_now = Some(true);
    r.soft_descriptor = Some("x".repeat(17));
    assert_eq!(
        api_err(raw(&r).await),
        (400, "InvalidParameterValue".into())
    );
    r.soft_descriptor = Some("ACME Monthly".into());
    let ok = c
        .create_charge(&r, &key())
        .await
        .expect("captureNow + softDescriptor");
    assert_eq!(ok.body.status_details.state, ChargeState::Captured);
    assert_eq!(ok.body.soft_descriptor.as_deref(), Some("ACME Monthly"));

    let usd = CreateChargeRequest::new(&cp, Price::from_minor(1000, Currency::USD));
    assert_eq!(
        api_err(c.create_charge(&usd, &key()).await),
        (400, "CurrencyMismatch".into())
    );
    let huge = charge_req(&cp, 15_000_001);
    assert_eq!(
        api_err(c.create_charge(&huge, &key()).await),
        (400, "TransactionAmountExceeded".into())
    );
    let missing = charge_req("S01-0000000-0000000", 1000);
    assert_eq!(
        api_err(c.create_charge(&missing, &key()).await),
        (404, "ResourceNotFound".into())
    );

    // Raw bodies the typed client cannot produce → Amazon's 400 reason codes.
    let bodies = [
        (
            format!(
                r#"{{"chargePermissionId":"{cp}","chargeAmount":{{"amount":"1.00","currencyCode":"EUR"}},"surprise":1}}"#
            ),
            "UnrecognizedField",
        ),
        ("{not json".to_string(), "InvalidRequestFormat"),
        ("[1, 2]".to_string(), "InvalidRequestFormat"),
        (
            format!(r#"{{"chargePermissionId":"{cp}"}}"#),
            "MissingParameterValue",
        ),
        (
            format!(
                r#"{{"chargePermissionId":"{cp}","chargeAmount":{{"amount":"1.001","currencyCode":"EUR"}}}}"#
            ),
            "InvalidParameterValue",
        ),
    ];
    for (body, reason) in bodies {
        let e = c
            .call_raw(
                Operation::CreateCharge,
                None,
                Some(body.clone().into_bytes()),
                Some(&key()),
            )
            .await;
        assert_eq!(api_err(e), (400, reason.to_string()), "{body}");
    }

    // Create Charge without an idempotency key (hand-built, signed).
    let body = format!(
        r#"{{"chargePermissionId":"{cp}","chargeAmount":{{"amount":"1.00","currencyCode":"EUR"}}}}"#
    );
    let mut raw = RawRequest::new(&sb, "POST", "/v2/charges", &body);
    raw.headers
        .retain(|(n, _)| n != "x-amz-pay-idempotency-key");
    raw.signed.retain(|n| n != "x-amz-pay-idempotency-key");
    assert_eq!(raw.outcome(&sb).await, (400, "MissingHeaderValue".into()));
    // Wrong method on a known resource.
    let raw = RawRequest::new(&sb, "GET", "/v2/charges", "");
    assert_eq!(raw.outcome(&sb).await, (405, "UnsupportedOperation".into()));
}

#[tokio::test]
async fn create_charge_simulation_codes() {
    let sb = start().await;
    let c = client(&sb);
    let cases: &[(&str, u16, &str)] = &[
        ("SoftDeclined", 422, "SoftDeclined"),
        ("AmazonRejected", 422, "AmazonRejected"),
        ("TransactionTimedOut", 422, "TransactionTimedOut"),
        ("ProcessingFailure", 500, "ProcessingFailure"),
        ("PaymentMethodNotAllowed", 422, "PaymentMethodNotAllowed"),
        ("HardDeclined", 422, "HardDeclined"),
    ];
    for (code, status, reason) in cases {
        let cp = wallet(&sb, "always-approve").await;
        let sim = simulating(&c, code);
        let e = sim.create_charge(&charge_req(&cp, 1000), &key()).await;
        assert_eq!(api_err(e), (*status, reason.to_string()), "code {code}");
        let state = c
            .get_charge_permission(&cp)
            .await
            .expect("cp")
            .body
            .status_details;
        let reasons: Vec<ReasonCode> = state
            .reasons
            .iter()
            .map(|r| r.reason_code.clone())
            .collect();
        let want = match *code {
            "HardDeclined" => (
                ChargePermissionState::NonChargeable,
                vec![ReasonCode::PaymentMethodInvalid],
            ),
            // SPEC §16: AmazonRejected cancels the charge permission.
            "AmazonRejected" => (
                ChargePermissionState::Closed,
                vec![ReasonCode::AmazonCanceled],
            ),
            _ => (ChargePermissionState::Chargeable, vec![]),
        };
        assert_eq!((state.state, reasons), want, "code {code}");
    }
    // Pending variants need canHandlePendingAuthorization and resolve on the clock.
    let pending: &[(&str, ChargeState, Option<ReasonCode>)] = &[
        ("AuthorizationInitiated", ChargeState::Authorized, None),
        (
            "PendingAuthorizationSoftDeclined",
            ChargeState::Declined,
            Some(ReasonCode::SoftDeclined),
        ),
        (
            "PendingAuthorizationHardDeclined",
            ChargeState::Declined,
            Some(ReasonCode::HardDeclined),
        ),
    ];
    for (code, end, reason) in pending {
        let cp = wallet(&sb, "always-approve").await;
        let sim = simulating(&c, code);
        let e = sim.create_charge(&charge_req(&cp, 1000), &key()).await;
        assert_eq!(
            api_err(e),
            (422, "TransactionTimedOut".into()),
            "{code} without pending"
        );
        let r = pending_req(&cp, 1000);
        let ch = sim.create_charge(&r, &key()).await.expect("pending").body;
        assert_eq!(ch.status_details.state, ChargeState::AuthorizationInitiated);
        advance(&sb, 31).await;
        let after = c.get_charge(&ch.charge_id).await.expect("get").body;
        assert_eq!(&after.status_details.state, end, "{code}");
        assert_eq!(&after.status_details.reason_code, reason, "{code}");
    }
    // CaptureInitiated → Captured later.
    let cp = wallet(&sb, "always-approve").await;
    let sim = simulating(&c, "CaptureInitiated");
    let r = captured_req(&cp, 1000);
    let ch = sim.create_charge(&r, &key()).await.expect("ci").body;
    assert_eq!(ch.status_details.state, ChargeState::CaptureInitiated);
    assert_eq!(
        charge_status_after(&sb, &c, &ch.charge_id, 31).await.0,
        ChargeState::Captured
    );
    // BuyerActionRequired forces the MFA answer for a CIT charge.
    let sim = simulating(&c, "BuyerActionRequired");
    let mut r = charge_req(&cp, 1000);
    r.charge_initiator = Some(ChargeInitiator::Citu);
    r.web_checkout_details = Some(WebCheckoutDetails {
        checkout_result_return_url: Some("http://localhost:9/return".into()),
        ..Default::default()
    });
    let mfa = sim.create_charge(&r, &key()).await.expect("mfa");
    assert_eq!(mfa.status, 202);
    assert_eq!(mfa.body.status_details.state, ChargeState::ActionRequired);
    // Unknown code, and a code on an operation that takes none.
    let bad = simulating(&c, "NoSuchCode");
    assert_eq!(
        api_err(bad.create_charge(&charge_req(&cp, 1000), &key()).await),
        (400, "InvalidSandboxSimulationSpecified".into())
    );
    let on_get = simulating(&c, "HardDeclined");
    assert_eq!(
        api_err(on_get.get_charge_permission(&cp).await),
        (400, "InvalidSandboxSimulationSpecified".into())
    );
}

#[tokio::test]
async fn other_operation_simulation_codes() {
    let (sb, c, cp) = with_wallet("always-approve").await;
    // Capture: CaptureInitiated, AmazonRejected, ProcessingFailure.
    let a = charge(&c, &cp, 1000).await;
    let e = simulating(&c, "ProcessingFailure")
        .capture_charge(&a.charge_id, &capture(1000), &key())
        .await;
    assert_eq!(api_err(e), (500, "ProcessingFailure".into()));
    let ci = simulating(&c, "CaptureInitiated")
        .capture_charge(&a.charge_id, &capture(1000), &key())
        .await
        .expect("capture initiated");
    assert_eq!(ci.body.status_details.state, ChargeState::CaptureInitiated);
    // A rejected capture declines the charge and cancels its permission (SPEC §16).
    let rejected_cp = wallet(&sb, "always-approve").await;
    let b = charge(&c, &rejected_cp, 1000).await;
    let e = simulating(&c, "AmazonRejected")
        .capture_charge(&b.charge_id, &capture(1000), &key())
        .await;
    assert_eq!(api_err(e), (422, "AmazonRejected".into()));
    assert_eq!(
        charge_status(&c, &b.charge_id).await,
        (ChargeState::Declined, Some(ReasonCode::AmazonRejected))
    );
    let closed = c
        .get_charge_permission(&rejected_cp)
        .await
        .expect("cp")
        .body;
    assert_closed(&closed, ReasonCode::AmazonCanceled);

    // Refund: AmazonRejected / ProcessingFailure → Declined after settlement.
    for code in ["AmazonRejected", "ProcessingFailure"] {
        let r = captured_req(&cp, 1000);
        let ch = c.create_charge(&r, &key()).await.expect("captured").body;
        let rf = simulating(&c, code)
            .create_refund(&refund(&ch.charge_id, 1000), &key())
            .await
            .expect("refund")
            .body;
        assert_eq!(rf.status_details.state, RefundState::RefundInitiated);
        advance(&sb, 31).await;
        let rf = c.get_refund(&rf.refund_id).await.expect("get").body;
        assert_eq!(rf.status_details.state, RefundState::Declined);
        assert_eq!(
            rf.status_details.reason_code.as_ref().map(|r| r.as_str()),
            Some(code)
        );
    }

    // Close: AmazonClosed.
    let closed = simulating(&c, "AmazonClosed")
        .close_charge_permission(&cp, &close_req("test", None))
        .await
        .expect("close")
        .body;
    assert_closed(&closed, ReasonCode::AmazonClosed);

    // AuthorizationInitiated does not fit a setup-only session (nothing to authorize).
    let sid = setup_session(&sb).await;
    let e = simulating(&c, "AuthorizationInitiated")
        .complete_checkout_session(&sid, &CompleteCheckoutSessionRequest::default(), &key())
        .await;
    assert_eq!(
        api_err(e),
        (400, "InvalidSandboxSimulationSpecified".into())
    );
    assert_eq!(
        c.get_checkout_session(&sid)
            .await
            .expect("get")
            .body
            .status_details
            .state,
        CheckoutSessionState::Open
    );

    // Complete Checkout Session: BuyerCanceled / AmazonCanceled / Declined.
    for code in ["BuyerCanceled", "AmazonCanceled", "Declined"] {
        let sid = setup_session(&sb).await;
        let e = simulating(&c, code)
            .complete_checkout_session(&sid, &CompleteCheckoutSessionRequest::default(), &key())
            .await;
        assert_eq!(api_err(e), (422, "CheckoutSessionCanceled".into()));
        let s = c.get_checkout_session(&sid).await.expect("get").body;
        assert_eq!(s.status_details.state, CheckoutSessionState::Canceled);
        assert_eq!(
            s.status_details.reason_code.as_ref().map(|r| r.as_str()),
            Some(code)
        );
    }
}

#[tokio::test]
async fn behaviour_presets_and_monthly_limit_across_month_boundary() {
    let sb = start().await;
    let c = client(&sb);
    // soft-decline twice, then approve.
    let cp = wallet_with(
        &sb,
        json!({"preset": "soft-decline", "region": "eu", "softDeclines": 2}),
    )
    .await;
    for _ in 0..2 {
        assert_eq!(
            charge_err(&c, &cp, 1000).await,
            (422, "SoftDeclined".into())
        );
        assert_eq!(
            permission_state(&c, &cp).await,
            ChargePermissionState::Chargeable
        );
    }
    charge(&c, &cp, 1000).await;

    // low-limit wallet: 100.00 EUR a month.
    let cp = control_wallet(
        &sb,
        json!({"preset": "low-limit", "region": "eu", "currency": "EUR", "monthlyLimit": "100.00"}),
    )
    .await;
    assert_eq!(
        cp["limits"]["amountLimit"],
        json!({"amount": "100.00", "currencyCode": "EUR"})
    );
    let cp = cp["chargePermissionId"].as_str().expect("id").to_string();
    let a = charge(&c, &cp, 6000).await;
    assert_eq!(
        charge_err(&c, &cp, 5000).await,
        (400, "PeriodicAmountExceeded".into())
    );
    let perm = c.get_charge_permission(&cp).await.expect("cp").body;
    assert_eq!(perm.limits.and_then(|l| l.amount_balance), Some(eur(4000)));
    // A canceled charge stops counting.
    c.cancel_charge(&a.charge_id, &cancel("x"))
        .await
        .expect("cancel");
    let b = charge(&c, &cp, 9000).await;
    assert_eq!(b.status_details.state, ChargeState::Authorized);
    assert_eq!(
        charge_err(&c, &cp, 2000).await,
        (400, "PeriodicAmountExceeded".into())
    );
    // Move the clock into the next UTC calendar month: the limit resets.
    use chrono::Datelike;
    let now = sb.now();
    let (y, m) = if now.month() == 12 {
        (now.year() + 1, 1)
    } else {
        (now.year(), now.month() + 1)
    };
    let next = chrono::NaiveDate::from_ymd_opt(y, m, 1)
        .expect("date")
        .and_hms_opt(0, 0, 5)
        .expect("time")
        .and_utc();
    advance(&sb, (next - now).num_seconds() + 1).await;
    let c2 = c
        .create_charge(&charge_req(&cp, 2000), &key())
        .await
        .expect("next month");
    assert_eq!(c2.status, 201);

    // async-approve: AuthorizationInitiated, then Authorized.
    let cp = wallet_with(
        &sb,
        json!({"preset": "async-approve", "region": "eu", "asyncDelaySeconds": 30}),
    )
    .await;
    let r = pending_req(&cp, 1000);
    let p = c.create_charge(&r, &key()).await.expect("pending").body;
    assert_eq!(p.status_details.state, ChargeState::AuthorizationInitiated);
    assert_eq!(
        charge_status_after(&sb, &c, &p.charge_id, 29).await.0,
        ChargeState::AuthorizationInitiated
    );
    assert_eq!(
        charge_status_after(&sb, &c, &p.charge_id, 1).await.0,
        ChargeState::Authorized
    );
    // async-decline: Declined / HardDeclined and the permission needs an update.
    let cp = wallet_with(&sb, json!({"preset": "async-decline", "region": "eu"})).await;
    let r = pending_req(&cp, 1000);
    let p = c.create_charge(&r, &key()).await.expect("pending").body;
    advance(&sb, 31).await;
    let d = c.get_charge(&p.charge_id).await.expect("g").body;
    assert_eq!(
        (d.status_details.state, d.status_details.reason_code),
        (ChargeState::Declined, Some(ReasonCode::HardDeclined))
    );
    assert_eq!(
        permission_state(&c, &cp).await,
        ChargePermissionState::NonChargeable
    );
}

#[tokio::test]
async fn refund_allowance_and_count_limits() {
    let (sb, c, cp) = with_wallet("always-approve").await;
    // 100.00 captured: 15 % (15.00) is below 75.00, so at most 115.00 in total;
    // 1,000.00 captured: 15 % (150.00) is above 75.00, so at most 1,075.00.
    for (captured_minor, max_total) in [(10_000, 11_500), (100_000, 107_500)] {
        let ch = c
            .create_charge(&captured_req(&cp, captured_minor), &key())
            .await
            .expect("captured")
            .body;
        let over = c
            .create_refund(&refund(&ch.charge_id, max_total + 1), &key())
            .await;
        assert_eq!(
            api_err(over),
            (400, "TransactionAmountExceeded".into()),
            "{captured_minor}"
        );
        let exact = c
            .create_refund(&refund(&ch.charge_id, max_total), &key())
            .await
            .expect("exactly the allowance");
        assert_eq!(exact.status, 201);
        let more = c.create_refund(&refund(&ch.charge_id, 1), &key()).await;
        assert_eq!(api_err(more), (400, "TransactionAmountExceeded".into()));
    }
    // At most 10 refunds per charge (SPEC §4.7, simulator choice).
    let many = c
        .create_charge(&captured_req(&cp, 2_000), &key())
        .await
        .expect("many")
        .body;
    for i in 0..10 {
        c.create_refund(&refund(&many.charge_id, 100), &key())
            .await
            .unwrap_or_else(|e| panic!("refund {i}: {e}"));
    }
    assert_eq!(
        api_err(c.create_refund(&refund(&many.charge_id, 100), &key()).await),
        (422, "TransactionCountExceeded".into())
    );
    // A declined refund frees its amount for another refund.
    let d = c
        .create_charge(&captured_req(&cp, 1_000), &key())
        .await
        .expect("d")
        .body;
    let rejected = simulating(&c, "AmazonRejected")
        .create_refund(&refund(&d.charge_id, 1_000), &key())
        .await
        .expect("refund")
        .body;
    advance(&sb, 31).await;
    assert_eq!(
        c.get_refund(&rejected.refund_id)
            .await
            .expect("get")
            .body
            .status_details
            .state,
        RefundState::Declined
    );
    assert_eq!(
        c.create_refund(&refund(&d.charge_id, 1_000), &key())
            .await
            .expect("after decline")
            .status,
        201
    );
}
