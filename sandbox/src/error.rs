//! Amazon's error responses: an HTTP status and `{"reasonCode", "message"}` (SPEC §6).

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use savedwallet_shared::api::{ErrorResponse, ReasonCode};
use savedwallet_shared::signing::HEADER_REQUEST_ID;

/// An error answered to the API caller exactly as Amazon would.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {reason}: {message}")]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Amazon's reasonCode.
    pub reason: ReasonCode,
    /// Human text.
    pub message: String,
}

impl ApiError {
    /// An error with any status.
    pub(crate) fn new(status: u16, reason: ReasonCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            reason,
            message: message.into(),
        }
    }

    /// 400 with a reason.
    pub(crate) fn bad_request(reason: ReasonCode, message: impl Into<String>) -> Self {
        Self::new(400, reason, message)
    }

    /// 400 InvalidParameterValue.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, ReasonCode::InvalidParameterValue, message)
    }

    /// 422 with a reason.
    pub(crate) fn unprocessable(reason: ReasonCode, message: impl Into<String>) -> Self {
        Self::new(422, reason, message)
    }

    /// 404 ResourceNotFound for an id.
    pub(crate) fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            404,
            ReasonCode::ResourceNotFound,
            format!("{what} {id} was not found"),
        )
    }

    /// 403 InvalidRequestSignature.
    pub(crate) fn signature(message: impl Into<String>) -> Self {
        Self::new(403, ReasonCode::InvalidRequestSignature, message)
    }

    /// Amazon's JSON error body.
    pub(crate) fn body(&self) -> String {
        let e = ErrorResponse {
            reason_code: self.reason.clone(),
            message: self.message.clone(),
        };
        serde_json::to_string(&e).unwrap_or_else(|_| "{}".to_string())
    }
}

/// An Amazon API answer: JSON with a fresh `x-amz-pay-request-id` (success or error alike).
pub(crate) fn amazon_json(status: u16, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        h.insert(HEADER_REQUEST_ID, v);
    }
    r
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        amazon_json(self.status, self.body())
    }
}
