//! Asynchronous authorizations and captures end in any outcome SPEC §16 allows, and the
//! synchronous answer can take Amazon's time.

use std::time::{Duration, Instant};

use crate::helpers::*;
use savedwallet_sandbox::Knobs;
use savedwallet_shared::api::*;
use savedwallet_shared::region::Region;
use serde_json::json;

/// Declined reasons of an async outcome, as their codes spell them.
const REASONS: [&str; 5] = [
    "SoftDeclined",
    "HardDeclined",
    "AmazonRejected",
    "ProcessingFailure",
    "TransactionTimedOut",
];

/// The permission is in the state a charge declined with `reason` leaves it in.
async fn assert_permission_after(
    c: &savedwallet_amazon_pay::AmazonPayClient,
    cp: &str,
    reason: &str,
) {
    let want = match reason {
        "HardDeclined" => ChargePermissionState::NonChargeable,
        "AmazonRejected" => ChargePermissionState::Closed,
        _ => ChargePermissionState::Chargeable,
    };
    assert_eq!(permission_state(c, cp).await, want, "after {reason}");
}

#[tokio::test]
async fn pending_authorizations_end_in_every_decline_reason() {
    let sb = start().await;
    let c = client(&sb);
    for reason in REASONS {
        let cp = wallet(&sb, "always-approve").await;
        let code = format!("PendingAuthorization{reason}");
        let ch = sim_charge(&c, &code, &pending_req(&cp, 1000)).await;
        assert_eq!(ch.status_details.state, ChargeState::AuthorizationInitiated);
        assert_eq!(
            charge_status_after(&sb, &c, &ch.charge_id, 29).await.0,
            ChargeState::AuthorizationInitiated,
            "{code}: not before 30 s"
        );
        assert_eq!(
            charge_status_after(&sb, &c, &ch.charge_id, 1).await,
            (ChargeState::Declined, Some(ReasonCode::parse(reason))),
            "{code}"
        );
        assert_permission_after(&c, &cp, reason).await;
    }
    // The async-decline card ends the way its wallet says (default HardDeclined).
    let cp = wallet_with(
        &sb,
        json!({"preset": "async-decline", "region": "eu", "asyncDeclineReason": "ProcessingFailure"}),
    )
    .await;
    let ch = c
        .create_charge(&pending_req(&cp, 1000), &key())
        .await
        .expect("pending")
        .body;
    assert_eq!(
        charge_status_after(&sb, &c, &ch.charge_id, 30).await,
        (ChargeState::Declined, Some(ReasonCode::ProcessingFailure))
    );
    let (status, v) = control_post(
        &sb,
        "/charge-permissions",
        json!({"preset": "async-decline", "asyncDeclineReason": "MFAFailed"}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
}

#[tokio::test]
async fn capture_initiated_can_end_declined() {
    let sb = start().await;
    let c = client(&sb);
    for reason in REASONS {
        // Create Charge with captureNow, and Capture Charge: both go CaptureInitiated.
        let cp = wallet(&sb, "always-approve").await;
        let code = format!("CaptureInitiated{reason}");
        let a = sim_charge(&c, &code, &captured_req(&cp, 1000)).await;
        let b = charge(&c, &cp, 500).await;
        let b = simulating(&c, &code)
            .capture_charge(&b.charge_id, &capture(500), &key())
            .await
            .unwrap_or_else(|e| panic!("capture {code}: {e}"))
            .body;
        for ch in [&a, &b] {
            assert_eq!(
                ch.status_details.state,
                ChargeState::CaptureInitiated,
                "{code}"
            );
        }
        advance(&sb, 30).await;
        for ch in [&a, &b] {
            let got = c.get_charge(&ch.charge_id).await.expect("get").body;
            assert_eq!(
                (got.status_details.state, got.status_details.reason_code),
                (ChargeState::Declined, Some(ReasonCode::parse(reason))),
                "{code}"
            );
            assert_eq!(got.capture_amount, Some(eur(0)), "{code}: nothing captured");
        }
        assert_permission_after(&c, &cp, reason).await;
    }
    // A wallet whose asynchronous captures decline: a capture more than 7 days late.
    let cp = wallet_with(
        &sb,
        json!({"preset": "always-approve", "region": "eu", "captureDeclineReason": "SoftDeclined"}),
    )
    .await;
    let late = charge(&c, &cp, 700).await;
    let on_time = charge(&c, &cp, 800).await;
    let got = c
        .capture_charge(&on_time.charge_id, &capture(800), &key())
        .await
        .expect("capture")
        .body;
    assert_eq!(
        got.status_details.state,
        ChargeState::Captured,
        "synchronous capture"
    );
    advance(&sb, 8 * 24 * 3600).await;
    let got = c
        .capture_charge(&late.charge_id, &capture(700), &key())
        .await
        .expect("late capture")
        .body;
    assert_eq!(got.status_details.state, ChargeState::CaptureInitiated);
    assert_eq!(
        charge_status_after(&sb, &c, &late.charge_id, 30).await,
        (ChargeState::Declined, Some(ReasonCode::SoftDeclined))
    );
}

#[tokio::test]
async fn synchronous_answers_can_take_amazons_time() {
    let sb = start().await;
    let cp = wallet(&sb, "always-approve").await;
    let quick = client_with_timeout(&sb, KEY_ID, Region::Eu, Duration::from_secs(1));
    // Default: no delay.
    quick
        .create_charge(&charge_req(&cp, 100), &key())
        .await
        .expect("answered within the client's 1 s");
    sb.set_knobs(Knobs {
        sync_latency_ms: 3_000,
        ..Default::default()
    })
    .expect("knobs");
    let k = key();
    let started = Instant::now();
    let e = quick.create_charge(&charge_req(&cp, 4242), &k).await;
    assert!(
        matches!(
            e,
            Err(savedwallet_amazon_pay::Error::Unanswered {
                last: Some(savedwallet_amazon_pay::AttemptFailure::Timeout { .. }),
                ..
            })
        ),
        "{e:?}"
    );
    assert!(started.elapsed() >= Duration::from_secs(1));
    // The charge was made; a replay of its key answers at once (the stored answer).
    let replay = quick
        .create_charge(&charge_req(&cp, 4242), &k)
        .await
        .expect("replay");
    assert_eq!(replay.body.status_details.state, ChargeState::Authorized);
    // canHandlePendingAuthorization: true answers without waiting.
    quick
        .create_charge(&pending_req(&cp, 100), &key())
        .await
        .expect("pending-capable charges are not delayed");
    // A wallet's own setting wins over the sandbox's.
    let fast = wallet_with(
        &sb,
        json!({"preset": "always-approve", "region": "eu", "syncLatencyMs": 0}),
    )
    .await;
    quick
        .create_charge(&charge_req(&fast, 100), &key())
        .await
        .expect("this wallet answers at once");
    assert!(sb
        .set_knobs(Knobs {
            sync_latency_ms: 30_001,
            ..Default::default()
        })
        .is_err_and(|e| e.to_string().contains("syncLatencyMs")));
}
