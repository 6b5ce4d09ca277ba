//! Amazon Pay API v2 types: enums, response objects, request bodies.

pub mod enums;
pub mod objects;
pub mod operation;
pub mod requests;

pub use enums::*;
pub use objects::*;
pub use operation::{HttpMethod, Operation, RateLimit, UnknownOperation};
pub use requests::*;
