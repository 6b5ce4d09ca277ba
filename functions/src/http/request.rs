//! The outermost layer of every app: a request id per request (the Lambda request id when
//! the Lambda context has one, else API Gateway's, else a fresh UUID), one `tracing` span
//! with it, the `x-request-id` header, and the error body with the request id for every
//! non-2xx answer. Nothing of the request's body, headers, query or path is logged — only
//! the route template, the status and the ids handlers record with [`note`].

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;
use tracing::field::Empty;
use tracing::Instrument;

use super::error::{AppError, ErrorInfo};
use super::AppState;

/// `x-request-id`.
pub static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id (also in every error body and in the `x-request-id` header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// The request id: Lambda's, API Gateway's, or a fresh one. A client's own `x-request-id`
/// is never taken (it would let callers forge log correlation).
fn request_id(req: &Request) -> String {
    if let Some(ctx) = req.lambda_context_ref() {
        if !ctx.request_id.is_empty() {
            return ctx.request_id.clone();
        }
    }
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() {
        if let Some(id) = ctx.request_id.as_deref().filter(|s| !s.is_empty()) {
            return id.to_string();
        }
    }
    uuid::Uuid::new_v4().to_string()
}

/// Adds the 404 fallback and the request layer to a router. A method a path does not serve
/// gets axum's own 405 (inside the family's layers, so CORS still answers preflights), which
/// the request layer gives our error body.
pub(crate) fn finish(app: Router<AppState>) -> Router<AppState> {
    app.fallback(|| async { AppError::RouteNotFound })
        .layer(middleware::from_fn(request_layer))
}

async fn request_layer(mut req: Request, next: Next) -> Response {
    let id = request_id(&req);
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        route = %route,
        status = Empty,
        wallet_id = Empty,
        payment_id = Empty,
        charge_id = Empty,
        subscription_id = Empty,
        order_id = Empty,
        refund_id = Empty,
    );
    req.extensions_mut().insert(RequestId(id.clone()));
    let started = Instant::now();
    let mut resp = next.run(req).instrument(span.clone()).await;
    let status = resp.status();
    if !status.is_success() && !status.is_redirection() && !status.is_informational() {
        let info = resp
            .extensions()
            .get::<ErrorInfo>()
            .cloned()
            .unwrap_or_else(|| ErrorInfo::for_status(status));
        let headers = std::mem::take(resp.headers_mut());
        let mut rendered = info.response(Some(&id));
        // Keep what layers set (CORS headers, Retry-After), with our content type and length.
        for (name, value) in headers.iter() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                rendered.headers_mut().insert(name.clone(), value.clone());
            }
        }
        resp = rendered;
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID_HEADER.clone(), v);
    }
    span.record("status", status.as_u16());
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    span.in_scope(|| tracing::info!(status = status.as_u16(), latency_ms, "request done"));
    resp
}

/// Ids a handler knows, recorded on the request's span (never names, emails or addresses).
#[derive(Debug, Default, Clone, Copy)]
pub struct Note<'a> {
    /// Wallet (Amazon charge permission) id.
    pub wallet_id: Option<&'a str>,
    /// Payment id.
    pub payment_id: Option<&'a str>,
    /// Amazon charge id.
    pub charge_id: Option<&'a str>,
    /// Subscription id.
    pub subscription_id: Option<&'a str>,
    /// Order id.
    pub order_id: Option<&'a str>,
    /// Refund id.
    pub refund_id: Option<&'a str>,
}

/// Records ids on the current request span.
pub fn note(n: Note<'_>) {
    let span = tracing::Span::current();
    let fields = [
        ("wallet_id", n.wallet_id),
        ("payment_id", n.payment_id),
        ("charge_id", n.charge_id),
        ("subscription_id", n.subscription_id),
        ("order_id", n.order_id),
        ("refund_id", n.refund_id),
    ];
    for (name, value) in fields {
        if let Some(v) = value {
            span.record(name, v);
        }
    }
}

/// Records one id (`"wallet_id"`, `"order_id"`, …) on the current request span.
pub fn note_id(field: &'static str, id: &str) {
    tracing::Span::current().record(field, id);
}

/// Records a payment's ids on the current request span.
pub fn note_payment(p: &savedwallet_app::store::Payment) {
    note(Note {
        wallet_id: Some(p.wallet_id.as_str()),
        payment_id: Some(p.payment_id.as_str()),
        charge_id: p.charge_id.as_ref().map(|c| c.as_str()),
        ..Note::default()
    });
}
