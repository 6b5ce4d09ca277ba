//! A tiny local IPN endpoint that records every SNS POST and confirms subscriptions, for
//! tests that follow the sandbox's notifications.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use parking_lot::Mutex;
use savedwallet_sandbox::SandboxHandle;
use serde_json::Value;

use super::verify_envelope;

/// Records every envelope it is sent (and answers 200).
#[derive(Clone, Default)]
pub struct IpnReceiver {
    received: Arc<Mutex<Vec<Value>>>,
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

    /// Every envelope received so far.
    pub fn envelopes(&self) -> Vec<Value> {
        self.received.lock().clone()
    }

    /// Amazon Pay messages (parsed `Message` of Notifications) received so far.
    pub fn messages(&self) -> Vec<Value> {
        self.envelopes()
            .iter()
            .filter(|v| v["Type"] == "Notification")
            .filter_map(|v| {
                v["Message"]
                    .as_str()
                    .and_then(|m| serde_json::from_str(m).ok())
            })
            .collect()
    }

    /// Waits (bounded) until an envelope matches.
    async fn wait_envelope(&self, pred: impl Fn(&Value) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.notify.notified();
            if self.envelopes().iter().any(&pred) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "no matching envelope within 10 s; got {:?}",
                    self.envelopes()
                );
            }
        }
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

    /// Checks every envelope received so far with the independent verifier; returns the
    /// `SignatureVersion`s seen.
    pub async fn verify_all(&self, sb: &SandboxHandle) -> Vec<String> {
        let base = url::Url::parse(sb.base_url()).expect("base url");
        let mut versions = Vec::new();
        for e in self.envelopes() {
            verify_envelope(&base, &e)
                .await
                .unwrap_or_else(|err| panic!("{err}: {e}"));
            versions.push(e["SignatureVersion"].as_str().unwrap_or("").to_string());
        }
        versions
    }
}

/// Registers an IPN receiver via the control API (with `signatureVersion` when given) and
/// waits for its SubscriptionConfirmation.
pub async fn ipn_receiver_with(sb: &SandboxHandle, signature_version: Option<&str>) -> IpnReceiver {
    let r = IpnReceiver::default();
    let url = r.start().await;
    let mut body = serde_json::json!({ "url": url });
    if let Some(v) = signature_version {
        body["signatureVersion"] = Value::String(v.into());
    }
    let resp = reqwest::Client::new()
        .post(format!("{}/ipn-endpoints", sb.control_url()))
        .json(&body)
        .send()
        .await
        .expect("register");
    assert_eq!(resp.status().as_u16(), 201);
    r.wait_envelope(|v| v["Type"] == "SubscriptionConfirmation")
        .await;
    r
}

/// [`ipn_receiver_with`] the sandbox's default signature version.
pub async fn ipn_receiver(sb: &SandboxHandle) -> IpnReceiver {
    ipn_receiver_with(sb, None).await
}
