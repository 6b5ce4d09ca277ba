//! Verification of Amazon Pay IPNs delivered by Amazon SNS over HTTP(S) (SPEC §12, §16).
//!
//! [`SnsVerifier::verify`] takes the raw body and either proves it came from an allowed SNS
//! topic — returning a [`VerifiedSns`] — or says why not ([`SnsRefusal`], with a stable
//! `code()` and `is_transient()`). The steps, in order, stop at the first failure:
//!
//! 1. size bound, JSON envelope (`shared::sns::SnsEnvelope`, Lambda spellings accepted),
//!    `Type`, `SignatureVersion` ∈ {1, 2}, `Timestamp`;
//! 2. `TopicArn` on the allow list (a refused ARN is logged at warn *with* the ARN), the
//!    topic's minimum `SignatureVersion`;
//! 3. `SigningCertURL` (and a confirmation's `SubscribeURL`) against the URL rules — all of
//!    this before any outbound request;
//! 4. the certificate, fetched once per URL through a [`CertSource`] and cached;
//! 5. the RSA signature over `shared::sns`'s string to sign;
//! 6. for a Notification, its `Message` as an Amazon Pay [`IpnMessage`] (`V2`).
//!
//! See `docs/ipn-verification.md` for configuration, the `local-sns` feature and the
//! HTTP status of each refusal.

mod cert;
mod config;
mod refusal;
mod url_rules;
mod verify;

pub use cert::{CertSource, HttpsCertSource};
pub use config::{
    SnsConfig, SnsConfigError, DEFAULT_FETCH_TIMEOUT, DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CERT_BYTES, ENV_ALLOWED_TOPICS, ENV_MIN_SIGNATURE_VERSION,
};
pub use refusal::{FetchError, RefusalClass, RefusalCounters, RefusalMetrics, SnsRefusal, UrlRule};
pub use savedwallet_shared::sns::{SignatureVersion, SnsMessageType};

use chrono::{DateTime, Utc};
use savedwallet_shared::api::IpnMessage;
use std::fmt;
use std::sync::Arc;
use url::Url;

/// A message proven to come from an allowed SNS topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifiedSns {
    /// An Amazon Pay IPN.
    Notification(SnsNotification),
    /// SNS asks this endpoint to confirm a subscription ([`SnsVerifier::confirm_subscription`]).
    SubscriptionConfirmation(SnsConfirmation),
    /// SNS says this endpoint was unsubscribed (nothing to do but answer 200).
    UnsubscribeConfirmation(SnsConfirmation),
}

/// A verified Notification carrying an Amazon Pay IPN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsNotification {
    /// SNS `MessageId` (the same for every retry and duplicate of one publish).
    pub message_id: String,
    /// The allowed topic it came from.
    pub topic_arn: String,
    /// SNS `Timestamp`: when SNS published it.
    pub timestamp: DateTime<Utc>,
    /// The version it was signed with.
    pub signature_version: SignatureVersion,
    /// The Amazon Pay message (dedupe by `notification_id`, then fetch the object).
    pub ipn: IpnMessage,
}

/// A verified SubscriptionConfirmation or UnsubscribeConfirmation. Only the verifier makes
/// one, so holding it proves the signature and the URL rules passed.
#[derive(Clone, PartialEq, Eq)]
pub struct SnsConfirmation {
    kind: SnsMessageType,
    message_id: String,
    topic_arn: String,
    timestamp: DateTime<Utc>,
    signature_version: SignatureVersion,
    subscribe_url: Url,
}

impl SnsConfirmation {
    /// `SubscriptionConfirmation` or `UnsubscribeConfirmation`.
    pub fn kind(&self) -> SnsMessageType {
        self.kind
    }

    /// SNS `MessageId`.
    pub fn message_id(&self) -> &str {
        &self.message_id
    }

    /// The allowed topic.
    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }

    /// SNS `Timestamp`.
    pub fn timestamp(&self) -> DateTime<Utc> {
        self.timestamp
    }

    /// The version it was signed with.
    pub fn signature_version(&self) -> SignatureVersion {
        self.signature_version
    }

    /// The validated `SubscribeURL` (its query holds the confirmation token: do not log it).
    pub fn subscribe_url(&self) -> &Url {
        &self.subscribe_url
    }
}

impl fmt::Debug for SnsConfirmation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The SubscribeURL's query carries the token: print its origin and path only.
        f.debug_struct("SnsConfirmation")
            .field("kind", &self.kind)
            .field("message_id", &self.message_id)
            .field("topic_arn", &self.topic_arn)
            .field("timestamp", &self.timestamp)
            .field("signature_version", &self.signature_version)
            .field(
                "subscribe_url",
                &format_args!(
                    "{}{}",
                    self.subscribe_url.origin().ascii_serialization(),
                    self.subscribe_url.path()
                ),
            )
            .finish()
    }
}

/// Verifies SNS bodies (see the module docs). Cheap to share behind an `Arc`; the
/// certificate cache lives as long as the verifier (one per warm Lambda container).
pub struct SnsVerifier {
    config: SnsConfig,
    source: Arc<dyn CertSource>,
    cache: cert::CertCache,
    metrics: Arc<dyn RefusalMetrics>,
}

impl fmt::Debug for SnsVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnsVerifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The default metrics sink: counts nothing (refusals are still logged).
struct NoMetrics;

impl RefusalMetrics for NoMetrics {
    fn refused(&self, _code: &'static str) {}
}

impl SnsVerifier {
    /// A verifier fetching over HTTPS ([`HttpsCertSource`]; in local mode plain http to
    /// the loopback sandbox). Refusals are logged; [`SnsVerifier::with_metrics`] counts them.
    pub fn new(config: SnsConfig) -> Self {
        #[cfg(feature = "local-sns")]
        let source = if config.accepts_local_sandbox() {
            HttpsCertSource::local(config.fetch_timeout())
        } else {
            HttpsCertSource::new(config.fetch_timeout())
        };
        #[cfg(not(feature = "local-sns"))]
        let source = HttpsCertSource::new(config.fetch_timeout());
        SnsVerifier::with_source(config, Arc::new(source))
    }

    /// A verifier fetching through `source` (tests count its calls).
    pub fn with_source(config: SnsConfig, source: Arc<dyn CertSource>) -> Self {
        SnsVerifier {
            config,
            source,
            cache: cert::CertCache::default(),
            metrics: Arc::new(NoMetrics),
        }
    }

    /// Counts refusals in `metrics` (e.g. an `Arc<RefusalCounters>`, or an EMF emitter).
    pub fn with_metrics(mut self, metrics: Arc<dyn RefusalMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The configuration in force.
    pub fn config(&self) -> &SnsConfig {
        &self.config
    }
}
