//! The Amazon Pay API v2 client: signed requests, typed operations, retries, pacing.

use chrono::Utc;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;
use url::Url;

use savedwallet_shared::api::{
    CancelChargeRequest, CaptureChargeRequest, Charge, ChargePermission, CheckoutSession,
    CloseChargePermissionRequest, CompleteCheckoutSessionRequest, CreateChargeRequest,
    CreateCheckoutSessionRequest, CreateRefundRequest, ReasonCode, Refund,
    UpdateChargePermissionRequest, UpdateCheckoutSessionRequest,
};
use savedwallet_shared::idempotency::IdempotencyKey;
use savedwallet_shared::region::{KeyEnvironment, Region};
use savedwallet_shared::signing::{
    RequestParts, HEADER_DATE, HEADER_HOST, HEADER_IDEMPOTENCY_KEY, HEADER_REGION,
    HEADER_REQUEST_ID, HEADER_SIMULATION_CODE,
};
use savedwallet_shared::timestamp::AmazonTimestamp;

use crate::config::{ClientConfig, RetryPolicy};
use crate::error::{api_error, Error};
use crate::pacer::Pacer;
use crate::signer::Signer;
use savedwallet_shared::api::operation::{HttpMethod, Operation};

/// A successful response: the decoded body plus what the caller needs to decide and log.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse<T> {
    /// HTTP status (Create Charge: 201 done vs 202 ActionRequired; Complete: 200 vs 202).
    pub status: u16,
    /// Amazon's `x-amz-pay-request-id`.
    pub request_id: Option<String>,
    /// Attempts made (1 = no retry).
    pub attempts: u32,
    /// Decoded body.
    pub body: T,
}

/// The Amazon Pay client. Cheap to clone; clones share the HTTP pool, key and pacer.
#[derive(Debug, Clone)]
pub struct AmazonPayClient {
    inner: Arc<Inner>,
    simulation_code: Option<String>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    signer: Signer,
    /// Scheme + authority (+ optional base path) requests go to.
    base: Url,
    /// `/…/` prefix before `v2/`, including any base path and `/sandbox|/live`.
    path_prefix: String,
    /// `x-amz-pay-host`: host[:port] of the base URL.
    host_header: String,
    region: Region,
    /// True when `endpoint` overrides Amazon's host (the local sandbox simulator).
    endpoint_overridden: bool,
    retry: RetryPolicy,
    pacer: Pacer,
}

/// One attempt's outcome before retry classification.
struct Attempt {
    status: u16,
    request_id: Option<String>,
    retry_after_secs: Option<u64>,
    body: Vec<u8>,
}

impl AmazonPayClient {
    /// Builds the client; parses the private key once.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let signer = Signer::from_pem(
            &config.private_key_pem,
            config.public_key_id.clone(),
            config.algorithm,
        )?;
        let base = match &config.endpoint {
            Some(u) => u.clone(),
            None => Url::parse(&format!("https://{}", config.region.api_host()))
                .map_err(|e| Error::Config(format!("bad default host: {e}")))?,
        };
        if !matches!(base.scheme(), "http" | "https") {
            return Err(Error::Config(format!(
                "endpoint scheme must be http or https, got {:?}",
                base.scheme()
            )));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(Error::Config(
                "endpoint must not have a query or fragment".into(),
            ));
        }
        let host = base
            .host_str()
            .ok_or_else(|| Error::Config("endpoint has no host".into()))?;
        let host_header = match base.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        let env_prefix = KeyEnvironment::of(&config.public_key_id).path_prefix(config.environment);
        let path_prefix = format!("{}{}", base.path().trim_end_matches('/'), env_prefix);
        if config.request_timeout.is_zero() || config.connect_timeout.is_zero() {
            return Err(Error::Config("timeouts must be greater than zero".into()));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(concat!("savedwallet/", env!("CARGO_PKG_VERSION")))
            // A redirect would re-send a signed request to a host it was not signed for.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(AmazonPayClient {
            inner: Arc::new(Inner {
                http,
                signer,
                base,
                path_prefix,
                host_header,
                region: config.region,
                endpoint_overridden: config.endpoint.is_some(),
                retry: config.retry,
                pacer: Pacer::new(config.pacing, config.environment),
            }),
            simulation_code: None,
        })
    }

    /// A handle that sends `x-amz-pay-simulation-code: <code>` (signed) on every call
    /// (sandbox only; Amazon ignores it in live). Shares everything else with `self`.
    pub fn with_simulation_code(&self, code: impl Into<String>) -> Result<Self, Error> {
        let code = code.into();
        if code.is_empty()
            || code.len() > 64
            || !code
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
        {
            return Err(Error::InvalidRequest(
                "simulation code must be 1-64 characters of A-Z a-z 0-9 _ -".into(),
            ));
        }
        Ok(AmazonPayClient {
            inner: Arc::clone(&self.inner),
            simulation_code: Some(code),
        })
    }

    /// The signer (e.g. to sign button payloads with the same key).
    pub fn signer(&self) -> &Signer {
        &self.inner.signer
    }

    /// The URL path an operation is sent to, e.g. `/v2/charges` or `/sandbox/v2/charges/ID/capture`.
    pub fn path_for(&self, op: Operation, id: Option<&str>) -> Result<String, Error> {
        let id = match (op.needs_id(), id) {
            (true, Some(id)) => {
                validate_id(id)?;
                id
            }
            (true, None) => return Err(Error::InvalidRequest(format!("{op} needs a resource id"))),
            (false, Some(_)) => {
                return Err(Error::InvalidRequest(format!("{op} takes no resource id")))
            }
            (false, None) => "",
        };
        Ok(format!(
            "{}v2/{}",
            self.inner.path_prefix,
            op.resource_path(id)
        ))
    }

    /// The buyer-facing link to update a Saved Wallet's payment method after a HardDeclined
    /// (SPEC §11.5). Against Amazon it is Amazon's documented link for the region; with an
    /// `endpoint` override (the local sandbox simulator) the Amazon host is mapped to the
    /// endpoint, which serves the same `/jr/your-account/ba/{id}` page.
    pub fn payment_method_update_url(&self, charge_permission_id: &str) -> Result<String, Error> {
        validate_id(charge_permission_id)?;
        if !self.inner.endpoint_overridden {
            return Ok(self
                .inner
                .region
                .payment_method_update_url(charge_permission_id));
        }
        Ok(format!(
            "{}://{}{}/jr/your-account/ba/{charge_permission_id}",
            self.inner.base.scheme(),
            self.inner.host_header,
            self.inner.base.path().trim_end_matches('/'),
        ))
    }

    // ---- typed operations (SPEC §1) ----

    /// Create Checkout Session (201).
    pub async fn create_checkout_session(
        &self,
        body: &CreateCheckoutSessionRequest,
        idempotency_key: &str,
    ) -> Result<ApiResponse<CheckoutSession>, Error> {
        self.create(
            Operation::CreateCheckoutSession,
            body,
            idempotency_key,
            None,
        )
        .await
    }

    /// Get Checkout Session (200).
    pub async fn get_checkout_session(
        &self,
        id: &str,
    ) -> Result<ApiResponse<CheckoutSession>, Error> {
        self.fetch(Operation::GetCheckoutSession, id).await
    }

    /// Update Checkout Session (200).
    pub async fn update_checkout_session(
        &self,
        id: &str,
        body: &UpdateCheckoutSessionRequest,
    ) -> Result<ApiResponse<CheckoutSession>, Error> {
        self.act_on(Operation::UpdateCheckoutSession, id, body, None)
            .await
    }

    /// Complete Checkout Session (200, or 202 while authorization is pending).
    pub async fn complete_checkout_session(
        &self,
        id: &str,
        body: &CompleteCheckoutSessionRequest,
        idempotency_key: &str,
    ) -> Result<ApiResponse<CheckoutSession>, Error> {
        self.act_on(
            Operation::CompleteCheckoutSession,
            id,
            body,
            Some(idempotency_key),
        )
        .await
    }

    /// Get Charge Permission (200).
    pub async fn get_charge_permission(
        &self,
        id: &str,
    ) -> Result<ApiResponse<ChargePermission>, Error> {
        self.fetch(Operation::GetChargePermission, id).await
    }

    /// Update Charge Permission (200).
    pub async fn update_charge_permission(
        &self,
        id: &str,
        body: &UpdateChargePermissionRequest,
    ) -> Result<ApiResponse<ChargePermission>, Error> {
        self.act_on(Operation::UpdateChargePermission, id, body, None)
            .await
    }

    /// Close Charge Permission (200).
    pub async fn close_charge_permission(
        &self,
        id: &str,
        body: &CloseChargePermissionRequest,
    ) -> Result<ApiResponse<ChargePermission>, Error> {
        self.act_on(Operation::CloseChargePermission, id, body, None)
            .await
    }

    /// Create Charge (201 Authorized/Captured/AuthorizationInitiated, or 202 ActionRequired).
    pub async fn create_charge(
        &self,
        body: &CreateChargeRequest,
        idempotency_key: &str,
    ) -> Result<ApiResponse<Charge>, Error> {
        self.create(
            Operation::CreateCharge,
            body,
            idempotency_key,
            Some(&body.charge_permission_id),
        )
        .await
    }

    /// Get Charge (200).
    pub async fn get_charge(&self, id: &str) -> Result<ApiResponse<Charge>, Error> {
        self.fetch(Operation::GetCharge, id).await
    }

    /// Capture Charge (200).
    pub async fn capture_charge(
        &self,
        id: &str,
        body: &CaptureChargeRequest,
        idempotency_key: &str,
    ) -> Result<ApiResponse<Charge>, Error> {
        self.act_on(Operation::CaptureCharge, id, body, Some(idempotency_key))
            .await
    }

    /// Cancel Charge (200).
    pub async fn cancel_charge(
        &self,
        id: &str,
        body: &CancelChargeRequest,
    ) -> Result<ApiResponse<Charge>, Error> {
        self.act_on(Operation::CancelCharge, id, body, None).await
    }

    /// Create Refund (201, RefundInitiated).
    pub async fn create_refund(
        &self,
        body: &CreateRefundRequest,
        idempotency_key: &str,
    ) -> Result<ApiResponse<Refund>, Error> {
        self.create(
            Operation::CreateRefund,
            body,
            idempotency_key,
            Some(&body.charge_id),
        )
        .await
    }

    /// Get Refund (200).
    pub async fn get_refund(&self, id: &str) -> Result<ApiResponse<Refund>, Error> {
        self.fetch(Operation::GetRefund, id).await
    }

    /// Any operation with a raw body (sent byte-exact) and a JSON answer; for the CLI.
    /// Operations with a body default to `{}` when `body` is `None`. POST needs a key.
    pub async fn call_raw(
        &self,
        op: Operation,
        id: Option<&str>,
        body: Option<Vec<u8>>,
        idempotency_key: Option<&str>,
    ) -> Result<ApiResponse<serde_json::Value>, Error> {
        let body = match (op.has_body(), body) {
            (true, Some(b)) => b,
            (true, None) => b"{}".to_vec(),
            (false, Some(b)) if !b.is_empty() => {
                return Err(Error::InvalidRequest(format!("{op} takes no body")))
            }
            (false, _) => Vec::new(),
        };
        let (attempt, attempts) = self.execute(op, id, body, idempotency_key, None).await?;
        let json = if attempt.body.iter().all(u8::is_ascii_whitespace) {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&attempt.body).map_err(|e| decode_error(attempt.status, &e))?
        };
        Ok(ApiResponse {
            status: attempt.status,
            request_id: attempt.request_id,
            attempts,
            body: json,
        })
    }

    /// A Create operation (POST, no path id). `parent_id` is the resource it acts on (the
    /// permission charged, the charge refunded), logged as the call's `resource_id`.
    async fn create<B: Serialize, T: DeserializeOwned>(
        &self,
        op: Operation,
        body: &B,
        idempotency_key: &str,
        parent_id: Option<&str>,
    ) -> Result<ApiResponse<T>, Error> {
        self.typed(op, None, Some(body), Some(idempotency_key), parent_id)
            .await
    }

    /// An operation on one existing resource with a body (update, complete, capture,
    /// cancel, close); the key is only for the POSTs among them.
    async fn act_on<B: Serialize, T: DeserializeOwned>(
        &self,
        op: Operation,
        id: &str,
        body: &B,
        idempotency_key: Option<&str>,
    ) -> Result<ApiResponse<T>, Error> {
        self.typed(op, Some(id), Some(body), idempotency_key, None)
            .await
    }

    /// A GET of one resource: no body, no idempotency key.
    async fn fetch<T: DeserializeOwned>(
        &self,
        op: Operation,
        id: &str,
    ) -> Result<ApiResponse<T>, Error> {
        self.typed::<(), T>(op, Some(id), None, None, None).await
    }

    /// Serialises `body` once, sends it with retries and decodes the success body as `T`.
    async fn typed<B: Serialize, T: DeserializeOwned>(
        &self,
        op: Operation,
        id: Option<&str>,
        body: Option<&B>,
        idempotency_key: Option<&str>,
        log_id: Option<&str>,
    ) -> Result<ApiResponse<T>, Error> {
        // Serialised once: these exact bytes are hashed, signed and sent on every attempt.
        let bytes = match body {
            Some(b) => serde_json::to_vec(b)
                .map_err(|e| Error::InvalidRequest(format!("cannot serialise body: {e}")))?,
            None if op.has_body() => b"{}".to_vec(),
            None => Vec::new(),
        };
        let (attempt, attempts) = self.execute(op, id, bytes, idempotency_key, log_id).await?;
        let body =
            serde_json::from_slice(&attempt.body).map_err(|e| decode_error(attempt.status, &e))?;
        Ok(ApiResponse {
            status: attempt.status,
            request_id: attempt.request_id,
            attempts,
            body,
        })
    }

    /// Sends with retries; returns the successful attempt and the number of attempts.
    async fn execute(
        &self,
        op: Operation,
        id: Option<&str>,
        body: Vec<u8>,
        idempotency_key: Option<&str>,
        log_id: Option<&str>,
    ) -> Result<(Attempt, u32), Error> {
        let path = self.path_for(op, id)?;
        let key = match (op.takes_idempotency_key(), idempotency_key) {
            (true, Some(k)) => {
                validate_idempotency_key(k)?;
                Some(k)
            }
            (true, None) => {
                return Err(Error::InvalidRequest(format!(
                    "{op} needs an idempotency key"
                )))
            }
            // Amazon ignores it outside POST (SPEC §8), so it is not sent.
            (false, _) => None,
        };
        let span = tracing::info_span!(
            "amazon_pay_call",
            operation = op.name(),
            // Absent values are left out of the span rather than logged as "".
            resource_id = id.or(log_id),
            idempotency_key = key,
        );
        self.execute_in_span(op, &path, &body, key)
            .instrument(span)
            .await
    }

    async fn execute_in_span(
        &self,
        op: Operation,
        path: &str,
        body: &[u8],
        key: Option<&str>,
    ) -> Result<(Attempt, u32), Error> {
        let started = tokio::time::Instant::now();
        let policy = &self.inner.retry;
        let mut attempt_no: u32 = 0;
        loop {
            attempt_no += 1;
            self.inner.pacer.acquire(op).await;
            let result = self.send_once(op, path, body, key).await;
            let elapsed = started.elapsed();
            // Per-attempt facts go on the events, not the span: re-recording span fields
            // makes text logs repeat them (`attempt=1 … attempt=2`).
            let elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
            let err = match result {
                Ok(a) if (200..300).contains(&a.status) => {
                    tracing::info!(
                        attempt = attempt_no,
                        elapsed_ms,
                        status = a.status,
                        request_id = a.request_id.as_deref(),
                        "amazon pay call succeeded"
                    );
                    return Ok((a, attempt_no));
                }
                Ok(a) => api_error(a.status, &a.body, a.request_id, a.retry_after_secs),
                Err(e) => e,
            };
            let next = retry_delay(policy, &err, attempt_no, elapsed);
            let reason = err.reason_code().map(ReasonCode::as_str);
            match next {
                Err(gave_up) => {
                    tracing::warn!(
                        attempt = attempt_no,
                        elapsed_ms,
                        status = err.status(),
                        request_id = err.request_id(),
                        reason,
                        error_kind = error_kind(&err),
                        gave_up,
                        "amazon pay call failed"
                    );
                    return Err(err);
                }
                Ok(delay) => {
                    tracing::info!(
                        attempt = attempt_no,
                        elapsed_ms,
                        status = err.status(),
                        request_id = err.request_id(),
                        reason,
                        error_kind = error_kind(&err),
                        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        "retrying amazon pay call"
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// One signed HTTP attempt with a fresh date and signature.
    async fn send_once(
        &self,
        op: Operation,
        path: &str,
        body: &[u8],
        key: Option<&str>,
    ) -> Result<Attempt, Error> {
        let inner = &self.inner;
        let method = op.method();
        let date = AmazonTimestamp(Utc::now()).to_basic();
        let mut headers: Vec<(&str, &str)> = vec![
            ("accept", "application/json"),
            ("content-type", "application/json"),
            (HEADER_DATE, &date),
            (HEADER_HOST, &inner.host_header),
            (HEADER_REGION, inner.region.header_value()),
        ];
        if let Some(k) = key {
            headers.push((HEADER_IDEMPOTENCY_KEY, k));
        }
        if let Some(code) = &self.simulation_code {
            headers.push((HEADER_SIMULATION_CODE, code));
        }
        let auth = inner.signer.sign_request(
            RequestParts {
                method: method.as_str(),
                path,
                query: "",
                body,
            },
            &headers,
        )?;
        let auth_value = auth.format();
        let mut url = inner.base.clone();
        url.set_path(path);
        let req_method = match method {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Patch => reqwest::Method::PATCH,
            HttpMethod::Delete => reqwest::Method::DELETE,
        };
        let mut req = inner.http.request(req_method, url);
        for (n, v) in &headers {
            req = req.header(*n, *v);
        }
        req = req.header("authorization", auth_value);
        if method != HttpMethod::Get {
            req = req.body(body.to_vec());
        }
        let resp = req.send().await.map_err(map_reqwest)?;
        let status = resp.status().as_u16();
        let request_id = resp
            .headers()
            .get(HEADER_REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let retry_after_secs = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, Utc::now()));
        let body = resp.bytes().await.map_err(map_reqwest)?.to_vec();
        tracing::debug!(
            status,
            request_id = request_id.as_deref(),
            "amazon pay attempt answered"
        );
        Ok(Attempt {
            status,
            request_id,
            retry_after_secs,
            body,
        })
    }
}

/// How long to wait before retrying after `err`, or why not to retry (SPEC §7): never for
/// decisions (4xx declines), at most `max_retries` times, and never past `max_total`. The
/// wait is full-jitter backoff, or Amazon's `Retry-After` when that is longer.
fn retry_delay(
    policy: &RetryPolicy,
    err: &Error,
    attempt_no: u32,
    elapsed: Duration,
) -> Result<Duration, &'static str> {
    if !err.is_retryable() {
        return Err("not retryable");
    }
    if attempt_no > policy.max_retries {
        return Err("retries exhausted");
    }
    let jitter = policy.backoff(attempt_no, rand::random::<f64>());
    let retry_after = match err {
        Error::Api {
            retry_after_secs: Some(s),
            ..
        } => Duration::from_secs(*s),
        _ => Duration::ZERO,
    };
    let delay = jitter.max(retry_after);
    // Saturating: Retry-After comes from outside and may be absurdly large.
    if elapsed.saturating_add(delay) > policy.max_total {
        return Err("retry budget exhausted");
    }
    Ok(delay)
}

fn error_kind(e: &Error) -> &'static str {
    match e {
        Error::Api { .. } => "api",
        Error::Timeout => "timeout",
        Error::Transport(_) => "transport",
        Error::Decode { .. } => "decode",
        Error::Config(_) => "config",
        Error::InvalidKey(_) => "invalid_key",
        Error::InvalidRequest(_) => "invalid_request",
        Error::Signing(_) => "signing",
    }
}

/// A decode error that names where the body went wrong but never quotes it: serde_json's
/// own messages echo values (`invalid type: string "Jane Buyer"`), which may be buyer PII.
fn decode_error(status: u16, e: &serde_json::Error) -> Error {
    use serde_json::error::Category;
    let kind = match e.classify() {
        Category::Io => "I/O error",
        Category::Syntax => "invalid JSON",
        Category::Data => "JSON does not match the expected object",
        Category::Eof => "truncated JSON",
    };
    Error::Decode {
        status,
        message: format!("{kind} at line {} column {}", e.line(), e.column()),
    }
}

/// `Retry-After` as seconds from `now`: delta-seconds or an HTTP-date (RFC 9110 §10.2.3).
fn parse_retry_after(value: &str, now: chrono::DateTime<Utc>) -> Option<u64> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(secs);
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    // A date in the past means "now"; round up so we never retry before the date.
    let millis = (at.with_timezone(&Utc) - now).num_milliseconds().max(0);
    Some(u64::try_from(millis).unwrap_or(0).div_ceil(1000))
}

fn map_reqwest(e: reqwest::Error) -> Error {
    if e.is_timeout() {
        return Error::Timeout;
    }
    // reqwest's own text is just "error sending request"; the cause (e.g. "Connection
    // refused") is in the source chain. None of it carries headers or bodies.
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    let mut message = e.without_url().to_string();
    for cause in causes {
        message.push_str(": ");
        message.push_str(&cause);
    }
    Error::Transport(message)
}

/// Resource ids are opaque but only ever use these characters; refusing others keeps
/// the path (and so the signature) unambiguous.
fn validate_id(id: &str) -> Result<(), Error> {
    if id.is_empty()
        || id.len() > 128
        || !id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        || id == "."
        || id == ".."
    {
        return Err(Error::InvalidRequest(
            "resource id must be 1-128 characters of A-Z a-z 0-9 - _ .".into(),
        ));
    }
    Ok(())
}

/// At most 32 characters from `a-z A-Z 0-9 - _` (SPEC §8); the rule lives in `shared`.
pub fn validate_idempotency_key(key: &str) -> Result<(), Error> {
    IdempotencyKey::parse(key)
        .map(|_| ())
        .map_err(|e| Error::InvalidRequest(e.to_string()))
}

/// A fresh random idempotency key: a UUID v4 without dashes (32 hex characters), as the SDKs do.
pub fn new_idempotency_key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_http_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2024-06-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after(" 7 ", now), Some(7));
        assert_eq!(
            parse_retry_after("18446744073709551615", now),
            Some(u64::MAX)
        );
        assert_eq!(
            parse_retry_after("Sat, 01 Jun 2024 12:00:30 GMT", now),
            Some(30)
        );
        assert_eq!(
            parse_retry_after("Sat, 01 Jun 2024 11:00:00 GMT", now),
            Some(0)
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
    }

    fn client_with(endpoint: Option<&str>, region: Region) -> AmazonPayClient {
        let vectors: serde_json::Value = serde_json::from_str(include_str!(
            "../../testdata/amazon-pay/signing-vectors.json"
        ))
        .unwrap();
        let pem = vectors["keys"]["privateKeyPem"].as_str().unwrap();
        let mut cfg = ClientConfig::new(
            region,
            savedwallet_shared::region::Environment::Sandbox,
            "SANDBOX-TESTKEY",
            secrecy::SecretString::from(pem.to_string()),
        );
        cfg.endpoint = endpoint.map(|e| Url::parse(e).unwrap());
        AmazonPayClient::new(cfg).unwrap()
    }

    #[test]
    fn payment_method_update_link_follows_the_endpoint() {
        let amazon = client_with(None, Region::Eu);
        assert_eq!(
            amazon
                .payment_method_update_url("S01-1234567-1234567")
                .unwrap(),
            "https://payments.amazon.com/jr/your-account/ba/S01-1234567-1234567"
        );
        let jp = client_with(None, Region::Jp);
        assert_eq!(
            jp.payment_method_update_url("S01-1234567-1234567").unwrap(),
            "https://pay.amazon.com/jp/jr/your-account/ba/S01-1234567-1234567"
        );
        let local = client_with(Some("http://127.0.0.1:8085/"), Region::Eu);
        assert_eq!(
            local
                .payment_method_update_url("S01-1234567-1234567")
                .unwrap(),
            "http://127.0.0.1:8085/jr/your-account/ba/S01-1234567-1234567"
        );
        assert!(local.payment_method_update_url("../admin").is_err());
    }

    #[test]
    fn decode_errors_do_not_echo_the_body() {
        let err = serde_json::from_str::<u32>(r#""Jane Buyer""#).unwrap_err();
        assert!(err.to_string().contains("Jane Buyer"), "serde_json echoes");
        let e = decode_error(200, &err);
        assert!(!e.to_string().contains("Jane"), "{e}");
        assert!(e.to_string().contains("line 1"), "{e}");
    }

    #[test]
    fn key_and_id_validation() {
        assert!(validate_idempotency_key(&new_idempotency_key()).is_ok());
        assert_eq!(new_idempotency_key().len(), 32);
        for bad in ["", "a b", "x".repeat(33).as_str(), "é", "a/b"] {
            assert!(validate_idempotency_key(bad).is_err(), "{bad:?}");
        }
        assert!(validate_id("S01-1234567-1234567-C123456").is_ok());
        for bad in ["", "..", "a/b", "a?b", "a b", "%2e"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }
}
