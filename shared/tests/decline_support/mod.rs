//! Helpers shared by the decline-table tests: a fixed context and compact action names.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use savedwallet_shared::api::{ChargeInitiator, ReasonCode};
use savedwallet_shared::decline::{ChargeOutcome, DecisionContext, DeclineAction};
use savedwallet_shared::dunning::Jitter;
use savedwallet_shared::region::Region;

pub const CP: &str = "S01-5105180-3221187";
pub const US_UPDATE: &str = "https://payments.amazon.com/jr/your-account/ba/S01-5105180-3221187";
pub const JP_UPDATE: &str = "https://pay.amazon.com/jp/jr/your-account/ba/S01-5105180-3221187";
pub const MFA_URL: &str = "https://pay.amazon.eu/checkout/mfa?session=abc";

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 15, 30, 0).unwrap()
}

pub fn ctx(initiator: ChargeInitiator) -> DecisionContext {
    DecisionContext {
        region: Region::Na,
        charge_initiator: initiator,
        charge_permission_id: CP.to_string(),
        attempt: 1,
        replays: 0,
        first_failure_at: None,
        now: now(),
        jitter: Jitter::MAX,
    }
}

pub fn err(status: u16, code: &str) -> ChargeOutcome {
    ChargeOutcome::ApiError {
        status,
        reason_code: ReasonCode::parse(code),
    }
}

/// A compact, comparable name for an action.
pub fn kind(a: &DeclineAction) -> String {
    match a {
        DeclineAction::Done { state } => format!("Done({state})"),
        DeclineAction::AwaitNotification => "Await".into(),
        DeclineAction::RedirectBuyerForMfa { .. } => "RedirectMfa".into(),
        DeclineAction::CheckPermissionThenRetry => "CheckPermission".into(),
        DeclineAction::RetryAt {
            same_idempotency_key: true,
            ..
        } => "RetrySameKey".into(),
        DeclineAction::RetryAt { .. } => "RetryNewKey".into(),
        DeclineAction::AskBuyerToUpdatePaymentMethod { .. } => "UpdatePaymentMethod".into(),
        DeclineAction::StopPermissionClosed => "StopClosed".into(),
        DeclineAction::StopPermissionRejected => "StopRejected".into(),
        DeclineAction::WaitUntilNextMonth { .. } => "NextMonth".into(),
        DeclineAction::RequireBuyerPresent => "BuyerPresent".into(),
        DeclineAction::RetriesExhausted { .. } => "Exhausted".into(),
        DeclineAction::GiveUp { reason } => format!("GiveUp({})", reason.as_str()),
    }
}
