//! The client's error type, and what a failed call means for the caller: nothing sent,
//! outcome unknown, declined, or failed (docs/client.md "Errors").

use std::fmt;

use savedwallet_shared::api::{Operation, ReasonCode, ValidationError};
use savedwallet_shared::decline::ChargeOutcome;
use savedwallet_shared::idempotency::IdempotencyKeyError;
use savedwallet_shared::signing::SigningError;

/// Why an Amazon Pay call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Amazon's answer to a payment request (Create Charge, Capture Charge, Create Refund,
    /// Complete Checkout Session) — a decline, or a refusal of the request itself — that
    /// only the caller can act on: sent once, never resent here. Feed it to
    /// `shared::decline` with [`Error::charge_outcome`].
    #[error("Amazon Pay declined ({status} {reason_code}): {message}")]
    Declined {
        /// HTTP status (422, 400, …; 500 for `ProcessingFailure`).
        status: u16,
        /// Amazon's reason code.
        reason_code: ReasonCode,
        /// Amazon's human-readable message (may quote buyer data: do not log it).
        message: String,
        /// Amazon's `x-amz-pay-request-id`, when present.
        request_id: Option<String>,
    },
    /// Amazon answered with an error to give up on: an error of an operation without
    /// declines (Get, Update, Close, Cancel), or a status nobody expects (a redirect, 501,
    /// a 4xx without a JSON reason code). For a non-JSON body the reason code is derived
    /// from the status and `message` is a short excerpt of the body.
    #[error("Amazon Pay answered {status} {reason_code}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Amazon's reason code.
        reason_code: ReasonCode,
        /// Amazon's human-readable message.
        message: String,
        /// Amazon's `x-amz-pay-request-id`, when present.
        request_id: Option<String>,
        /// `Retry-After` in seconds, when the response carried one.
        retry_after_secs: Option<u64>,
    },
    /// No definitive answer: every attempt timed out, lost its connection or got a
    /// resendable status, and then the retries, the retry budget or the caller's deadline
    /// ran out. `delivery` says whether Amazon may have received the request; resending
    /// the same key and body later is always safe.
    #[error("no definitive answer from Amazon Pay after {attempts} attempt(s), {stopped}; {delivery}{}", last_text(.last))]
    Unanswered {
        /// Whether any attempt may have reached Amazon.
        delivery: Delivery,
        /// Why no further attempt was made.
        stopped: Stopped,
        /// Attempts sent (0 when the deadline left no room for even one).
        attempts: u32,
        /// What the last attempt got.
        last: Option<AttemptFailure>,
    },
    /// A success response whose body could not be decoded.
    #[error("cannot decode Amazon Pay response (HTTP {status}): {message}")]
    Decode {
        /// HTTP status.
        status: u16,
        /// What went wrong (where, never the offending value).
        message: String,
    },
    /// Invalid client configuration (endpoint, timeouts, …).
    #[error("invalid Amazon Pay client configuration: {0}")]
    Config(String),
    /// The private key could not be loaded.
    #[error("invalid private key: {0}")]
    InvalidKey(String),
    /// The request is invalid; nothing was sent.
    #[error("invalid request: {0}")]
    InvalidRequest(#[from] RequestError),
    /// Canonicalisation or signing failed; nothing was sent.
    #[error("signing failed: {0}")]
    Signing(#[from] SigningError),
}

/// Why a request was refused before anything was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// A path id outside `A-Z a-z 0-9 - _ .` or longer than 128 characters.
    #[error("resource id must be 1-128 characters of A-Z a-z 0-9 - _ .")]
    InvalidResourceId,
    /// The operation's path needs an id.
    #[error("{0} needs a resource id")]
    MissingResourceId(Operation),
    /// The operation's path has no id.
    #[error("{0} takes no resource id")]
    UnexpectedResourceId(Operation),
    /// A POST without an idempotency key.
    #[error("{0} needs an idempotency key")]
    MissingIdempotencyKey(Operation),
    /// The idempotency key breaks Amazon's rule (≤ 32 of `A-Z a-z 0-9 - _`).
    #[error("invalid idempotency key: {0}")]
    InvalidIdempotencyKey(#[from] IdempotencyKeyError),
    /// A body for a GET.
    #[error("{0} takes no body")]
    UnexpectedBody(Operation),
    /// A simulation code outside 1–64 of `A-Z a-z 0-9 _ -`.
    #[error("simulation code must be 1-64 characters of A-Z a-z 0-9 _ -")]
    InvalidSimulationCode,
    /// The typed body could not be serialised.
    #[error("cannot serialise the request body")]
    Serialize,
    /// Stored body bytes that are not a request of this operation (where, never a value).
    #[error("the body is not a {op} request: {problem}")]
    NotARequest {
        /// The operation.
        op: Operation,
        /// What is wrong and where.
        problem: String,
    },
    /// A field Amazon would refuse (SPEC §0): see [`ValidationError`].
    #[error(transparent)]
    Invalid(#[from] ValidationError),
}

impl From<ValidationError> for Error {
    fn from(e: ValidationError) -> Self {
        Error::InvalidRequest(RequestError::Invalid(e))
    }
}

/// What one attempt got when it got no definitive answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttemptFailure {
    /// A resendable status (408, 425, 429, 502, 503, 504, a 500 without a reason code
    /// or with a transient one).
    #[error("HTTP {status} {reason_code}: {message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// Amazon's reason code (derived from the status for non-JSON bodies).
        reason_code: ReasonCode,
        /// Amazon's message, or an excerpt of a non-JSON body.
        message: String,
        /// Amazon's `x-amz-pay-request-id`, when present.
        request_id: Option<String>,
        /// `Retry-After` in seconds, when present.
        retry_after_secs: Option<u64>,
    },
    /// The attempt timed out; `connecting`: before a connection existed (nothing sent).
    #[error("timed out{}", if *.connecting { " while connecting" } else { "" })]
    Timeout {
        /// True when no connection had been made yet.
        connecting: bool,
    },
    /// The connection failed or broke; `connecting`: before the request was written.
    #[error("connection failed: {message}")]
    Connection {
        /// The cause chain (no headers, no bodies).
        message: String,
        /// True when the failure happened while connecting.
        connecting: bool,
    },
}

impl AttemptFailure {
    /// False only when the request surely never left this machine.
    pub fn may_have_reached_amazon(&self) -> bool {
        match self {
            AttemptFailure::Status { .. } => true,
            AttemptFailure::Timeout { connecting }
            | AttemptFailure::Connection { connecting, .. } => !connecting,
        }
    }
}

/// Whether Amazon may have received a request that got no definitive answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// No attempt left this machine (every one failed while connecting, or none started).
    NotSent,
    /// Some attempt may have reached Amazon: it may have acted. Replay the same key and
    /// body to learn what happened (Amazon returns the stored first answer).
    OutcomeUnknown,
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Delivery::NotSent => "nothing reached Amazon",
            Delivery::OutcomeUnknown => "outcome unknown: replay the same idempotency key",
        })
    }
}

/// Why the client stopped resending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stopped {
    /// `RetryPolicy::max_retries` resends were made.
    RetriesExhausted,
    /// The next wait would end after `RetryPolicy::max_total` (a long `Retry-After` too).
    RetryBudgetExhausted,
    /// The caller's deadline: the next attempt could not have finished before it.
    Deadline,
}

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Stopped {
    /// A stable phrase for logs (`gave_up` field).
    pub fn as_str(self) -> &'static str {
        match self {
            Stopped::RetriesExhausted => "retries exhausted",
            Stopped::RetryBudgetExhausted => "retry budget exhausted",
            Stopped::Deadline => "deadline reached",
        }
    }
}

fn last_text(last: &Option<AttemptFailure>) -> String {
    last.as_ref()
        .map(|l| format!("; last attempt: {l}"))
        .unwrap_or_default()
}

/// What a failed call means for the caller, in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Nothing reached Amazon: an invalid request or configuration, connect failures only,
    /// or a deadline that left no room for an attempt.
    NotSent,
    /// Amazon may have acted and no readable answer came back: replay the same idempotency
    /// key and body (never a new key) to learn the outcome.
    Unknown,
    /// Amazon decided about the payment: see [`Error::Declined`].
    Declined,
    /// Amazon answered with an error that is no decline: give up (and alert).
    Failed,
}

impl Error {
    /// What the failure means for the caller (docs/client.md "Errors").
    pub fn outcome(&self) -> Outcome {
        match self {
            Error::Declined { .. } => Outcome::Declined,
            Error::Api { .. } => Outcome::Failed,
            Error::Unanswered {
                delivery: Delivery::NotSent,
                ..
            } => Outcome::NotSent,
            // A 2xx we cannot read: Amazon acted, so only a same-key replay is safe.
            Error::Unanswered { .. } | Error::Decode { .. } => Outcome::Unknown,
            Error::Config(_)
            | Error::InvalidKey(_)
            | Error::InvalidRequest(_)
            | Error::Signing(_) => Outcome::NotSent,
        }
    }

    /// The Create Charge outcome for `shared::decline::decide`: a decline with its reason
    /// code; any other error answer with its status only (for Create Charge that is a status
    /// the classification gives up on, whose reason code, if any, was derived from the
    /// status, not sent by Amazon); `Transport` (replay the same key) when the outcome is
    /// unknown or nothing was sent; `None` for a request that could not be made at all.
    pub fn charge_outcome(&self) -> Option<ChargeOutcome> {
        match self {
            Error::Declined {
                status,
                reason_code,
                ..
            } => Some(ChargeOutcome::ApiError {
                status: *status,
                reason_code: reason_code.clone(),
            }),
            Error::Api { status, .. } => Some(ChargeOutcome::ApiError {
                status: *status,
                reason_code: ReasonCode::Unknown(String::new()),
            }),
            Error::Unanswered { .. } | Error::Decode { .. } => Some(ChargeOutcome::Transport),
            Error::Config(_)
            | Error::InvalidKey(_)
            | Error::InvalidRequest(_)
            | Error::Signing(_) => None,
        }
    }

    /// True when resending the same request (same idempotency key, same body) later is
    /// needed to learn the outcome: the call got no definitive answer.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Unanswered { .. })
    }

    /// Amazon's reason code (of the last attempt, for an unanswered call).
    pub fn reason_code(&self) -> Option<&ReasonCode> {
        match self {
            Error::Declined { reason_code, .. } | Error::Api { reason_code, .. } => {
                Some(reason_code)
            }
            Error::Unanswered {
                last: Some(AttemptFailure::Status { reason_code, .. }),
                ..
            } => Some(reason_code),
            _ => None,
        }
    }

    /// HTTP status (of the last attempt, for an unanswered call).
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Declined { status, .. }
            | Error::Api { status, .. }
            | Error::Decode { status, .. }
            | Error::Unanswered {
                last: Some(AttemptFailure::Status { status, .. }),
                ..
            } => Some(*status),
            _ => None,
        }
    }

    /// Amazon's request id (of the last attempt, for an unanswered call).
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Declined { request_id, .. }
            | Error::Api { request_id, .. }
            | Error::Unanswered {
                last: Some(AttemptFailure::Status { request_id, .. }),
                ..
            } => request_id.as_deref(),
            _ => None,
        }
    }
}

/// A non-success body read as far as classification and errors need it.
pub(crate) struct ErrorBody {
    /// The JSON body's `reasonCode`, if it had one.
    pub json_code: Option<ReasonCode>,
    /// The reason code for errors: the JSON one, or one derived from the status.
    pub reason_code: ReasonCode,
    /// Amazon's message, or an excerpt of a non-JSON body.
    pub message: String,
}

/// Reads a non-success response body (JSON or not).
pub(crate) fn error_body(status: u16, body: &[u8]) -> ErrorBody {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Body {
        reason_code: Option<String>,
        #[serde(default)]
        message: Option<String>,
    }
    let parsed = serde_json::from_slice::<Body>(body)
        .ok()
        .and_then(|b| b.reason_code.map(|rc| (rc, b.message.unwrap_or_default())))
        .filter(|(rc, _)| !rc.is_empty());
    match parsed {
        Some((rc, message)) => {
            let code = ReasonCode::parse(&rc);
            ErrorBody {
                json_code: Some(code.clone()),
                reason_code: code,
                message,
            }
        }
        None => ErrorBody {
            json_code: None,
            reason_code: reason_for_status(status),
            message: excerpt(body),
        },
    }
}

/// Reason code used when the body carries none (gateway errors, HTML pages).
fn reason_for_status(status: u16) -> ReasonCode {
    let name = match status {
        408 => "RequestTimeout",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => return ReasonCode::Unknown(format!("HTTP{status}")),
    };
    ReasonCode::parse(name)
}

/// A short, single-line, printable excerpt of a non-JSON body.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    one_line.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_error_bodies() {
        let b = error_body(
            422,
            br#"{"reasonCode":"SoftDeclined","message":"try later"}"#,
        );
        assert_eq!(b.json_code, Some(ReasonCode::SoftDeclined));
        assert_eq!(b.reason_code, ReasonCode::SoftDeclined);
        assert_eq!(b.message, "try later");
        let b = error_body(400, br#"{"reasonCode":"","message":"x"}"#);
        assert_eq!(b.json_code, None, "an empty code is no code");
    }

    #[test]
    fn non_json_bodies() {
        let b = error_body(502, b"<html>\n<b>Bad Gateway</b></html>");
        assert_eq!(b.json_code, None);
        assert_eq!(b.reason_code.as_str(), "BadGateway");
        assert_eq!(b.message, "<html> <b>Bad Gateway</b></html>");
        assert_eq!(error_body(418, b"").reason_code.as_str(), "HTTP418");
        let b = error_body(503, br#"{"unexpected":true}"#);
        assert_eq!(b.reason_code, ReasonCode::ServiceUnavailable);
        assert_eq!(b.json_code, None);
    }

    #[test]
    fn outcomes_and_accessors() {
        let declined = Error::Declined {
            status: 500,
            reason_code: ReasonCode::ProcessingFailure,
            message: "m".into(),
            request_id: Some("rid".into()),
        };
        assert_eq!(declined.outcome(), Outcome::Declined);
        assert!(!declined.is_retryable());
        assert_eq!(
            declined.charge_outcome(),
            Some(ChargeOutcome::ApiError {
                status: 500,
                reason_code: ReasonCode::ProcessingFailure
            })
        );
        let lost = Error::Unanswered {
            delivery: Delivery::OutcomeUnknown,
            stopped: Stopped::Deadline,
            attempts: 1,
            last: Some(AttemptFailure::Status {
                status: 503,
                reason_code: ReasonCode::ServiceUnavailable,
                message: String::new(),
                request_id: Some("r503".into()),
                retry_after_secs: None,
            }),
        };
        assert_eq!(lost.outcome(), Outcome::Unknown);
        assert!(lost.is_retryable());
        assert_eq!(
            (lost.status(), lost.request_id()),
            (Some(503), Some("r503"))
        );
        assert_eq!(lost.charge_outcome(), Some(ChargeOutcome::Transport));
        let refused = Error::Unanswered {
            delivery: Delivery::NotSent,
            stopped: Stopped::RetriesExhausted,
            attempts: 2,
            last: Some(AttemptFailure::Connection {
                message: "refused".into(),
                connecting: true,
            }),
        };
        assert_eq!(refused.outcome(), Outcome::NotSent);
        assert_eq!(refused.status(), None);
        assert_eq!(
            refused.to_string(),
            "no definitive answer from Amazon Pay after 2 attempt(s), retries exhausted; \
             nothing reached Amazon; last attempt: connection failed: refused"
        );
        // A 400 without a JSON reason code: no decline code reaches the decline table.
        let html_400 = Error::Api {
            status: 400,
            reason_code: error_body(400, b"<html>").reason_code,
            message: String::new(),
            request_id: None,
            retry_after_secs: None,
        };
        assert_eq!(html_400.outcome(), Outcome::Failed);
        assert_eq!(
            html_400.charge_outcome(),
            Some(ChargeOutcome::ApiError {
                status: 400,
                reason_code: ReasonCode::Unknown(String::new())
            })
        );
        let bad = Error::from(ValidationError::SoftDescriptorWithoutCaptureNow);
        assert_eq!(bad.outcome(), Outcome::NotSent);
        assert_eq!(bad.charge_outcome(), None);
        assert_eq!(
            AttemptFailure::Timeout { connecting: true }.to_string(),
            "timed out while connecting"
        );
        assert!(!AttemptFailure::Timeout { connecting: true }.may_have_reached_amazon());
        assert!(AttemptFailure::Timeout { connecting: false }.may_have_reached_amazon());
    }
}
