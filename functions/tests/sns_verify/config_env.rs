//! The production configuration path (`SnsConfig::from_env` → `from_lookup`) cannot turn
//! on the local sandbox's certificate rule, whatever the environment holds — with or
//! without the `local-sns` feature.

use super::helpers::*;
use savedwallet_functions::sns::{
    SnsConfig, SnsRefusal, UrlRule, ENV_ALLOWED_TOPICS, ENV_MIN_SIGNATURE_VERSION,
};
use savedwallet_shared::sns::SignatureVersion;
use std::cell::RefCell;

const SANDBOX_TOPIC: &str = "arn:aws:sns:us-east-1:000000000000:amazon-pay-sandbox";
const SANDBOX_CERT: &str = "http://127.0.0.1:8080/_sandbox/sns/SimpleNotificationService-0.pem";

/// A notification on the sandbox's topic whose certificate is at the sandbox's URL.
fn sandbox_notification() -> Vec<u8> {
    let mut e = notification(SignatureVersion::V1);
    e.topic_arn = SANDBOX_TOPIC.into();
    e.signing_cert_url = SANDBOX_CERT.into();
    body(&signed(e))
}

fn fake_sandbox() -> FakeHttp {
    let http = FakeHttp::default();
    http.answer(SANDBOX_CERT, Ok(signer().cert_pem.clone().into_bytes()));
    http
}

#[test]
fn only_two_variables_are_read() {
    let asked = RefCell::new(Vec::new());
    SnsConfig::from_lookup(|name| {
        asked.borrow_mut().push(name.to_string());
        None
    })
    .unwrap();
    let mut asked = asked.into_inner();
    asked.sort();
    assert_eq!(asked, [ENV_ALLOWED_TOPICS, ENV_MIN_SIGNATURE_VERSION]);
}

#[tokio::test]
async fn no_environment_value_enables_the_local_sandbox() {
    let hostile = [
        "1",
        "true",
        "local",
        "local-sns",
        "http://127.0.0.1:8080",
        "http://127.0.0.1:8080/_sandbox/sns/",
        SANDBOX_CERT,
        SANDBOX_TOPIC,
        "arn:aws:sns:us-east-1:000000000000:amazon-pay-sandbox=1",
        "arn:aws:sns:us-east-1:000000000000:amazon-pay-sandbox http://127.0.0.1:8080",
        "arn:aws:sns:us-east-1:000000000000:amazon-pay-sandbox,local=http://127.0.0.1:8080",
    ];
    let mut usable = 0;
    // Every variable the config reads gets the hostile value (one lookup answers all names),
    // and each pair of values is tried for the two variables it reads.
    for topics in hostile {
        for minimum in hostile.iter().copied().chain([""]) {
            let lookup = |name: &str| {
                Some(
                    if name == ENV_MIN_SIGNATURE_VERSION {
                        minimum
                    } else {
                        topics
                    }
                    .to_string(),
                )
            };
            let Ok(config) = SnsConfig::from_lookup(lookup) else {
                continue;
            };
            assert!(!config.accepts_local_sandbox(), "{topics:?} {minimum:?}");
            let topic_allowed = config.topic_minimum(SANDBOX_TOPIC).is_some();
            let h = Harness::with(config, fake_sandbox());
            let refusal = h.verify(&sandbox_notification()).await.unwrap_err();
            if topic_allowed {
                usable += 1;
                assert_eq!(
                    refusal,
                    SnsRefusal::CertUrlRefused {
                        rule: UrlRule::NotHttps
                    }
                );
            }
            assert!(h.http.calls().is_empty(), "{topics:?}: fetched");
        }
    }
    assert!(
        usable > 0,
        "some hostile configuration allowed the sandbox topic"
    );
}

#[cfg(feature = "local-sns")]
#[tokio::test]
async fn only_the_explicit_constructor_enables_it() {
    let base = url::Url::parse("http://127.0.0.1:8080").unwrap();
    let config = SnsConfig::local_sandbox(&base)
        .unwrap()
        .allow_topic(SANDBOX_TOPIC, SignatureVersion::V1);
    assert!(config.accepts_local_sandbox());
    let h = Harness::with(config, fake_sandbox());
    assert!(h.verify(&sandbox_notification()).await.is_ok());
    assert_eq!(h.http.calls(), vec![SANDBOX_CERT]);
    // The topic allow list still applies in local mode.
    let h = Harness::with(SnsConfig::local_sandbox(&base).unwrap(), fake_sandbox());
    h.refused(&sandbox_notification(), "topic_not_allowed")
        .await;
}
