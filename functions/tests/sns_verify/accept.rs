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
        let verified = h.verify(&body(&signed(notification(version)))).await;
        let Ok(VerifiedSns::Notification(n)) = verified else {
            panic!("{version}: {verified:?}");
        };
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
    let verified = h.verify(lambda.as_bytes()).await;
    assert!(
        matches!(verified, Ok(VerifiedSns::Notification(_))),
        "{verified:?}"
    );
}

#[tokio::test]
async fn camel_case_amazon_pay_keys_verify() {
    let h = Harness::new();
    let mut e = notification(SignatureVersion::V1);
    e.message = r#"{"merchantId":"A1B2C3D4E5F6G7","objectType":"CHARGE_PERMISSION","objectId":"S01-5105180-3221187","chargePermissionId":"S01-5105180-3221187","notificationType":"STATE_CHANGE","notificationId":"8e3b0c44298fc1c149afbf4c8996fb92","notificationVersion":"V2"}"#.into();
    let Ok(VerifiedSns::Notification(n)) = h.verify(&body(&signed(e))).await else {
        panic!("camelCase message refused");
    };
    assert_eq!(n.ipn, ipn());
}

#[tokio::test]
async fn a_topic_with_minimum_two_accepts_version_two() {
    let config = SnsConfig::new().allow_topic(TOPIC, SignatureVersion::V2);
    let h = Harness::with(config, FakeHttp::serving_cert());
    let verified = h
        .verify(&body(&signed(notification(SignatureVersion::V2))))
        .await;
    assert!(
        matches!(verified, Ok(VerifiedSns::Notification(_))),
        "{verified:?}"
    );
}

#[tokio::test]
async fn a_subscription_confirmation_is_confirmed_by_one_get_of_its_url() {
    let h = Harness::new();
    let e = signed(confirmation(SnsMessageType::SubscriptionConfirmation));
    let Ok(VerifiedSns::SubscriptionConfirmation(c)) = h.verify(&body(&e)).await else {
        panic!("confirmation refused");
    };
    assert_eq!(c.topic_arn(), TOPIC);
    assert_eq!(c.kind(), SnsMessageType::SubscriptionConfirmation);
    assert_eq!(c.subscribe_url().as_str(), subscribe_url(TOPIC));
    assert!(!format!("{c:?}").contains("Token"), "Debug hides the token");
    assert_eq!(
        h.http.calls(),
        vec![CERT_URL],
        "nothing confirmed by verify"
    );
    h.verifier.confirm_subscription(&c).await.unwrap();
    assert_eq!(
        h.http.calls(),
        vec![CERT_URL.to_string(), subscribe_url(TOPIC)]
    );
}

#[tokio::test]
async fn an_unsubscribe_confirmation_verifies_and_is_not_confirmed() {
    let h = Harness::new();
    let e = signed(confirmation(SnsMessageType::UnsubscribeConfirmation));
    let Ok(VerifiedSns::UnsubscribeConfirmation(c)) = h.verify(&body(&e)).await else {
        panic!("unsubscribe confirmation refused");
    };
    let refusal = h.verifier.confirm_subscription(&c).await.unwrap_err();
    assert_eq!(refusal.code(), "not_a_subscription_confirmation");
    assert_eq!(h.http.calls(), vec![CERT_URL], "no GET of the SubscribeURL");
}
