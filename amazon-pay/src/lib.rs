//! Amazon Pay API v2 client for Saved Wallet: request signing (aws-lc-rs RSASSA-PSS,
//! both salt lengths), typed and byte-exact operations, request validation, resends with
//! full-jitter backoff and the same idempotency key under a deadline, client-side pacing
//! under Amazon's throttling quotas, and tracing.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod config;
pub mod counters;
pub mod error;
mod operations;
pub mod pacer;
pub mod pem;
mod send;
pub mod signer;

pub use client::{new_idempotency_key, validate_idempotency_key, AmazonPayClient, ApiResponse};
pub use config::{CallOptions, ClientConfig, Pacing, RetryPolicy};
pub use counters::{CallCounters, OperationCounts};
pub use error::{AttemptFailure, Delivery, Error, Outcome, RequestError, Stopped};
pub use savedwallet_shared::api::operation::{HttpMethod, Operation, RateLimit};
pub use savedwallet_shared::api::quota::Quotas;
pub use savedwallet_shared::api::ValidationError;
/// The operation table lives in `shared` (one table for the client and the sandbox).
pub mod operation {
    pub use savedwallet_shared::api::operation::*;
}
pub use pacer::Pacer;
pub use savedwallet_shared::signing::SigningAlgorithm;
pub use signer::Signer;
