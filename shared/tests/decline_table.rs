//! Table-driven tests of the decline decision table against SPEC §6, §5.2, §5.3, §11, §16.

mod decline_support;

use decline_support::*;

use chrono::{Duration, TimeZone, Utc};
use savedwallet_shared::api::{
    Charge, ChargeInitiator, ChargePermissionState as P, ChargeState, ErrorResponse, ReasonCode,
};
use savedwallet_shared::decline::{
    decide, row_for, ChargeOutcome, DeclineAction, GiveUpReason, MerchantEvent, PermissionCheck,
    Rule, REASON_TABLE,
};
use savedwallet_shared::dunning::{Jitter, RetryPolicy};
use savedwallet_shared::region::Region;
use std::collections::HashSet;

/// SPEC §6, every row, with its HTTP status: (status, code, action for an MIT charge
/// before any permission check, action for a CIT charge).
#[rustfmt::skip]
const SPEC_ERROR_TABLE: &[(u16, &str, &str, &str)] = &[
    (400, "InvalidHeaderValue", "GiveUp(invalid_request)", "GiveUp(invalid_request)"),
    (400, "InvalidRequest", "GiveUp(invalid_request)", "GiveUp(invalid_request)"),
    (400, "InvalidParameterValue", "GiveUp(invalid_request)", "GiveUp(invalid_request)"),
    (400, "InvalidRequestFormat", "GiveUp(invalid_request)", "GiveUp(invalid_request)"),
    (400, "MissingHeader", "GiveUp(invalid_request)", "GiveUp(invalid_request)"),
    (400, "MissingHeaderValue", "GiveUp(invalid_request)", "GiveUp(invalid_request)"),
    (400, "MissingParameterValue", "GiveUp(invalid_request)", "GiveUp(invalid_request)"),
    (400, "UnrecognizedField", "GiveUp(invalid_request)", "GiveUp(invalid_request)"),
    (400, "InvalidSandboxSimulationSpecified", "GiveUp(invalid_request)", "GiveUp(invalid_request)"),
    (400, "DuplicateIdempotencyKey", "GiveUp(idempotency_key_conflict)", "GiveUp(idempotency_key_conflict)"),
    (400, "InvalidParameterCombination", "GiveUp(invalid_request)", "GiveUp(invalid_request)"),
    (400, "CurrencyMismatch", "GiveUp(currency_mismatch)", "GiveUp(currency_mismatch)"),
    (400, "InvalidAPIVersion", "GiveUp(invalid_request)", "GiveUp(invalid_request)"),
    (400, "TransactionAmountExceeded", "GiveUp(amount_rejected)", "GiveUp(amount_rejected)"),
    (400, "PeriodicAmountExceeded", "NextMonth", "NextMonth"),
    (401, "UnauthorizedAccess", "GiveUp(credentials_rejected)", "GiveUp(credentials_rejected)"),
    (403, "InvalidAccountStatus", "GiveUp(account_not_in_good_standing)", "GiveUp(account_not_in_good_standing)"),
    (403, "InvalidRequestSignature", "GiveUp(signature_rejected)", "GiveUp(signature_rejected)"),
    (403, "InvalidAuthentication", "GiveUp(credentials_rejected)", "GiveUp(credentials_rejected)"),
    (403, "InvalidAuthorizationToken", "GiveUp(credentials_rejected)", "GiveUp(credentials_rejected)"),
    (404, "ResourceNotFound", "GiveUp(resource_not_found)", "GiveUp(resource_not_found)"),
    (405, "UnsupportedOperation", "GiveUp(invalid_request)", "GiveUp(invalid_request)"),
    (405, "RequestNotSupported", "GiveUp(invalid_request)", "GiveUp(invalid_request)"),
    (408, "RequestTimeout", "RetrySameKey", "RetrySameKey"),
    (409, "AmountMismatch", "GiveUp(not_a_create_charge_outcome)", "GiveUp(not_a_create_charge_outcome)"),
    (422, "InvalidCheckoutSessionStatus", "GiveUp(not_a_create_charge_outcome)", "GiveUp(not_a_create_charge_outcome)"),
    (422, "CheckoutSessionCanceled", "BuyerPresent", "BuyerPresent"),
    (422, "ChargePermissionNotModifiable", "GiveUp(not_a_create_charge_outcome)", "GiveUp(not_a_create_charge_outcome)"),
    (422, "InvalidChargePermissionStatus", "CheckPermission", "CheckPermission"),
    (422, "InvalidChargeStatus", "GiveUp(not_a_create_charge_outcome)", "GiveUp(not_a_create_charge_outcome)"),
    (422, "SoftDeclined", "CheckPermission", "CheckPermission"),
    (422, "HardDeclined", "UpdatePaymentMethod", "UpdatePaymentMethod"),
    (422, "PaymentMethodNotAllowed", "BuyerPresent", "BuyerPresent"),
    (422, "AmazonRejected", "StopRejected", "StopRejected"),
    (422, "TransactionCountExceeded", "BuyerPresent", "BuyerPresent"),
    (422, "TransactionTimedOut", "BuyerPresent", "BuyerPresent"),
    (422, "MFANotCompleted", "BuyerPresent", "GiveUp(missing_checkout_result_return_url)"),
    (426, "TLSVersionNotSupported", "GiveUp(tls_version_not_supported)", "GiveUp(tls_version_not_supported)"),
    (429, "TooManyRequests", "RetrySameKey", "RetrySameKey"),
    (429, "RequestThrottled", "RetrySameKey", "RetrySameKey"),
    (500, "InternalServerError", "RetrySameKey", "RetrySameKey"),
    (500, "ProcessingFailure", "CheckPermission", "CheckPermission"),
    (502, "", "RetrySameKey", "RetrySameKey"),
    (504, "", "RetrySameKey", "RetrySameKey"),
    (503, "ServiceUnavailable", "RetrySameKey", "RetrySameKey"),
];

#[test]
fn every_spec_error_row_decides_as_documented() {
    let policy = RetryPolicy::default();
    for (status, code, want_mit, want_cit) in SPEC_ERROR_TABLE {
        let outcome = err(*status, code);
        for (initiator, want) in [
            (ChargeInitiator::Mitr, want_mit),
            (ChargeInitiator::Mitu, want_mit),
            (ChargeInitiator::Citu, want_cit),
            (ChargeInitiator::Citr, want_cit),
        ] {
            let got = decide(&outcome, None, &ctx(initiator.clone()), &policy);
            assert_eq!(kind(&got), *want, "{status} {code} {initiator}");
        }
        // The table documents the same HTTP status as the spec.
        if let Some(row) = row_for(&ReasonCode::parse(code)) {
            assert_eq!(row.status, Some(*status), "{code}");
        }
    }
}

#[test]
fn every_known_reason_code_has_exactly_one_explicit_row() {
    let mut seen = HashSet::new();
    for row in REASON_TABLE {
        assert!(!row.code.is_unknown(), "table row for an Unknown code");
        assert!(seen.insert(row.code.clone()), "duplicate row {}", row.code);
        assert!(!row.why.is_empty(), "{} has no why", row.code);
    }
    for code in ReasonCode::KNOWN {
        assert!(seen.contains(code), "no row for {code}");
    }
    assert_eq!(seen.len(), ReasonCode::KNOWN.len());
}

#[test]
fn every_spec_error_code_is_listed_in_the_test_table() {
    // Guards the test itself: each row with an HTTP status appears in SPEC_ERROR_TABLE.
    let listed: HashSet<&str> = SPEC_ERROR_TABLE.iter().map(|r| r.1).collect();
    for row in REASON_TABLE.iter().filter(|r| r.status.is_some()) {
        assert!(listed.contains(row.code.as_str()), "{} missing", row.code);
    }
}

#[test]
fn unknown_codes_follow_the_answer_classification() {
    let policy = RetryPolicy::default();
    let c = ctx(ChargeInitiator::Mitr);
    let cases: &[(u16, &str)] = &[
        (400, "GiveUp(unknown_reason_code)"),
        (403, "GiveUp(unknown_reason_code)"),
        (422, "GiveUp(unknown_reason_code)"),
        (418, "GiveUp(unknown_reason_code)"),
        (302, "GiveUp(unexpected_status)"),
        (408, "RetrySameKey"),
        (425, "RetrySameKey"),
        (429, "RetrySameKey"),
        (500, "RetrySameKey"),
        (502, "RetrySameKey"),
        (503, "RetrySameKey"),
        (504, "RetrySameKey"),
        // Not in the resend list: an unexpected status gives up (and alerts).
        (501, "GiveUp(unexpected_status)"),
        (505, "GiveUp(unexpected_status)"),
        (599, "GiveUp(unexpected_status)"),
    ];
    for (status, want) in cases {
        let got = decide(&err(*status, "BrandNewCode"), None, &c, &policy);
        assert_eq!(kind(&got), *want, "{status}");
    }
    let got = decide(&err(422, "BrandNewCode"), None, &c, &policy);
    assert_eq!(
        got,
        DeclineAction::GiveUp {
            reason: GiveUpReason::UnknownReasonCode("BrandNewCode".into())
        }
    );
    assert!(got.needs_alert());
}

/// status, state, reason, redirect url, action for MIT, action for CIT.
type StateRow = (
    u16,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    &'static str,
);

/// Every Charge state on a success response (201/202, or 200 from Get Charge).
#[test]
fn every_charge_state_decides_as_documented() {
    let policy = RetryPolicy::default();
    #[rustfmt::skip]
    let cases: &[StateRow] = &[
        // status, state, reason, redirect url, MIT action, CIT action
        (201, "Authorized", None, None, "Done(Authorized)", "Done(Authorized)"),
        (201, "Captured", None, None, "Done(Captured)", "Done(Captured)"),
        (201, "AuthorizationInitiated", None, None, "Await", "Await"),
        (200, "CaptureInitiated", None, None, "Await", "Await"),
        (202, "ActionRequired", Some("BuyerActionRequired"), Some(MFA_URL), "BuyerPresent", "RedirectMfa"),
        (202, "ActionRequired", Some("BuyerActionRequired"), None, "BuyerPresent", "GiveUp(missing_redirect_url)"),
        (200, "Declined", Some("SoftDeclined"), None, "CheckPermission", "CheckPermission"),
        (200, "Declined", Some("HardDeclined"), None, "UpdatePaymentMethod", "UpdatePaymentMethod"),
        (200, "Declined", Some("AmazonRejected"), None, "StopRejected", "StopRejected"),
        (200, "Declined", Some("ProcessingFailure"), None, "CheckPermission", "CheckPermission"),
        (200, "Declined", Some("TransactionTimedOut"), None, "BuyerPresent", "BuyerPresent"),
        (200, "Declined", Some("MFAFailed"), None, "UpdatePaymentMethod", "UpdatePaymentMethod"),
        // A transient code on a final state cannot be replayed: soft decline instead.
        (200, "Declined", Some("InternalServerError"), None, "CheckPermission", "CheckPermission"),
        (200, "Declined", None, None, "GiveUp(unknown_reason_code)", "GiveUp(unknown_reason_code)"),
        (200, "Declined", Some("Whatever"), None, "GiveUp(unknown_reason_code)", "GiveUp(unknown_reason_code)"),
        (200, "Canceled", Some("ExpiredUnused"), None, "GiveUp(charge_expired_unused)", "GiveUp(charge_expired_unused)"),
        (200, "Canceled", Some("MerchantCanceled"), None, "GiveUp(canceled_by_merchant)", "GiveUp(canceled_by_merchant)"),
        (200, "Canceled", Some("ChargePermissionCanceled"), None, "StopClosed", "StopClosed"),
        (200, "Canceled", Some("AmazonCanceled"), None, "BuyerPresent", "BuyerPresent"),
        (200, "Canceled", Some("BuyerCanceled"), None, "BuyerPresent", "BuyerPresent"),
        (200, "Canceled", Some("Expired"), None, "BuyerPresent", "BuyerPresent"),
        (200, "SomethingNew", None, None, "GiveUp(unknown_charge_state)", "GiveUp(unknown_charge_state)"),
    ];
    let mut states_seen = HashSet::new();
    for (status, state, reason, url, want_mit, want_cit) in cases {
        let outcome = ChargeOutcome::Success {
            status: *status,
            state: ChargeState::parse(state),
            reason_code: reason.map(ReasonCode::parse),
            amazon_pay_redirect_url: url.map(str::to_string),
        };
        states_seen.insert(ChargeState::parse(state));
        for (initiator, want) in [
            (ChargeInitiator::Mitr, want_mit),
            (ChargeInitiator::Citu, want_cit),
        ] {
            let got = decide(&outcome, None, &ctx(initiator.clone()), &policy);
            assert_eq!(kind(&got), *want, "{state}/{reason:?} {initiator}");
        }
    }
    for s in ChargeState::KNOWN {
        assert!(states_seen.contains(s), "no test row for state {s}");
    }
}

#[test]
fn mfa_redirect_carries_amazons_url() {
    let outcome = ChargeOutcome::Success {
        status: 202,
        state: ChargeState::ActionRequired,
        reason_code: Some(ReasonCode::BuyerActionRequired),
        amazon_pay_redirect_url: Some(MFA_URL.into()),
    };
    let mut c = ctx(ChargeInitiator::Citr);
    c.region = Region::Eu;
    let got = decide(&outcome, None, &c, &RetryPolicy::default());
    assert_eq!(
        got,
        DeclineAction::RedirectBuyerForMfa {
            amazon_pay_redirect_url: MFA_URL.into()
        }
    );
    assert_eq!(
        got.merchant_event(),
        Some(MerchantEvent::BuyerAuthenticationRequired)
    );
}

#[test]
fn from_charge_reads_state_reason_and_redirect_url() {
    let json = format!(
        r#"{{"chargeId":"{CP}-C000001","chargePermissionId":"{CP}",
        "chargeAmount":{{"amount":"14.00","currencyCode":"EUR"}},
        "webCheckoutDetails":{{"checkoutResultReturnUrl":"https://m.example/r","amazonPayRedirectUrl":"{MFA_URL}"}},
        "statusDetails":{{"state":"ActionRequired","reasonCode":"BuyerActionRequired",
        "reasonDescription":"Charge requires buyer action to proceed."}},
        "creationTimestamp":"20261128T153000Z"}}"#
    );
    let charge: Charge = serde_json::from_str(&json).unwrap();
    let outcome = ChargeOutcome::from_charge(202, &charge);
    assert_eq!(
        outcome,
        ChargeOutcome::Success {
            status: 202,
            state: ChargeState::ActionRequired,
            reason_code: Some(ReasonCode::BuyerActionRequired),
            amazon_pay_redirect_url: Some(MFA_URL.into()),
        }
    );
    let body: ErrorResponse =
        serde_json::from_str(r#"{"reasonCode":"HardDeclined","message":"x"}"#).unwrap();
    assert_eq!(
        ChargeOutcome::from_error(422, Some(&body)),
        err(422, "HardDeclined")
    );
    assert_eq!(
        ChargeOutcome::from_error(502, None),
        ChargeOutcome::ApiError {
            status: 502,
            reason_code: ReasonCode::Unknown(String::new())
        }
    );
}

/// Permission-state combos after a decline that asks for a check (SPEC §5.2, §11.6).
#[test]
fn permission_state_combinations() {
    let policy = RetryPolicy::default();
    #[rustfmt::skip]
    let checks: &[(P, &[&str], &str)] = &[
        (P::Chargeable, &[], "RetryNewKey"),
        (P::NonChargeable, &["PaymentMethodInvalid"], "UpdatePaymentMethod"),
        (P::NonChargeable, &["PaymentMethodDeleted"], "UpdatePaymentMethod"),
        (P::NonChargeable, &["BillingAddressDeleted"], "UpdatePaymentMethod"),
        (P::NonChargeable, &["PaymentMethodExpired"], "UpdatePaymentMethod"),
        (P::NonChargeable, &["PaymentMethodNotAllowed"], "UpdatePaymentMethod"),
        (P::NonChargeable, &["PaymentMethodNotSet"], "UpdatePaymentMethod"),
        (P::NonChargeable, &["MFAFailed"], "UpdatePaymentMethod"),
        (P::NonChargeable, &["ChargeInProgress"], "Await"),
        // A payment-method problem wins over a charge in progress: the buyer must act.
        (P::NonChargeable, &["ChargeInProgress", "PaymentMethodExpired"], "UpdatePaymentMethod"),
        (P::NonChargeable, &[], "UpdatePaymentMethod"),
        (P::NonChargeable, &["NewReason"], "UpdatePaymentMethod"),
        (P::Closed, &["BuyerClosed"], "StopClosed"),
        (P::Closed, &["MerchantClosed"], "StopClosed"),
        (P::Closed, &[], "StopClosed"),
        (P::Unknown("Frozen".into()), &[], "GiveUp(unknown_permission_state)"),
    ];
    // Codes that follow the permission check: the three "check then retry" codes.
    let follow = [
        (422, "SoftDeclined"),
        (500, "ProcessingFailure"),
        (422, "InvalidChargePermissionStatus"),
    ];
    for (status, code) in follow {
        for (state, reasons, want) in checks {
            let check = PermissionCheck::new(
                state.clone(),
                reasons.iter().map(|r| ReasonCode::parse(r)).collect(),
            );
            let got = decide(
                &err(status, code),
                Some(&check),
                &ctx(ChargeInitiator::Mitr),
                &policy,
            );
            assert_eq!(kind(&got), *want, "{code} with {state} {reasons:?}");
        }
    }
    // Hard declines ignore Chargeable (not proof of a fix) but respect Closed.
    for (state, want) in [
        (P::Chargeable, "UpdatePaymentMethod"),
        (P::NonChargeable, "UpdatePaymentMethod"),
        (P::Closed, "StopClosed"),
    ] {
        let check = PermissionCheck::new(state.clone(), vec![]);
        let got = decide(
            &err(422, "HardDeclined"),
            Some(&check),
            &ctx(ChargeInitiator::Mitr),
            &policy,
        );
        assert_eq!(kind(&got), want, "HardDeclined with {state}");
    }
    // "Another payment method" codes (SPEC §16) ignore Chargeable too; Closed wins.
    for (state, want) in [
        (P::Chargeable, "BuyerPresent"),
        (P::NonChargeable, "BuyerPresent"),
        (P::Closed, "StopClosed"),
    ] {
        for code in [
            "PaymentMethodNotAllowed",
            "TransactionTimedOut",
            "TransactionCountExceeded",
        ] {
            let check = PermissionCheck::new(state.clone(), vec![]);
            for initiator in [ChargeInitiator::Mitr, ChargeInitiator::Citu] {
                let got = decide(&err(422, code), Some(&check), &ctx(initiator), &policy);
                assert_eq!(kind(&got), want, "{code} with {state}");
            }
        }
    }
    // AmazonRejected: the wallet is gone, whatever a check still shows.
    for state in [P::Chargeable, P::NonChargeable, P::Closed] {
        let check = PermissionCheck::new(state.clone(), vec![]);
        let got = decide(
            &err(422, "AmazonRejected"),
            Some(&check),
            &ctx(ChargeInitiator::Mitr),
            &policy,
        );
        assert_eq!(got, DeclineAction::StopPermissionRejected, "{state}");
    }
    // Transient errors replay regardless of the check: a lost success must be learned.
    let closed = PermissionCheck::new(P::Closed, vec![]);
    let got = decide(
        &ChargeOutcome::Transport,
        Some(&closed),
        &ctx(ChargeInitiator::Mitr),
        &policy,
    );
    assert_eq!(kind(&got), "RetrySameKey");
}

#[test]
fn update_link_uses_the_regions_host() {
    let policy = RetryPolicy::default();
    for (region, want) in [
        (Region::Na, US_UPDATE),
        (Region::Eu, US_UPDATE),
        (Region::Jp, JP_UPDATE),
    ] {
        let mut c = ctx(ChargeInitiator::Mitr);
        c.region = region;
        let got = decide(&err(422, "HardDeclined"), None, &c, &policy);
        assert_eq!(
            got,
            DeclineAction::AskBuyerToUpdatePaymentMethod {
                update_url: want.to_string()
            }
        );
        assert_eq!(
            got.merchant_event(),
            Some(MerchantEvent::PaymentMethodUpdateRequired)
        );
        assert_eq!(
            got.merchant_event().map(MerchantEvent::as_str),
            Some("payment_method_update_required")
        );
    }
}

#[test]
fn periodic_amount_exceeded_waits_for_next_utc_month() {
    let policy = RetryPolicy::default();
    let cases = [
        (
            Utc.with_ymd_and_hms(2026, 11, 28, 15, 30, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
        ),
        (
            Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap(),
        ),
        (
            Utc.with_ymd_and_hms(2028, 2, 29, 12, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2028, 3, 1, 0, 0, 0).unwrap(),
        ),
    ];
    for (now, want) in cases {
        let mut c = ctx(ChargeInitiator::Mitr);
        c.now = now;
        let got = decide(&err(400, "PeriodicAmountExceeded"), None, &c, &policy);
        assert_eq!(got, DeclineAction::WaitUntilNextMonth { at: want }, "{now}");
        assert_eq!(
            got.merchant_event(),
            Some(MerchantEvent::MonthlyLimitReached)
        );
    }
}

/// A whole soft-decline dunning run: check → immediate new attempt → +1d → +3d → +5d →
/// +7d → exhausted.
#[test]
fn soft_decline_walks_the_dunning_schedule_then_exhausts() {
    let policy = RetryPolicy::default();
    let t0 = now();
    let chargeable = PermissionCheck::new(P::Chargeable, vec![]);
    let expected_offsets_days = [0, 1, 3, 5, 7];
    for (i, days) in expected_offsets_days.iter().enumerate() {
        let attempt = i as u32 + 1;
        let mut c = ctx(ChargeInitiator::Mitr);
        c.attempt = attempt;
        c.first_failure_at = (attempt > 1).then_some(t0);
        // The worker runs each attempt at its slot (plus a minute).
        c.now = if i == 0 {
            t0
        } else {
            t0 + Duration::days(expected_offsets_days[i - 1]) + Duration::minutes(1)
        };
        let before = decide(&err(422, "SoftDeclined"), None, &c, &policy);
        assert_eq!(before, DeclineAction::CheckPermissionThenRetry);
        let got = decide(&err(422, "SoftDeclined"), Some(&chargeable), &c, &policy);
        let want_at = (t0 + Duration::days(*days)).max(c.now);
        assert_eq!(
            got,
            DeclineAction::RetryAt {
                at: want_at,
                same_idempotency_key: false
            },
            "attempt {attempt}"
        );
        assert_eq!(
            got.merchant_event(),
            Some(MerchantEvent::ChargeRetryScheduled)
        );
    }
    let mut c = ctx(ChargeInitiator::Mitr);
    c.attempt = 6;
    c.first_failure_at = Some(t0);
    c.now = t0 + Duration::days(7);
    let got = decide(&err(422, "SoftDeclined"), Some(&chargeable), &c, &policy);
    assert_eq!(
        got,
        DeclineAction::RetriesExhausted {
            update_url: US_UPDATE.into()
        }
    );
    assert_eq!(got.merchant_event(), Some(MerchantEvent::PaymentFailed));
}

#[test]
fn transient_replays_back_off_with_the_same_key_then_give_up() {
    let policy = RetryPolicy::default();
    let mut last_at = None;
    for replays in 0..policy.backoff.max_replays() {
        let mut c = ctx(ChargeInitiator::Mitr);
        c.replays = replays;
        c.jitter = Jitter::MAX;
        let got = decide(&ChargeOutcome::Transport, None, &c, &policy);
        let DeclineAction::RetryAt {
            at,
            same_idempotency_key: true,
        } = got
        else {
            panic!("replay {replays}: {got:?}");
        };
        assert!(at > now() && at <= now() + policy.backoff.ceiling(replays));
        if let Some(prev) = last_at {
            assert!(at >= prev, "backoff must not shrink at max jitter");
        }
        last_at = Some(at);
        assert_eq!(got.merchant_event(), None);
    }
    let mut c = ctx(ChargeInitiator::Mitr);
    c.replays = policy.backoff.max_replays();
    let got = decide(&err(503, "ServiceUnavailable"), None, &c, &policy);
    assert_eq!(
        got,
        DeclineAction::GiveUp {
            reason: GiveUpReason::ReplaysExhausted
        }
    );
    assert!(got.needs_alert());
}

#[test]
fn rules_are_what_the_docs_table_says() {
    // Spot checks tying a few table rows to their rule (docs/domain.md renders them).
    assert_eq!(
        row_for(&ReasonCode::SoftDeclined).unwrap().rule,
        Rule::SoftDecline
    );
    assert_eq!(
        row_for(&ReasonCode::HardDeclined).unwrap().rule,
        Rule::HardDecline
    );
    assert_eq!(
        row_for(&ReasonCode::TooManyRequests).unwrap().rule,
        Rule::Replay
    );
    assert!(row_for(&ReasonCode::Unknown("x".into())).is_none());
}

/// docs/domain.md §1.2 is the table, row for row: each row's line appears verbatim.
#[test]
fn docs_render_every_row() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/domain.md"))
        .expect("docs/domain.md exists");
    let mut missing = Vec::new();
    for row in REASON_TABLE {
        let line = row.doc_line();
        if !doc.lines().any(|l| l == line) {
            missing.push(line);
        }
    }
    assert!(
        missing.is_empty(),
        "docs/domain.md §1.2 lacks these rows (or has them differently):\n{}",
        missing.join("\n")
    );
    let rows_in_doc = doc
        .lines()
        .filter(|l| {
            REASON_TABLE
                .iter()
                .any(|r| l.contains(&format!("| `{}` |", r.code)))
        })
        .count();
    assert_eq!(rows_in_doc, REASON_TABLE.len(), "one doc row per table row");
}

#[test]
fn merchant_events_and_alerts() {
    let merchant_cancel = DeclineAction::GiveUp {
        reason: GiveUpReason::CanceledByMerchant,
    };
    assert!(!merchant_cancel.needs_alert());
    assert_eq!(
        merchant_cancel.merchant_event(),
        Some(MerchantEvent::ChargeFailed)
    );
    assert_eq!(
        DeclineAction::CheckPermissionThenRetry.merchant_event(),
        None
    );
    assert_eq!(
        DeclineAction::StopPermissionClosed
            .merchant_event()
            .map(MerchantEvent::as_str),
        Some("charge_permission_closed")
    );
    assert_eq!(
        DeclineAction::RequireBuyerPresent
            .merchant_event()
            .map(MerchantEvent::as_str),
        Some("buyer_checkout_required")
    );
    assert!(!DeclineAction::AwaitNotification.needs_alert());
}
