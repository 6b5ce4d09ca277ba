//! What one Create Charge answer means for our records, through `shared`'s decline table:
//! the attempt's state, the payment's status and buyer action, the wallet's change and the
//! subscription period's outcome. Pure: the engine (`charge.rs`) does the I/O.

use chrono::{DateTime, TimeDelta, Utc};

use savedwallet_shared::api::{
    Charge, ChargeInitiator, ChargePermissionState, ChargeState, ReasonCode,
};
use savedwallet_shared::decline::{
    buyer_action, decide, ChargeOutcome, DecisionContext, DeclineAction, PermissionCheck,
    FAILED_MFA_MESSAGE,
};
use savedwallet_shared::dunning::{Jitter, RetryPolicy};
use savedwallet_shared::region::Region;

use super::periods::PeriodOutcome;
use crate::ids::ChargeId;
use crate::ports::{Answer, GatewayError};
use crate::store::*;

/// The buyer-facing text of a decline, by what the buyer can do.
pub fn buyer_message(action: Option<&BuyerAction>) -> Option<String> {
    let text = match action?.kind {
        BuyerActionKind::UpdatePaymentMethod => {
            "Your payment method was declined. Please update it and try again."
        }
        BuyerActionKind::UseAnotherMethod => FAILED_MFA_MESSAGE,
        BuyerActionKind::RetryLater => {
            "Your payment could not be processed right now. Please try again later."
        }
    };
    Some(text.to_string())
}

/// How a wallet changes with a charge's outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalletChange {
    /// Amazon's state and reasons from a Get Charge Permission made for the decision.
    pub permission: Option<(ChargePermissionState, Vec<ReasonCode>)>,
    /// Flag it for a payment-method update (HardDeclined, a NonChargeable answer).
    pub flag_update: bool,
    /// The permission is gone (Closed, AmazonRejected).
    pub closed: bool,
}

impl WalletChange {
    /// The wallet after the change, or `None` if nothing changes.
    pub fn apply(&self, w: &Wallet, now: DateTime<Utc>) -> Option<Wallet> {
        let mut n = w.clone();
        if let Some((state, reasons)) = &self.permission {
            n.state = state.clone();
            n.reasons = reasons.clone();
        }
        if self.flag_update && !n.update_required {
            n.update_required = true;
            n.update_required_since = Some(now);
        }
        if self.closed {
            n.state = ChargePermissionState::Closed;
        }
        if n == *w {
            return None;
        }
        n.updated_at = now;
        Some(n)
    }
}

/// The records' side of one answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The attempt's new state.
    pub state: AttemptState,
    /// Amazon's charge id, when an answer carried one.
    pub charge_id: Option<ChargeId>,
    /// Amazon's reason code of a decline or failure.
    pub reason_code: Option<ReasonCode>,
    /// Amazon's HTTP status.
    pub http_status: Option<u16>,
    /// The payment's status.
    pub status: PaymentStatus,
    /// The decline table's decision (declines only).
    pub action: Option<DeclineAction>,
    /// What the buyer is told.
    pub buyer_action: Option<BuyerAction>,
    /// Amazon's MFA page.
    pub redirect_url: Option<String>,
    /// The captured amount (captured only).
    pub captured: bool,
    /// Amazon's `captureAmount` of a captured charge (a partial capture is less than the
    /// payment's amount).
    pub captured_amount: Option<savedwallet_shared::money::Price>,
    /// The period's outcome, for a subscription payment.
    pub period: PeriodOutcome,
    /// The wallet's change.
    pub wallet: WalletChange,
    /// Start a new attempt right away (a customer-initiated soft decline within budget).
    pub retry_now: bool,
    /// When a scheduled retry is due.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Check it again then (pending, unknown, MFA expiry).
    pub wake_at: Option<DateTime<Utc>>,
}

/// What the decision needs besides the answer.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The wallet's region.
    pub region: Region,
    /// Who initiates the payment.
    pub initiator: ChargeInitiator,
    /// The wallet.
    pub wallet: &'a Wallet,
    /// The attempt number.
    pub attempt: u32,
    /// When this payment's first attempt failed (dunning), if it did.
    pub first_failure_at: Option<DateTime<Utc>>,
    /// Now.
    pub now: DateTime<Utc>,
    /// Random factor.
    pub jitter: Jitter,
    /// The retry policy.
    pub policy: &'a RetryPolicy,
    /// A customer-initiated retry may be made inside this request.
    pub may_retry_now: bool,
    /// The buyer-facing update link (the sandbox's host locally).
    pub update_url: String,
    /// This send was the attempt's first in this process (a NotSent is then final).
    pub fresh: bool,
    /// Pending authorizations are checked again after this.
    pub pending_check_after: TimeDelta,
    /// Unanswered sends are replayed after this.
    pub unknown_replay_after: TimeDelta,
}

/// The first look at an answer: final, or a Get Charge Permission is needed first.
#[derive(Debug, Clone, PartialEq)]
pub enum Look {
    /// The records' side.
    Final(Box<Step>),
    /// Call Get Charge Permission, then [`with_permission`].
    CheckPermission(ChargeOutcome),
}

fn step(state: AttemptState, status: PaymentStatus) -> Step {
    Step {
        state,
        charge_id: None,
        reason_code: None,
        http_status: None,
        status,
        action: None,
        buyer_action: None,
        redirect_url: None,
        captured: false,
        captured_amount: None,
        period: PeriodOutcome::Open,
        wallet: WalletChange::default(),
        retry_now: false,
        next_attempt_at: None,
        wake_at: None,
    }
}

fn decision_context(ctx: &Context<'_>) -> DecisionContext {
    DecisionContext {
        region: ctx.region,
        charge_initiator: ctx.initiator.clone(),
        charge_permission_id: ctx.wallet.wallet_id.to_string(),
        attempt: ctx.attempt,
        replays: 0,
        first_failure_at: ctx.first_failure_at,
        now: ctx.now,
        jitter: ctx.jitter,
    }
}

/// The answer to a Create Charge send.
pub fn look(answer: &Result<Answer<Charge>, GatewayError>, ctx: &Context<'_>) -> Look {
    match answer {
        Ok(a) => Look::Final(Box::new(charge_step(a.status, &a.body, ctx))),
        Err(GatewayError::Declined {
            status,
            reason_code,
        })
        | Err(GatewayError::Failed {
            status,
            reason_code,
        }) => {
            let outcome = ChargeOutcome::ApiError {
                status: *status,
                reason_code: reason_code.clone(),
            };
            let action = decide(&outcome, None, &decision_context(ctx), ctx.policy);
            if action == DeclineAction::CheckPermissionThenRetry {
                return Look::CheckPermission(outcome);
            }
            Look::Final(Box::new(declined_step(
                action,
                Some(*status),
                Some(reason_code.clone()),
                ctx,
            )))
        }
        Err(GatewayError::Unknown) => Look::Final(Box::new(unknown_step(ctx))),
        Err(GatewayError::NotSent(_)) if !ctx.fresh => Look::Final(Box::new(unknown_step(ctx))),
        Err(GatewayError::NotSent(_)) => {
            // Nothing reached Amazon: this attempt charged nothing, for sure.
            let mut s = step(AttemptState::Failed, PaymentStatus::Failed);
            let action = DeclineAction::RetryAt {
                at: ctx.now + ctx.unknown_replay_after,
                same_idempotency_key: false,
            };
            s.buyer_action = buyer_action(&action);
            s.next_attempt_at = None;
            s.period = PeriodOutcome::Failed(action.clone());
            s.action = Some(action);
            Look::Final(Box::new(s))
        }
    }
}

/// After a Get Charge Permission (`check` is `None` if it could not be read).
pub fn with_permission(
    outcome: &ChargeOutcome,
    check: Option<&PermissionCheck>,
    ctx: &Context<'_>,
) -> Step {
    let (status, reason) = match outcome {
        ChargeOutcome::ApiError {
            status,
            reason_code,
        } => (Some(*status), Some(reason_code.clone())),
        _ => (None, None),
    };
    let action = match check {
        Some(c) => decide(outcome, Some(c), &decision_context(ctx), ctx.policy),
        // Chargeable could not be confirmed: a new attempt later, on the schedule.
        None => DeclineAction::RetryAt {
            at: ctx.now + ctx.unknown_replay_after,
            same_idempotency_key: false,
        },
    };
    let mut s = declined_step(action, status, reason, ctx);
    if let Some(c) = check {
        s.wallet.permission = Some((c.state.clone(), c.reasons.clone()));
        if c.state == ChargePermissionState::Closed {
            s.wallet.closed = true;
        }
    }
    s
}

fn unknown_step(ctx: &Context<'_>) -> Step {
    // No answer: the charge may exist. The attempt stays open and is replayed with the
    // same key and body; the buyer sees `pending`, never a timeout.
    let mut s = step(AttemptState::Unknown, PaymentStatus::Pending);
    s.wake_at = Some(ctx.now + ctx.unknown_replay_after);
    s
}

/// A Charge object that asks for a permission check before anything else (a soft decline
/// or processing failure resolved asynchronously): its outcome for [`with_permission`].
pub fn charge_needs_permission_check(charge: &Charge, ctx: &Context<'_>) -> Option<ChargeOutcome> {
    if charge.status_details.state != ChargeState::Declined {
        return None;
    }
    let outcome = ChargeOutcome::from_charge(200, charge);
    (decide(&outcome, None, &decision_context(ctx), ctx.policy)
        == DeclineAction::CheckPermissionThenRetry)
        .then_some(outcome)
}

/// A Charge object (201/202, or a Get Charge after an IPN).
pub fn charge_step(status: u16, charge: &Charge, ctx: &Context<'_>) -> Step {
    let charge_id = ChargeId::parse(&charge.charge_id).ok();
    let outcome = ChargeOutcome::from_charge(status, charge);
    let action = decide(&outcome, None, &decision_context(ctx), ctx.policy);
    let mut s = match (&charge.status_details.state, &action) {
        (ChargeState::Captured, _) => {
            let mut s = step(AttemptState::Captured, PaymentStatus::Succeeded);
            s.captured = true;
            s.captured_amount = charge.capture_amount;
            s.period = PeriodOutcome::Paid;
            s
        }
        (ChargeState::Authorized, _) => {
            let mut s = step(AttemptState::Authorized, PaymentStatus::Authorized);
            s.period = PeriodOutcome::Paid;
            // Amazon cancels an unused authorization after 30 days; look then.
            s.wake_at = Some(ctx.now + TimeDelta::days(30) + TimeDelta::hours(1));
            s
        }
        (ChargeState::AuthorizationInitiated, _) => {
            let mut s = step(AttemptState::Pending, PaymentStatus::Pending);
            s.wake_at = Some(ctx.now + ctx.pending_check_after);
            s
        }
        (ChargeState::CaptureInitiated, _) => {
            // Authorized, the capture runs asynchronously: the IPN brings Captured.
            let mut s = step(AttemptState::Authorized, PaymentStatus::Pending);
            s.wake_at = Some(ctx.now + ctx.pending_check_after);
            s
        }
        (
            ChargeState::ActionRequired,
            DeclineAction::RedirectBuyerForMfa {
                amazon_pay_redirect_url,
            },
        ) => {
            let mut s = step(AttemptState::ActionRequired, PaymentStatus::ActionRequired);
            s.redirect_url = Some(amazon_pay_redirect_url.clone());
            s.wake_at = Some(ctx.now + TimeDelta::hours(24));
            s
        }
        (ChargeState::ActionRequired, other) => {
            // A challenge nobody can take (MIT, or no redirect URL): the charge waits at
            // Amazon until it expires; the payment is declined meanwhile.
            let mut s = declined_step(other.clone(), Some(status), None, ctx);
            s.state = AttemptState::ActionRequired;
            s.wake_at = Some(ctx.now + TimeDelta::hours(24));
            s
        }
        (ChargeState::Declined, a) => declined_step(
            a.clone(),
            Some(status),
            charge.status_details.reason_code.clone(),
            ctx,
        ),
        (ChargeState::Canceled, _) => {
            let mut s = step(AttemptState::Canceled, PaymentStatus::Canceled);
            s.reason_code = charge.status_details.reason_code.clone();
            s.period = PeriodOutcome::Failed(action.clone());
            s
        }
        (ChargeState::Unknown(_), a) => declined_step(a.clone(), Some(status), None, ctx),
    };
    s.charge_id = charge_id;
    s.http_status = Some(status);
    if s.reason_code.is_none() {
        s.reason_code = charge.status_details.reason_code.clone();
    }
    s
}

/// A decline (or a failure) with the table's decision.
fn declined_step(
    action: DeclineAction,
    http_status: Option<u16>,
    reason_code: Option<ReasonCode>,
    ctx: &Context<'_>,
) -> Step {
    let cit = ctx.initiator.is_customer_initiated();
    let mut s = step(AttemptState::Declined, PaymentStatus::Declined);
    s.http_status = http_status;
    s.reason_code = reason_code;
    match &action {
        DeclineAction::AskBuyerToUpdatePaymentMethod { .. } => {
            s.wallet.flag_update = true;
            s.buyer_action = Some(BuyerAction {
                kind: BuyerActionKind::UpdatePaymentMethod,
                url: Some(ctx.update_url.clone()),
            });
        }
        DeclineAction::RetryAt {
            at,
            same_idempotency_key: false,
        } => {
            if cit && ctx.may_retry_now {
                s.retry_now = true;
            } else if ctx.initiator == ChargeInitiator::Mitr {
                // Only billing retries on its own; a merchant's unscheduled charge (MITU)
                // is retried when the merchant asks.
                s.next_attempt_at = Some(*at);
            }
            s.buyer_action = buyer_action(&action);
        }
        DeclineAction::StopPermissionClosed | DeclineAction::StopPermissionRejected => {
            s.wallet.closed = true;
            s.buyer_action = buyer_action(&action);
        }
        DeclineAction::GiveUp { .. } => {
            // An error Amazon gave instead of a decline: nothing was charged.
            s.state = AttemptState::Failed;
            s.status = PaymentStatus::Failed;
            s.buyer_action = buyer_action(&action);
        }
        DeclineAction::AwaitNotification => {
            // Declined, but the permission has a charge in progress: never start a
            // parallel one; the buyer retries later.
            s.buyer_action = Some(BuyerAction {
                kind: BuyerActionKind::RetryLater,
                url: None,
            });
        }
        other => {
            s.buyer_action = buyer_action(other);
        }
    }
    s.period = PeriodOutcome::Failed(action.clone());
    s.action = Some(action);
    s
}
