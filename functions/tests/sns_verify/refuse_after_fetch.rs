//! Refusals that need the certificate: forged or mutated signatures, another key, a
//! certificate that is not RSA or not served, and verified messages that are not IPNs.

use super::helpers::*;
use base64::Engine;
use savedwallet_functions::sns::{FetchError, SnsRefusal, VerifiedSns};
use savedwallet_shared::sns::{SignatureVersion, SnsEnvelope, SnsMessageType};

/// A named edit of a signed envelope.
type Edit = (&'static str, Box<dyn Fn(&mut SnsEnvelope)>);

/// A signed notification (version `v`) edited after signing.
fn tampered(v: SignatureVersion, edit: impl FnOnce(&mut SnsEnvelope)) -> Vec<u8> {
    let mut e = signed(notification(v));
    edit(&mut e);
    body(&e)
}

async fn refused_after_one_fetch(h: &Harness, body: &[u8], code: &str) {
    h.refused(body, code).await;
    assert_eq!(h.http.calls(), vec![CERT_URL], "{code}");
}

#[tokio::test]
async fn mutated_envelopes_fail_the_signature() {
    for v in [SignatureVersion::V1, SignatureVersion::V2] {
        let flipped = |e: &mut SnsEnvelope| {
            let engine = base64::engine::general_purpose::STANDARD;
            let mut sig = engine.decode(&e.signature).unwrap();
            sig[10] ^= 1;
            e.signature = engine.encode(sig);
        };
        let edits: Vec<Edit> = vec![
            ("signature bit", Box::new(flipped)),
            (
                "Message",
                Box::new(|e| e.message = e.message.replace("S01-5105180-3221187", "S01-1-1")),
            ),
            (
                "Timestamp",
                Box::new(|e| e.timestamp = "2024-06-01T12:34:57.789Z".into()),
            ),
            // Another allowed topic: passes the allow list, fails the signature.
            ("TopicArn", Box::new(|e| e.topic_arn = OTHER_TOPIC.into())),
            ("MessageId", Box::new(|e| e.message_id.push('0'))),
            ("Subject added", Box::new(|e| e.subject = Some("s".into()))),
            (
                "SignatureVersion",
                Box::new(|e| {
                    e.signature_version = match e.signature_version {
                        SignatureVersion::V1 => SignatureVersion::V2,
                        SignatureVersion::V2 => SignatureVersion::V1,
                    }
                }),
            ),
        ];
        for (what, edit) in edits {
            let h = Harness::new();
            let refusal = h.refused(&tampered(v, edit), "bad_signature").await;
            assert_eq!(refusal, SnsRefusal::BadSignature, "{v} {what}");
            assert_eq!(h.http.calls(), vec![CERT_URL], "{v} {what}");
        }
    }
}

#[tokio::test]
async fn a_mutated_confirmation_fails_the_signature() {
    let mut e = signed(confirmation(SnsMessageType::SubscriptionConfirmation));
    e.token = Some("another-token".into());
    let h = Harness::new();
    refused_after_one_fetch(&h, &body(&e), "bad_signature").await;
}

#[tokio::test]
async fn a_signature_by_another_key_fails() {
    for v in [SignatureVersion::V1, SignatureVersion::V2] {
        let mut e = notification(v);
        other_signer().sign(&mut e);
        let h = Harness::new();
        refused_after_one_fetch(&h, &body(&e), "bad_signature").await;
    }
}

#[tokio::test]
async fn unusable_certificates() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (ec_cert_pem().into_bytes(), "public key is not RSA"),
        (b"hello".to_vec(), "not PEM"),
        (
            b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".to_vec(),
            "not an X.509 certificate",
        ),
    ];
    for (pem, reason) in cases {
        let http = FakeHttp::default();
        http.answer(CERT_URL, Ok(pem));
        let h = Harness::with(config(), http);
        let body = body(&signed(notification(SignatureVersion::V2)));
        let refusal = h.refused(&body, "cert_unusable").await;
        assert_eq!(refusal, SnsRefusal::CertUnusable { reason });
        assert!(!refusal.is_transient());
    }
}

#[tokio::test]
async fn certificate_fetch_failures_transient_or_not() {
    let body = body(&signed(notification(SignatureVersion::V1)));
    let cases = [
        (FetchError::Timeout, "cert_fetch_failed", true),
        (FetchError::Connect, "cert_fetch_failed", true),
        (FetchError::Status(503), "cert_fetch_failed", true),
        (FetchError::Status(404), "cert_not_served", false),
        (FetchError::Status(301), "cert_not_served", false),
        (FetchError::TooLarge(65536), "cert_not_served", false),
    ];
    for (cause, code, transient) in cases {
        let http = FakeHttp::default();
        http.answer(CERT_URL, Err(cause));
        let h = Harness::with(config(), http);
        let refusal = h.refused(&body, code).await;
        assert_eq!(refusal.is_transient(), transient, "{cause}");
        assert_eq!(
            refusal.class().http_status(),
            if transient { 503 } else { 403 }
        );
    }
}

#[tokio::test]
async fn a_failed_fetch_is_not_cached() {
    let http = FakeHttp::default();
    http.answer(CERT_URL, Err(FetchError::Timeout));
    let h = Harness::with(config(), http);
    let body = body(&signed(notification(SignatureVersion::V1)));
    h.refused(&body, "cert_fetch_failed").await;
    h.http
        .answer(CERT_URL, Ok(signer().cert_pem.clone().into_bytes()));
    assert!(h.verify(&body).await.is_ok());
    assert!(h.verify(&body).await.is_ok());
    assert_eq!(
        h.http.calls(),
        vec![CERT_URL, CERT_URL],
        "retried once, then cached"
    );
}

#[tokio::test]
async fn verified_messages_that_are_not_amazon_pay_ipns() {
    let cases: Vec<(&str, &str)> = vec![
        ("not json", "not_an_ipn"),
        ("{\"MerchantID\":\"M\"}", "not_an_ipn"),
        ("[1,2]", "not_an_ipn"),
        (
            r#"{"MerchantID":"M","ObjectType":"CHARGE","ObjectId":"S01-1-1-C1","NotificationType":"STATE_CHANGE","NotificationId":"n","NotificationVersion":"V1"}"#,
            "ipn_version_unsupported",
        ),
    ];
    for (message, code) in cases {
        let mut e = notification(SignatureVersion::V2);
        e.message = message.into();
        let h = Harness::new();
        let refusal = h.refused(&body(&signed(e)), code).await;
        assert_eq!(refusal.class().http_status(), 400);
    }
    // The same text in a confirmation is prose, not an IPN, and verifies.
    let mut e = confirmation(SnsMessageType::SubscriptionConfirmation);
    e.message = "not json".into();
    let verified = Harness::new().verify(&body(&signed(e))).await;
    assert!(matches!(
        verified,
        Ok(VerifiedSns::SubscriptionConfirmation(_))
    ));
}
