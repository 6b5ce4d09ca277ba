//! Merchant routes (`/admin/v1/…`): the merchant's trusted side. In AWS the routes carry
//! `AWS_IAM` authorization and the handler requires the IAM identity in the request
//! context; locally, the admin bearer token. No CORS.

pub(crate) mod catalog;
pub(crate) mod payments;
pub(crate) mod view;

use axum::http::Method;
use axum::routing::on;
use axum::Router;

use super::routes::{build, route, RouteSpec};
use super::AppState;

/// The admin family's routes.
pub(crate) static ROUTES: &[RouteSpec] = &[
    route(Method::PUT, "/admin/v1/plans/{planId}", |m| {
        on(m, catalog::put_plan)
    }),
    route(Method::POST, "/admin/v1/orders", |m| {
        on(m, catalog::create_order)
    }),
    route(Method::GET, "/admin/v1/orders/{orderId}", |m| {
        on(m, catalog::get_order)
    }),
    route(Method::POST, "/admin/v1/payments", |m| {
        on(m, payments::charge)
    }),
    route(Method::GET, "/admin/v1/payments/{paymentId}", |m| {
        on(m, payments::get)
    }),
    route(
        Method::POST,
        "/admin/v1/payments/{paymentId}/capture",
        |m| on(m, payments::capture),
    ),
    route(Method::POST, "/admin/v1/payments/{paymentId}/cancel", |m| {
        on(m, payments::cancel)
    }),
    route(
        Method::POST,
        "/admin/v1/payments/{paymentId}/refunds",
        |m| on(m, payments::refund),
    ),
    route(Method::GET, "/admin/v1/refunds/{refundId}", |m| {
        on(m, payments::get_refund)
    }),
    route(
        Method::GET,
        "/admin/v1/customers/{customerId}/payments",
        |m| on(m, payments::customer_payments),
    ),
    route(
        Method::GET,
        "/admin/v1/customers/{customerId}/wallets",
        |m| on(m, catalog::customer_wallets),
    ),
    route(
        Method::GET,
        "/admin/v1/customers/{customerId}/subscriptions",
        |m| on(m, catalog::customer_subscriptions),
    ),
    route(
        Method::DELETE,
        "/admin/v1/subscriptions/{subscriptionId}",
        |m| on(m, catalog::cancel_subscription),
    ),
    route(Method::GET, "/admin/v1/payments", |m| {
        on(m, view::recent_payments)
    }),
    route(Method::GET, "/admin/v1/subscriptions", |m| {
        on(m, view::subscriptions_by_status)
    }),
    route(Method::GET, "/admin/v1/wallets/update-required", |m| {
        on(m, view::wallets_to_update)
    }),
    route(Method::GET, "/admin/v1/events", |m| on(m, catalog::events)),
    route(Method::POST, "/admin/v1/billing/run", |m| {
        on(m, catalog::billing_run)
    }),
];

/// The admin router (`/admin/v1/…`).
pub fn admin_routes() -> Router<AppState> {
    build(ROUTES)
}
