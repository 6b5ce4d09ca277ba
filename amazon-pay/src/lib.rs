//! Amazon Pay API v2 client for Saved Wallet: request signing (aws-lc-rs RSASSA-PSS,
//! both salt lengths), typed operations, retries with full-jitter backoff and the same
//! idempotency key, client-side pacing under Amazon's throttling limits, and tracing.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod config;
pub mod error;
pub mod pacer;
pub mod pem;
pub mod signer;

pub use client::{new_idempotency_key, validate_idempotency_key, AmazonPayClient, ApiResponse};
pub use config::{ClientConfig, Pacing, RetryPolicy};
pub use error::Error;
pub use savedwallet_shared::api::operation::{HttpMethod, Operation, RateLimit};
/// The operation table lives in `shared` (one table for the client and the sandbox).
pub mod operation {
    pub use savedwallet_shared::api::operation::*;
}
pub use pacer::Pacer;
pub use savedwallet_shared::signing::SigningAlgorithm;
pub use signer::Signer;
