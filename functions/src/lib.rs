//! Adapters and entry points: the store (DynamoDB, embedded), the Amazon Pay gateway over
//! the signing client, SNS/IPN verification, the HTTP API, merchant-event sinks, the
//! Lambda configuration, the ports' production implementations.

pub mod amazon;
pub mod events;
pub mod http;
pub mod lambda;
pub mod metrics;
pub mod queue;
pub mod runtime;
pub mod sns;
pub mod store;
