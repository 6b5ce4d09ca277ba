//! The decisions of the decline table: one [`DeclineAction`] per outcome, why a charge is
//! given up, and what the merchant's systems are told.

use chrono::{DateTime, Utc};

use crate::api::ChargeState;

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
    /// `AmazonRejected`: Amazon rejected the charge and cancels the permission with it
    /// (SPEC §16) — the wallet is gone: end its subscriptions and tell the merchant.
    StopPermissionRejected,
    /// Monthly Saved Wallet limit reached: the next try is at the next UTC month start.
    WaitUntilNextMonth {
        /// First instant of the next month.
        at: DateTime<Utc>,
    },
    /// Only the buyer can go on: they must pay with another payment method (Amazon's rule
    /// for every reason but SoftDeclined, ProcessingFailure and HardDeclined, SPEC §16). A
    /// present buyer (CIT) is told so now; for MIT the subscription needs the buyer back.
    RequireBuyerPresent,
    /// The dunning window is over: final failure; the link is there for the merchant's
    /// own messages (the buyer is told to retry later, see [`super::buyer_action`]).
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
    /// A decline code this version does not know.
    UnknownReasonCode(String),
    /// An answer no operation expects (1xx, 3xx, 501, 505+, a 4xx without a reason code).
    UnexpectedStatus(u16),
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
            GiveUpReason::UnexpectedStatus(_) => "unexpected_status",
            GiveUpReason::UnknownChargeState(_) => "unknown_charge_state",
            GiveUpReason::UnknownPermissionState(_) => "unknown_permission_state",
        }
    }

    /// True when an operator must look (everything except a deliberate merchant cancel).
    pub fn needs_alert(&self) -> bool {
        !matches!(self, GiveUpReason::CanceledByMerchant)
    }

    /// True when the failure is on our side (request, credentials, configuration, a flow
    /// bug, no answer): not the buyer's payment method, so another method would not help.
    pub fn is_our_side(&self) -> bool {
        !matches!(
            self,
            GiveUpReason::CurrencyMismatch
                | GiveUpReason::AmountRejected
                | GiveUpReason::ResourceNotFound
                | GiveUpReason::UnknownReasonCode(_)
                | GiveUpReason::CanceledByMerchant
        )
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
    /// Amazon rejected a charge and canceled the Saved Wallet permission with it.
    ChargePermissionRejected,
    /// The monthly limit is reached; charged next month.
    MonthlyLimitReached,
    /// The buyer must come back and pay with another payment method.
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
            MerchantEvent::ChargePermissionRejected => "charge_permission_rejected",
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
            DeclineAction::StopPermissionRejected => MerchantEvent::ChargePermissionRejected,
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
