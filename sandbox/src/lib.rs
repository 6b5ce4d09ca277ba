//! Amazon Pay API v2 sandbox simulator: the signed API with Amazon's exact JSON, state
//! machines on a controllable clock, idempotency, throttling, simulation codes, hosted buyer
//! pages (Saved Wallet consent, MFA challenge, payment-method update, close), IPN delivery
//! through SNS envelopes, a control API under `/_sandbox/`, knobs for what Amazon leaves
//! open, and optional JSON persistence.
//!
//! Embed it in tests:
//! ```no_run
//! # async fn demo() -> Result<(), savedwallet_sandbox::SandboxError> {
//! let sandbox = savedwallet_sandbox::Sandbox::builder()
//!     .throttling(false)
//!     .spawn("127.0.0.1:0".parse().expect("address"))
//!     .await?;
//! println!("API at {}/v2, control API at {}", sandbox.base_url(), sandbox.control_url());
//! # Ok(()) }
//! ```

mod api;
mod builder;
pub mod buyer;
mod config;
mod control;
mod engine;
mod error;
mod faults;
mod handle;
pub mod ipn;
mod knobs;
mod model;
mod ops;
mod pages;
mod persist;
mod router;
mod state;
mod throttle;
mod verify;
mod wallets;

pub use builder::SandboxBuilder;
pub use config::Config;
pub use control::CONTROL_API_HELP;
pub use error::ApiError;
pub use faults::{DropMode, FaultConfig};
pub use handle::SandboxHandle;
pub use knobs::{
    ConversionFields, HardDeclineEffect, Knobs, MfaFailureEffect, MfaRegions,
    MissingChargeInitiator, WalletKnobs, MAX_SYNC_LATENCY_MS,
};
pub use model::{MfaOutcome, PendingOutcome, Preset};
pub use persist::PersistError;
pub use throttle::{QuotaClock, QuotaConfig};
pub use verify::KeyError;
pub use wallets::WalletOptions;

/// Why the sandbox could not start or act.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// Binding or serving failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A public key could not be registered.
    #[error("public key {id}: {source}")]
    Key {
        /// Key id.
        id: String,
        /// Cause.
        source: KeyError,
    },
    /// The state file could not be read or written.
    #[error(transparent)]
    Persist(#[from] PersistError),
    /// The IPN sender could not start.
    #[error("IPN sender: {0}")]
    Ipn(#[from] ipn::IpnError),
    /// TLS configuration failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// An operation on the sandbox was refused.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Invalid argument.
    #[error("{0}")]
    Invalid(String),
}

/// The simulator.
#[derive(Debug)]
pub struct Sandbox;

impl Sandbox {
    /// A builder with the defaults (throttling on, 30 s async delay, in memory).
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }
}
