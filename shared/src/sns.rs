//! The Amazon SNS HTTP/S message envelope that carries Amazon Pay IPNs (SPEC §12.2) and the
//! string SNS signs (SPEC §12.3). Pure data and text: the sandbox's signer and the service's
//! verifier share it; the cryptography (SHA1withRSA / SHA256withRSA) stays with them.

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

    /// The envelope keys that take part in the signature, in signing order (SPEC §12.3).
    pub fn signed_keys(self) -> &'static [&'static str] {
        match self {
            SnsMessageType::Notification => &[
                "Message",
                "MessageId",
                "Subject",
                "Timestamp",
                "TopicArn",
                "Type",
            ],
            SnsMessageType::SubscriptionConfirmation | SnsMessageType::UnsubscribeConfirmation => {
                &[
                    "Message",
                    "MessageId",
                    "SubscribeURL",
                    "Timestamp",
                    "Token",
                    "TopicArn",
                    "Type",
                ]
            }
        }
    }
}

impl fmt::Display for SnsMessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// SNS `SignatureVersion`: `1` = SHA1withRSA, `2` = SHA256withRSA (both PKCS#1 v1.5).
/// The default is `1`: SPEC §16 says Amazon Pay's topics have sent it ("expect 1, accept both").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum SignatureVersion {
    /// `"1"`: RSA PKCS#1 v1.5 over SHA-1.
    #[default]
    #[serde(rename = "1")]
    V1,
    /// `"2"`: RSA PKCS#1 v1.5 over SHA-256.
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

impl fmt::Display for SignatureVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `SignatureVersion` other than `1` or `2`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported SNS SignatureVersion {0:?} (expected 1 or 2)")]
pub struct UnknownSignatureVersion(pub String);

impl std::str::FromStr for SignatureVersion {
    type Err = UnknownSignatureVersion;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "1" => Ok(SignatureVersion::V1),
            "2" => Ok(SignatureVersion::V2),
            other => Err(UnknownSignatureVersion(other.chars().take(8).collect())),
        }
    }
}

/// The JSON body SNS POSTs to an HTTP/S subscriber. Field order follows what SNS sends.
/// Lambda-delivered events spell `SigningCertUrl`, `SubscribeUrl`, `UnsubscribeUrl`; those
/// spellings are accepted on the way in (SPEC §12.2).
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
        alias = "SubscribeUrl",
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
    #[serde(rename = "SigningCertURL", alias = "SigningCertUrl")]
    pub signing_cert_url: String,
    /// Where to unsubscribe (notifications only).
    #[serde(
        rename = "UnsubscribeURL",
        alias = "UnsubscribeUrl",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub unsubscribe_url: Option<String>,
}

impl SnsEnvelope {
    /// The value of one signed key, `None` when absent (see [`SnsMessageType::signed_keys`]).
    fn signed_value(&self, key: &str) -> Option<&str> {
        match key {
            "Message" => Some(&self.message),
            "MessageId" => Some(&self.message_id),
            "Subject" => self.subject.as_deref(),
            "SubscribeURL" => self.subscribe_url.as_deref(),
            "Timestamp" => Some(&self.timestamp),
            "Token" => self.token.as_deref(),
            "TopicArn" => Some(&self.topic_arn),
            "Type" => Some(self.message_type.as_str()),
            _ => None,
        }
    }

    /// The canonical string SNS signs (SPEC §12.3): `Key\nValue\n` for the type's keys in
    /// order, skipping absent optional ones.
    pub fn string_to_sign(&self) -> String {
        let mut out = String::with_capacity(self.message.len() + 256);
        for key in self.message_type.signed_keys() {
            if let Some(value) = self.signed_value(key) {
                out.push_str(key);
                out.push('\n');
                out.push_str(value);
                out.push('\n');
            }
        }
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
            signature_version: SignatureVersion::V1,
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
        for kind in [
            SnsMessageType::SubscriptionConfirmation,
            SnsMessageType::UnsubscribeConfirmation,
        ] {
            let e = SnsEnvelope {
                message_type: kind,
                token: Some("tok".into()),
                subscribe_url: Some("http://x/confirm?Token=tok".into()),
                unsubscribe_url: None,
                // A Subject on a confirmation is not signed (not in the key list).
                subject: Some("ignored".into()),
                ..notification()
            };
            assert_eq!(
                e.string_to_sign(),
                format!(
                    "Message\n{{\"a\":1}}\nMessageId\nm-1\nSubscribeURL\nhttp://x/confirm?Token=tok\n\
                     Timestamp\n2024-06-01T12:34:56.789Z\nToken\ntok\n\
                     TopicArn\narn:aws:sns:us-east-1:000000000000:t\nType\n{kind}\n"
                )
            );
        }
    }

    #[test]
    fn escaped_message_characters_are_signed_decoded() {
        // The JSON `\n` in Message is a real newline in the string to sign.
        let e: SnsEnvelope = serde_json::from_str(
            r#"{"Type":"Notification","MessageId":"m","TopicArn":"t","Message":"a\nb",
                "Timestamp":"x","SignatureVersion":"1","Signature":"s","SigningCertURL":"c"}"#,
        )
        .unwrap();
        assert!(e.string_to_sign().starts_with("Message\na\nb\nMessageId\n"));
    }

    #[test]
    fn wire_names_match_sns_and_lambda_spellings_parse() {
        let v = serde_json::to_value(notification()).unwrap();
        assert_eq!(v["Type"], "Notification");
        assert_eq!(v["SignatureVersion"], "1");
        assert!(v.get("SigningCertURL").is_some());
        assert!(v.get("UnsubscribeURL").is_some());
        assert!(v.get("Token").is_none() && v.get("Subject").is_none());
        let lambda = serde_json::to_string(&v)
            .unwrap()
            .replace("SigningCertURL", "SigningCertUrl")
            .replace("UnsubscribeURL", "UnsubscribeUrl");
        let back: SnsEnvelope = serde_json::from_str(&lambda).unwrap();
        assert_eq!(back, notification());
    }

    #[test]
    fn signature_versions_parse_strictly() {
        assert_eq!(SignatureVersion::default(), SignatureVersion::V1);
        assert_eq!("2".parse::<SignatureVersion>(), Ok(SignatureVersion::V2));
        assert!("3".parse::<SignatureVersion>().is_err());
        let bad = serde_json::from_str::<SignatureVersion>("\"3\"");
        assert!(bad.is_err());
    }
}
