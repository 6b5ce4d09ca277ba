//! Real keys and certificates (rcgen), real signatures (rsa), envelopes built with
//! `shared::sns`, and a `CertSource` double that serves fixed answers and counts every GET.
#![allow(dead_code)] // shared with the sns_logs binary, which uses a part

use async_trait::async_trait;
use base64::Engine;
use parking_lot::Mutex;
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Sign, PrivateKey};
use savedwallet_functions::sns::{
    CertSource, FetchError, RefusalCounters, SnsConfig, SnsNotification, SnsRefusal, SnsVerifier,
    VerifiedSns,
};
use savedwallet_shared::api::{IpnMessage, IpnNotificationType, IpnObjectType};
use savedwallet_shared::sns::{SignatureVersion, SnsEnvelope, SnsMessageType};
use sha2::Digest;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;
use url::Url;

/// The allowed topic of most tests.
pub const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:amazon-pay-ipn";
/// A second allowed topic.
pub const OTHER_TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:other";
/// Where the test certificate is "served".
pub const CERT_URL: &str =
    "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem";

/// A self-signed certificate and its private key.
pub struct Signer {
    /// The certificate, PEM.
    pub cert_pem: String,
    key: PrivateKey,
}

impl Signer {
    fn generate() -> Signer {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("RSA key");
        let cert = rcgen::CertificateParams::new(vec!["sns.amazonaws.com".to_string()])
            .expect("params")
            .self_signed(&pair)
            .expect("certificate");
        let key = PrivateKey::from_pkcs8_pem(&pair.serialize_pem()).expect("PKCS#8");
        Signer {
            cert_pem: cert.pem(),
            key,
        }
    }

    /// Signs `envelope` in place as SNS does for its `SignatureVersion`.
    pub fn sign(&self, envelope: &mut SnsEnvelope) {
        let data = envelope.string_to_sign();
        let signature = match envelope.signature_version {
            SignatureVersion::V1 => self.key.sign(
                Pkcs1v15Sign::new::<sha1::Sha1>(),
                &sha1::Sha1::digest(data.as_bytes()),
            ),
            SignatureVersion::V2 => self.key.sign(
                Pkcs1v15Sign::new::<sha2::Sha256>(),
                &sha2::Sha256::digest(data.as_bytes()),
            ),
        }
        .expect("sign");
        envelope.signature = base64::engine::general_purpose::STANDARD.encode(signature);
    }
}

/// The key behind [`CERT_URL`].
pub fn signer() -> &'static Signer {
    static SIGNER: OnceLock<Signer> = OnceLock::new();
    SIGNER.get_or_init(Signer::generate)
}

/// Another RSA key with its own certificate.
pub fn other_signer() -> &'static Signer {
    static OTHER: OnceLock<Signer> = OnceLock::new();
    OTHER.get_or_init(Signer::generate)
}

/// A certificate over an ECDSA P-256 key (not RSA).
pub fn ec_cert_pem() -> String {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("EC key");
    rcgen::CertificateParams::new(vec!["sns.amazonaws.com".to_string()])
        .expect("params")
        .self_signed(&pair)
        .expect("certificate")
        .pem()
}

/// The Amazon Pay message of the test notifications.
pub fn ipn() -> IpnMessage {
    IpnMessage {
        merchant_id: "A1B2C3D4E5F6G7".into(),
        object_type: IpnObjectType::ChargePermission,
        object_id: "S01-5105180-3221187".into(),
        charge_permission_id: Some("S01-5105180-3221187".into()),
        notification_type: IpnNotificationType::StateChange,
        notification_id: "8e3b0c44298fc1c149afbf4c8996fb92".into(),
        notification_version: Some("V2".into()),
    }
}

/// An unsigned Notification for [`TOPIC`] with [`CERT_URL`].
pub fn notification(version: SignatureVersion) -> SnsEnvelope {
    SnsEnvelope {
        message_type: SnsMessageType::Notification,
        message_id: "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324".into(),
        token: None,
        topic_arn: TOPIC.into(),
        subject: None,
        message: serde_json::to_string(&ipn()).expect("json"),
        subscribe_url: None,
        timestamp: "2024-06-01T12:34:56.789Z".into(),
        signature_version: version,
        signature: String::new(),
        signing_cert_url: CERT_URL.into(),
        unsubscribe_url: Some(
            "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x".into(),
        ),
    }
}

/// The SubscribeURL SNS would send for `topic`.
pub fn subscribe_url(topic: &str) -> String {
    format!(
        "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={}&Token=2336412f37fb687f5d51e6e2425c464de",
        topic.replace(':', "%3A")
    )
}

/// An unsigned confirmation (`kind`) for [`TOPIC`].
pub fn confirmation(kind: SnsMessageType) -> SnsEnvelope {
    SnsEnvelope {
        message_type: kind,
        token: Some("2336412f37fb687f5d51e6e2425c464de".into()),
        subject: None,
        message: format!("You have chosen to subscribe to the topic {TOPIC}."),
        subscribe_url: Some(subscribe_url(TOPIC)),
        unsubscribe_url: None,
        ..notification(SignatureVersion::V1)
    }
}

/// `envelope`, signed by [`signer`].
pub fn signed(mut envelope: SnsEnvelope) -> SnsEnvelope {
    signer().sign(&mut envelope);
    envelope
}

/// The JSON body SNS would POST.
pub fn body(envelope: &SnsEnvelope) -> Vec<u8> {
    serde_json::to_vec(envelope).expect("json")
}

/// The allow list of most tests: [`TOPIC`] and [`OTHER_TOPIC`], both accepting version 1.
pub fn config() -> SnsConfig {
    SnsConfig::new()
        .allow_topic(TOPIC, SignatureVersion::V1)
        .allow_topic(OTHER_TOPIC, SignatureVersion::V1)
}

/// A [`CertSource`] double: fixed answers per URL, every GET recorded, optionally held
/// at a gate until the test opens it.
#[derive(Default)]
pub struct FakeHttp {
    answers: Mutex<HashMap<String, Result<Vec<u8>, FetchError>>>,
    calls: Mutex<Vec<String>>,
    gate: Option<Semaphore>,
}

impl FakeHttp {
    /// Serves [`signer`]'s certificate at [`CERT_URL`].
    pub fn serving_cert() -> FakeHttp {
        let fake = FakeHttp::default();
        fake.answer(CERT_URL, Ok(signer().cert_pem.clone().into_bytes()));
        fake
    }

    /// Like [`FakeHttp::serving_cert`], each GET waiting until [`FakeHttp::open`].
    pub fn gated() -> FakeHttp {
        FakeHttp {
            gate: Some(Semaphore::new(0)),
            ..FakeHttp::serving_cert()
        }
    }

    /// Lets `n` waiting GETs through.
    pub fn open(&self, n: usize) {
        if let Some(gate) = &self.gate {
            gate.add_permits(n);
        }
    }

    /// Sets the answer for `url`.
    pub fn answer(&self, url: &str, answer: Result<Vec<u8>, FetchError>) {
        self.answers.lock().insert(url.to_string(), answer);
    }

    /// Every URL fetched, in order.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().clone()
    }
}

#[async_trait]
impl CertSource for FakeHttp {
    async fn get(&self, url: &Url, limit: usize) -> Result<Vec<u8>, FetchError> {
        self.calls.lock().push(url.to_string());
        if let Some(gate) = &self.gate {
            gate.acquire().await.expect("gate open").forget();
        }
        let answer = self.answers.lock().get(url.as_str()).cloned();
        match answer {
            Some(Ok(body)) if body.len() > limit => Err(FetchError::TooLarge(limit)),
            Some(answer) => answer,
            None => Ok(b"<ConfirmSubscriptionResponse/>".to_vec()),
        }
    }
}

/// A verifier over `config` and a fake, with its counters.
pub struct Harness {
    /// The verifier under test.
    pub verifier: SnsVerifier,
    /// Its outbound HTTP.
    pub http: Arc<FakeHttp>,
    /// Its refusal counters.
    pub counters: Arc<RefusalCounters>,
}

impl Harness {
    /// [`config`] over [`FakeHttp::serving_cert`].
    pub fn new() -> Harness {
        Harness::with(config(), FakeHttp::serving_cert())
    }

    /// `config` over `http`.
    pub fn with(config: SnsConfig, http: FakeHttp) -> Harness {
        let http = Arc::new(http);
        let counters = Arc::new(RefusalCounters::default());
        let verifier =
            SnsVerifier::with_source(config, http.clone()).with_metrics(counters.clone());
        Harness {
            verifier,
            http,
            counters,
        }
    }

    /// Verifies one body.
    pub async fn verify(&self, body: &[u8]) -> Result<VerifiedSns, SnsRefusal> {
        self.verifier.verify(body).await
    }

    /// Verifies `body`, expecting a Notification, and returns it.
    pub async fn notification(&self, body: &[u8]) -> SnsNotification {
        match self.verify(body).await {
            Ok(VerifiedSns::Notification(n)) => n,
            other => panic!("expected a verified notification, got {other:?}"),
        }
    }

    /// Verifies `body`, expecting a refusal with `code`, and returns it.
    pub async fn refused(&self, body: &[u8], code: &str) -> SnsRefusal {
        match self.verify(body).await {
            Ok(v) => panic!("expected {code}, verified {v:?}"),
            Err(refusal) => {
                assert_eq!(refusal.code(), code, "{refusal}");
                refusal
            }
        }
    }
}

/// Serves `app` on a fresh loopback port; returns its base URL.
pub async fn serve(app: axum::Router) -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base =
        Url::parse(&format!("http://{}", listener.local_addr().expect("addr"))).expect("url");
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}
