//! Adapters and entry points: the store (DynamoDB, embedded), the Amazon Pay gateway over
//! the signing client, the ports' production implementations, and the HTTP API.

pub mod amazon;
pub mod http;
pub mod runtime;
pub mod store;
