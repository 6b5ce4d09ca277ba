//! Storage adapters for the port in `savedwallet_app::store`: one single-table design
//! ([`schema`]) and two adapters with identical semantics: DynamoDB ([`dynamo`]) for
//! production and an embedded redb database ([`embedded`]) for the local stack and tests.
//!
//! Both adapters implement the small [`item::Backend`] primitive set (conditional writes,
//! all-or-nothing transactions, key-range queries); [`TableStore`] implements the domain
//! operations once on top of it, so every condition is the same on both. [`faulty`] wraps
//! any backend to inject the failures real DynamoDB produces (lost answers, conflicts,
//! throttling, stale index reads) for tests and `savedwallet simulate`.
//! See `docs/storage.md` for the key design and the request budget of the hot path.

pub mod codec;
pub mod dynamo;
pub mod embedded;
pub mod faulty;
pub mod item;
pub mod schema;
mod table;

pub use dynamo::{DynamoBackend, DynamoStore};
pub use embedded::{EmbeddedBackend, EmbeddedStore};
pub use item::{BackendError, RequestCounts};
pub use savedwallet_app::store::*;
pub use table::{TableStore, MAX_PAGE};
