//! The decline decision table: what to do after a Create Charge outcome
//! (SPEC §0, §4.5, §6, §11.5–§11.7, §16; DESIGN.md "The flows" 3).
//!
//! Every known reason code has exactly one row in [`REASON_TABLE`] (a test enforces it).
//! A row names an abstract [`Rule`]; [`decide`] turns the rule into one concrete
//! [`DeclineAction`] using the charge permission check (if one was made), who initiated the
//! charge, and the retry policy. Error answers are first classified with
//! [`crate::api::classify`] — the same rule the client's retry loop uses — so a resendable
//! answer (408/425/429/502/503/504, a 500 without a reasonCode or with a transient one) is
//! always a same-key replay here, and an unexpected status gives up. [`buyer_action`] maps
//! the decision to what the buyer is told (API.md `buyerAction.kind`).

mod action;
mod buyer;
mod table;

pub use action::{DeclineAction, GiveUpReason, MerchantEvent};
pub use buyer::{buyer_action, BuyerAction, BuyerActionKind, FAILED_MFA_MESSAGE};
pub use table::{row_for, ReasonRow, Rule, REASON_TABLE};

use chrono::{DateTime, Utc};

use crate::api::{
    classify, permission_reason, Answer, Charge, ChargeInitiator, ChargePermission,
    ChargePermissionState, ChargePermissionStatusDetails, ChargeState, Disposition, ErrorResponse,
    Operation, ReasonCode,
};
use crate::dunning::{Jitter, NextAttempt, RetryKind, RetryPolicy};
use crate::limits::next_month_start;
use crate::region::Region;

use GiveUpReason as G;
use Rule as R;

/// What came back from one Create Charge request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    /// 201/202 with a Charge (also 200 for a Charge re-read with Get Charge after an IPN).
    Success {
        /// HTTP status.
        status: u16,
        /// `statusDetails.state` of the Charge.
        state: ChargeState,
        /// `statusDetails.reasonCode` of the Charge.
        reason_code: Option<ReasonCode>,
        /// `webCheckoutDetails.amazonPayRedirectUrl` (202 MFA only).
        amazon_pay_redirect_url: Option<String>,
    },
    /// An error response `{"reasonCode": …}`; a gateway error without a JSON body has
    /// `ReasonCode::Unknown("")`.
    ApiError {
        /// HTTP status.
        status: u16,
        /// The reason code of the error body.
        reason_code: ReasonCode,
    },
    /// Timeout or connection failure: the response was lost and the charge may exist.
    Transport,
}

impl ChargeOutcome {
    /// The outcome for a Charge object received with `status`.
    pub fn from_charge(status: u16, charge: &Charge) -> ChargeOutcome {
        ChargeOutcome::Success {
            status,
            state: charge.status_details.state.clone(),
            reason_code: charge.status_details.reason_code.clone(),
            amazon_pay_redirect_url: charge
                .web_checkout_details
                .as_ref()
                .and_then(|w| w.amazon_pay_redirect_url.clone()),
        }
    }

    /// The outcome for an error status with its parsed body (`None` if not JSON).
    pub fn from_error(status: u16, body: Option<&ErrorResponse>) -> ChargeOutcome {
        ChargeOutcome::ApiError {
            status,
            reason_code: body
                .map(|b| b.reason_code.clone())
                .unwrap_or_else(|| ReasonCode::Unknown(String::new())),
        }
    }
}

/// The result of Get Charge Permission, when one was made after the outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionCheck {
    /// The permission's state.
    pub state: ChargePermissionState,
    /// Its `statusDetails.reasons` codes.
    pub reasons: Vec<ReasonCode>,
}

impl PermissionCheck {
    /// A check from a state and reasons (a Closed permission's `BuyerCanceled` is read as
    /// `BuyerClosed`, see [`permission_reason`]).
    pub fn new(state: ChargePermissionState, reasons: Vec<ReasonCode>) -> PermissionCheck {
        let reasons = reasons
            .into_iter()
            .map(|r| permission_reason(&state, r))
            .collect();
        PermissionCheck { state, reasons }
    }

    /// A check from a permission's `statusDetails`.
    pub fn from_status_details(details: &ChargePermissionStatusDetails) -> PermissionCheck {
        PermissionCheck {
            state: details.state.clone(),
            reasons: details.reason_codes(),
        }
    }

    /// A check from a fetched Charge Permission.
    pub fn from_permission(permission: &ChargePermission) -> PermissionCheck {
        PermissionCheck::from_status_details(&permission.status_details)
    }
}

/// Everything besides the outcome that the decision depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionContext {
    /// Amazon Pay region (chooses the payment-method update link host).
    pub region: Region,
    /// Who initiated the charge: only customer-initiated charges can do MFA.
    pub charge_initiator: ChargeInitiator,
    /// The charge permission charged.
    pub charge_permission_id: String,
    /// 1-based attempt number of this logical charge (one idempotency key per attempt).
    pub attempt: u32,
    /// How many times this attempt's request was already resent with the same key.
    pub replays: u32,
    /// When the first attempt of this logical charge failed (`None`: this is the first).
    pub first_failure_at: Option<DateTime<Utc>>,
    /// The current time.
    pub now: DateTime<Utc>,
    /// Random factor for replay backoff.
    pub jitter: Jitter,
}

/// Payment-method problems on a NonChargeable permission (SPEC §5.2, §11.6).
fn is_payment_method_reason(code: &ReasonCode) -> bool {
    matches!(
        code,
        ReasonCode::PaymentMethodInvalid
            | ReasonCode::PaymentMethodDeleted
            | ReasonCode::BillingAddressDeleted
            | ReasonCode::PaymentMethodExpired
            | ReasonCode::PaymentMethodNotAllowed
            | ReasonCode::PaymentMethodNotSet
            | ReasonCode::MFAFailed
    )
}

/// Decides the one next step for a Create Charge outcome.
pub fn decide(
    outcome: &ChargeOutcome,
    permission: Option<&PermissionCheck>,
    ctx: &DecisionContext,
    policy: &RetryPolicy,
) -> DeclineAction {
    let d = Decider {
        permission,
        ctx,
        policy,
    };
    match outcome {
        ChargeOutcome::Transport => d.replay(),
        ChargeOutcome::ApiError {
            status,
            reason_code,
        } => {
            let answer = Answer::Status {
                status: *status,
                reason_code: Some(reason_code),
            };
            match (
                classify(Operation::CreateCharge, answer),
                row_for(reason_code),
            ) {
                (Disposition::Resend, _) => d.replay(),
                (Disposition::Decline, Some(row)) => d.apply(&row.rule, None),
                (Disposition::Decline, None) => {
                    give_up(G::UnknownReasonCode(reason_code.as_str().to_string()))
                }
                // An unexpected status (or a "success" posing as an error).
                (Disposition::GiveUp | Disposition::Success, _) => {
                    give_up(G::UnexpectedStatus(*status))
                }
            }
        }
        ChargeOutcome::Success {
            state,
            reason_code,
            amazon_pay_redirect_url,
            ..
        } => match state {
            ChargeState::Authorized | ChargeState::Captured => DeclineAction::Done {
                state: state.clone(),
            },
            ChargeState::AuthorizationInitiated | ChargeState::CaptureInitiated => {
                DeclineAction::AwaitNotification
            }
            ChargeState::ActionRequired => {
                d.apply(&R::BuyerAction, amazon_pay_redirect_url.as_deref())
            }
            ChargeState::Declined | ChargeState::Canceled => {
                match reason_code.as_ref().and_then(row_for) {
                    // A final Charge state cannot be replayed: the key would return the
                    // same Charge again, so a transient reason becomes a soft decline.
                    Some(row) if row.rule == R::Replay => d.apply(&R::SoftDecline, None),
                    Some(row) => d.apply(&row.rule, None),
                    None => give_up(G::UnknownReasonCode(
                        reason_code
                            .as_ref()
                            .map(|c| c.as_str().to_string())
                            .unwrap_or_default(),
                    )),
                }
            }
            ChargeState::Unknown(s) => give_up(G::UnknownChargeState(s.clone())),
        },
    }
}

fn give_up(reason: GiveUpReason) -> DeclineAction {
    DeclineAction::GiveUp { reason }
}

struct Decider<'a> {
    permission: Option<&'a PermissionCheck>,
    ctx: &'a DecisionContext,
    policy: &'a RetryPolicy,
}

impl Decider<'_> {
    fn apply(&self, rule: &Rule, redirect_url: Option<&str>) -> DeclineAction {
        let cit = self.ctx.charge_initiator.is_customer_initiated();
        match rule {
            R::GiveUp(reason) => give_up(reason.clone()),
            R::Replay => self.replay(),
            R::SoftDecline | R::FollowPermission => match self.permission {
                None => DeclineAction::CheckPermissionThenRetry,
                Some(check) => self.follow_permission(check),
            },
            // The permission often stays Chargeable after a hard decline, so a Chargeable
            // check does not mean "fixed": only the later IPN does. Closed still wins.
            R::HardDecline => match self.permission {
                Some(check) if check.state == ChargePermissionState::Closed => {
                    DeclineAction::StopPermissionClosed
                }
                _ => self.update_payment_method(),
            },
            R::PermissionClosed => DeclineAction::StopPermissionClosed,
            R::PermissionRejected => DeclineAction::StopPermissionRejected,
            R::NextMonth => DeclineAction::WaitUntilNextMonth {
                at: next_month_start(self.ctx.now),
            },
            R::MfaNotCompleted if cit => give_up(G::MissingCheckoutResultReturnUrl),
            R::MfaNotCompleted => DeclineAction::RequireBuyerPresent,
            R::BuyerAction if !cit => DeclineAction::RequireBuyerPresent,
            R::BuyerAction => match redirect_url {
                Some(url) if !url.is_empty() => DeclineAction::RedirectBuyerForMfa {
                    amazon_pay_redirect_url: url.to_string(),
                },
                _ => give_up(G::MissingRedirectUrl),
            },
            R::AnotherMethod => match self.permission {
                Some(check) if check.state == ChargePermissionState::Closed => {
                    DeclineAction::StopPermissionClosed
                }
                _ => DeclineAction::RequireBuyerPresent,
            },
            R::Await => DeclineAction::AwaitNotification,
        }
    }

    /// The permission-state half of the table (SPEC §5.2, §11.6).
    fn follow_permission(&self, check: &PermissionCheck) -> DeclineAction {
        use ChargePermissionState as P;
        match &check.state {
            P::Chargeable => self.new_attempt(),
            P::NonChargeable if check.reasons.iter().any(is_payment_method_reason) => {
                self.update_payment_method()
            }
            P::NonChargeable if check.reasons.contains(&ReasonCode::ChargeInProgress) => {
                DeclineAction::AwaitNotification
            }
            // Docs: every NonChargeable reason except ChargeInProgress needs the buyer.
            P::NonChargeable => self.update_payment_method(),
            P::Closed => DeclineAction::StopPermissionClosed,
            P::Unknown(s) => give_up(G::UnknownPermissionState(s.clone())),
        }
    }

    fn update_url(&self) -> String {
        self.ctx
            .region
            .payment_method_update_url(&self.ctx.charge_permission_id)
    }

    fn update_payment_method(&self) -> DeclineAction {
        DeclineAction::AskBuyerToUpdatePaymentMethod {
            update_url: self.update_url(),
        }
    }

    fn first_failure(&self) -> DateTime<Utc> {
        self.ctx.first_failure_at.unwrap_or(self.ctx.now)
    }

    fn replay(&self) -> DeclineAction {
        let kind = RetryKind::Replay {
            replays: self.ctx.replays,
        };
        match self.next(kind) {
            NextAttempt::At(at) => DeclineAction::RetryAt {
                at,
                same_idempotency_key: true,
            },
            NextAttempt::Exhausted => give_up(G::ReplaysExhausted),
        }
    }

    fn new_attempt(&self) -> DeclineAction {
        match self.next(RetryKind::NewAttempt) {
            NextAttempt::At(at) => DeclineAction::RetryAt {
                at,
                same_idempotency_key: false,
            },
            NextAttempt::Exhausted => DeclineAction::RetriesExhausted {
                update_url: self.update_url(),
            },
        }
    }

    fn next(&self, kind: RetryKind) -> NextAttempt {
        self.policy.next(
            kind,
            self.first_failure(),
            self.ctx.attempt,
            self.ctx.now,
            self.ctx.jitter,
        )
    }
}
