//! The sandbox's IPN sender: delivers Amazon Pay notifications the way Amazon does, through
//! Amazon SNS HTTP/S envelopes signed with a certificate the sandbox generates and serves
//! (SPEC §12; `docs/ipn.md`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), savedwallet_sandbox::ipn::IpnError> {
//! use savedwallet_sandbox::ipn::{IpnConfig, IpnSender};
//! let base = url::Url::parse("http://127.0.0.1:8080").map_err(|e| {
//!     savedwallet_sandbox::ipn::IpnError::InvalidConfig(e.to_string())
//! })?;
//! let ipn = IpnSender::new(IpnConfig::new(base))?;
//! let _routes = ipn.router(); // merge into the sandbox's axum app
//! # Ok(()) }
//! ```

mod cert;
mod dispatch;
mod routes;
mod sender;

pub use cert::SNS_CERT_COMMON_NAME;
pub use dispatch::{DeliveryRecord, DeliveryStatus};
pub use savedwallet_shared::sns::{SignatureVersion, SnsEnvelope, SnsMessageType};
pub use sender::{IpnSender, IpnState, SnsSubscription};

use std::time::Duration;
use url::Url;

/// Path prefix of every route the IPN sender serves.
pub const SNS_ROUTE_PREFIX: &str = "/_sandbox/sns";

/// The `User-Agent` SNS sends.
pub const SNS_USER_AGENT: &str = "Amazon Simple Notification Service Agent";

/// Default topic ARN of the sandbox's simulated Amazon Pay topic.
pub const DEFAULT_TOPIC_ARN: &str = "arn:aws:sns:us-east-1:000000000000:amazon-pay-sandbox";

/// Errors of the IPN sender.
#[derive(Debug, thiserror::Error)]
pub enum IpnError {
    /// A configuration value is out of range.
    #[error("invalid IPN configuration: {0}")]
    InvalidConfig(String),
    /// The endpoint URL cannot receive HTTP POSTs.
    #[error("invalid IPN endpoint: {0}")]
    InvalidEndpoint(String),
    /// A snapshot could not be restored.
    #[error("invalid IPN state: {0}")]
    InvalidState(String),
    /// rcgen could not build the signing certificate.
    #[error("certificate generation failed: {0}")]
    Certificate(#[from] rcgen::Error),
    /// The RSA signature could not be computed.
    #[error("signing failed: {0}")]
    Signing(String),
    /// The Amazon Pay message could not be serialised.
    #[error("serialising the IPN message failed: {0}")]
    Json(#[from] serde_json::Error),
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    HttpClient(String),
    /// `IpnSender` was created outside a tokio runtime.
    #[error("no tokio runtime: IpnSender must be created inside one")]
    NoRuntime,
    /// The background delivery task has stopped.
    #[error("the IPN delivery task has stopped")]
    Stopped,
}

/// SNS-like retry policy: one immediate attempt, then retries with exponential backoff
/// (`min_delay`, doubling, capped at `max_delay`) up to `max_attempts` attempts in total.
/// 2xx = delivered; 4xx = rejected, never retried; anything else (3xx, 5xx, timeout,
/// connection error) is retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts including the first (≥ 1).
    pub max_attempts: u32,
    /// Delay before the first retry.
    pub min_delay: Duration,
    /// Upper bound of any delay.
    pub max_delay: Duration,
    /// Per-attempt HTTP timeout (SNS uses 15 s).
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    /// SNS's default HTTP/S delivery policy: 3 retries, 20 s apart, 15 s timeout.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            min_delay: Duration::from_secs(20),
            max_delay: Duration::from_secs(20),
            request_timeout: Duration::from_secs(15),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt number `attempt` (1-based; attempt 1 has none).
    pub fn delay_before(&self, attempt: u32) -> Duration {
        if attempt <= 1 {
            return Duration::ZERO;
        }
        let doublings = (attempt - 2).min(31);
        self.min_delay
            .saturating_mul(1u32 << doublings)
            .min(self.max_delay)
    }
}

/// Duplicate and out-of-order delivery, switchable while the sender runs
/// ([`IpnSender::set_delivery_faults`], `PUT /_sandbox/ipn-delivery`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeliveryFaults {
    /// Probability (0..=1) that a notification is delivered twice to an endpoint.
    pub duplicate_rate: f64,
    /// Probability (0..=1) that a notification is held back and sent after the next one.
    pub reorder_rate: f64,
    /// Longest time a held-back notification waits for a successor before it is sent anyway.
    pub reorder_max_hold: Duration,
}

impl Default for DeliveryFaults {
    fn default() -> Self {
        DeliveryFaults {
            duplicate_rate: 0.0,
            reorder_rate: 0.0,
            reorder_max_hold: Duration::from_secs(2),
        }
    }
}

impl DeliveryFaults {
    /// Checks the rates are probabilities.
    pub fn validate(&self) -> Result<(), IpnError> {
        for (name, rate) in [
            ("duplicate_rate", self.duplicate_rate),
            ("reorder_rate", self.reorder_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(IpnError::InvalidConfig(format!(
                    "{name} must be within 0..=1"
                )));
            }
        }
        Ok(())
    }
}

/// Configuration of the IPN sender.
#[derive(Debug, Clone)]
pub struct IpnConfig {
    /// The sandbox's own public base URL; `SigningCertURL`, `SubscribeURL` and
    /// `UnsubscribeURL` point below it.
    pub public_base_url: Url,
    /// `TopicArn` of every envelope.
    pub topic_arn: String,
    /// `SignatureVersion` of subscriptions registered without one (default 1).
    pub signature_version: SignatureVersion,
    /// Retries.
    pub retry: RetryPolicy,
    /// Probability (0..=1) that a notification is delivered twice to an endpoint.
    pub duplicate_rate: f64,
    /// Probability (0..=1) that a notification is held back and sent after the next one.
    pub reorder_rate: f64,
    /// Longest time a held-back notification waits for a successor before it is sent anyway.
    pub reorder_max_hold: Duration,
    /// Seed for the duplicate/reorder decisions (deterministic runs); `None` = from the OS.
    pub seed: Option<u64>,
}

impl IpnConfig {
    /// Defaults: topic [`DEFAULT_TOPIC_ARN`], signature version 1 (what SPEC §16 says
    /// Amazon Pay's topics send), SNS default retries, no duplicates, no reordering.
    pub fn new(public_base_url: Url) -> Self {
        let faults = DeliveryFaults::default();
        IpnConfig {
            public_base_url,
            topic_arn: DEFAULT_TOPIC_ARN.to_string(),
            signature_version: SignatureVersion::V1,
            retry: RetryPolicy::default(),
            duplicate_rate: faults.duplicate_rate,
            reorder_rate: faults.reorder_rate,
            reorder_max_hold: faults.reorder_max_hold,
            seed: None,
        }
    }

    /// The delivery faults the sender starts with.
    pub fn delivery_faults(&self) -> DeliveryFaults {
        DeliveryFaults {
            duplicate_rate: self.duplicate_rate,
            reorder_rate: self.reorder_rate,
            reorder_max_hold: self.reorder_max_hold,
        }
    }

    fn validate(&self) -> Result<(), IpnError> {
        let bad = |m: &str| Err(IpnError::InvalidConfig(m.to_string()));
        if !matches!(self.public_base_url.scheme(), "http" | "https")
            || self.public_base_url.cannot_be_a_base()
        {
            return bad("public_base_url must be an http(s) URL");
        }
        if self.topic_arn.is_empty() {
            return bad("topic_arn is empty");
        }
        self.delivery_faults().validate()?;
        if self.retry.max_attempts == 0 {
            return bad("retry.max_attempts must be at least 1");
        }
        Ok(())
    }
}

/// A fresh random `NotificationId` (32 hex digits) for an [`savedwallet_shared::api::IpnMessage`].
pub fn new_notification_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy {
            max_attempts: 10,
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            request_timeout: Duration::from_secs(1),
        };
        let d: Vec<u64> = (1..=6)
            .map(|a| p.delay_before(a).as_millis() as u64)
            .collect();
        assert_eq!(d, vec![0, 10, 20, 40, 50, 50]);
        assert_eq!(p.delay_before(200), Duration::from_millis(50));
    }

    #[test]
    fn config_rejects_bad_values() {
        let base = Url::parse("http://127.0.0.1:1").unwrap();
        assert!(IpnConfig::new(base.clone()).validate().is_ok());
        let mut c = IpnConfig::new(base.clone());
        c.duplicate_rate = 1.5;
        assert!(c.validate().is_err());
        let mut c = IpnConfig::new(base.clone());
        c.reorder_rate = f64::NAN;
        assert!(c.validate().is_err());
        let mut c = IpnConfig::new(base);
        c.retry.max_attempts = 0;
        assert!(c.validate().is_err());
        let c = IpnConfig::new(Url::parse("mailto:a@b").unwrap());
        assert!(c.validate().is_err());
        assert_eq!(
            IpnConfig::new(base_url()).signature_version,
            SignatureVersion::V1
        );
    }

    fn base_url() -> Url {
        Url::parse("http://127.0.0.1:1").unwrap()
    }
}
