//! The decline decision table: what to do after a Create Charge outcome
//! (SPEC §0, §4.5, §6, §11.5–§11.7; DESIGN.md "The flows" 3).
//!
//! Every known reason code has exactly one row in [`REASON_TABLE`] (a test enforces it).
//! A row names an abstract [`Rule`]; [`decide`] turns the rule into one concrete
//! [`DeclineAction`] using the charge permission check (if one was made), who initiated the
//! charge, and the retry policy. Unknown codes: give up and alert for 4xx, replay with the
//! same idempotency key for 5xx (and 408/425/429).

use chrono::{DateTime, Utc};

use crate::api::{
    Charge, ChargeInitiator, ChargePermission, ChargePermissionState,
    ChargePermissionStatusDetails, ChargeState, ErrorResponse, ReasonCode,
};
use crate::dunning::{Jitter, NextAttempt, RetryKind, RetryPolicy};
use crate::limits::next_month_start;
use crate::region::Region;

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
    /// A check from a state and reasons.
    pub fn new(state: ChargePermissionState, reasons: Vec<ReasonCode>) -> PermissionCheck {
        PermissionCheck { state, reasons }
    }

    /// A check from a permission's `statusDetails`.
    pub fn from_status_details(details: &ChargePermissionStatusDetails) -> PermissionCheck {
        PermissionCheck {
            state: details.state.clone(),
            reasons: details
                .reasons
                .iter()
                .map(|r| r.reason_code.clone())
                .collect(),
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

/// The single next step after a Create Charge outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeclineAction {
    /// Paid: `Authorized` or `Captured`.
    Done {
        /// The final state.
        state: ChargeState,
    },
    /// `AuthorizationInitiated` / `CaptureInitiated` (or a transient permission state):
    /// wait for the IPN, then fetch the object.
    AwaitNotification,
    /// 202 `ActionRequired` / `BuyerActionRequired` on a customer-initiated charge: send
    /// the buyer's browser here, then Complete Checkout Session on return.
    RedirectBuyerForMfa {
        /// Amazon's challenge page.
        amazon_pay_redirect_url: String,
    },
    /// Call Get Charge Permission and decide again with the result.
    CheckPermissionThenRetry,
    /// Try again at `at`: with the same key (a replay) or a new one (a new attempt).
    RetryAt {
        /// When.
        at: DateTime<Utc>,
        /// `true`: resend the same request and key; `false`: next attempt, next key.
        same_idempotency_key: bool,
    },
    /// The buyer must fix the payment method at this link; then wait for the
    /// CHARGE_PERMISSION IPN, confirm `Chargeable` and charge again.
    AskBuyerToUpdatePaymentMethod {
        /// `https://payments.amazon.com/jr/your-account/ba/{id}` (JP host for JP).
        update_url: String,
    },
    /// The permission is closed: stop charging it (cancel the subscription).
    StopPermissionClosed,
    /// Monthly Saved Wallet limit reached: the next try is at the next UTC month start.
    WaitUntilNextMonth {
        /// First instant of the next month.
        at: DateTime<Utc>,
    },
    /// Nothing can be done without the buyer present: invite them to check out (a CIT).
    RequireBuyerPresent,
    /// The dunning window is over: final failure; offer the update link.
    RetriesExhausted {
        /// The payment-method update link.
        update_url: String,
    },
    /// Permanent failure (a bug or configuration error unless the reason says otherwise).
    GiveUp {
        /// Why.
        reason: GiveUpReason,
    },
}

/// Why a charge is given up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GiveUpReason {
    /// The request is malformed (400 family, 405): our bug.
    InvalidRequest,
    /// The same key was sent with different parameters: our bug; a new key could double-charge.
    IdempotencyKeyConflict,
    /// Charge currency differs from the permission's.
    CurrencyMismatch,
    /// Amount above what Amazon allows.
    AmountRejected,
    /// Too many charges on this permission.
    TransactionCountExceeded,
    /// Credentials, delegation or token refused.
    CredentialsRejected,
    /// Request signature refused.
    SignatureRejected,
    /// The merchant account is not in good standing.
    AccountNotInGoodStanding,
    /// The permission id is unknown (or a sandbox id used against live).
    ResourceNotFound,
    /// A code that belongs to another operation, never to Create Charge.
    NotACreateChargeOutcome,
    /// MFA needed on a CIT sent without `webCheckoutDetails.checkoutResultReturnUrl`.
    MissingCheckoutResultReturnUrl,
    /// `ActionRequired` without `amazonPayRedirectUrl`.
    MissingRedirectUrl,
    /// Our TLS stack is too old.
    TlsVersionNotSupported,
    /// The charge was authorized but never captured for 30 days.
    ChargeExpiredUnused,
    /// The merchant canceled the charge (not an error).
    CanceledByMerchant,
    /// Replays exhausted: the outcome may be unknown; only ever replay this same key later.
    ReplaysExhausted,
    /// An error code this version does not know.
    UnknownReasonCode(String),
    /// A Charge state this version does not know.
    UnknownChargeState(String),
    /// A Charge Permission state this version does not know.
    UnknownPermissionState(String),
}

impl GiveUpReason {
    /// A stable snake_case code for logs and events.
    pub fn as_str(&self) -> &'static str {
        match self {
            GiveUpReason::InvalidRequest => "invalid_request",
            GiveUpReason::IdempotencyKeyConflict => "idempotency_key_conflict",
            GiveUpReason::CurrencyMismatch => "currency_mismatch",
            GiveUpReason::AmountRejected => "amount_rejected",
            GiveUpReason::TransactionCountExceeded => "transaction_count_exceeded",
            GiveUpReason::CredentialsRejected => "credentials_rejected",
            GiveUpReason::SignatureRejected => "signature_rejected",
            GiveUpReason::AccountNotInGoodStanding => "account_not_in_good_standing",
            GiveUpReason::ResourceNotFound => "resource_not_found",
            GiveUpReason::NotACreateChargeOutcome => "not_a_create_charge_outcome",
            GiveUpReason::MissingCheckoutResultReturnUrl => "missing_checkout_result_return_url",
            GiveUpReason::MissingRedirectUrl => "missing_redirect_url",
            GiveUpReason::TlsVersionNotSupported => "tls_version_not_supported",
            GiveUpReason::ChargeExpiredUnused => "charge_expired_unused",
            GiveUpReason::CanceledByMerchant => "canceled_by_merchant",
            GiveUpReason::ReplaysExhausted => "replays_exhausted",
            GiveUpReason::UnknownReasonCode(_) => "unknown_reason_code",
            GiveUpReason::UnknownChargeState(_) => "unknown_charge_state",
            GiveUpReason::UnknownPermissionState(_) => "unknown_permission_state",
        }
    }

    /// True when an operator must look (everything except a deliberate merchant cancel).
    pub fn needs_alert(&self) -> bool {
        !matches!(self, GiveUpReason::CanceledByMerchant)
    }
}

/// What the merchant's systems (emails, UI, webhooks) should be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MerchantEvent {
    /// The charge is authorized.
    ChargeAuthorized,
    /// The charge is captured.
    ChargeCaptured,
    /// The outcome arrives later (IPN).
    ChargePending,
    /// The buyer must pass an MFA challenge now.
    BuyerAuthenticationRequired,
    /// A new attempt is scheduled.
    ChargeRetryScheduled,
    /// The buyer must update the payment method.
    PaymentMethodUpdateRequired,
    /// The buyer's Saved Wallet permission is closed.
    ChargePermissionClosed,
    /// The monthly limit is reached; charged next month.
    MonthlyLimitReached,
    /// The buyer must come back and check out.
    BuyerCheckoutRequired,
    /// Dunning ended without success.
    PaymentFailed,
    /// The charge failed for a non-buyer reason.
    ChargeFailed,
}

impl MerchantEvent {
    /// The event name, e.g. `"payment_method_update_required"`.
    pub fn as_str(self) -> &'static str {
        match self {
            MerchantEvent::ChargeAuthorized => "charge_authorized",
            MerchantEvent::ChargeCaptured => "charge_captured",
            MerchantEvent::ChargePending => "charge_pending",
            MerchantEvent::BuyerAuthenticationRequired => "buyer_authentication_required",
            MerchantEvent::ChargeRetryScheduled => "charge_retry_scheduled",
            MerchantEvent::PaymentMethodUpdateRequired => "payment_method_update_required",
            MerchantEvent::ChargePermissionClosed => "charge_permission_closed",
            MerchantEvent::MonthlyLimitReached => "monthly_limit_reached",
            MerchantEvent::BuyerCheckoutRequired => "buyer_checkout_required",
            MerchantEvent::PaymentFailed => "payment_failed",
            MerchantEvent::ChargeFailed => "charge_failed",
        }
    }
}

impl DeclineAction {
    /// The event to tell the merchant, or `None` for internal steps (a permission check,
    /// a same-key replay).
    pub fn merchant_event(&self) -> Option<MerchantEvent> {
        Some(match self {
            DeclineAction::Done { state } if *state == ChargeState::Captured => {
                MerchantEvent::ChargeCaptured
            }
            DeclineAction::Done { .. } => MerchantEvent::ChargeAuthorized,
            DeclineAction::AwaitNotification => MerchantEvent::ChargePending,
            DeclineAction::RedirectBuyerForMfa { .. } => MerchantEvent::BuyerAuthenticationRequired,
            DeclineAction::CheckPermissionThenRetry => return None,
            DeclineAction::RetryAt {
                same_idempotency_key: true,
                ..
            } => return None,
            DeclineAction::RetryAt { .. } => MerchantEvent::ChargeRetryScheduled,
            DeclineAction::AskBuyerToUpdatePaymentMethod { .. } => {
                MerchantEvent::PaymentMethodUpdateRequired
            }
            DeclineAction::StopPermissionClosed => MerchantEvent::ChargePermissionClosed,
            DeclineAction::WaitUntilNextMonth { .. } => MerchantEvent::MonthlyLimitReached,
            DeclineAction::RequireBuyerPresent => MerchantEvent::BuyerCheckoutRequired,
            DeclineAction::RetriesExhausted { .. } => MerchantEvent::PaymentFailed,
            DeclineAction::GiveUp { .. } => MerchantEvent::ChargeFailed,
        })
    }

    /// True when an operator should be alerted.
    pub fn needs_alert(&self) -> bool {
        matches!(self, DeclineAction::GiveUp { reason } if reason.needs_alert())
    }
}

/// The abstract rule of a table row, resolved by [`decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Permanent: give up (and usually alert).
    GiveUp(GiveUpReason),
    /// Transient: replay the same request with the same key after a backoff.
    Replay,
    /// Temporary decline: Get Charge Permission; if `Chargeable`, a new attempt on the
    /// dunning schedule; otherwise follow the permission's state.
    SoftDecline,
    /// Permanent decline of the method: buyer updates it (unless the permission is closed).
    HardDecline,
    /// The permission is not `Chargeable`: check it and follow its state.
    FollowPermission,
    /// The permission is closed.
    PermissionClosed,
    /// Monthly limit: next UTC month.
    NextMonth,
    /// MFA required but impossible now: MIT → buyer must come back; CIT → missing return URL.
    MfaNotCompleted,
    /// MFA challenge: CIT with a redirect URL → redirect; MIT → buyer must come back.
    BuyerAction,
    /// The buyer canceled/failed a checkout step: they must check out again.
    BuyerCheckout,
    /// A charge is in progress: wait for the IPN.
    Await,
}

/// One row of the decision table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonRow {
    /// The reason code.
    pub code: ReasonCode,
    /// HTTP status Amazon sends it with (SPEC §6); `None` for `statusDetails`-only codes.
    pub status: Option<u16>,
    /// What to do.
    pub rule: Rule,
    /// Why, in one line (rendered in docs/domain.md).
    pub why: &'static str,
}

macro_rules! rows {
    ($( $status:expr, $code:ident => $rule:expr, $why:literal; )+) => {
        &[ $( ReasonRow { code: ReasonCode::$code, status: $status, rule: $rule, why: $why }, )+ ]
    };
}

use GiveUpReason as G;
use Rule as R;

/// The decision table: every known reason code, once, in SPEC §6 order, then the
/// `statusDetails` reason codes (which arrive on `Declined`/`Canceled` charges).
pub static REASON_TABLE: &[ReasonRow] = rows! {
    Some(400), InvalidHeaderValue => R::GiveUp(G::InvalidRequest), "our request is malformed: fix the client";
    Some(400), InvalidRequest => R::GiveUp(G::InvalidRequest), "our request is malformed: fix the client";
    Some(400), InvalidParameterValue => R::GiveUp(G::InvalidRequest), "a field value is invalid (e.g. softDescriptor > 16)";
    Some(400), InvalidRequestFormat => R::GiveUp(G::InvalidRequest), "the body is not valid JSON";
    Some(400), MissingHeader => R::GiveUp(G::InvalidRequest), "a required header is absent";
    Some(400), MissingHeaderValue => R::GiveUp(G::InvalidRequest), "a required header is empty (e.g. idempotency key)";
    Some(400), MissingParameterValue => R::GiveUp(G::InvalidRequest), "a required field is missing";
    Some(400), UnrecognizedField => R::GiveUp(G::InvalidRequest), "we sent a field Amazon does not know";
    Some(400), InvalidSandboxSimulationSpecified => R::GiveUp(G::InvalidRequest), "a sandbox simulation code does not fit this call";
    Some(400), DuplicateIdempotencyKey => R::GiveUp(G::IdempotencyKeyConflict), "same key, different body: a new key could charge twice, so stop and alert";
    Some(400), InvalidParameterCombination => R::GiveUp(G::InvalidRequest), "e.g. softDescriptor without captureNow";
    Some(400), CurrencyMismatch => R::GiveUp(G::CurrencyMismatch), "charge currency differs from the permission's presentment currency";
    Some(400), InvalidAPIVersion => R::GiveUp(G::InvalidRequest), "unsupported API version";
    Some(400), TransactionAmountExceeded => R::GiveUp(G::AmountRejected), "amount above the per-charge maximum";
    Some(400), PeriodicAmountExceeded => R::NextMonth, "monthly Saved Wallet limit reached: only next month";
    Some(401), UnauthorizedAccess => R::GiveUp(G::CredentialsRejected), "merchant not authorized (delegation)";
    Some(403), InvalidAccountStatus => R::GiveUp(G::AccountNotInGoodStanding), "merchant account not in good standing";
    Some(403), InvalidRequestSignature => R::GiveUp(G::SignatureRejected), "signature refused: fix the signer or key";
    Some(403), InvalidAuthentication => R::GiveUp(G::CredentialsRejected), "credentials refused";
    Some(403), InvalidAuthorizationToken => R::GiveUp(G::CredentialsRejected), "token refused";
    Some(404), ResourceNotFound => R::GiveUp(G::ResourceNotFound), "unknown permission id (or sandbox id against live)";
    Some(405), UnsupportedOperation => R::GiveUp(G::InvalidRequest), "method not supported: client bug";
    Some(405), RequestNotSupported => R::GiveUp(G::InvalidRequest), "method not supported: client bug";
    Some(408), RequestTimeout => R::Replay, "timed out: replay with the same key (a lost success is replayed, not repeated)";
    Some(409), AmountMismatch => R::GiveUp(G::NotACreateChargeOutcome), "Complete Checkout Session code, never Create Charge";
    Some(422), InvalidCheckoutSessionStatus => R::GiveUp(G::NotACreateChargeOutcome), "checkout session code, never Create Charge";
    Some(422), CheckoutSessionCanceled => R::BuyerCheckout, "buyer canceled or payment declined in checkout: buyer checks out again";
    Some(422), ChargePermissionNotModifiable => R::GiveUp(G::NotACreateChargeOutcome), "Update Charge Permission code, never Create Charge";
    Some(422), InvalidChargePermissionStatus => R::FollowPermission, "permission not Chargeable: check it and follow its state";
    Some(422), InvalidChargeStatus => R::GiveUp(G::NotACreateChargeOutcome), "capture/cancel/refund code, never Create Charge";
    Some(422), SoftDeclined => R::SoftDecline, "temporary decline: confirm Chargeable, then a new attempt on the dunning schedule";
    Some(422), HardDeclined => R::HardDecline, "permanent decline: the buyer must update the payment method";
    Some(422), PaymentMethodNotAllowed => R::HardDecline, "method not allowed for this permission: the buyer picks another";
    Some(422), AmazonRejected => R::BuyerCheckout, "Amazon rejected it: re-engage the buyer to check out again";
    Some(422), TransactionCountExceeded => R::GiveUp(G::TransactionCountExceeded), "too many charges on this permission";
    Some(422), TransactionTimedOut => R::SoftDecline, "authorization not processed in time: treat as a soft decline, fresh attempt";
    Some(422), MFANotCompleted => R::MfaNotCompleted, "MFA needed: MIT cannot do it (buyer must come back); CIT lacked a return URL";
    Some(426), TLSVersionNotSupported => R::GiveUp(G::TlsVersionNotSupported), "our TLS is too old: configuration";
    Some(429), TooManyRequests => R::Replay, "throttled: back off, replay with the same key";
    Some(429), RequestThrottled => R::Replay, "throttled: back off, replay with the same key";
    Some(500), InternalServerError => R::Replay, "Amazon error: replay with the same key";
    Some(500), ProcessingFailure => R::SoftDecline, "processing failure: confirm Chargeable, then a new attempt";
    Some(503), ServiceUnavailable => R::Replay, "temporarily unavailable: replay with the same key";
    None, BuyerActionRequired => R::BuyerAction, "MFA challenge: redirect the present buyer; MIT cannot";
    None, Expired => R::BuyerCheckout, "MFA/checkout not completed within 24 h: buyer checks out again";
    None, BuyerCanceled => R::BuyerCheckout, "buyer canceled the challenge/checkout: buyer checks out again";
    None, AmazonCanceled => R::BuyerCheckout, "Amazon canceled it: re-engage the buyer";
    None, Declined => R::BuyerCheckout, "declined during checkout: buyer tries another payment method";
    None, ExpiredUnused => R::GiveUp(G::ChargeExpiredUnused), "authorized but never captured in 30 days: capture flow bug";
    None, MerchantCanceled => R::GiveUp(G::CanceledByMerchant), "we canceled it ourselves: nothing to retry";
    None, ChargePermissionCanceled => R::PermissionClosed, "canceled because the permission was closed";
    None, MerchantClosed => R::PermissionClosed, "we closed the permission";
    None, BuyerClosed => R::PermissionClosed, "the buyer closed the permission on Amazon's site";
    None, AmazonClosed => R::PermissionClosed, "Amazon closed the permission";
    None, PaymentMethodInvalid => R::HardDecline, "payment method invalid: buyer updates it";
    None, PaymentMethodDeleted => R::HardDecline, "payment method deleted: buyer updates it";
    None, BillingAddressDeleted => R::HardDecline, "billing address deleted: buyer updates it";
    None, PaymentMethodExpired => R::HardDecline, "payment method expired: buyer updates it";
    None, PaymentMethodNotSet => R::HardDecline, "no payment method: buyer sets one";
    None, MFAFailed => R::HardDecline, "buyer failed MFA: buyer updates the method (hosted Update page)";
    None, ChargeInProgress => R::Await, "another charge is processing: wait for its IPN, never start a parallel one";
};

/// The table row for a reason code, if it is known.
pub fn row_for(code: &ReasonCode) -> Option<&'static ReasonRow> {
    REASON_TABLE.iter().find(|row| &row.code == code)
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

/// Statuses that mean "try the very same request again" when the code is unknown.
fn is_transient_status(status: u16) -> bool {
    matches!(status, 408 | 425 | 429 | 500..=599)
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
        } => match row_for(reason_code) {
            Some(row) => d.apply(&row.rule, None),
            None if is_transient_status(*status) => d.replay(),
            None => give_up(G::UnknownReasonCode(reason_code.as_str().to_string())),
        },
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
            R::BuyerCheckout => DeclineAction::RequireBuyerPresent,
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
