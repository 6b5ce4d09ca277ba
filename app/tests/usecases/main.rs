//! The use cases against the real sandbox simulator over HTTP, in one test binary (each
//! binary links the whole stack; one keeps CI's link time and disk down).

mod common;

mod billing;
mod declines;
mod mfa;
mod orders;
mod outreach;
