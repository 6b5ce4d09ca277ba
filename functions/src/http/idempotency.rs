//! `Idempotency-Key` (API.md "Errors"; AWS Lambda Powertools' semantics over the store's
//! idempotency records).
//!
//! - The key is scoped to the caller, the method and the path: the record's id and the
//!   use case's `scope` are the SHA-256 of the four, so a retried request names the same
//!   payment, order, subscription or refund, and the key itself is never stored, logged or
//!   sent to Amazon.
//! - The payload hash is the SHA-256 of the body's canonical JSON (parsed, keys sorted).
//! - Start: a conditional put of an in-progress record with a holder token
//!   (`Service::new_token`), in progress until the request's deadline (≤ 30 s), kept for
//!   the configured retention (≥ 24 h). Another request with the key meanwhile: 409
//!   `idempotency_key_in_progress`; another body: 409 `idempotency_key_reused`; done: the
//!   saved answer again.
//! - Finish: answers worth replaying are saved (2xx; 404 and 422 refusals; 409
//!   `order_has_payment` / `checkout_session_mismatch`); every other answer (400s, 409
//!   `conflict` / `payment_in_progress`, 5xx) abandons the record so the client can retry.

use std::future::Future;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::TimeDelta;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use savedwallet_app::store::{IdempotencyStart, SavedResponse};
use savedwallet_app::{Caller, ServiceError};

use super::error::{AppError, ErrorInfo};
use super::extract::{IdemHeader, IdempotencyKey, RequestMeta};
use super::AppState;

/// `Idempotent-Replayed: true` on a replayed answer.
pub static REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// A successful answer: a status and a JSON body.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status (2xx).
    pub status: StatusCode,
    /// Body.
    pub body: Value,
    replayed: bool,
}

impl Answer {
    /// An answer with this status.
    pub fn new(status: StatusCode, body: impl Serialize) -> Result<Answer, AppError> {
        let body = serde_json::to_value(body)
            .map_err(|e| AppError::Service(ServiceError::Internal(e.to_string())))?;
        Ok(Answer {
            status,
            body,
            replayed: false,
        })
    }

    /// 200.
    pub fn ok(body: impl Serialize) -> Result<Answer, AppError> {
        Answer::new(StatusCode::OK, body)
    }

    /// 201.
    pub fn created(body: impl Serialize) -> Result<Answer, AppError> {
        Answer::new(StatusCode::CREATED, body)
    }

    /// 201 when this call made it, 200 when it returns an earlier one.
    pub fn made(made: bool, body: impl Serialize) -> Result<Answer, AppError> {
        Answer::new(
            if made {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            },
            body,
        )
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut resp = (self.status, Json(self.body)).into_response();
        if self.replayed {
            resp.headers_mut()
                .insert(REPLAYED.clone(), HeaderValue::from_static("true"));
        }
        resp
    }
}

fn caller_tag(caller: &Caller) -> String {
    match caller {
        Caller::Customer(c) => format!("customer:{c}"),
        Caller::Merchant => "merchant".to_string(),
    }
}

/// The key scoped to caller, method and path (32 bytes).
fn scope(caller: &Caller, meta: &RequestMeta, key: &IdempotencyKey) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"savedwallet idempotency v1");
    for part in [
        caller_tag(caller).as_str(),
        meta.method.as_str(),
        meta.path.as_str(),
        key.as_str(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().to_vec()
}

/// Whether an error answer is replayed for the same key (see the module docs).
fn worth_saving(info: &ErrorInfo) -> bool {
    match info.status.as_u16() {
        404 | 422 => true,
        409 => matches!(
            info.code(),
            "order_has_payment" | "checkout_session_mismatch"
        ),
        _ => false,
    }
}

fn replay(saved: SavedResponse) -> Result<Answer, AppError> {
    let status = StatusCode::from_u16(saved.status)
        .map_err(|_| AppError::Service(ServiceError::Internal("saved status".into())))?;
    let body: Value = serde_json::from_str(&saved.body)
        .map_err(|_| AppError::Service(ServiceError::Internal("saved body".into())))?;
    if status.is_success() {
        return Ok(Answer {
            status,
            body,
            replayed: true,
        });
    }
    match body.get("error").and_then(Value::as_object) {
        Some(error) => Err(AppError::Replay(ErrorInfo {
            status,
            error: error.clone(),
            retry_after: None,
        })),
        None => Err(AppError::Service(ServiceError::Internal(
            "saved error body".into(),
        ))),
    }
}

/// The request's `Idempotency-Key` (if sent) with its method, path and deadline.
#[derive(Debug, Clone)]
pub struct Idem {
    meta: RequestMeta,
    key: Option<IdempotencyKey>,
}

impl FromRequestParts<AppState> for Idem {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let meta = RequestMeta::from_request_parts(parts, state).await?;
        let IdemHeader(key) = IdemHeader::from_request_parts(parts, state).await?;
        Ok(Idem { meta, key })
    }
}

impl Idem {
    /// The key, on a route that requires one (400 `invalid_request` when missing).
    pub fn require(&self) -> Result<&IdempotencyKey, AppError> {
        self.key.as_ref().ok_or_else(|| {
            AppError::invalid(
                "Idempotency-Key",
                "this route requires an Idempotency-Key header",
            )
        })
    }

    /// Runs `f` at most once per scoped key (required); `f` receives the scope bytes the
    /// use case names its records by.
    pub async fn keyed<F, Fut>(
        &self,
        state: &AppState,
        caller: &Caller,
        payload_hash: &str,
        f: F,
    ) -> Result<Answer, AppError>
    where
        F: FnOnce(Vec<u8>) -> Fut,
        Fut: Future<Output = Result<Answer, AppError>>,
    {
        let key = self.require()?;
        run(state, caller, &self.meta, key, payload_hash, f).await
    }

    /// [`Idem::keyed`] when the client sent a key; otherwise just `f`.
    pub async fn optional<F, Fut>(
        &self,
        state: &AppState,
        caller: &Caller,
        payload_hash: &str,
        f: F,
    ) -> Result<Answer, AppError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Answer, AppError>>,
    {
        match &self.key {
            Some(k) => run(state, caller, &self.meta, k, payload_hash, |_| f()).await,
            None => f().await,
        }
    }
}

/// `Idempotency-Key` on a route that takes one (OpenAPI parameter).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct OptionalKey {
    /// Makes a retry safe (≤ 255 characters): the same key and body answer the first
    /// answer again; another body is 409 `idempotency_key_reused`.
    #[param(rename = "Idempotency-Key")]
    pub idempotency_key: Option<String>,
}

/// `Idempotency-Key` on a route that requires one (OpenAPI parameter).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct RequiredKey {
    /// Required (≤ 255 characters): the same key and body answer the first answer again
    /// and name the same record; another body is 409 `idempotency_key_reused`.
    #[param(rename = "Idempotency-Key")]
    pub idempotency_key: String,
}

/// Runs `f` at most once per scoped key: a repeat gets the saved answer; another body, or
/// a run still in progress, a 409.
async fn run<F, Fut>(
    state: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    key: &IdempotencyKey,
    payload_hash: &str,
    f: F,
) -> Result<Answer, AppError>
where
    F: FnOnce(Vec<u8>) -> Fut,
    Fut: Future<Output = Result<Answer, AppError>>,
{
    let service = state.service();
    let scope = scope(caller, meta, key);
    let record = format!("api:{}", hex::encode(&scope));
    let token = service.new_token();
    let now = service.now();
    let left = TimeDelta::from_std(meta.time_left).unwrap_or(TimeDelta::seconds(29));
    let ttl = TimeDelta::from_std(state.config().idempotency_ttl)
        .unwrap_or(TimeDelta::hours(24))
        .max(left);
    let started = service
        .store()
        .start_idempotent(&record, payload_hash, &token, now, now + left, now + ttl)
        .await
        .map_err(ServiceError::from)?;
    match started {
        IdempotencyStart::Started => {}
        IdempotencyStart::InProgress { until } => {
            let secs = (until - now).num_seconds().clamp(1, 30) as u64;
            return Err(AppError::IdempotencyKeyInProgress {
                retry_after_secs: secs,
            });
        }
        IdempotencyStart::Completed(saved) => return replay(saved),
        IdempotencyStart::PayloadMismatch => return Err(AppError::IdempotencyKeyReused),
    }
    let result = f(scope).await;
    let saved = match &result {
        Ok(a) => Some(SavedResponse {
            status: a.status.as_u16(),
            body: a.body.to_string(),
        }),
        Err(e) => {
            let info = e.info();
            worth_saving(&info).then(|| SavedResponse {
                status: info.status.as_u16(),
                body: info.body(None).to_string(),
            })
        }
    };
    let store = service.store();
    let done = match saved {
        Some(s) => {
            let keep = service.now() + ttl;
            store.complete_idempotent(&record, &token, &s, keep).await
        }
        None => store.abandon_idempotent(&record, &token).await,
    };
    if let Err(e) = done {
        // The record frees itself at its in-progress expiry; a retry then runs again and
        // the use case finds its own records by the scope.
        tracing::warn!(error = %e, "could not finish the idempotency record");
    }
    result
}
