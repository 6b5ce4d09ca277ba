//! The full router: Amazon API, control API, buyer pages and the IPN sender's routes.

use std::sync::Arc;

use axum::routing::{any, get};
use axum::Router;

use crate::state::App;

/// Every route of a sandbox over its shared state.
pub(crate) fn router(app: Arc<App>) -> Router {
    let api = any(crate::api::handle);
    Router::new()
        .route("/v2/{*rest}", api.clone())
        .route("/sandbox/v2/{*rest}", api.clone())
        .route("/live/v2/{*rest}", api)
        .merge(crate::control::routes())
        .merge(crate::pages::routes())
        .route("/", get(crate::pages::index))
        .with_state(app.clone())
        .merge(app.ipn.router())
}
