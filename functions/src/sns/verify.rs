//! The verification steps, one small function each, and the subscription confirmation.
//! Every refusal is counted and logged once, here, with its code and the SNS `MessageId`
//! (and the `TopicArn` when the topic is refused) — never the body, signature or certificate.

use super::cert::signature_verifies;
use super::config::version_rank;
use super::url_rules::{check_cert_url, check_subscribe_url};
use super::{SnsConfirmation, SnsNotification, SnsRefusal, SnsVerifier, VerifiedSns};
use base64::Engine;
use chrono::{DateTime, Utc};
use savedwallet_shared::api::IpnMessage;
use savedwallet_shared::sns::{SignatureVersion, SnsEnvelope, SnsMessageType};
use serde::Deserialize;
use std::borrow::Cow;
use url::Url;

/// Bound on a SubscribeURL answer (SNS's ConfirmSubscriptionResponse is a few hundred bytes).
const MAX_CONFIRM_ANSWER_BYTES: usize = 16 * 1024;
/// Longest attacker-chosen text (MessageId, TopicArn) put in a log line.
const MAX_LOGGED_CHARS: usize = 256;

/// The two fields read before the envelope proper, so each gets its own refusal.
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(rename = "Type", borrow, default)]
    message_type: Option<Cow<'a, str>>,
    #[serde(rename = "SignatureVersion", borrow, default)]
    signature_version: Option<Cow<'a, str>>,
}

/// What is known of a message for its log line.
#[derive(Default)]
struct Seen {
    message_id: Option<String>,
}

impl SnsVerifier {
    /// Verifies one SNS body (see the module docs for the steps).
    pub async fn verify(&self, body: &[u8]) -> Result<VerifiedSns, SnsRefusal> {
        let mut seen = Seen::default();
        let result = self.steps(body, &mut seen).await;
        if let Err(refusal) = &result {
            self.refused(refusal, seen.message_id.as_deref());
        }
        result
    }

    /// Confirms a verified SubscriptionConfirmation: checks the topic and the SubscribeURL
    /// again, then GETs it once through the verifier's [`super::CertSource`].
    pub async fn confirm_subscription(
        &self,
        confirmation: &SnsConfirmation,
    ) -> Result<(), SnsRefusal> {
        let result = self.confirm(confirmation).await;
        match &result {
            Ok(()) => tracing::info!(
                topic_arn = %loggable(confirmation.topic_arn()),
                message_id = %loggable(confirmation.message_id()),
                "SNS subscription confirmed"
            ),
            Err(refusal) => self.refused(refusal, Some(confirmation.message_id())),
        }
        result
    }

    async fn steps(&self, body: &[u8], seen: &mut Seen) -> Result<VerifiedSns, SnsRefusal> {
        let envelope = self.parse(body)?;
        seen.message_id = Some(loggable(&envelope.message_id));
        let timestamp = parse_timestamp(&envelope.timestamp)?;
        self.check_topic(&envelope)?;
        let cert_url = check_cert_url(&envelope.signing_cert_url, &self.config)
            .map_err(|rule| SnsRefusal::CertUrlRefused { rule })?;
        let subscribe_url = self.check_confirmation_fields(&envelope)?;
        let signature = base64::engine::general_purpose::STANDARD
            .decode(envelope.signature.as_bytes())
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or(SnsRefusal::BadSignature)?;
        // Every check above is local: only now may anything be fetched.
        let key = self
            .cache
            .key(
                &cert_url,
                self.source.as_ref(),
                self.config.max_cert_bytes(),
            )
            .await?;
        let signed = envelope.string_to_sign();
        if !signature_verifies(
            &key,
            envelope.signature_version,
            signed.as_bytes(),
            &signature,
        ) {
            return Err(SnsRefusal::BadSignature);
        }
        verified(envelope, timestamp, subscribe_url)
    }

    /// Size bound, JSON, `Type`, `SignatureVersion`, then the whole envelope.
    fn parse(&self, body: &[u8]) -> Result<SnsEnvelope, SnsRefusal> {
        let limit = self.config.max_body_bytes();
        if body.len() > limit {
            return Err(SnsRefusal::TooLarge { limit });
        }
        let peek: Peek<'_> = serde_json::from_slice(body).map_err(|_| SnsRefusal::Malformed {
            what: "not a JSON object with string Type and SignatureVersion",
        })?;
        let message_type = peek.message_type.ok_or(SnsRefusal::Malformed {
            what: "Type missing",
        })?;
        if !matches!(
            message_type.as_ref(),
            "Notification" | "SubscriptionConfirmation" | "UnsubscribeConfirmation"
        ) {
            return Err(SnsRefusal::UnknownType);
        }
        let version = peek.signature_version.ok_or(SnsRefusal::Malformed {
            what: "SignatureVersion missing",
        })?;
        if version.parse::<SignatureVersion>().is_err() {
            return Err(SnsRefusal::UnsupportedSignatureVersion);
        }
        serde_json::from_slice(body).map_err(|_| SnsRefusal::Malformed {
            what: "envelope field missing, repeated or not a string",
        })
    }

    /// The allow list, then the topic's minimum version.
    fn check_topic(&self, envelope: &SnsEnvelope) -> Result<(), SnsRefusal> {
        let minimum = self
            .config
            .topic_minimum(&envelope.topic_arn)
            .ok_or_else(|| SnsRefusal::TopicNotAllowed {
                topic_arn: loggable(&envelope.topic_arn),
            })?;
        if version_rank(envelope.signature_version) < version_rank(minimum) {
            return Err(SnsRefusal::SignatureVersionBelowMinimum {
                got: envelope.signature_version,
                minimum,
            });
        }
        Ok(())
    }

    /// A confirmation's `Token` and `SubscribeURL` (validated); `None` for a Notification.
    fn check_confirmation_fields(&self, envelope: &SnsEnvelope) -> Result<Option<Url>, SnsRefusal> {
        if envelope.message_type == SnsMessageType::Notification {
            return Ok(None);
        }
        if envelope.token.as_deref().is_none_or(str::is_empty) {
            return Err(SnsRefusal::Malformed {
                what: "Token missing",
            });
        }
        let raw = envelope
            .subscribe_url
            .as_deref()
            .ok_or(SnsRefusal::Malformed {
                what: "SubscribeURL missing",
            })?;
        check_subscribe_url(raw, &envelope.topic_arn, &self.config)
            .map(Some)
            .map_err(|rule| SnsRefusal::SubscribeUrlRefused { rule })
    }

    async fn confirm(&self, confirmation: &SnsConfirmation) -> Result<(), SnsRefusal> {
        if confirmation.kind() != SnsMessageType::SubscriptionConfirmation {
            return Err(SnsRefusal::NotASubscriptionConfirmation);
        }
        if self
            .config
            .topic_minimum(confirmation.topic_arn())
            .is_none()
        {
            return Err(SnsRefusal::TopicNotAllowed {
                topic_arn: loggable(confirmation.topic_arn()),
            });
        }
        let url = check_subscribe_url(
            confirmation.subscribe_url().as_str(),
            confirmation.topic_arn(),
            &self.config,
        )
        .map_err(|rule| SnsRefusal::SubscribeUrlRefused { rule })?;
        self.source
            .get(&url, MAX_CONFIRM_ANSWER_BYTES)
            .await
            .map(drop)
            .map_err(|cause| SnsRefusal::ConfirmFailed { cause })
    }

    /// Counts and logs one refusal.
    fn refused(&self, refusal: &SnsRefusal, message_id: Option<&str>) {
        self.metrics.refused(refusal.code());
        let message_id = message_id.unwrap_or("-");
        match refusal {
            SnsRefusal::TopicNotAllowed { topic_arn } => tracing::warn!(
                code = refusal.code(),
                topic_arn = %topic_arn,
                message_id = %message_id,
                "SNS message refused: topic not on the allow list; if this is Amazon Pay's \
                 topic, add it to SNS_ALLOWED_TOPICS"
            ),
            _ => tracing::warn!(
                code = refusal.code(),
                transient = refusal.is_transient(),
                message_id = %message_id,
                reason = %refusal,
                "SNS message refused"
            ),
        }
    }
}

/// SNS `Timestamp` (`2024-06-01T12:34:56.789Z`).
fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, SnsRefusal> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| SnsRefusal::Malformed {
            what: "Timestamp is not RFC 3339",
        })
}

/// The verified message, with a Notification's `Message` read as an Amazon Pay IPN.
fn verified(
    envelope: SnsEnvelope,
    timestamp: DateTime<Utc>,
    subscribe_url: Option<Url>,
) -> Result<VerifiedSns, SnsRefusal> {
    let SnsEnvelope {
        message_type,
        message_id,
        topic_arn,
        message,
        signature_version,
        ..
    } = envelope;
    match (message_type, subscribe_url) {
        (SnsMessageType::Notification, _) => Ok(VerifiedSns::Notification(SnsNotification {
            ipn: ipn_of(&message)?,
            message_id,
            topic_arn,
            timestamp,
            signature_version,
        })),
        (kind, Some(subscribe_url)) => {
            let confirmation = SnsConfirmation {
                kind,
                message_id,
                topic_arn,
                timestamp,
                signature_version,
                subscribe_url,
            };
            Ok(if kind == SnsMessageType::SubscriptionConfirmation {
                VerifiedSns::SubscriptionConfirmation(confirmation)
            } else {
                VerifiedSns::UnsubscribeConfirmation(confirmation)
            })
        }
        // check_confirmation_fields has required it; kept as a refusal, not a panic.
        (_, None) => Err(SnsRefusal::Malformed {
            what: "SubscribeURL missing",
        }),
    }
}

/// An Amazon Pay IPN (keys case-insensitive, SPEC §12.4) of `NotificationVersion` V2.
fn ipn_of(message: &str) -> Result<IpnMessage, SnsRefusal> {
    let ipn: IpnMessage = serde_json::from_str(message).map_err(|_| SnsRefusal::NotAnIpn {
        what: "Message is not an Amazon Pay IPN object",
    })?;
    match ipn.notification_version.as_deref() {
        None | Some("V2") => Ok(ipn),
        Some(_) => Err(SnsRefusal::IpnVersionUnsupported),
    }
}

/// Attacker-chosen text made safe for one log field: bounded, no control characters.
fn loggable(text: &str) -> String {
    text.chars()
        .take(MAX_LOGGED_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loggable_text_is_bounded_and_single_line() {
        assert_eq!(loggable("a\nb\u{1b}[31m"), "a?b?[31m");
        assert_eq!(loggable(&"x".repeat(1000)).len(), MAX_LOGGED_CHARS);
    }

    #[test]
    fn ipn_versions() {
        let base = r#"{"MerchantID":"M","ObjectType":"CHARGE","ObjectId":"S01-1-C1","NotificationType":"STATE_CHANGE","NotificationId":"n""#;
        assert!(ipn_of(&format!("{base}}}")).is_ok());
        assert!(ipn_of(&format!("{base},\"NotificationVersion\":\"V2\"}}")).is_ok());
        assert_eq!(
            ipn_of(&format!("{base},\"NotificationVersion\":\"V1\"}}")),
            Err(SnsRefusal::IpnVersionUnsupported)
        );
        assert!(matches!(
            ipn_of("\"hello\""),
            Err(SnsRefusal::NotAnIpn { .. })
        ));
    }

    #[test]
    fn timestamps() {
        assert!(parse_timestamp("2024-06-01T12:34:56.789Z").is_ok());
        assert!(parse_timestamp("yesterday").is_err());
    }
}
