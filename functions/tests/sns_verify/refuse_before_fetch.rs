//! Refusals decided on the body alone: each has its own code, and the `CertSource`
//! double shows that no outbound request was made.

use super::helpers::*;
use savedwallet_functions::sns::{SnsConfig, SnsRefusal, UrlRule, DEFAULT_MAX_BODY_BYTES};
use savedwallet_shared::sns::{SignatureVersion, SnsEnvelope, SnsMessageType};

/// A notification signed after `edit`, so the edit is the only thing wrong.
fn with(edit: impl FnOnce(&mut SnsEnvelope)) -> Vec<u8> {
    let mut e = notification(SignatureVersion::V1);
    edit(&mut e);
    body(&signed(e))
}

/// A signed notification edited after signing.
fn after(edit: impl FnOnce(&mut SnsEnvelope)) -> Vec<u8> {
    let mut e = signed(notification(SignatureVersion::V1));
    edit(&mut e);
    body(&e)
}

fn cert_url(url: &str) -> Vec<u8> {
    with(|e| e.signing_cert_url = url.into())
}

/// A signed notification with one JSON field replaced.
fn json_field(key: &str, value: serde_json::Value) -> Vec<u8> {
    let mut v: serde_json::Value =
        serde_json::from_slice(&body(&signed(notification(SignatureVersion::V1)))).unwrap();
    v[key] = value;
    serde_json::to_vec(&v).unwrap()
}

async fn refused_without_fetch(h: &Harness, body: &[u8], code: &str) -> SnsRefusal {
    let refusal = h.refused(body, code).await;
    assert_eq!(h.http.calls(), Vec::<String>::new(), "{code}: fetched");
    assert!(!refusal.is_transient(), "{code}");
    assert_eq!(h.counters.get(code), 1, "{code} counted once");
    refusal
}

#[tokio::test]
async fn certificate_url_attacks_are_refused_by_their_rule() {
    let cases = [
        (
            "http://sns.eu-west-1.amazonaws.com/x.pem",
            UrlRule::NotHttps,
            "cert_url_not_https",
        ),
        (
            "https://sns.us-east-1.amazonaws.com.evil.example/x.pem",
            UrlRule::Host,
            "cert_url_host",
        ),
        (
            "https://evil-sns.us-east-1.amazonaws.com/x.pem",
            UrlRule::Host,
            "cert_url_host",
        ),
        (
            "https://sns..amazonaws.com/x.pem",
            UrlRule::Host,
            "cert_url_host",
        ),
        ("https://evil.example/x.pem", UrlRule::Host, "cert_url_host"),
        (
            "https://s3.amazonaws.com/x.pem",
            UrlRule::Host,
            "cert_url_host",
        ),
        (
            "https://user@sns.us-east-1.amazonaws.com/x.pem",
            UrlRule::Userinfo,
            "cert_url_userinfo",
        ),
        (
            "https://sns.us-east-1.amazonaws.com:443/x.pem",
            UrlRule::ExplicitPort,
            "cert_url_port",
        ),
        (
            "https://sns.us-east-1.amazonaws.com:8443/x.pem",
            UrlRule::ExplicitPort,
            "cert_url_port",
        ),
        (
            "https://sns.us-east-1.amazonaws.com/x.txt",
            UrlRule::Path,
            "cert_url_path",
        ),
        (
            "https://sns.us-east-1.amazonaws.com/x.pem?x=1",
            UrlRule::Query,
            "cert_url_query",
        ),
        (
            "https://SNS.us-east-1.amazonaws.com/x.pem",
            UrlRule::NotCanonical,
            "cert_url_not_canonical",
        ),
        (
            "sns.us-east-1.amazonaws.com/x.pem",
            UrlRule::Unparseable,
            "cert_url_unparseable",
        ),
    ];
    for (url, rule, code) in cases {
        let h = Harness::new();
        let refusal = refused_without_fetch(&h, &cert_url(url), code).await;
        assert_eq!(refusal, SnsRefusal::CertUrlRefused { rule }, "{url}");
    }
}

#[tokio::test]
async fn topic_and_version_refusals() {
    let h = Harness::new();
    let wrong = "arn:aws:sns:eu-west-1:999999999999:not-amazon";
    let refusal = refused_without_fetch(
        &h,
        &with(|e| e.topic_arn = wrong.into()),
        "topic_not_allowed",
    )
    .await;
    assert_eq!(
        refusal,
        SnsRefusal::TopicNotAllowed {
            topic_arn: wrong.into()
        }
    );

    let strict = SnsConfig::new().allow_topic(TOPIC, SignatureVersion::V2);
    let h = Harness::with(strict, FakeHttp::serving_cert());
    let refusal = refused_without_fetch(&h, &with(|_| {}), "signature_version_below_minimum").await;
    assert_eq!(
        refusal,
        SnsRefusal::SignatureVersionBelowMinimum {
            got: SignatureVersion::V1,
            minimum: SignatureVersion::V2
        }
    );

    for version in ["3", "0", "", "1.0"] {
        let h = Harness::new();
        let body = json_field("SignatureVersion", version.into());
        refused_without_fetch(&h, &body, "unsupported_signature_version").await;
    }
}

#[tokio::test]
async fn unreadable_bodies() {
    let big_message = "x".repeat(DEFAULT_MAX_BODY_BYTES);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"{not json".to_vec(), "malformed"),
        (b"[]".to_vec(), "malformed"),
        (b"".to_vec(), "malformed"),
        (vec![0xff, 0xfe], "malformed"),
        (json_field("Type", "Notice".into()), "unknown_type"),
        (json_field("Type", 7.into()), "malformed"),
        (json_field("Signature", 7.into()), "malformed"),
        (json_field("Timestamp", "yesterday".into()), "malformed"),
        (with(|e| e.message = big_message.clone()), "too_large"),
        (after(|e| e.signature = String::new()), "bad_signature"),
    ];
    for (body, code) in cases {
        let h = Harness::new();
        refused_without_fetch(&h, &body, code).await;
    }
    // A key twice (here through the Lambda spelling) is ambiguous: refused.
    let h = Harness::new();
    let text = String::from_utf8(with(|_| {})).unwrap();
    let twice = text.replacen(
        "\"SigningCertURL\"",
        "\"SigningCertUrl\":\"https://sns.eu-west-1.amazonaws.com/b.pem\",\"SigningCertURL\"",
        1,
    );
    refused_without_fetch(&h, twice.as_bytes(), "malformed").await;
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v.as_object_mut().unwrap().remove("MessageId");
    refused_without_fetch(
        &Harness::new(),
        &serde_json::to_vec(&v).unwrap(),
        "malformed",
    )
    .await;
}

#[tokio::test]
async fn a_bad_signature_that_is_not_base64_is_refused_unfetched() {
    let h = Harness::new();
    let body = after(|e| e.signature = "not base64!".into());
    assert_eq!(
        refused_without_fetch(&h, &body, "bad_signature").await,
        SnsRefusal::BadSignature
    );
}

#[tokio::test]
async fn confirmation_refusals() {
    let confirm = |edit: &dyn Fn(&mut SnsEnvelope)| {
        let mut e = confirmation(SnsMessageType::SubscriptionConfirmation);
        edit(&mut e);
        body(&signed(e))
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (confirm(&|e| e.subscribe_url = None), "malformed"),
        (confirm(&|e| e.token = None), "malformed"),
        (
            confirm(&|e| e.subscribe_url = Some(subscribe_url(TOPIC).replace("https:", "http:"))),
            "subscribe_url_not_https",
        ),
        (
            confirm(&|e| {
                e.subscribe_url = Some(subscribe_url(TOPIC).replace(".com/", ".com.evil.example/"))
            }),
            "subscribe_url_host",
        ),
        (
            confirm(&|e| e.subscribe_url = Some(subscribe_url(OTHER_TOPIC))),
            "subscribe_url_confirm_query",
        ),
        (
            confirm(&|e| e.topic_arn = "arn:aws:sns:eu-west-1:999999999999:x".into()),
            "topic_not_allowed",
        ),
    ];
    for (body, code) in cases {
        let h = Harness::new();
        refused_without_fetch(&h, &body, code).await;
    }
}

#[tokio::test]
async fn a_smaller_body_bound_is_honoured() {
    let config = config().with_max_body_bytes(100);
    let h = Harness::with(config, FakeHttp::serving_cert());
    let refusal = refused_without_fetch(&h, &with(|_| {}), "too_large").await;
    assert_eq!(refusal, SnsRefusal::TooLarge { limit: 100 });
}
