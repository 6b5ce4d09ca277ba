//! The Amazon SNS HTTP/S message envelope (SPEC §12.2) and its string to sign (§12.3).

use serde::{Deserialize, Serialize};
use std::fmt;

/// `x-amz-sns-message-type` / the envelope's `Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SnsMessageType {
    /// A published message (an Amazon Pay IPN).
    Notification,
    /// Sent once when an endpoint is subscribed; carries `SubscribeURL` and `Token`.
    SubscriptionConfirmation,
    /// Sent after an endpoint is unsubscribed; carries `SubscribeURL` and `Token`.
    UnsubscribeConfirmation,
}

impl SnsMessageType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SnsMessageType::Notification => "Notification",
            SnsMessageType::SubscriptionConfirmation => "SubscriptionConfirmation",
            SnsMessageType::UnsubscribeConfirmation => "UnsubscribeConfirmation",
        }
    }
}

impl fmt::Display for SnsMessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// SNS `SignatureVersion`: `1` = SHA1withRSA, `2` = SHA256withRSA (both PKCS#1 v1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum SignatureVersion {
    /// `"1"`: RSA PKCS#1 v1.5 over SHA-1 (what Amazon Pay topics have historically sent).
    #[serde(rename = "1")]
    V1,
    /// `"2"`: RSA PKCS#1 v1.5 over SHA-256.
    #[default]
    #[serde(rename = "2")]
    V2,
}

impl SignatureVersion {
    /// The wire value, `"1"` or `"2"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureVersion::V1 => "1",
            SignatureVersion::V2 => "2",
        }
    }
}

/// The JSON body SNS POSTs to an HTTP/S subscriber. Field order follows what SNS sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnsEnvelope {
    /// `Notification`, `SubscriptionConfirmation` or `UnsubscribeConfirmation`.
    #[serde(rename = "Type")]
    pub message_type: SnsMessageType,
    /// UUID v4; the same for every subscriber, retry and duplicate of one publish.
    #[serde(rename = "MessageId")]
    pub message_id: String,
    /// Confirmation token (confirmation messages only).
    #[serde(rename = "Token", default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// `arn:aws:sns:<region>:<account>:<topic>`.
    #[serde(rename = "TopicArn")]
    pub topic_arn: String,
    /// Optional subject (notifications only; Amazon Pay usually leaves it out).
    #[serde(rename = "Subject", default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// A string: the Amazon Pay JSON for notifications, prose for confirmations.
    #[serde(rename = "Message")]
    pub message: String,
    /// Where to confirm the subscription (confirmation messages only).
    #[serde(
        rename = "SubscribeURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub subscribe_url: Option<String>,
    /// ISO-8601 extended with milliseconds, e.g. `2024-06-01T12:34:56.789Z`.
    #[serde(rename = "Timestamp")]
    pub timestamp: String,
    /// `"1"` or `"2"`.
    #[serde(rename = "SignatureVersion")]
    pub signature_version: SignatureVersion,
    /// Base64 RSA signature over [`SnsEnvelope::string_to_sign`].
    #[serde(rename = "Signature")]
    pub signature: String,
    /// Where the PEM certificate holding the verification key is served.
    #[serde(rename = "SigningCertURL")]
    pub signing_cert_url: String,
    /// Where to unsubscribe (notifications only).
    #[serde(
        rename = "UnsubscribeURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub unsubscribe_url: Option<String>,
}

impl SnsEnvelope {
    /// The canonical string SNS signs (SPEC §12.3): `Key\nValue\n` for the type's keys in
    /// order, skipping absent optional ones.
    pub fn string_to_sign(&self) -> String {
        let mut out = String::with_capacity(self.message.len() + 256);
        let mut push = |key: &str, value: Option<&str>| {
            if let Some(v) = value {
                out.push_str(key);
                out.push('\n');
                out.push_str(v);
                out.push('\n');
            }
        };
        push("Message", Some(&self.message));
        push("MessageId", Some(&self.message_id));
        match self.message_type {
            SnsMessageType::Notification => {
                push("Subject", self.subject.as_deref());
                push("Timestamp", Some(&self.timestamp));
            }
            SnsMessageType::SubscriptionConfirmation | SnsMessageType::UnsubscribeConfirmation => {
                push("SubscribeURL", self.subscribe_url.as_deref());
                push("Timestamp", Some(&self.timestamp));
                push("Token", self.token.as_deref());
            }
        }
        push("TopicArn", Some(&self.topic_arn));
        push("Type", Some(self.message_type.as_str()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notification() -> SnsEnvelope {
        SnsEnvelope {
            message_type: SnsMessageType::Notification,
            message_id: "m-1".into(),
            token: None,
            topic_arn: "arn:aws:sns:us-east-1:000000000000:t".into(),
            subject: None,
            message: "{\"a\":1}".into(),
            subscribe_url: None,
            timestamp: "2024-06-01T12:34:56.789Z".into(),
            signature_version: SignatureVersion::V2,
            signature: String::new(),
            signing_cert_url: "http://x/c.pem".into(),
            unsubscribe_url: Some("http://x/u".into()),
        }
    }

    #[test]
    fn notification_string_to_sign_skips_absent_subject() {
        let e = notification();
        assert_eq!(
            e.string_to_sign(),
            "Message\n{\"a\":1}\nMessageId\nm-1\nTimestamp\n2024-06-01T12:34:56.789Z\n\
             TopicArn\narn:aws:sns:us-east-1:000000000000:t\nType\nNotification\n"
        );
        let with_subject = SnsEnvelope {
            subject: Some("S".into()),
            ..e
        };
        assert!(with_subject
            .string_to_sign()
            .contains("MessageId\nm-1\nSubject\nS\nTimestamp\n"));
    }

    #[test]
    fn confirmation_string_to_sign_has_token_and_subscribe_url() {
        let e = SnsEnvelope {
            message_type: SnsMessageType::SubscriptionConfirmation,
            token: Some("tok".into()),
            subscribe_url: Some("http://x/confirm?Token=tok".into()),
            unsubscribe_url: None,
            ..notification()
        };
        assert_eq!(
            e.string_to_sign(),
            "Message\n{\"a\":1}\nMessageId\nm-1\nSubscribeURL\nhttp://x/confirm?Token=tok\n\
             Timestamp\n2024-06-01T12:34:56.789Z\nToken\ntok\n\
             TopicArn\narn:aws:sns:us-east-1:000000000000:t\nType\nSubscriptionConfirmation\n"
        );
    }

    #[test]
    fn wire_names_match_sns() {
        let v = serde_json::to_value(notification()).unwrap();
        assert_eq!(v["Type"], "Notification");
        assert_eq!(v["SignatureVersion"], "2");
        assert!(v.get("SigningCertURL").is_some());
        assert!(v.get("UnsubscribeURL").is_some());
        assert!(v.get("Token").is_none() && v.get("Subject").is_none());
    }
}
