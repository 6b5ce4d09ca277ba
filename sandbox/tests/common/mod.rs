//! Shared test helpers: a sandbox on loopback, the project's own client pointed at it, a raw
//! signer (rsa crate) for hand-built requests, and a tiny IPN receiver.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use base64::Engine as _;
use parking_lot::Mutex;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer as _};
use savedwallet_amazon_pay::{AmazonPayClient, ClientConfig, Pacing, RetryPolicy};
use savedwallet_sandbox::{Sandbox, SandboxBuilder, SandboxHandle};
use savedwallet_shared::region::{Environment, Region};
use savedwallet_shared::signing::{
    canonical_request_from_pairs, string_to_sign, RequestParts, SigningAlgorithm,
};
use serde_json::Value;

/// The signing-vector key id used by most tests.
pub const KEY_ID: &str = "SANDBOX-TESTKEY0000000000001";
/// A legacy (unprefixed) key id.
pub const LEGACY_KEY_ID: &str = "AEXAMPLELEGACYKEYID000000";
/// A key id registered with a different public key than [`private_pem`].
pub const OTHER_KEY_ID: &str = "SANDBOX-OTHERKEY00000000001";

pub fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/amazon-pay/signing-vectors.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("vectors")).expect("json")
}

pub fn private_pem() -> String {
    vectors()["keys"]["privateKeyPem"]
        .as_str()
        .expect("pem")
        .to_string()
}

pub fn public_pem() -> String {
    vectors()["keys"]["publicKeyPem"]
        .as_str()
        .expect("pem")
        .to_string()
}

pub fn other_public_pem() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/other-public.pem"
    ))
    .expect("other key")
}

/// Builder with the test keys registered and throttling off.
pub fn builder() -> SandboxBuilder {
    Sandbox::builder()
        .throttling(false)
        .public_key(KEY_ID, public_pem())
        .public_key(LEGACY_KEY_ID, public_pem())
        .public_key(OTHER_KEY_ID, other_public_pem())
        .ipn_config(|c| {
            c.retry.min_delay = Duration::from_millis(20);
            c.retry.max_delay = Duration::from_millis(100);
            c.retry.request_timeout = Duration::from_secs(5);
        })
}

pub async fn start() -> SandboxHandle {
    builder()
        .spawn("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("sandbox starts")
}

/// The project's client pointed at the sandbox (no pacing, no retries).
pub fn client_for(sb: &SandboxHandle, key_id: &str, region: Region) -> AmazonPayClient {
    let mut cfg = ClientConfig::new(
        region,
        Environment::Sandbox,
        key_id,
        secrecy::SecretString::from(private_pem()),
    );
    cfg.endpoint = Some(url::Url::parse(sb.base_url()).expect("url"));
    cfg.pacing = Pacing::Off;
    cfg.retry = RetryPolicy::none();
    cfg.request_timeout = Duration::from_secs(10);
    AmazonPayClient::new(cfg).expect("client")
}

pub fn client(sb: &SandboxHandle) -> AmazonPayClient {
    client_for(sb, KEY_ID, Region::Eu)
}

pub fn key() -> String {
    savedwallet_amazon_pay::new_idempotency_key()
}

/// Unwraps the client's API error into (status, reasonCode).
pub fn api_err<T: std::fmt::Debug>(r: Result<T, savedwallet_amazon_pay::Error>) -> (u16, String) {
    match r {
        Err(e) => (
            e.status().unwrap_or(0),
            e.reason_code()
                .map(|r| r.as_str().to_string())
                .unwrap_or_else(|| e.to_string()),
        ),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

/// A hand-built signed request: everything can be tampered with before sending.
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Header names to sign (lower case, sorted).
    pub signed: Vec<String>,
    pub key_id: String,
    pub alg_name: String,
    pub salt: usize,
}

impl RawRequest {
    pub fn new(sb: &SandboxHandle, method: &str, path: &str, body: &str) -> RawRequest {
        let host = sb.addr().to_string();
        let date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let mut headers = vec![
            ("accept".to_string(), "application/json".to_string()),
            ("content-type".to_string(), "application/json".to_string()),
            ("x-amz-pay-date".to_string(), date),
            ("x-amz-pay-host".to_string(), host),
            ("x-amz-pay-region".to_string(), "eu".to_string()),
        ];
        if method == "POST" {
            headers.push(("x-amz-pay-idempotency-key".to_string(), key()));
        }
        let mut signed: Vec<String> = headers.iter().map(|(n, _)| n.clone()).collect();
        signed.sort();
        RawRequest {
            method: method.into(),
            path: path.into(),
            query: String::new(),
            headers,
            body: body.into(),
            signed,
            key_id: KEY_ID.into(),
            alg_name: "AMZN-PAY-RSASSA-PSS-V2".into(),
            salt: 32,
        }
    }

    pub fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.to_string()));
    }

    /// The authorization header over the current fields, signed with the rsa crate.
    pub fn authorization(&self) -> String {
        let alg = SigningAlgorithm::from_name(&self.alg_name).unwrap_or(SigningAlgorithm::V2);
        let canonical = canonical_request_from_pairs(
            RequestParts {
                method: &self.method,
                path: &self.path,
                query: &self.query,
                body: self.body.as_bytes(),
            },
            &self.signed,
            &self.headers,
        )
        .expect("canonical");
        let sts = string_to_sign(alg, &canonical);
        let key = rsa::PrivateKey::from_pkcs8_pem(&private_pem()).expect("key");
        let signer = rsa::pss::SigningKey::<rsa::sha2::Sha256>::new_with_salt_len(key, self.salt);
        let sig = signer.try_sign(sts.as_bytes()).expect("sign");
        format!(
            "{} PublicKeyId={}, SignedHeaders={}, Signature={}",
            self.alg_name,
            self.key_id,
            self.signed.join(";"),
            base64::engine::general_purpose::STANDARD.encode(sig.to_bytes())
        )
    }

    /// Sends with the given authorization header; returns (status, JSON body).
    pub async fn send_with(&self, sb: &SandboxHandle, authorization: &str) -> (u16, Value) {
        let (status, _, body) = self.send_full(sb, authorization).await;
        (status, body)
    }

    /// Sends with the given authorization header; returns (status, headers, JSON body).
    pub async fn send_full(
        &self,
        sb: &SandboxHandle,
        authorization: &str,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let url = if self.query.is_empty() {
            format!("{}{}", sb.base_url(), self.path)
        } else {
            format!("{}{}?{}", sb.base_url(), self.path, self.query)
        };
        let method = reqwest::Method::from_bytes(self.method.as_bytes()).expect("method");
        let mut rb = reqwest::Client::new().request(method, url);
        for (n, v) in &self.headers {
            rb = rb.header(n.as_str(), v.as_str());
        }
        let resp = rb
            .header("authorization", authorization)
            .body(self.body.clone())
            .send()
            .await
            .expect("send");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Signs, sends and returns (status, `reasonCode` or "" on success).
    pub async fn outcome(&self, sb: &SandboxHandle) -> (u16, String) {
        let (status, v) = self.send(sb).await;
        (status, v["reasonCode"].as_str().unwrap_or("").to_string())
    }

    /// Adds a signed `x-amz-pay-simulation-code` header (Node/Java/.NET style).
    pub fn signed_simulation_code(&mut self, code: &str) {
        self.set_header("x-amz-pay-simulation-code", code);
        self.signed.push("x-amz-pay-simulation-code".into());
        self.signed.sort();
    }

    pub async fn send(&self, sb: &SandboxHandle) -> (u16, Value) {
        let auth = self.authorization();
        self.send_with(sb, &auth).await
    }
}

/// A tiny local IPN endpoint that records every SNS POST and confirms subscriptions.
#[derive(Clone, Default)]
pub struct IpnReceiver {
    pub received: Arc<Mutex<Vec<Value>>>,
    notify: Arc<tokio::sync::Notify>,
}

impl IpnReceiver {
    /// Starts it; returns its URL.
    pub async fn start(&self) -> String {
        let me = self.clone();
        let app = axum::Router::new().route(
            "/ipn",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let me = me.clone();
                async move {
                    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    if headers
                        .get("x-amz-sns-message-type")
                        .and_then(|h| h.to_str().ok())
                        == Some("SubscriptionConfirmation")
                    {
                        if let Some(u) = v["SubscribeURL"].as_str() {
                            let _ = reqwest::get(u).await;
                        }
                    }
                    me.received.lock().push(v);
                    me.notify.notify_waiters();
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/ipn")
    }

    /// Amazon Pay messages (parsed `Message` of Notifications) received so far.
    pub fn messages(&self) -> Vec<Value> {
        self.received
            .lock()
            .iter()
            .filter(|v| v["Type"] == "Notification")
            .filter_map(|v| {
                v["Message"]
                    .as_str()
                    .and_then(|m| serde_json::from_str(m).ok())
            })
            .collect()
    }

    /// Waits (bounded) until a message matches.
    pub async fn wait_for(&self, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_count(pred, 1).await.remove(0)
    }

    /// Waits (bounded) until at least `n` messages match; returns them.
    pub async fn wait_count(&self, pred: impl Fn(&Value) -> bool, n: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.notify.notified();
            let found: Vec<Value> = self.messages().into_iter().filter(|m| pred(m)).collect();
            if found.len() >= n {
                return found;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "fewer than {n} matching IPNs within 10 s; got {:?}",
                    self.messages()
                );
            }
        }
    }
}

/// Registers an IPN receiver via the control API and waits for the subscription.
pub async fn ipn_receiver(sb: &SandboxHandle) -> IpnReceiver {
    let r = IpnReceiver::default();
    let url = r.start().await;
    let resp = reqwest::Client::new()
        .post(format!("{}/ipn-endpoints", sb.control_url()))
        .json(&serde_json::json!({ "url": url }))
        .send()
        .await
        .expect("register");
    assert_eq!(resp.status().as_u16(), 201);
    // Wait for the SubscriptionConfirmation to be received.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let notified = r.notify.notified();
        if r.received
            .lock()
            .iter()
            .any(|v| v["Type"] == "SubscriptionConfirmation")
        {
            break;
        }
        tokio::time::timeout_at(deadline, notified)
            .await
            .expect("subscription confirmation within 10 s");
    }
    r
}

/// Creates a Saved Wallet via the control API (real HTTP).
pub async fn control_wallet(sb: &SandboxHandle, body: Value) -> Value {
    let resp = reqwest::Client::new()
        .post(format!("{}/charge-permissions", sb.control_url()))
        .json(&body)
        .send()
        .await
        .expect("control");
    assert_eq!(resp.status().as_u16(), 201, "control API create wallet");
    resp.json().await.expect("json")
}

pub async fn advance(sb: &SandboxHandle, seconds: i64) {
    let resp = reqwest::Client::new()
        .post(format!("{}/clock/advance", sb.control_url()))
        .json(&serde_json::json!({ "seconds": seconds }))
        .send()
        .await
        .expect("advance");
    assert_eq!(resp.status().as_u16(), 200);
}
