//! The client's error type.

use savedwallet_shared::api::ReasonCode;
use savedwallet_shared::signing::SigningError;

/// Why an Amazon Pay call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Amazon answered with a non-success status. For JSON error bodies `reason_code` and
    /// `message` are Amazon's; for non-JSON bodies (502/504 from a gateway) the reason code
    /// is derived from the status and `message` is a short excerpt of the body.
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
    /// The request (connect or whole request) exceeded its timeout.
    #[error("request to Amazon Pay timed out")]
    Timeout,
    /// Connection-level failure (refused, reset, TLS, DNS…).
    #[error("transport error talking to Amazon Pay: {0}")]
    Transport(String),
    /// A success response whose body could not be decoded.
    #[error("cannot decode Amazon Pay response (HTTP {status}): {message}")]
    Decode {
        /// HTTP status.
        status: u16,
        /// What went wrong.
        message: String,
    },
    /// Invalid client configuration (endpoint, timeouts, …).
    #[error("invalid Amazon Pay client configuration: {0}")]
    Config(String),
    /// The private key could not be loaded.
    #[error("invalid private key: {0}")]
    InvalidKey(String),
    /// The request itself is invalid before anything was sent (bad id, idempotency key, body).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Canonicalisation or signing failed.
    #[error("signing failed: {0}")]
    Signing(#[from] SigningError),
}

/// HTTP statuses worth retrying (SPEC §7): transient by definition, never a decision.
pub const RETRYABLE_STATUSES: [u16; 7] = [408, 425, 429, 500, 502, 503, 504];

impl Error {
    /// True when the same request (same idempotency key) may be sent again.
    /// 4xx declines (422 SoftDeclined/HardDeclined…) are business decisions, never retried here.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api { status, .. } => RETRYABLE_STATUSES.contains(status),
            Error::Timeout | Error::Transport(_) => true,
            _ => false,
        }
    }

    /// Amazon's reason code for API errors.
    pub fn reason_code(&self) -> Option<&ReasonCode> {
        match self {
            Error::Api { reason_code, .. } => Some(reason_code),
            _ => None,
        }
    }

    /// HTTP status for API errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Amazon's request id for API errors.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }
}

/// Builds an [`Error::Api`] from a non-success response body (JSON or not).
pub(crate) fn api_error(
    status: u16,
    body: &[u8],
    request_id: Option<String>,
    retry_after_secs: Option<u64>,
) -> Error {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Body {
        reason_code: Option<String>,
        #[serde(default)]
        message: Option<String>,
    }
    let parsed = serde_json::from_slice::<Body>(body)
        .ok()
        .and_then(|b| b.reason_code.map(|rc| (rc, b.message.unwrap_or_default())));
    let (reason_code, message) = match parsed {
        Some((rc, msg)) => (ReasonCode::parse(&rc), msg),
        None => (reason_for_status(status), excerpt(body)),
    };
    Error::Api {
        status,
        reason_code,
        message,
        request_id,
        retry_after_secs,
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
    fn json_error_body() {
        let e = api_error(
            422,
            br#"{"reasonCode":"SoftDeclined","message":"try later"}"#,
            Some("rid".into()),
            None,
        );
        assert_eq!(e.reason_code(), Some(&ReasonCode::SoftDeclined));
        assert_eq!(e.status(), Some(422));
        assert_eq!(e.request_id(), Some("rid"));
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("try later"));
    }

    #[test]
    fn non_json_bodies() {
        let e = api_error(502, b"<html>\n<b>Bad Gateway</b></html>", None, None);
        assert_eq!(e.reason_code().map(|r| r.as_str()), Some("BadGateway"));
        assert!(e.is_retryable());
        match &e {
            Error::Api { message, .. } => assert_eq!(message, "<html> <b>Bad Gateway</b></html>"),
            _ => unreachable!(),
        }
        let e = api_error(418, b"", None, None);
        assert_eq!(e.reason_code().map(|r| r.as_str()), Some("HTTP418"));
        assert!(!e.is_retryable());
        let e = api_error(503, br#"{"unexpected":true}"#, None, None);
        assert_eq!(e.reason_code(), Some(&ReasonCode::ServiceUnavailable));
    }

    #[test]
    fn retryable_table() {
        for s in [408, 425, 429, 500, 502, 503, 504] {
            assert!(api_error(s, b"", None, None).is_retryable(), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 422] {
            assert!(!api_error(s, b"", None, None).is_retryable(), "{s}");
        }
        assert!(Error::Timeout.is_retryable());
        assert!(Error::Transport("reset".into()).is_retryable());
        assert!(!Error::InvalidKey("x".into()).is_retryable());
    }
}
