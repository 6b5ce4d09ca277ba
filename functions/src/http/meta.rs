//! `GET /health` (no auth, no store call) and `GET /openapi.json` (the document generated
//! from the handlers).

use axum::http::Method;
use axum::routing::on;
use axum::{Json, Router};

use super::dto::Health;
use super::openapi;
use super::routes::{build, route, RouteSpec};
use super::AppState;

/// The meta family's routes.
pub(crate) static ROUTES: &[RouteSpec] = &[
    route(Method::GET, "/health", |m| on(m, health)),
    route(Method::GET, "/openapi.json", |m| on(m, document)),
];

/// `/health` and `/openapi.json`.
pub fn health_routes() -> Router<AppState> {
    build(ROUTES)
}

/// Liveness: answers without touching the store or Amazon Pay.
#[utoipa::path(get, path = "/health", tag = "meta",
    responses((status = 200, description = "Up", body = Health)))]
pub(crate) async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// This API's OpenAPI 3.1 document (also `docs/openapi.json` in the repo).
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
pub(crate) async fn document() -> Json<serde_json::Value> {
    Json(openapi::document_json())
}
