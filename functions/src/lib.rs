//! Adapters and use cases.

pub mod store;
