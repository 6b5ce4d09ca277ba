//! Every non-2xx answer: `{"error": {"code", "message", "param"?, "requestId", …}}`.
//!
//! [`AppError`] is the one error type of the handlers and extractors; the use cases'
//! [`ServiceError`] is mapped with one exhaustive match. A response carries its
//! [`ErrorInfo`] as an extension and the request layer ([`super::request`]) writes the body
//! with the request id, so every error — ours, axum's 405, a replayed one — has one shape.
//! A 500 answers a generic text: its cause is logged once, inside the request's span.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use savedwallet_app::ServiceError;

use super::dto::{BuyerActionDto, MonthlyUsageDto};
use super::ipn::IpnRefusal;

/// Why a request was not answered with 2xx.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A use case refused or failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// 401 `unauthenticated`: no credentials, or credentials that do not verify.
    #[error("unauthenticated: {0}")]
    Unauthenticated(&'static str),
    /// 404 `not_found` for a path no route serves.
    #[error("no such route")]
    RouteNotFound,
    /// 413 `payload_too_large`.
    #[error("the body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// 409 `idempotency_key_reused`: the key was used with another body.
    #[error("the Idempotency-Key was used with another request body")]
    IdempotencyKeyReused,
    /// 409 `idempotency_key_in_progress`: the first request with this key is still running.
    #[error("a request with this Idempotency-Key is still in progress")]
    IdempotencyKeyInProgress {
        /// Seconds until it may be retried.
        retry_after_secs: u64,
    },
    /// 429 `rate_limited`.
    #[error("too many requests")]
    RateLimited {
        /// Seconds until the next request may pass.
        retry_after_secs: u64,
    },
    /// `/ipn`: the SNS message was refused (400/403) or could not be verified now (503).
    #[error("IPN refused: {}", .0.code)]
    Ipn(IpnRefusal),
    /// A saved error answer replayed for a repeated `Idempotency-Key`.
    #[error("replayed error answer")]
    Replay(ErrorInfo),
}

/// The status and the `error` object of an error answer (without the request id, which the
/// request layer adds), carried as a response extension.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorInfo {
    /// HTTP status.
    pub status: StatusCode,
    /// The `error` object: `code`, `message`, `param`, extra fields.
    pub error: Map<String, Value>,
    /// `Retry-After` seconds.
    pub retry_after: Option<u64>,
}

impl ErrorInfo {
    /// An error with a code and a message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ErrorInfo {
        let mut error = Map::new();
        error.insert("code".into(), Value::from(code));
        error.insert("message".into(), Value::from(message.into()));
        ErrorInfo {
            status,
            error,
            retry_after: None,
        }
    }

    fn with(mut self, field: &str, value: Value) -> ErrorInfo {
        self.error.insert(field.into(), value);
        self
    }

    fn param(self, param: Option<&str>) -> ErrorInfo {
        match param {
            Some(p) => self.with("param", Value::from(p)),
            None => self,
        }
    }

    fn retry_after(mut self, secs: u64) -> ErrorInfo {
        self.retry_after = Some(secs);
        self
    }

    /// The `code`.
    pub fn code(&self) -> &str {
        self.error.get("code").and_then(Value::as_str).unwrap_or("")
    }

    /// The whole body, `{"error": {…, "requestId"}}`.
    pub fn body(&self, request_id: Option<&str>) -> Value {
        let mut error = self.error.clone();
        if let Some(id) = request_id {
            error.insert("requestId".into(), Value::from(id));
        }
        json!({ "error": error })
    }

    /// The answer (the request layer adds the request id to the body).
    pub fn response(self, request_id: Option<&str>) -> Response {
        let body = self.body(request_id).to_string();
        let mut resp = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp.extensions_mut().insert(self);
        resp
    }

    /// A generic error for a status nothing of ours produced (axum's own 405, a layer's 413).
    pub fn for_status(status: StatusCode) -> ErrorInfo {
        let (code, message) = match status.as_u16() {
            400 => ("invalid_request", "the request is invalid"),
            401 => ("unauthenticated", "authentication is required"),
            404 => ("not_found", "not found"),
            405 => ("method_not_allowed", "method not allowed"),
            413 => ("payload_too_large", "the body is too large"),
            429 => ("rate_limited", "too many requests"),
            503 => ("upstream_unavailable", "unavailable, retry later"),
            s if s < 500 => ("invalid_request", "the request was refused"),
            _ => ("internal", "internal error"),
        };
        ErrorInfo::new(status, code, message)
    }
}

impl AppError {
    /// 400 `invalid_request` naming a field.
    pub fn invalid(param: &str, message: impl Into<String>) -> AppError {
        AppError::Service(ServiceError::invalid(param, message))
    }

    /// 404 `not_found` for a kind of record.
    pub fn not_found(kind: &'static str) -> AppError {
        AppError::Service(ServiceError::NotFound { kind })
    }

    /// The status and body of this error.
    pub fn info(&self) -> ErrorInfo {
        match self {
            AppError::Service(e) => service_info(e),
            AppError::Unauthenticated(why) => {
                ErrorInfo::new(StatusCode::UNAUTHORIZED, "unauthenticated", *why)
            }
            AppError::RouteNotFound => {
                ErrorInfo::new(StatusCode::NOT_FOUND, "not_found", "no such route")
            }
            AppError::PayloadTooLarge { limit } => ErrorInfo::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body is larger than {limit} bytes"),
            ),
            AppError::IdempotencyKeyReused => ErrorInfo::new(
                StatusCode::CONFLICT,
                "idempotency_key_reused",
                "this Idempotency-Key was used with another request body",
            )
            .param(Some("Idempotency-Key")),
            AppError::IdempotencyKeyInProgress { retry_after_secs } => ErrorInfo::new(
                StatusCode::CONFLICT,
                "idempotency_key_in_progress",
                "a request with this Idempotency-Key is still in progress; retry later",
            )
            .param(Some("Idempotency-Key"))
            .retry_after(*retry_after_secs),
            AppError::RateLimited { retry_after_secs } => ErrorInfo::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests; retry later",
            )
            .retry_after(*retry_after_secs),
            AppError::Ipn(r) => {
                let info = ErrorInfo::new(r.class.status(), r.code, r.class.message());
                match r.retry_after_secs {
                    Some(s) => info.retry_after(s),
                    None => info,
                }
            }
            AppError::Replay(info) => info.clone(),
        }
    }
}

/// The one mapping of the use cases' errors (API.md "Errors").
fn service_info(e: &ServiceError) -> ErrorInfo {
    use StatusCode as S;
    let msg = e.to_string();
    match e {
        ServiceError::InvalidRequest { param, .. } => {
            ErrorInfo::new(S::BAD_REQUEST, "invalid_request", msg).param(param.as_deref())
        }
        ServiceError::ReturnUrlNotAllowed { param, .. } => {
            ErrorInfo::new(S::BAD_REQUEST, "return_url_not_allowed", msg).param(Some(param))
        }
        ServiceError::NotFound { .. } => ErrorInfo::new(S::NOT_FOUND, "not_found", msg),
        ServiceError::Conflict(_) => ErrorInfo::new(S::CONFLICT, "conflict", msg),
        ServiceError::OrderHasPayment { payment_id } => {
            ErrorInfo::new(S::CONFLICT, "order_has_payment", msg).with(
                "paymentId",
                payment_id
                    .as_ref()
                    .map_or(Value::Null, |p| Value::from(p.as_str())),
            )
        }
        ServiceError::PaymentInProgress(_) => {
            ErrorInfo::new(S::CONFLICT, "payment_in_progress", msg)
        }
        ServiceError::CheckoutSessionMismatch => {
            ErrorInfo::new(S::CONFLICT, "checkout_session_mismatch", msg)
        }
        ServiceError::WalletNotChargeable { buyer_action } => {
            let action = buyer_action
                .as_ref()
                .map(BuyerActionDto::from)
                .and_then(|a| serde_json::to_value(a).ok())
                .unwrap_or(Value::Null);
            ErrorInfo::new(S::UNPROCESSABLE_ENTITY, "wallet_not_chargeable", msg)
                .with("buyerAction", action)
        }
        ServiceError::WalletNotSaved => {
            ErrorInfo::new(S::UNPROCESSABLE_ENTITY, "wallet_not_saved", msg)
        }
        ServiceError::MonthlyLimitExceeded(usage) => {
            let usage = serde_json::to_value(MonthlyUsageDto::from(usage)).unwrap_or(Value::Null);
            ErrorInfo::new(S::UNPROCESSABLE_ENTITY, "monthly_limit_exceeded", msg)
                .with("monthlyUsage", usage)
        }
        ServiceError::CurrencyMismatch(_) => {
            ErrorInfo::new(S::UNPROCESSABLE_ENTITY, "currency_mismatch", msg)
        }
        ServiceError::AmountTooLarge(_) => {
            ErrorInfo::new(S::UNPROCESSABLE_ENTITY, "amount_too_large", msg)
        }
        ServiceError::PaymentNotCapturable(_) => {
            ErrorInfo::new(S::UNPROCESSABLE_ENTITY, "payment_not_capturable", msg)
        }
        ServiceError::RefundExceedsCaptured => {
            ErrorInfo::new(S::UNPROCESSABLE_ENTITY, "refund_exceeds_captured", msg)
        }
        ServiceError::CheckoutSessionCanceled => {
            ErrorInfo::new(S::UNPROCESSABLE_ENTITY, "checkout_session_canceled", msg)
        }
        ServiceError::Unavailable {
            retry_after_secs, ..
        } => ErrorInfo::new(S::SERVICE_UNAVAILABLE, "upstream_unavailable", msg)
            .retry_after(*retry_after_secs),
        ServiceError::Internal(_) => {
            ErrorInfo::new(S::INTERNAL_SERVER_ERROR, "internal", "internal error")
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let info = self.info();
        if info.status.is_server_error() {
            // Logged once, inside the request's span (which carries the request id). The
            // causes are our own texts and Amazon's reason codes, never a body or a secret.
            tracing::error!(error = %self, code = info.code(), "request failed");
        }
        let replayed = matches!(self, AppError::Replay(_));
        let mut resp = info.response(None);
        if replayed {
            // A saved refusal is "the first answer again" like a saved success (docs/http.md).
            resp.headers_mut().insert(
                super::idempotency::REPLAYED.clone(),
                HeaderValue::from_static("true"),
            );
        }
        resp
    }
}
