//! Store errors: one enum, so every use case maps them the same way.

use chrono::{DateTime, Utc};
use savedwallet_shared::money::Price;

use super::model::*;
use crate::ids::PaymentId;

/// A record as stored when a condition failed (returned without a second read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A wallet.
    Wallet(Wallet),
    /// A plan.
    Plan(Plan),
    /// A subscription.
    Subscription(Subscription),
    /// An order.
    Order(Order),
    /// A payment.
    Payment(Payment),
    /// A charge attempt.
    Attempt(ChargeAttempt),
    /// A refund.
    Refund(Refund),
    /// A checkout binding.
    Checkout(CheckoutBinding),
}

/// Why the store refused a state change (a business precondition, not a version race).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The wallet is not `Chargeable` as stored, is flagged for an update, or is closed.
    WalletNotChargeable,
    /// The wallet belongs to another customer, or its currency differs from the charge's.
    WalletMismatch,
    /// The payment has an attempt whose outcome is not final.
    AttemptOpen {
        /// Its number.
        attempt: u32,
    },
    /// The payment's status does not take a new attempt (succeeded, authorized, …).
    PaymentNotRetryable {
        /// Its status.
        status: PaymentStatus,
    },
    /// The billing lease is not (any more) the caller's.
    LeaseLost,
    /// The order already has a payment.
    OrderHasPayment {
        /// That payment.
        payment_id: Option<PaymentId>,
    },
    /// The attempt cannot move between these states.
    IllegalTransition {
        /// State as stored.
        from: AttemptState,
        /// State asked for.
        to: AttemptState,
    },
    /// The period is not claimable now (not due, another period, canceled, incomplete).
    NotDue,
    /// The refund would take the total refunded above the captured amount.
    RefundExceedsCaptured,
    /// The payment is not captured (nothing to refund).
    NotCaptured,
    /// The subscription is canceled.
    SubscriptionCanceled,
    /// A caller token does not own the record (idempotency, notification).
    NotOwner,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record does not exist.
    #[error("{kind} {id} not found")]
    NotFound {
        /// Record type.
        kind: &'static str,
        /// Id.
        id: String,
    },
    /// Creating a record that already exists.
    #[error("{kind} {id} already exists")]
    AlreadyExists {
        /// Record type.
        kind: &'static str,
        /// Id.
        id: String,
        /// The stored record, when returned.
        current: Option<Box<Record>>,
    },
    /// The record changed since it was read (optimistic versioning).
    #[error("{kind} changed since it was read (expected version {expected})")]
    VersionConflict {
        /// Record type.
        kind: &'static str,
        /// The version the caller had.
        expected: u64,
        /// The stored record, when returned.
        current: Option<Box<Record>>,
    },
    /// A business precondition did not hold.
    #[error("refused: {refusal:?}")]
    Refused {
        /// What did not hold.
        refusal: Refusal,
        /// The stored record that refused, when returned.
        current: Option<Box<Record>>,
    },
    /// The charge would take the wallet's monthly usage above its cap.
    #[error("monthly limit exceeded: {requested} requested, cap {cap}")]
    LimitExceeded {
        /// Amount asked for.
        requested: Price,
        /// The cap.
        cap: Price,
        /// Usage of the month when known.
        used: Option<Price>,
    },
    /// Another worker holds a live lease on the period.
    #[error("period already claimed until {until}")]
    AlreadyClaimed {
        /// When that lease lapses.
        until: DateTime<Utc>,
        /// The subscription as stored.
        current: Box<Subscription>,
    },
    /// A concurrent transaction touched the same records; safe to retry at once.
    #[error("transaction conflict, retry")]
    Contention,
    /// The backend throttled the request; retry with backoff.
    #[error("store throttled, retry with backoff")]
    Throttled,
    /// The request may or may not have been applied (timeout, lost response). Retry: every
    /// write either is idempotent or recognises the caller's own earlier write.
    #[error("store outcome unknown: {0}")]
    OutcomeUnknown(String),
    /// Stored data could not be decoded (never panics on bad data).
    #[error("cannot decode stored {kind}: {detail}")]
    Decode {
        /// Record type.
        kind: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The input cannot be stored (bad argument, item or transaction over the limits).
    #[error("invalid store input: {0}")]
    Invalid(String),
    /// The backend failed (network before sending, I/O, configuration).
    #[error("store backend error: {0}")]
    Backend(String),
}

impl StoreError {
    /// True for the transient kinds a caller should retry (after re-reading for
    /// `Contention`, with backoff for `Throttled`, idempotently for `OutcomeUnknown`).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Contention | StoreError::Throttled | StoreError::OutcomeUnknown(_)
        )
    }

    /// A refusal of the given kind, without a record.
    pub fn refused(refusal: Refusal) -> StoreError {
        StoreError::Refused {
            refusal,
            current: None,
        }
    }
}

/// Store result.
pub type StoreResult<T> = Result<T, StoreError>;
