//! Messages that verify: both signature versions, Lambda spellings, a Subject, per-topic
//! minimums met, and a SubscriptionConfirmation confirmed by one GET of its validated URL.

use super::helpers::*;
use chrono::{TimeZone, Utc};
use savedwallet_functions::sns::{SnsConfig, VerifiedSns};
use savedwallet_shared::sns::{SignatureVersion, SnsMessageType};

#[tokio::test]
async fn notifications_of_both_signature_versions_verify() {
    let h = Harness::new();
    for version in [SignatureVersion::V1, SignatureVersion::V2] {
        let n = h.notification(&body(&signed(notification(version)))).await;
        assert_eq!(n.ipn, ipn());
        assert_eq!(n.topic_arn, TOPIC);
        assert_eq!(n.message_id, "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324");
        assert_eq!(n.signature_version, version);
        let expected = Utc.with_ymd_and_hms(2024, 6, 1, 12, 34, 56).unwrap()
            + chrono::Duration::milliseconds(789);
        assert_eq!(n.timestamp, expected);
    }
    assert_eq!(h.http.calls(), vec![CERT_URL], "one fetch for both");
    assert!(h.counters.snapshot().is_empty());
}

#[tokio::test]
async fn lambda_spellings_a_subject_and_escaped_text_verify() {
    let h = Harness::new();
    let mut e = notification(SignatureVersion::V2);
    e.subject = Some("Amazon Pay\nIPN".into());
    let lambda = String::from_utf8(body(&signed(e)))
        .unwrap()
        .replace("SigningCertURL", "SigningCertUrl")
        .replace("UnsubscribeURL", "UnsubscribeUrl");
    assert!(lambda.contains("SigningCertUrl") && lambda.contains("\\n"));
    h.notification(lambda.as_bytes()).await;
}

#[tokio::test]
async fn camel_case_amazon_pay_keys_verify() {
    let h = Harness::new();
    let mut e = notification(SignatureVersion::V1);
    e.message = r#"{"merchantId":"A1B2C3D4E5F6G7","objectType":"CHARGE_PERMISSION","objectId":"S01-5105180-3221187","chargePermissionId":"S01-5105180-3221187","notificationType":"STATE_CHANGE","notificationId":"8e3b0c44298fc1c149afbf4c8996fb92","notificationVersion":"V2"}"#.into();
    assert_eq!(h.notification(&body(&signed(e))).await.ipn, ipn());
}

#[tokio::test]
async fn a_topic_with_minimum_two_accepts_version_two() {
    let config = SnsConfig::new().allow_topic(TOPIC, SignatureVersion::V2);
    let h = Harness::with(config, FakeHttp::serving_cert());
    let n = h
        .notification(&body(&signed(notification(SignatureVersion::V2))))
        .await;
    assert_eq!(n.signature_version, SignatureVersion::V2);
}

#[tokio::test]
async fn only_a_subscription_confirmation_is_confirmed_by_one_get_of_its_url() {
    for kind in [
        SnsMessageType::SubscriptionConfirmation,
        SnsMessageType::UnsubscribeConfirmation,
    ] {
        let h = Harness::new();
        let c = match h.verify(&body(&signed(confirmation(kind)))).await {
            Ok(VerifiedSns::SubscriptionConfirmation(c)) => c,
            Ok(VerifiedSns::UnsubscribeConfirmation(c)) => c,
            other => panic!("{kind}: {other:?}"),
        };
        assert_eq!(c.kind(), kind);
        assert_eq!(c.topic_arn(), TOPIC);
        assert_eq!(c.subscribe_url().as_str(), subscribe_url(TOPIC));
        assert!(!format!("{c:?}").contains("Token"), "Debug hides the token");
        assert_eq!(h.http.calls(), vec![CERT_URL], "verify confirms nothing");
        let confirmed = h.verifier.confirm_subscription(&c).await;
        let mut expected = vec![CERT_URL.to_string()];
        if kind == SnsMessageType::SubscriptionConfirmation {
            assert_eq!(confirmed, Ok(()));
            expected.push(subscribe_url(TOPIC));
        } else {
            assert_eq!(
                confirmed.unwrap_err().code(),
                "not_a_subscription_confirmation"
            );
        }
        assert_eq!(h.http.calls(), expected, "{kind}");
    }
}
