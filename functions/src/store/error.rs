//! Store errors.

use chrono::{DateTime, Utc};
use savedwallet_shared::money::Price;

use super::model::{ChargeAttempt, MonthlyUsage, Order, Plan, Subscription, Wallet};

/// A record as it was when a condition failed (returned by the store without a second read).
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
    /// A charge attempt.
    Attempt(ChargeAttempt),
    /// A monthly usage counter.
    Usage(MonthlyUsage),
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
    },
    /// The record changed since it was read (optimistic versioning).
    #[error("{kind} version conflict: expected {expected}")]
    VersionConflict {
        /// Record type.
        kind: &'static str,
        /// The version the caller had.
        expected: u64,
        /// The stored record, when the store returned it.
        current: Option<Box<Record>>,
    },
    /// A state precondition did not hold (e.g. the wallet is not chargeable, the period is
    /// not due, the lease was taken over).
    #[error("condition failed: {reason}")]
    ConditionFailed {
        /// What did not hold.
        reason: &'static str,
        /// The stored record, when the store returned it.
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
    /// A concurrent transaction touched the same records; safe to retry.
    #[error("transaction conflict, retry")]
    Contention,
    /// Stored data could not be decoded (never panics on bad data).
    #[error("cannot decode stored {kind}: {detail}")]
    Decode {
        /// Record type.
        kind: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The input cannot be stored (e.g. a key with a NUL character).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The backend failed (network, throttling after retries, I/O).
    #[error("store backend error: {0}")]
    Backend(String),
}

/// Store result.
pub type StoreResult<T> = Result<T, StoreError>;
