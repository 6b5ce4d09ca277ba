//! The real Lambda bootstrap binaries (host debug builds of `functions/src/bin`, built
//! without `local-sns` exactly as the functions are, by `scripts/build-lambda-bins`), each
//! started against a local Lambda Runtime API (`savedwallet_tests::runtime_api`) and
//! invoked with real event JSON: API Gateway HTTP API v2 requests, SQS batches, EventBridge
//! Scheduler events, an SNS-over-HTTP IPN. They answer against the Amazon Pay sandbox
//! simulator and moto (DynamoDB, SQS, Secrets Manager, EventBridge; one moto per test
//! binary, fresh resources per test).
//!
//! The harness is `savedwallet_tests::lambda` (shared with the `lambda-bench` benchmark).
//!
//! The binaries are found in `SAVEDWALLET_LAMBDA_BINS` (default `<target dir>/lambda-bins`);
//! a missing or stale binary fails the tests with a message naming the script.
//!
//! ```text
//! scripts/build-lambda-bins && cargo test -p savedwallet-tests --test lambda
//! ```

mod api;
mod billing;
mod ipn;
mod jobs;
mod startup;
