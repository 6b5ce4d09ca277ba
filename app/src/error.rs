//! The use cases' one error type: exactly the API's error codes (API.md "Errors"), so the
//! HTTP layer maps it with one exhaustive match and nothing else reaches a client.

use savedwallet_shared::money::Price;

use crate::ids::PaymentId;
use crate::store::{BuyerAction, StoreError};

/// A wallet's usage in the month a charge was refused for (`monthly_limit_exceeded`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageReport {
    /// `YYYY-MM` (UTC).
    pub month: String,
    /// Counted so far.
    pub used: Price,
    /// The limit.
    pub limit: Price,
}

/// Why a use case refused or failed. Refusals write nothing.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// 400 `invalid_request`: a field is missing or invalid.
    #[error("{message}")]
    InvalidRequest {
        /// The field.
        param: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// 400 `return_url_not_allowed`.
    #[error("{message}")]
    ReturnUrlNotAllowed {
        /// The field.
        param: String,
        /// What is wrong.
        message: String,
    },
    /// 404 `not_found`: missing, or not the caller's (indistinguishable on purpose).
    #[error("{kind} not found")]
    NotFound {
        /// What was looked for.
        kind: &'static str,
    },
    /// 409 `conflict`: the record changed meanwhile, try again.
    #[error("{0}")]
    Conflict(String),
    /// 409 `order_has_payment`.
    #[error("the order already has a payment")]
    OrderHasPayment {
        /// That payment.
        payment_id: Option<PaymentId>,
    },
    /// 409 `payment_in_progress`: an attempt is open, or the status takes no new attempt.
    #[error("{0}")]
    PaymentInProgress(String),
    /// 409 `checkout_session_mismatch`: the session belongs to another payment.
    #[error("the checkout session belongs to another payment")]
    CheckoutSessionMismatch,
    /// 422 `wallet_not_chargeable`.
    #[error("the wallet cannot be charged now")]
    WalletNotChargeable {
        /// What the buyer can do (the update link).
        buyer_action: Option<BuyerAction>,
    },
    /// 422 `wallet_not_saved`: the buyer did not save the wallet (OneTime).
    #[error("the buyer did not save the wallet")]
    WalletNotSaved,
    /// 422 `monthly_limit_exceeded`: nothing was sent to Amazon.
    #[error("the wallet's monthly Saved Wallet limit would be exceeded")]
    MonthlyLimitExceeded(UsageReport),
    /// 422 `currency_mismatch`.
    #[error("{0}")]
    CurrencyMismatch(String),
    /// 422 `amount_too_large`.
    #[error("{0}")]
    AmountTooLarge(String),
    /// 422 `payment_not_capturable`.
    #[error("{0}")]
    PaymentNotCapturable(String),
    /// 422 `refund_exceeds_captured`.
    #[error("the refunds would exceed the captured amount")]
    RefundExceedsCaptured,
    /// 422 `checkout_session_canceled`.
    #[error("the checkout session was canceled")]
    CheckoutSessionCanceled,
    /// 503 `upstream_unavailable`: Amazon Pay or the store could not answer now.
    #[error("{what} is unavailable, retry later")]
    Unavailable {
        /// Which dependency.
        what: &'static str,
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// 500 `internal`: a bug or misconfiguration; the cause is logged, never answered.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    /// An `invalid_request` for a field.
    pub fn invalid(param: &str, message: impl Into<String>) -> ServiceError {
        ServiceError::InvalidRequest {
            param: Some(param.to_string()),
            message: message.into(),
        }
    }

    /// A `return_url_not_allowed` for a field.
    pub fn return_url(param: &str, message: impl Into<String>) -> ServiceError {
        ServiceError::ReturnUrlNotAllowed {
            param: param.to_string(),
            message: message.into(),
        }
    }
}

/// Store failures that reach a client: transient ones are 503, a lost race is 409, the rest
/// (data the store cannot read, a refused write the use case did not expect) are internal.
impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { kind, .. } => ServiceError::NotFound { kind },
            StoreError::Contention | StoreError::VersionConflict { .. } => {
                ServiceError::Conflict("the record changed meanwhile; try again".into())
            }
            StoreError::Throttled | StoreError::OutcomeUnknown(_) | StoreError::Backend(_) => {
                ServiceError::Unavailable {
                    what: "the store",
                    retry_after_secs: 1,
                }
            }
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

/// Use case result.
pub type ServiceResult<T> = Result<T, ServiceError>;
