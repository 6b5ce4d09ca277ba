//! savedwallet's pure payment domain: money, Amazon Pay API v2 types and the rules that
//! decide what to do next. No I/O, no async, no AWS or HTTP crates; compiles to wasm32.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod decline;
pub mod dunning;
pub mod idempotency;
pub mod limits;
pub mod money;
pub mod region;
pub mod signing;
pub mod sns;
pub mod timestamp;
