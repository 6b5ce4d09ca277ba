//! The HTTP API over the real use cases, the embedded store and the sandbox simulator:
//! every route's status and JSON shape, auth, ownership, bad input, idempotency, CORS, rate
//! limits, the IPN route, the dev routes and the OpenAPI document.

mod http {
    pub mod harness;

    mod auth;
    mod bad_input;
    mod edge;
    mod happy_admin;
    mod happy_buyer;
    mod idempotency;
    mod ipn;
    mod merchant_view;
    mod mfa;
    mod openapi;
    mod ownership;
}
