//! Adapters and use cases.
