//! Local-only routes (`savedwallet local`): `POST /dev/token` mints a dev JWT with the
//! per-install local key, `POST /dev/clock/advance` moves the simulator's clock and the
//! service's together, `POST /dev/jobs/run` runs one pass of the background jobs at once
//! (IPN deliveries settled, billing, reconciler, merchant events). They exist only in [`super::local_app`], and answer only loopback
//! callers that name a loopback host (anything else gets the same 404 as a missing route,
//! and so does a server started without connect info).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, Method};
use axum::routing::on;
use axum::{Extension, Router};
use chrono::{DateTime, Utc};

use savedwallet_app::ids::CustomerId;

use super::auth::LocalIssuer;
use super::dto::input::{body_id, AdvanceBody, DevTokenBody};
use super::dto::{ClockNow, DevToken, ErrorBody, Timestamp};
use super::error::AppError;
use super::extract::JsonBody;
use super::idempotency::Answer;
use super::routes::{build, route, RouteSpec};
use super::AppState;

/// The local stack's clock hook: moves the simulator's clock and the service's together
/// (timers, due periods, months), and says what time it is now.
#[async_trait]
pub trait DevHooks: Send + Sync {
    /// Advances both clocks; returns the new now.
    async fn advance_clock(&self, by: Duration) -> Result<DateTime<Utc>, String>;

    /// Waits until the simulator's IPNs are delivered, then runs one pass of every
    /// background job (what the local stack's loops do on their own, now).
    async fn run_jobs(&self) -> Result<JobsReport, String> {
        Err("this stack runs no background jobs".into())
    }
}

/// What one pass of the background jobs did (`POST /dev/jobs/run`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobsReport {
    /// Due subscription periods found by the scheduler.
    pub due: u32,
    /// Periods charged (sent or replayed).
    pub charged: u32,
    /// Periods waiting (wallet not chargeable, monthly limit reached).
    pub waiting: u32,
    /// Payments the reconciler looked at.
    pub reconciled: u32,
    /// `subscription.at_risk` events written for renewals coming up.
    pub at_risk: u32,
    /// Wallets billing soon re-read with Get Charge Permission.
    pub rechecked: u32,
    /// Merchant events delivered.
    pub events_delivered: u32,
    /// Merchant event deliveries that failed and were rescheduled.
    pub events_rescheduled: u32,
}

/// What the dev routes need.
#[derive(Clone)]
pub struct DevTools {
    /// Signs dev tokens.
    pub issuer: Arc<LocalIssuer>,
    /// The clock hook.
    pub hooks: Arc<dyn DevHooks>,
    /// Lifetime of a minted token.
    pub token_ttl: Duration,
}

impl std::fmt::Debug for DevTools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevTools")
            .field("issuer", &self.issuer)
            .field("token_ttl", &self.token_ttl)
            .finish_non_exhaustive()
    }
}

/// The dev family's routes.
pub(crate) static ROUTES: &[RouteSpec] = &[
    route(Method::POST, "/dev/token", |m| on(m, token)),
    route(Method::POST, "/dev/clock/advance", |m| on(m, advance)),
    route(Method::POST, "/dev/jobs/run", |m| on(m, run_jobs)),
];

/// The dev router; only [`super::local_app`] builds it.
pub fn dev_routes(dev: DevTools) -> Router<AppState> {
    build(ROUTES).layer(Extension(dev))
}

/// The longest clock step (400 days).
const MAX_ADVANCE: u64 = 400 * 24 * 3600;

/// A caller on this machine that names this machine: a browser page elsewhere cannot
/// reach these routes through DNS rebinding, because its `Host` is not a loopback name.
pub struct Loopback;

fn loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl<S: Send + Sync> FromRequestParts<S> for Loopback {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let peer_ok = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .is_ok_and(|ConnectInfo(a)| a.ip().is_loopback());
        let host_ok = parts
            .headers
            .get_all(header::HOST)
            .iter()
            .all(|h| h.to_str().is_ok_and(loopback_host));
        if peer_ok && host_ok {
            Ok(Loopback)
        } else {
            Err(AppError::RouteNotFound)
        }
    }
}

/// Mints a dev JWT for a customer (local stack only, loopback callers only).
#[utoipa::path(post, path = "/dev/token", tag = "dev", request_body = DevTokenBody,
    responses(
        (status = 200, description = "A dev JWT (local stack only; absent in AWS)", body = DevToken),
        (status = "4XX", description = "Refused (404 for non-loopback callers)", body = ErrorBody),
    ))]
pub(crate) async fn token(
    _loopback: Loopback,
    Extension(dev): Extension<DevTools>,
    body: JsonBody<DevTokenBody>,
) -> Result<Answer, AppError> {
    let customer: CustomerId = body_id("customerId", &body.value.customer_id)?;
    let token = dev
        .issuer
        .mint(&customer, dev.token_ttl)
        .map_err(|e| AppError::Service(savedwallet_app::ServiceError::Internal(e.to_string())))?;
    Answer::ok(DevToken { token })
}

/// Moves the simulator's clock and the service's forward (local stack only).
#[utoipa::path(post, path = "/dev/clock/advance", tag = "dev", request_body = AdvanceBody,
    responses(
        (status = 200, description = "The time now (local stack only; absent in AWS)", body = ClockNow),
        (status = "4XX", description = "Refused (404 for non-loopback callers)", body = ErrorBody),
    ))]
pub(crate) async fn advance(
    _loopback: Loopback,
    State(_st): State<AppState>,
    Extension(dev): Extension<DevTools>,
    body: JsonBody<AdvanceBody>,
) -> Result<Answer, AppError> {
    let secs = body.value.seconds;
    if !(1..=MAX_ADVANCE).contains(&secs) {
        return Err(AppError::invalid(
            "seconds",
            format!("seconds must be 1 to {MAX_ADVANCE}"),
        ));
    }
    let now = dev
        .hooks
        .advance_clock(Duration::from_secs(secs))
        .await
        .map_err(|e| AppError::Service(savedwallet_app::ServiceError::Internal(e)))?;
    Answer::ok(ClockNow {
        now: Timestamp(now),
    })
}

/// Runs one pass of the background jobs now (local stack only).
#[utoipa::path(post, path = "/dev/jobs/run", tag = "dev",
    responses(
        (status = 200, description = "What the pass did (local stack only; absent in AWS)", body = JobsReport),
        (status = "4XX", description = "Refused (404 for non-loopback callers)", body = ErrorBody),
    ))]
pub(crate) async fn run_jobs(
    _loopback: Loopback,
    Extension(dev): Extension<DevTools>,
) -> Result<Answer, AppError> {
    let report = dev
        .hooks
        .run_jobs()
        .await
        .map_err(|e| AppError::Service(savedwallet_app::ServiceError::Internal(e)))?;
    Answer::ok(report)
}

#[cfg(test)]
mod tests {
    use super::loopback_host;

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:3000",
            "[::1]:80",
            "[::1]",
        ] {
            assert!(loopback_host(h), "{h}");
        }
        for h in [
            "evil.example",
            "evil.example:80",
            "10.0.0.1",
            "localhost.evil.example",
        ] {
            assert!(!loopback_host(h), "{h}");
        }
    }
}
