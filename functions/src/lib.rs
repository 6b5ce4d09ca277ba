//! Adapters and use cases.

pub mod sns;
pub mod store;
