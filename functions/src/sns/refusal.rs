//! Why an SNS message was refused, how the HTTP layer should answer it, and the counters
//! of refusals by code. Nothing here holds the message body, its signature or a
//! certificate: every field is a fixed string, a number or a value the verifier made itself.

use parking_lot::Mutex;
use savedwallet_shared::sns::SignatureVersion;
use std::collections::BTreeMap;

macro_rules! url_rules {
    ($($(#[doc = $doc:literal])* $name:ident => $s:literal,)*) => {
        /// The rule of the `SigningCertURL` / `SubscribeURL` check that failed.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum UrlRule {
            $($(#[doc = $doc])* $name,)*
        }

        impl UrlRule {
            /// Every rule, in check order.
            pub const ALL: &'static [UrlRule] = &[$(UrlRule::$name,)*];

            /// Stable snake_case name of the rule.
            pub fn as_str(self) -> &'static str {
                match self { $(UrlRule::$name => $s,)* }
            }

            fn cert_code(self) -> &'static str {
                match self { $(UrlRule::$name => concat!("cert_url_", $s),)* }
            }

            fn subscribe_code(self) -> &'static str {
                match self { $(UrlRule::$name => concat!("subscribe_url_", $s),)* }
            }
        }
    };
}

url_rules! {
    /// Not a URL the `url` crate can parse.
    Unparseable => "unparseable",
    /// The scheme is not `https` (`http:` included).
    NotHttps => "not_https",
    /// Userinfo in the authority (`user@`, `:@`, a bare `@`).
    Userinfo => "userinfo",
    /// An explicit port, `:443` included.
    ExplicitPort => "port",
    /// The host is not `sns.<region>.amazonaws.com[.cn]` (nor, in local mode, the sandbox's origin).
    Host => "host",
    /// Not written the way the URL parser writes it (case, whitespace, escapes, backslashes).
    NotCanonical => "not_canonical",
    /// Certificate: the path does not end with `.pem` (local mode: not below the sandbox's SNS routes).
    Path => "path",
    /// Certificate: a query or fragment; SubscribeURL: a fragment.
    Query => "query",
    /// SubscribeURL: `Action` is not `ConfirmSubscription` or `TopicArn` is not the envelope's topic.
    ConfirmQuery => "confirm_query",
}

/// Why a GET of a certificate or SubscribeURL failed (no URL, no body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// No answer within the timeout.
    #[error("timed out")]
    Timeout,
    /// The connection (TCP or TLS) could not be made.
    #[error("connection failed")]
    Connect,
    /// The request or the answer broke off.
    #[error("transport error")]
    Transport,
    /// A non-2xx answer (redirects are not followed).
    #[error("HTTP status {0}")]
    Status(u16),
    /// The answer was larger than the bound.
    #[error("answer larger than {0} bytes")]
    TooLarge(usize),
    /// The HTTP client refused the request or could not be built.
    #[error("request refused by the HTTP client")]
    Client,
}

impl FetchError {
    /// Whether trying again later may succeed (network, timeout, 408/429/5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Timeout | FetchError::Connect | FetchError::Transport => true,
            FetchError::Status(status) => *status >= 500 || matches!(*status, 408 | 429),
            FetchError::TooLarge(_) | FetchError::Client => false,
        }
    }
}

/// How the HTTP layer answers a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalClass {
    /// 400: not an SNS envelope we can read. SNS does not retry a 4xx.
    BadRequest,
    /// 403: readable, but not proven to come from an allowed SNS topic.
    Forbidden,
    /// 503: could not be decided now; SNS retries a 5xx.
    Unavailable,
}

impl RefusalClass {
    /// The HTTP status to answer: 400, 403 or 503.
    pub fn http_status(self) -> u16 {
        match self {
            RefusalClass::BadRequest => 400,
            RefusalClass::Forbidden => 403,
            RefusalClass::Unavailable => 503,
        }
    }
}

/// Why an SNS message (or a subscription confirmation) was refused. Every reason is
/// distinct; [`SnsRefusal::code`] names it for metrics and logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnsRefusal {
    /// The body is over the configured bound (refused before parsing).
    #[error("SNS body is larger than {limit} bytes")]
    TooLarge {
        /// The bound, in bytes.
        limit: usize,
    },
    /// Not JSON, not an object, or a field missing or of the wrong type.
    #[error("SNS body is not a valid envelope: {what}")]
    Malformed {
        /// Which part is wrong (a fixed text, never the input).
        what: &'static str,
    },
    /// `Type` is not `Notification`, `SubscriptionConfirmation` or `UnsubscribeConfirmation`.
    #[error("SNS message Type is unknown")]
    UnknownType,
    /// `SignatureVersion` is not `1` or `2`.
    #[error("SNS SignatureVersion is not 1 or 2")]
    UnsupportedSignatureVersion,
    /// `SignatureVersion` is supported but below the topic's configured minimum.
    #[error("SNS SignatureVersion {got} is below the topic's minimum {minimum}")]
    SignatureVersionBelowMinimum {
        /// The envelope's version.
        got: SignatureVersion,
        /// The topic's minimum.
        minimum: SignatureVersion,
    },
    /// `TopicArn` is not on the allow list (logged at warn with the ARN, see the docs).
    #[error("SNS topic is not on the allow list")]
    TopicNotAllowed {
        /// The refused ARN, shortened and stripped of control characters for logs.
        topic_arn: String,
    },
    /// `SigningCertURL` failed a rule; nothing was fetched.
    #[error("SigningCertURL refused by rule {}", rule.as_str())]
    CertUrlRefused {
        /// The rule that failed.
        rule: UrlRule,
    },
    /// `SubscribeURL` of a confirmation failed a rule; nothing was fetched.
    #[error("SubscribeURL refused by rule {}", rule.as_str())]
    SubscribeUrlRefused {
        /// The rule that failed.
        rule: UrlRule,
    },
    /// The certificate could not be fetched now (network, timeout, 5xx): the only transient reason.
    #[error("signing certificate could not be fetched: {cause}")]
    CertFetchFailed {
        /// What went wrong.
        cause: FetchError,
    },
    /// The certificate host answered but served no certificate (4xx, redirect, too large).
    #[error("signing certificate is not served at its URL: {cause}")]
    CertNotServed {
        /// What the host answered.
        cause: FetchError,
    },
    /// What was served is not a PEM X.509 certificate with a usable RSA key.
    #[error("signing certificate is unusable: {reason}")]
    CertUnusable {
        /// Why (a fixed text).
        reason: &'static str,
    },
    /// The signature is not base64 or does not verify over the string to sign.
    #[error("SNS signature does not verify")]
    BadSignature,
    /// A verified Notification whose `Message` is not an Amazon Pay IPN object.
    #[error("SNS Message is not an Amazon Pay IPN: {what}")]
    NotAnIpn {
        /// What is wrong (a fixed text).
        what: &'static str,
    },
    /// A verified Amazon Pay IPN whose `NotificationVersion` is present and not `V2`.
    #[error("Amazon Pay NotificationVersion is not V2")]
    IpnVersionUnsupported,
    /// `confirm_subscription` was given an UnsubscribeConfirmation.
    #[error("not a SubscriptionConfirmation")]
    NotASubscriptionConfirmation,
    /// The GET of a validated SubscribeURL failed.
    #[error("SubscribeURL GET failed: {cause}")]
    ConfirmFailed {
        /// What went wrong.
        cause: FetchError,
    },
}

impl SnsRefusal {
    /// Stable snake_case code for metrics, logs and error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            SnsRefusal::TooLarge { .. } => "too_large",
            SnsRefusal::Malformed { .. } => "malformed",
            SnsRefusal::UnknownType => "unknown_type",
            SnsRefusal::UnsupportedSignatureVersion => "unsupported_signature_version",
            SnsRefusal::SignatureVersionBelowMinimum { .. } => "signature_version_below_minimum",
            SnsRefusal::TopicNotAllowed { .. } => "topic_not_allowed",
            SnsRefusal::CertUrlRefused { rule } => rule.cert_code(),
            SnsRefusal::SubscribeUrlRefused { rule } => rule.subscribe_code(),
            SnsRefusal::CertFetchFailed { .. } => "cert_fetch_failed",
            SnsRefusal::CertNotServed { .. } => "cert_not_served",
            SnsRefusal::CertUnusable { .. } => "cert_unusable",
            SnsRefusal::BadSignature => "bad_signature",
            SnsRefusal::NotAnIpn { .. } => "not_an_ipn",
            SnsRefusal::IpnVersionUnsupported => "ipn_version_unsupported",
            SnsRefusal::NotASubscriptionConfirmation => "not_a_subscription_confirmation",
            SnsRefusal::ConfirmFailed { .. } => "confirm_failed",
        }
    }

    /// How the HTTP layer answers it (400, 403 or 503).
    pub fn class(&self) -> RefusalClass {
        match self {
            SnsRefusal::TooLarge { .. }
            | SnsRefusal::Malformed { .. }
            | SnsRefusal::UnknownType
            | SnsRefusal::UnsupportedSignatureVersion
            | SnsRefusal::NotAnIpn { .. }
            | SnsRefusal::IpnVersionUnsupported
            | SnsRefusal::NotASubscriptionConfirmation => RefusalClass::BadRequest,
            SnsRefusal::SignatureVersionBelowMinimum { .. }
            | SnsRefusal::TopicNotAllowed { .. }
            | SnsRefusal::CertUrlRefused { .. }
            | SnsRefusal::SubscribeUrlRefused { .. }
            | SnsRefusal::CertNotServed { .. }
            | SnsRefusal::CertUnusable { .. }
            | SnsRefusal::BadSignature => RefusalClass::Forbidden,
            SnsRefusal::CertFetchFailed { .. } => RefusalClass::Unavailable,
            SnsRefusal::ConfirmFailed { cause } => {
                if cause.is_transient() {
                    RefusalClass::Unavailable
                } else {
                    RefusalClass::Forbidden
                }
            }
        }
    }

    /// Whether SNS should retry (answer 5xx): a certificate that could not be fetched now,
    /// or a SubscribeURL GET that failed for a reason that may pass.
    pub fn is_transient(&self) -> bool {
        self.class() == RefusalClass::Unavailable
    }
}

/// Where refusals are counted (the lead wires CloudWatch EMF behind it).
pub trait RefusalMetrics: Send + Sync {
    /// One refusal with this [`SnsRefusal::code`].
    fn refused(&self, code: &'static str);
}

/// Plain in-memory counters of refusals by code.
#[derive(Debug, Default)]
pub struct RefusalCounters {
    counts: Mutex<BTreeMap<&'static str, u64>>,
}

impl RefusalCounters {
    /// How many refusals had this code.
    pub fn get(&self, code: &str) -> u64 {
        self.counts.lock().get(code).copied().unwrap_or(0)
    }

    /// All counts by code.
    pub fn snapshot(&self) -> BTreeMap<&'static str, u64> {
        self.counts.lock().clone()
    }
}

impl RefusalMetrics for RefusalCounters {
    fn refused(&self, code: &'static str) {
        *self.counts.lock().entry(code).or_insert(0) += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn url_rule_codes_are_distinct_snake_case() {
        let mut seen = HashSet::new();
        for rule in UrlRule::ALL {
            for code in [rule.cert_code(), rule.subscribe_code()] {
                assert!(code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
                assert!(seen.insert(code), "{code} twice");
            }
        }
        assert_eq!(
            SnsRefusal::CertUrlRefused {
                rule: UrlRule::ExplicitPort
            }
            .code(),
            "cert_url_port"
        );
    }

    #[test]
    fn only_fetch_failures_are_transient() {
        let fetch = |cause| SnsRefusal::CertFetchFailed { cause };
        assert!(fetch(FetchError::Timeout).is_transient());
        assert!(!SnsRefusal::CertNotServed {
            cause: FetchError::Status(404)
        }
        .is_transient());
        assert!(!SnsRefusal::BadSignature.is_transient());
        assert_eq!(SnsRefusal::BadSignature.class().http_status(), 403);
        assert_eq!(SnsRefusal::UnknownType.class().http_status(), 400);
        assert!(FetchError::Status(503).is_transient());
        assert!(FetchError::Status(429).is_transient());
        assert!(!FetchError::Status(404).is_transient());
        assert!(!FetchError::Status(302).is_transient());
    }

    #[test]
    fn counters_count_by_code() {
        let c = RefusalCounters::default();
        c.refused("bad_signature");
        c.refused("bad_signature");
        c.refused("malformed");
        assert_eq!(c.get("bad_signature"), 2);
        assert_eq!(c.get("too_large"), 0);
        assert_eq!(c.snapshot().len(), 2);
    }
}
