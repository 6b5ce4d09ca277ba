//! The HTTP API of `docs/openapi.json` (the contract: `API.md`): one axum router per family
//! (buyer `/v1`, merchant `/admin/v1`, `/ipn`, local-only `/dev`, `/health`), assembled by
//! [`lambda_app`] for the Lambda functions and by [`local_app`] for `savedwallet local`.
//!
//! - Every non-2xx answer is `{"error": {"code", "message", "param"?, "requestId"}}`
//!   ([`error`]); extractors refuse bad input with our own error ([`extract`]).
//! - Who calls comes from [`auth`]: the API Gateway request context in Lambda (the
//!   `Authorization` header is never parsed there), a JWT verifier and an admin token locally.
//! - `Idempotency-Key` replays, refuses reuse and races over the store's idempotency records
//!   ([`idempotency`]).
//! - CORS only on `/v1` for the configured frontend origins; charging routes are rate limited
//!   per buyer ([`ratelimit`]: per process — per Lambda instance; API Gateway throttling is
//!   the fleet-wide limit).
//! - One `tracing` span per request with its request id ([`request`]).
//! - The OpenAPI 3.1 document is generated from the handlers ([`openapi`]); the route tables
//!   the routers are built from are checked against it by a test.

pub mod admin;
pub mod auth;
pub mod buyer;
mod cursor;
pub mod dev;
pub mod dto;
pub mod error;
pub mod extract;
mod functions;
pub mod idempotency;
pub mod ipn;
mod ipn_sns;
pub mod meta;
pub mod openapi;
pub mod ratelimit;
pub mod request;
mod routes;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use savedwallet_app::{Origin, Service};

pub use auth::{AdminToken, AuthMode, JwtClaims, JwtVerifier, LocalAuth, LocalIssuer};
pub use dev::{DevHooks, DevTools, JobsReport};
pub use error::AppError;
pub use functions::{function_app, LambdaFunction};
pub use ipn::{IpnDelivery, IpnRefusal, IpnVerifier, RefusalClass, SubscriptionConfirmation};
pub use ratelimit::RateLimit;
pub use routes::RouteSpec;

/// Settings of the HTTP layer (the use cases have their own in `ServiceConfig`).
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Frontend origins allowed by CORS on `/v1` (none on `/admin` or `/ipn`).
    pub cors_origins: Vec<Origin>,
    /// Largest JSON body accepted (bytes).
    pub body_limit: usize,
    /// Largest `/ipn` body accepted (bytes; SNS messages are at most 256 KiB).
    pub ipn_body_limit: usize,
    /// How long a request may run when the Lambda context gives no deadline: the
    /// in-progress expiry of its idempotency record (capped at 30 s, API Gateway's limit).
    pub request_deadline: Duration,
    /// How long an idempotency key is remembered (at least 24 h).
    pub idempotency_ttl: Duration,
    /// Token bucket per buyer on the routes that call Amazon Pay.
    pub rate_limit: RateLimit,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            cors_origins: Vec::new(),
            body_limit: 64 * 1024,
            ipn_body_limit: 512 * 1024,
            request_deadline: Duration::from_secs(29),
            idempotency_ttl: Duration::from_secs(24 * 3600),
            rate_limit: RateLimit::default(),
        }
    }
}

/// What every handler can reach: the use cases, the auth mode, the IPN verifier, the rate
/// limiter and the HTTP settings. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    service: Arc<Service>,
    auth: AuthMode,
    ipn: Arc<dyn IpnVerifier>,
    limiter: ratelimit::RateLimiter,
    config: HttpConfig,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("auth", &self.inner.auth)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// The state over the service, an auth mode, an IPN verifier and the HTTP settings.
    pub fn new(
        service: Arc<Service>,
        auth: AuthMode,
        ipn: Arc<dyn IpnVerifier>,
        config: HttpConfig,
    ) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                limiter: ratelimit::RateLimiter::new(config.rate_limit),
                service,
                auth,
                ipn,
                config,
            }),
        }
    }

    /// The use cases.
    pub fn service(&self) -> &Service {
        &self.inner.service
    }

    /// The auth mode.
    pub fn auth(&self) -> &AuthMode {
        &self.inner.auth
    }

    /// The IPN verifier.
    pub fn ipn(&self) -> &dyn IpnVerifier {
        self.inner.ipn.as_ref()
    }

    /// The HTTP settings.
    pub fn config(&self) -> &HttpConfig {
        &self.inner.config
    }

    /// The per-buyer rate limiter.
    pub(crate) fn limiter(&self) -> &ratelimit::RateLimiter {
        &self.inner.limiter
    }
}

/// The app every Lambda function serves (`lambda_http::run(lambda_app(state))`): buyer,
/// admin, IPN, health and the OpenAPI document. It has no `/dev` routes.
pub fn lambda_app(state: AppState) -> Router {
    assemble(state, None)
}

/// The app of `savedwallet local`: [`lambda_app`]'s routes plus the loopback-only `/dev`
/// routes. Serve it with `into_make_service_with_connect_info::<SocketAddr>()` so the dev
/// routes can see the caller's address (without it they answer 404).
pub fn local_app(state: AppState, dev: DevTools) -> Router {
    assemble(state, Some(dev))
}

fn assemble(state: AppState, dev: Option<DevTools>) -> Router {
    let cors = buyer::cors_layer(&state.config().cors_origins);
    let mut app = Router::new()
        .merge(buyer::buyer_routes().layer(cors))
        .merge(admin::admin_routes())
        .merge(ipn::ipn_routes())
        .merge(meta::health_routes());
    if let Some(dev) = dev {
        app = app.merge(dev::dev_routes(dev));
    }
    request::finish(app).with_state(state)
}

/// Every `(method, path)` [`lambda_app`] serves, from the tables its routers are built from.
pub fn lambda_route_table() -> Vec<&'static RouteSpec> {
    routes::tables(false)
}

/// Every `(method, path)` [`local_app`] serves.
pub fn local_route_table() -> Vec<&'static RouteSpec> {
    routes::tables(true)
}
