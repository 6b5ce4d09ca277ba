//! Buyer routes (`/v1/…`): the caller is the JWT `sub`; anything of another customer is 404,
//! exactly like a missing id. CORS for the configured frontend origins only; the routes that
//! call Amazon Pay are rate limited per buyer.

pub(crate) mod payments;
pub(crate) mod subscriptions;
pub(crate) mod wallets;

use std::time::Duration;

use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::routing::on;
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};

use savedwallet_app::Origin;

pub(crate) use payments::{order_as, payments_page};
pub(crate) use subscriptions::{cancel_as, subscriptions_page};
pub(crate) use wallets::wallets_page;

use super::auth::Buyer;
use super::error::AppError;
use super::routes::{build, route, RouteSpec};
use super::AppState;

/// The buyer family's routes.
pub(crate) static ROUTES: &[RouteSpec] = &[
    route(Method::GET, "/v1/wallets/button", |m| {
        on(m, wallets::button)
    }),
    route(Method::POST, "/v1/wallets/setup", |m| on(m, wallets::setup)),
    route(Method::POST, "/v1/wallets", |m| on(m, wallets::complete)),
    route(Method::GET, "/v1/wallets", |m| on(m, wallets::list)),
    route(Method::GET, "/v1/wallets/{walletId}", |m| {
        on(m, wallets::get)
    }),
    route(Method::DELETE, "/v1/wallets/{walletId}", |m| {
        on(m, wallets::close)
    }),
    route(Method::GET, "/v1/plans", |m| on(m, subscriptions::plans)),
    route(Method::POST, "/v1/subscriptions", |m| {
        on(m, subscriptions::subscribe)
    }),
    route(Method::GET, "/v1/subscriptions", |m| {
        on(m, subscriptions::list)
    }),
    route(Method::GET, "/v1/subscriptions/{subscriptionId}", |m| {
        on(m, subscriptions::get)
    }),
    route(Method::PATCH, "/v1/subscriptions/{subscriptionId}", |m| {
        on(m, subscriptions::change_wallet)
    }),
    route(Method::DELETE, "/v1/subscriptions/{subscriptionId}", |m| {
        on(m, subscriptions::cancel)
    }),
    route(Method::GET, "/v1/orders/{orderId}", |m| {
        on(m, payments::get_order)
    }),
    route(Method::POST, "/v1/orders/{orderId}/pay", |m| {
        on(m, payments::pay_order)
    }),
    route(Method::GET, "/v1/payments", |m| on(m, payments::list)),
    route(Method::GET, "/v1/payments/{paymentId}", |m| {
        on(m, payments::get)
    }),
    route(Method::POST, "/v1/payments/{paymentId}/retry", |m| {
        on(m, payments::retry)
    }),
    route(Method::POST, "/v1/payments/{paymentId}/complete", |m| {
        on(m, payments::complete)
    }),
];

/// The buyer router (`/v1/…`); [`super::lambda_app`] adds its CORS layer.
pub fn buyer_routes() -> Router<AppState> {
    build(ROUTES)
}

/// CORS for the configured frontend origins only (no credentials: no cookies are read).
pub(crate) fn cors_layer(origins: &[Origin]) -> CorsLayer {
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.as_str()).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            super::request::REQUEST_ID_HEADER.clone(),
            header::RETRY_AFTER,
            super::idempotency::REPLAYED.clone(),
        ])
        .max_age(Duration::from_secs(600))
}

/// Takes a token of the buyer's bucket (routes that call Amazon Pay).
pub(crate) fn rate_limit(st: &AppState, buyer: &Buyer) -> Result<(), AppError> {
    st.limiter()
        .check(buyer.0.as_str())
        .map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })
}
