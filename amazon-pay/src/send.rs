//! One call: sign and send an attempt, classify the answer with `shared::api::classify`,
//! and resend the same key and bytes while the answer says so and the retry policy, its time
//! budget and the caller's deadline allow (docs/client.md "Answers", "Resends").

use chrono::Utc;
use std::time::Duration;
use tokio::time::Instant;
use tracing::Instrument;

use savedwallet_shared::api::operation::{HttpMethod, Operation};
use savedwallet_shared::api::{classify, Answer, Disposition, ReasonCode};
use savedwallet_shared::signing::{
    RequestParts, HEADER_DATE, HEADER_HOST, HEADER_IDEMPOTENCY_KEY, HEADER_REGION,
    HEADER_REQUEST_ID, HEADER_SIMULATION_CODE,
};
use savedwallet_shared::timestamp::AmazonTimestamp;

use crate::client::{validate_idempotency_key, AmazonPayClient};
use crate::config::RetryPolicy;
use crate::error::{error_body, AttemptFailure, Delivery, Error, RequestError, Stopped};

/// A 2xx answer.
pub(crate) struct Attempt {
    pub(crate) status: u16,
    pub(crate) request_id: Option<String>,
    pub(crate) body: Vec<u8>,
}

/// One attempt's HTTP answer of any status.
struct Answered {
    status: u16,
    request_id: Option<String>,
    retry_after_secs: Option<u64>,
    body: Vec<u8>,
}

/// What the loop knows so far about an unanswered call.
struct Progress {
    started: Instant,
    attempts: u32,
    delivery: Delivery,
    last: Option<AttemptFailure>,
}

impl Progress {
    fn stop(self, stopped: Stopped) -> Error {
        let elapsed_ms = millis(self.started.elapsed());
        tracing::warn!(
            attempt = self.attempts,
            elapsed_ms,
            status = status_of(self.last.as_ref()),
            request_id = self.last.as_ref().and_then(request_id_of),
            reason = self.last.as_ref().and_then(reason_of),
            error_kind = self.last.as_ref().map_or("none", failure_kind),
            gave_up = stopped.as_str(),
            "amazon pay call failed"
        );
        Error::Unanswered {
            delivery: self.delivery,
            stopped,
            attempts: self.attempts,
            last: self.last,
        }
    }
}

impl AmazonPayClient {
    /// Validates the path and key, then sends with resends; returns the 2xx attempt and
    /// the number of attempts.
    pub(crate) async fn execute(
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
            (true, None) => return Err(RequestError::MissingIdempotencyKey(op).into()),
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
        let attempt_timeout = self
            .options
            .attempt_timeout
            .unwrap_or(self.inner.request_timeout);
        let deadline = self.options.deadline;
        let mut progress = Progress {
            started: Instant::now(),
            attempts: 0,
            delivery: Delivery::NotSent,
            last: None,
        };
        let mut delay = Duration::ZERO;
        loop {
            // Never start an attempt (nor sleep towards one) that cannot end by the deadline.
            let latest_start = match deadline {
                Some(d) => match d.checked_sub(attempt_timeout) {
                    Some(latest) if Instant::now() + delay <= latest => Some(latest),
                    _ => return Err(progress.stop(Stopped::Deadline)),
                },
                None => None,
            };
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if !self.inner.pacer.acquire_by(op, latest_start).await {
                return Err(progress.stop(Stopped::Deadline));
            }
            if progress.attempts > 0 {
                self.inner.counters.resent(op);
            }
            progress.attempts += 1;
            let failure = match self.send_once(op, path, body, key, attempt_timeout).await? {
                Ok(answer) => match self.judge(op, answer, &progress)? {
                    Ok(done) => return Ok((done, progress.attempts)),
                    Err(failure) => failure,
                },
                Err(failure) => failure,
            };
            if failure.may_have_reached_amazon() {
                progress.delivery = Delivery::OutcomeUnknown;
            }
            if status_of(Some(&failure)) == Some(429) {
                self.inner.counters.throttled(op);
            }
            let elapsed = progress.started.elapsed();
            match next_delay(&self.inner.retry, &failure, progress.attempts, elapsed) {
                Err(stopped) => {
                    progress.last = Some(failure);
                    return Err(progress.stop(stopped));
                }
                Ok(next) => {
                    tracing::info!(
                        attempt = progress.attempts,
                        elapsed_ms = millis(elapsed),
                        status = status_of(Some(&failure)),
                        request_id = request_id_of(&failure),
                        reason = reason_of(&failure),
                        error_kind = failure_kind(&failure),
                        delay_ms = millis(next),
                        "retrying amazon pay call"
                    );
                    progress.last = Some(failure);
                    delay = next;
                }
            }
        }
    }

    /// Classifies an HTTP answer: `Ok(Ok)` success, `Ok(Err)` resend, `Err` a decline or
    /// an error to give up on (final).
    fn judge(
        &self,
        op: Operation,
        a: Answered,
        progress: &Progress,
    ) -> Result<Result<Attempt, AttemptFailure>, Error> {
        let elapsed_ms = millis(progress.started.elapsed());
        if (200..300).contains(&a.status) {
            tracing::info!(
                attempt = progress.attempts,
                elapsed_ms,
                status = a.status,
                request_id = a.request_id.as_deref(),
                "amazon pay call succeeded"
            );
            return Ok(Ok(Attempt {
                status: a.status,
                request_id: a.request_id,
                body: a.body,
            }));
        }
        let parsed = error_body(a.status, &a.body);
        let answer = Answer::Status {
            status: a.status,
            reason_code: parsed.json_code.as_ref(),
        };
        let disposition = classify(op, answer);
        if disposition == Disposition::Resend {
            return Ok(Err(AttemptFailure::Status {
                status: a.status,
                reason_code: parsed.reason_code,
                message: parsed.message,
                request_id: a.request_id,
                retry_after_secs: a.retry_after_secs,
            }));
        }
        tracing::warn!(
            attempt = progress.attempts,
            elapsed_ms,
            status = a.status,
            request_id = a.request_id.as_deref(),
            reason = parsed.reason_code.as_str(),
            error_kind = disposition.as_str(),
            gave_up = "not resendable",
            "amazon pay call failed"
        );
        Err(match disposition {
            Disposition::Decline => Error::Declined {
                status: a.status,
                reason_code: parsed.reason_code,
                message: parsed.message,
                request_id: a.request_id,
            },
            _ => Error::Api {
                status: a.status,
                reason_code: parsed.reason_code,
                message: parsed.message,
                request_id: a.request_id,
                retry_after_secs: a.retry_after_secs,
            },
        })
    }

    /// One signed HTTP attempt with a fresh date and signature. `Err` only for a request
    /// that cannot be signed; a transport failure is `Ok(Err(_))`.
    async fn send_once(
        &self,
        op: Operation,
        path: &str,
        body: &[u8],
        key: Option<&str>,
        timeout: Duration,
    ) -> Result<Result<Answered, AttemptFailure>, Error> {
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
        let parts = RequestParts {
            method: method.as_str(),
            path,
            query: "",
            body,
        };
        let auth = inner.signer.sign_request(parts, &headers)?;
        let mut url = inner.base.clone();
        url.set_path(path);
        let req_method = match method {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Patch => reqwest::Method::PATCH,
            HttpMethod::Delete => reqwest::Method::DELETE,
        };
        let mut req = inner.http.request(req_method, url).timeout(timeout);
        for (n, v) in &headers {
            req = req.header(*n, *v);
        }
        req = req.header("authorization", auth.format());
        if method != HttpMethod::Get {
            req = req.body(body.to_vec());
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Ok(Err(attempt_failure(e))),
        };
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
        let body = match resp.bytes().await {
            Ok(b) => b.to_vec(),
            // The status line arrived: the request did reach the other side.
            Err(e) => return Ok(Err(attempt_failure(e))),
        };
        tracing::debug!(
            status,
            request_id = request_id.as_deref(),
            "amazon pay attempt answered"
        );
        Ok(Ok(Answered {
            status,
            request_id,
            retry_after_secs,
            body,
        }))
    }
}

/// How long to wait before resending after `failure`, or why not to (SPEC §7): at most
/// `max_retries` times and never past `max_total`. The wait is full-jitter backoff, or
/// Amazon's `Retry-After` when that is longer.
fn next_delay(
    policy: &RetryPolicy,
    failure: &AttemptFailure,
    attempts: u32,
    elapsed: Duration,
) -> Result<Duration, Stopped> {
    if attempts > policy.max_retries {
        return Err(Stopped::RetriesExhausted);
    }
    let jitter = policy.backoff(attempts, rand::random::<f64>());
    let retry_after = match failure {
        AttemptFailure::Status {
            retry_after_secs: Some(s),
            ..
        } => Duration::from_secs(*s),
        _ => Duration::ZERO,
    };
    let delay = jitter.max(retry_after);
    // Saturating: Retry-After comes from outside and may be absurdly large.
    if elapsed.saturating_add(delay) > policy.max_total {
        return Err(Stopped::RetryBudgetExhausted);
    }
    Ok(delay)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn status_of(f: Option<&AttemptFailure>) -> Option<u16> {
    match f {
        Some(AttemptFailure::Status { status, .. }) => Some(*status),
        _ => None,
    }
}

fn request_id_of(f: &AttemptFailure) -> Option<&str> {
    match f {
        AttemptFailure::Status { request_id, .. } => request_id.as_deref(),
        _ => None,
    }
}

fn reason_of(f: &AttemptFailure) -> Option<&str> {
    match f {
        AttemptFailure::Status { reason_code, .. } => Some(ReasonCode::as_str(reason_code)),
        _ => None,
    }
}

fn failure_kind(f: &AttemptFailure) -> &'static str {
    match f {
        AttemptFailure::Status { .. } => "status",
        AttemptFailure::Timeout { .. } => "timeout",
        AttemptFailure::Connection { .. } => "connection",
    }
}

/// What kind of JSON problem and where — never the offending value: serde_json's own
/// messages echo values (`invalid type: string "Jane Buyer"`), which may be buyer PII.
pub(crate) fn json_problem(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let kind = match e.classify() {
        Category::Io => "I/O error",
        Category::Syntax => "invalid JSON",
        Category::Data => "JSON does not match the expected object",
        Category::Eof => "truncated JSON",
    };
    format!("{kind} at line {} column {}", e.line(), e.column())
}

/// A decode error for a success body (see [`json_problem`]).
pub(crate) fn decode_error(status: u16, e: &serde_json::Error) -> Error {
    Error::Decode {
        status,
        message: json_problem(e),
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

/// A reqwest failure as an attempt failure; `connecting` when no request was written.
fn attempt_failure(e: reqwest::Error) -> AttemptFailure {
    let connecting = e.is_connect();
    if e.is_timeout() {
        return AttemptFailure::Timeout { connecting };
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
    AttemptFailure::Connection {
        message,
        connecting,
    }
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

    #[test]
    fn decode_errors_do_not_echo_the_body() {
        let err = serde_json::from_str::<u32>(r#""Jane Buyer""#).unwrap_err();
        assert!(err.to_string().contains("Jane Buyer"), "serde_json echoes");
        let e = decode_error(200, &err);
        assert!(!e.to_string().contains("Jane"), "{e}");
        assert!(e.to_string().contains("line 1"), "{e}");
    }

    #[test]
    fn resend_delays_stop_at_the_count_and_the_budget() {
        let policy = RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(100),
            max_total: Duration::from_secs(10),
        };
        let timeout = AttemptFailure::Timeout { connecting: false };
        let d = next_delay(&policy, &timeout, 1, Duration::ZERO).expect("first resend");
        assert!(d <= Duration::from_millis(100), "{d:?}");
        assert_eq!(
            next_delay(&policy, &timeout, 3, Duration::ZERO),
            Err(Stopped::RetriesExhausted)
        );
        let throttled = AttemptFailure::Status {
            status: 429,
            reason_code: ReasonCode::TooManyRequests,
            message: String::new(),
            request_id: None,
            retry_after_secs: Some(11),
        };
        assert_eq!(
            next_delay(&policy, &throttled, 1, Duration::ZERO),
            Err(Stopped::RetryBudgetExhausted)
        );
        let soon = AttemptFailure::Status {
            status: 429,
            reason_code: ReasonCode::TooManyRequests,
            message: String::new(),
            request_id: None,
            retry_after_secs: Some(2),
        };
        assert_eq!(
            next_delay(&policy, &soon, 1, Duration::ZERO),
            Ok(Duration::from_secs(2))
        );
    }
}
