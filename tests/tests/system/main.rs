//! The whole-system tests: one integration binary (one link of the AWS SDK) with a module
//! per topic. Each test starts its own [`savedwallet_tests::System`] (the local stack on
//! free loopback ports, everything in memory), so the tests run in parallel.

mod bad_input;
mod declines;
mod idempotency;
mod ipn_delivery;
mod ipn_forged;
mod logs;
mod lost_answers;
mod mfa;
mod orders;
mod ownership;
mod simulate;
mod smoke;
mod wallets;
mod webhooks;
