//! Amazon Pay API v2 types: enums, response objects, request bodies, the operation table,
//! how an answer is classified, request validation and throttling quotas.

pub mod classify;
pub mod enums;
pub mod ipn;
pub mod objects;
pub mod operation;
pub mod quota;
pub mod requests;
pub mod validate;

pub use classify::{answers_with_declines, classify, Answer, Disposition};
pub use enums::*;
pub use ipn::IpnMessage;
pub use objects::*;
pub use operation::{HttpMethod, Operation, RateLimit, UnknownOperation};
pub use quota::{QuotaError, Quotas};
pub use requests::*;
pub use validate::{Validate, ValidationError};
