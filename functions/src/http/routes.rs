//! The route tables: every family's router is built from one static list of
//! `(method, path, handler)`, so the OpenAPI coverage test can walk exactly what is served.

use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter};
use axum::Router;

use super::AppState;

/// One route: a method and a path (axum/OpenAPI syntax, `/v1/wallets/{walletId}`) and the
/// handler registered for them.
pub struct RouteSpec {
    /// The HTTP method.
    pub method: Method,
    /// The path template.
    pub path: &'static str,
    handler: fn(MethodFilter) -> MethodRouter<AppState>,
}

impl std::fmt::Debug for RouteSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// A table entry; `handler` receives the entry's own method filter (`|m| on(m, handler)`), so
/// the method served is always the one listed.
pub(crate) const fn route(
    method: Method,
    path: &'static str,
    handler: fn(MethodFilter) -> MethodRouter<AppState>,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        handler,
    }
}

/// A router serving exactly `table`.
pub(crate) fn build(table: &'static [RouteSpec]) -> Router<AppState> {
    build_where(table, |_| true)
}

/// A router serving the routes of `table` that `keep` accepts.
pub(crate) fn build_where(
    table: &'static [RouteSpec],
    keep: impl Fn(&RouteSpec) -> bool,
) -> Router<AppState> {
    table
        .iter()
        .filter(|r| keep(r))
        .fold(Router::new(), |router, r| {
            // Only the standard methods appear in the tables, and each maps to a filter.
            let filter = MethodFilter::try_from(r.method.clone()).unwrap_or(MethodFilter::GET);
            router.route(r.path, (r.handler)(filter))
        })
}

/// The tables of the Lambda app, plus the dev family's for the local app.
pub(crate) fn tables(with_dev: bool) -> Vec<&'static RouteSpec> {
    let mut all: Vec<&'static RouteSpec> = super::buyer::ROUTES
        .iter()
        .chain(super::admin::ROUTES)
        .chain(super::ipn::ROUTES)
        .chain(super::meta::ROUTES)
        .collect();
    if with_dev {
        all.extend(super::dev::ROUTES);
    }
    all
}
