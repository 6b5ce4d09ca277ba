//! Amazon's error responses: an HTTP status and `{"reasonCode", "message"}` (SPEC §6).

use savedwallet_shared::api::{ErrorResponse, ReasonCode};

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
    pub fn new(status: u16, reason: ReasonCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            reason,
            message: message.into(),
        }
    }

    /// 400 with a reason.
    pub fn bad_request(reason: ReasonCode, message: impl Into<String>) -> Self {
        Self::new(400, reason, message)
    }

    /// 422 with a reason.
    pub fn unprocessable(reason: ReasonCode, message: impl Into<String>) -> Self {
        Self::new(422, reason, message)
    }

    /// 404 ResourceNotFound for an id.
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            404,
            ReasonCode::ResourceNotFound,
            format!("{what} {id} was not found"),
        )
    }

    /// 403 InvalidRequestSignature.
    pub fn signature(message: impl Into<String>) -> Self {
        Self::new(403, ReasonCode::InvalidRequestSignature, message)
    }

    /// Amazon's JSON error body.
    pub fn body(&self) -> String {
        let e = ErrorResponse {
            reason_code: self.reason.clone(),
            message: self.message.clone(),
        };
        serde_json::to_string(&e).unwrap_or_else(|_| "{}".to_string())
    }
}
