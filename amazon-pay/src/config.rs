//! Client configuration: where to send requests, how to sign, time out, retry and pace.

use secrecy::SecretString;
use std::time::Duration;
use url::Url;

use savedwallet_shared::region::{Environment, Region};
use savedwallet_shared::signing::SigningAlgorithm;

use savedwallet_shared::api::operation::RateLimit;
use savedwallet_shared::api::quota::Quotas;

/// Retry policy for transient failures (408/425/429/5xx, timeouts, connection errors).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retrying).
    pub max_retries: u32,
    /// Backoff base: retry n waits a random time in `[0, min(cap, base·2^(n-1))]`.
    pub base_delay: Duration,
    /// Upper bound of one backoff delay (Retry-After may ask for longer).
    pub max_delay: Duration,
    /// Give up when the next wait would end after this much time since the first attempt.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    /// 3 retries (4 attempts, like the official SDKs), base 500 ms, cap 8 s, 30 s total.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_total: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// Full-jitter delay before retry number `retry` (1-based) given a uniform `unit` in [0, 1].
    pub fn backoff(&self, retry: u32, unit: f64) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(retry.saturating_sub(1)));
        let ceiling = exp.min(self.max_delay);
        ceiling.mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// Client-side pacing so a busy caller (a billing run) stays under Amazon's throttling.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Pacing {
    /// No pacing (tests against the simulator, one-off CLI calls).
    Off,
    /// Amazon's documented per-operation limits for the configured environment (SPEC §9).
    #[default]
    AmazonLimits,
    /// Amazon's per-operation shape scaled, with explicit numbers for some operations
    /// (the simulator's throttle takes the same [`Quotas`]): e.g. `Quotas::scaled(10.0)`
    /// paces live Create Charge at burst 100, 40 per second.
    Quotas(Quotas),
    /// The same bucket size for every operation.
    Uniform(RateLimit),
}

/// Per-call limits for a caller that must answer in time (e.g. an API request that has
/// ~25 s while Amazon may take 15 s per Create Charge). Set on a handle with
/// `AmazonPayClient::with_call_options`; the defaults change nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallOptions {
    /// No attempt — the first or a resend — starts unless it can finish (its full
    /// per-attempt timeout) before this instant; stopping for it is reported as
    /// `Error::Unanswered { stopped: Stopped::Deadline, .. }`.
    pub deadline: Option<tokio::time::Instant>,
    /// Per-attempt timeout for these calls instead of `ClientConfig::request_timeout`
    /// (e.g. 17 s for a synchronous Create Charge, 5 s for a Get).
    pub attempt_timeout: Option<Duration>,
}

impl CallOptions {
    /// Options with a deadline `budget` from now and the given per-attempt timeout.
    pub fn within(budget: Duration, attempt_timeout: Duration) -> CallOptions {
        CallOptions {
            deadline: Some(tokio::time::Instant::now() + budget),
            attempt_timeout: Some(attempt_timeout),
        }
    }
}

/// Everything the client needs.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Region (host and `x-amz-pay-region`).
    pub region: Region,
    /// Sandbox or live (path prefix for legacy keys, pacing table).
    pub environment: Environment,
    /// Merchant public key id from Seller Central.
    pub public_key_id: String,
    /// PEM private key (PKCS#8 or PKCS#1); never printed.
    pub private_key_pem: SecretString,
    /// Signing algorithm; V2 unless you must stay on the legacy salt.
    pub algorithm: SigningAlgorithm,
    /// Base URL override (http or https), e.g. the local simulator `http://127.0.0.1:8080`.
    pub endpoint: Option<Url>,
    /// TCP/TLS connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout per attempt. Amazon answers Create Charge within 15 s
    /// (30 s in JP) when `canHandlePendingAuthorization` is false, so keep it above that.
    pub request_timeout: Duration,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Pacing.
    pub pacing: Pacing,
}

impl ClientConfig {
    /// A configuration with the defaults: V2, Amazon's host, 5 s connect, 35 s request
    /// timeout, default retries, Amazon-limit pacing.
    pub fn new(
        region: Region,
        environment: Environment,
        public_key_id: impl Into<String>,
        private_key_pem: SecretString,
    ) -> Self {
        ClientConfig {
            region,
            environment,
            public_key_id: public_key_id.into(),
            private_key_pem,
            algorithm: SigningAlgorithm::V2,
            endpoint: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(35),
            retry: RetryPolicy::default(),
            pacing: Pacing::AmazonLimits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_full_jitter() {
        let p = RetryPolicy {
            max_retries: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
            max_total: Duration::from_secs(5),
        };
        assert_eq!(p.backoff(1, 1.0), Duration::from_millis(100));
        assert_eq!(p.backoff(2, 1.0), Duration::from_millis(200));
        assert_eq!(p.backoff(3, 1.0), Duration::from_millis(350));
        assert_eq!(p.backoff(30, 1.0), Duration::from_millis(350));
        assert_eq!(p.backoff(3, 0.0), Duration::ZERO);
        assert_eq!(p.backoff(2, 0.5), Duration::from_millis(100));
        assert_eq!(p.backoff(2, 7.0), Duration::from_millis(200));
    }

    #[test]
    fn debug_hides_the_key() {
        let c = ClientConfig::new(
            Region::Eu,
            Environment::Sandbox,
            "SANDBOX-X",
            SecretString::from("-----BEGIN PRIVATE KEY-----secret"),
        );
        assert!(!format!("{c:?}").contains("secret"));
    }
}
