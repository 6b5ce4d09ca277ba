//! savedwallet's use cases and their ports. Every flow of Amazon's Saved Wallet page is a
//! use case here, written once over small traits (the store, the Amazon Pay gateway, a
//! clock, an event sink, a queue) so the same code runs in Lambda, in `savedwallet local`
//! and in tests. No AWS, HTTP or database crate is a dependency of this crate.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod error;
pub mod ids;
pub mod ports;
pub mod store;
pub mod usecases;
pub mod validate;

pub use config::{Origin, ServiceConfig};
pub use error::{ServiceError, ServiceResult, UsageReport};
pub use usecases::{Caller, Service};
