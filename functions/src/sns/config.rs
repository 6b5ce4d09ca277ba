//! What the verifier accepts: the allowed topics with their minimum `SignatureVersion`,
//! size bounds, the fetch timeout and — only with the `local-sns` feature and only through
//! [`SnsConfig::local_sandbox`] — the local sandbox's origin. The environment
//! ([`SnsConfig::from_env`]) can set the topics and nothing else.

use savedwallet_shared::sns::SignatureVersion;
use std::collections::BTreeMap;
use std::time::Duration;

/// Env var: allowed topic ARNs, separated by commas or whitespace, each `arn` or `arn=1|2`.
pub const ENV_ALLOWED_TOPICS: &str = "SNS_ALLOWED_TOPICS";
/// Env var: the minimum `SignatureVersion` of entries without `=` (`1` or `2`, default `1`).
pub const ENV_MIN_SIGNATURE_VERSION: &str = "SNS_MIN_SIGNATURE_VERSION";

/// Reserved variables that only the real AWS Lambda execution environment sets (a function's
/// configuration cannot set them): local mode is refused where any of them is set. Not
/// `AWS_LAMBDA_FUNCTION_NAME`: every Runtime API client needs that one, so a test that
/// drives a `local-sns` build of a function through a local Runtime API must set it.
#[cfg(feature = "local-sns")]
const LAMBDA_SANDBOX_VARS: [&str; 3] = [
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
    "AWS_EXECUTION_ENV",
];

/// Default bound on an SNS body.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;
/// Default bound on a fetched certificate (real SNS certificates are under 3 KiB).
pub const DEFAULT_MAX_CERT_BYTES: usize = 64 * 1024;
/// Default timeout of one certificate or SubscribeURL GET.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// A configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnsConfigError {
    /// An `SNS_ALLOWED_TOPICS` entry is not `arn:<partition>:sns:<region>:<account>:<topic>`.
    #[error("{ENV_ALLOWED_TOPICS}: {entry:?} is not an SNS topic ARN ({why})")]
    BadTopicArn {
        /// The entry as written.
        entry: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A minimum version other than `1` or `2`.
    #[error("{name}: {value:?} is not a SignatureVersion (1 or 2)")]
    BadSignatureVersion {
        /// Where it was written.
        name: &'static str,
        /// The value as written.
        value: String,
    },
    /// The same topic twice in `SNS_ALLOWED_TOPICS`.
    #[error("{ENV_ALLOWED_TOPICS}: {0:?} is listed twice")]
    DuplicateTopic(String),
    /// The local sandbox base URL is unusable (`local-sns` only).
    #[error("local sandbox base URL refused: {0}")]
    BadSandboxUrl(&'static str),
    /// Local mode was asked for inside AWS Lambda (`LAMBDA_TASK_ROOT`, `LAMBDA_RUNTIME_DIR`
    /// or `AWS_EXECUTION_ENV` is set).
    #[error("local sandbox mode is refused inside AWS Lambda")]
    LocalModeInLambda,
}

/// What the SNS verifier accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsConfig {
    /// Allowed topic ARN → its minimum `SignatureVersion`.
    topics: BTreeMap<String, SignatureVersion>,
    max_body_bytes: usize,
    max_cert_bytes: usize,
    fetch_timeout: Duration,
    /// Set only by [`SnsConfig::local_sandbox`].
    #[cfg(feature = "local-sns")]
    local_sandbox: Option<super::url_rules::SandboxOrigin>,
}

impl Default for SnsConfig {
    fn default() -> Self {
        SnsConfig {
            topics: BTreeMap::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_cert_bytes: DEFAULT_MAX_CERT_BYTES,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            #[cfg(feature = "local-sns")]
            local_sandbox: None,
        }
    }
}

impl SnsConfig {
    /// No topic allowed yet, default bounds, the real SNS certificate rule only.
    pub fn new() -> Self {
        SnsConfig::default()
    }

    /// Production configuration from the process environment ([`ENV_ALLOWED_TOPICS`],
    /// [`ENV_MIN_SIGNATURE_VERSION`]). It never enables the local sandbox.
    pub fn from_env() -> Result<Self, SnsConfigError> {
        SnsConfig::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`SnsConfig::from_env`] over any variable lookup (tests, other sources).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SnsConfigError> {
        let default_minimum = match lookup(ENV_MIN_SIGNATURE_VERSION) {
            None => SignatureVersion::V1,
            Some(v) if v.trim().is_empty() => SignatureVersion::V1,
            Some(v) => parse_version(ENV_MIN_SIGNATURE_VERSION, &v)?,
        };
        let mut config = SnsConfig::new();
        let list = lookup(ENV_ALLOWED_TOPICS).unwrap_or_default();
        for entry in list.split(|c: char| c == ',' || c.is_whitespace()) {
            if entry.is_empty() {
                continue;
            }
            let (arn, minimum) = match entry.split_once('=') {
                Some((arn, v)) => (arn, parse_version(ENV_ALLOWED_TOPICS, v)?),
                None => (entry, default_minimum),
            };
            check_topic_arn(arn).map_err(|why| SnsConfigError::BadTopicArn {
                entry: entry.to_string(),
                why,
            })?;
            if config.topics.contains_key(arn) {
                return Err(SnsConfigError::DuplicateTopic(arn.to_string()));
            }
            config = config.allow_topic(arn, minimum);
        }
        Ok(config)
    }

    /// Allows `topic_arn`, accepting `minimum` and higher signature versions.
    pub fn allow_topic(mut self, topic_arn: impl Into<String>, minimum: SignatureVersion) -> Self {
        self.topics.insert(topic_arn.into(), minimum);
        self
    }

    /// Sets the bound on an SNS body.
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Sets the timeout of one certificate or SubscribeURL GET.
    pub fn with_fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// The minimum version of an allowed topic; `None` when the topic is not allowed.
    pub fn topic_minimum(&self, topic_arn: &str) -> Option<SignatureVersion> {
        self.topics.get(topic_arn).copied()
    }

    /// The allowed topics with their minimum versions.
    pub fn allowed_topics(&self) -> impl Iterator<Item = (&str, SignatureVersion)> {
        self.topics.iter().map(|(arn, v)| (arn.as_str(), *v))
    }

    /// The bound on an SNS body.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// The bound on a fetched certificate.
    pub fn max_cert_bytes(&self) -> usize {
        self.max_cert_bytes
    }

    /// The timeout of one outbound GET.
    pub fn fetch_timeout(&self) -> Duration {
        self.fetch_timeout
    }

    /// Whether a local sandbox's certificate URL is accepted (always false without `local-sns`).
    pub fn accepts_local_sandbox(&self) -> bool {
        #[cfg(feature = "local-sns")]
        {
            self.local_sandbox.is_some()
        }
        #[cfg(not(feature = "local-sns"))]
        {
            false
        }
    }

    /// Local mode: also accept certificate and SubscribeURLs of the sandbox at `base_url`
    /// (its `/_sandbox/sns/` routes, same origin after parsing; a loopback host only).
    /// The topic allow list and every other check stay in force. Refused inside AWS
    /// Lambda, in case a build enabled the feature by mistake: the environment can only
    /// turn local mode off, never on.
    #[cfg(feature = "local-sns")]
    pub fn local_sandbox(base_url: &url::Url) -> Result<Self, SnsConfigError> {
        if LAMBDA_SANDBOX_VARS
            .iter()
            .any(|name| std::env::var_os(name).is_some())
        {
            return Err(SnsConfigError::LocalModeInLambda);
        }
        let origin = super::url_rules::SandboxOrigin::new(base_url)?;
        Ok(SnsConfig {
            local_sandbox: Some(origin),
            ..SnsConfig::default()
        })
    }

    /// The sandbox origin of local mode.
    #[cfg(feature = "local-sns")]
    pub(crate) fn sandbox(&self) -> Option<&super::url_rules::SandboxOrigin> {
        self.local_sandbox.as_ref()
    }
}

/// Orders the versions: 2 is stronger than 1.
pub(crate) fn version_rank(v: SignatureVersion) -> u8 {
    match v {
        SignatureVersion::V1 => 1,
        SignatureVersion::V2 => 2,
    }
}

fn parse_version(name: &'static str, value: &str) -> Result<SignatureVersion, SnsConfigError> {
    value
        .trim()
        .parse()
        .map_err(|_| SnsConfigError::BadSignatureVersion {
            name,
            value: value.to_string(),
        })
}

/// `arn:<partition>:sns:<region>:<account>:<topic>` (a subscription ARN has one part more).
fn check_topic_arn(arn: &str) -> Result<(), &'static str> {
    let parts: Vec<&str> = arn.split(':').collect();
    let [prefix, partition, service, region, account, topic] = parts.as_slice() else {
        return Err(if parts.len() == 7 {
            "looks like a subscription ARN: drop the last :<id>"
        } else {
            "expected 6 parts separated by ':'"
        });
    };
    let good = *prefix == "arn"
        && partition.starts_with("aws")
        && *service == "sns"
        && !region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !topic.is_empty()
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if good {
        Ok(())
    } else {
        Err("expected arn:<partition>:sns:<region>:<12-digit account>:<topic>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:sns:eu-west-1:123456789012:amazon-pay";

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn topics_with_and_without_minimum() {
        let other = "arn:aws-cn:sns:cn-north-1:123456789012:t.fifo";
        let c = SnsConfig::from_lookup(lookup(&[(
            ENV_ALLOWED_TOPICS,
            &format!(" {ARN}=2,\n{other} "),
        )]))
        .unwrap();
        assert_eq!(c.topic_minimum(ARN), Some(SignatureVersion::V2));
        assert_eq!(c.topic_minimum(other), Some(SignatureVersion::V1));
        assert_eq!(
            c.topic_minimum("arn:aws:sns:eu-west-1:123456789012:x"),
            None
        );
        let c = SnsConfig::from_lookup(lookup(&[
            (ENV_ALLOWED_TOPICS, ARN),
            (ENV_MIN_SIGNATURE_VERSION, "2"),
        ]))
        .unwrap();
        assert_eq!(c.topic_minimum(ARN), Some(SignatureVersion::V2));
        let empty = SnsConfig::from_lookup(lookup(&[])).unwrap();
        assert_eq!(empty.allowed_topics().count(), 0);
        assert_eq!(empty, SnsConfig::new());
    }

    #[test]
    fn bad_entries_are_refused() {
        let bad = |list: &str| SnsConfig::from_lookup(lookup(&[(ENV_ALLOWED_TOPICS, list)]));
        assert!(matches!(
            bad(&format!("{ARN}:0b1c")),
            Err(SnsConfigError::BadTopicArn { why, .. }) if why.contains("subscription")
        ));
        assert!(matches!(
            bad("arn:aws:sqs:eu-west-1:123456789012:q"),
            Err(SnsConfigError::BadTopicArn { .. })
        ));
        assert!(matches!(
            bad(&format!("{ARN}=3")),
            Err(SnsConfigError::BadSignatureVersion { .. })
        ));
        assert!(matches!(
            bad(&format!("{ARN},{ARN}=2")),
            Err(SnsConfigError::DuplicateTopic(_))
        ));
        assert!(matches!(
            SnsConfig::from_lookup(lookup(&[(ENV_MIN_SIGNATURE_VERSION, "v2")])),
            Err(SnsConfigError::BadSignatureVersion { .. })
        ));
    }
}
