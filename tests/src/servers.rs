//! Small servers the tests run beside the stack: a capture server that records every
//! request it gets (a second IPN endpoint at the sandbox, a webhook receiver), and a TCP
//! listener that only counts connections (where a forged certificate URL points).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use serde_json::Value;
use tokio::task::JoinHandle;

/// One request a capture server received.
#[derive(Debug, Clone)]
pub struct Captured {
    /// Method.
    pub method: Method,
    /// Path and query.
    pub uri: String,
    /// Headers.
    pub headers: HeaderMap,
    /// Body, as text.
    pub body: String,
}

impl Captured {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

type Log = Arc<Mutex<Vec<Captured>>>;

/// Records every request and answers 200 `{}`.
pub struct RequestCapture {
    addr: SocketAddr,
    log: Log,
    task: JoinHandle<()>,
}

/// The capture server used as a second IPN endpoint at the sandbox.
pub type IpnCapture = RequestCapture;

async fn record(
    State(log): State<Log>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> &'static str {
    let entry = Captured {
        method,
        uri: uri.to_string(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    log.lock().expect("capture log").push(entry);
    "{}"
}

impl RequestCapture {
    /// Listens on a free loopback port.
    pub async fn start() -> RequestCapture {
        let log: Log = Arc::default();
        let app = axum::Router::new().fallback(record).with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a capture server");
        let addr = listener.local_addr().expect("its address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        RequestCapture { addr, log, task }
    }

    /// Where it listens (`http://127.0.0.1:port/ipn`).
    pub fn url(&self) -> String {
        format!("http://{}/ipn", self.addr)
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Captured> {
        self.log.lock().expect("capture log").clone()
    }

    /// Every body so far, parsed as JSON (SNS envelopes, webhook payloads).
    pub fn envelopes(&self) -> Vec<Value> {
        self.requests().iter().map(Captured::json).collect()
    }

    /// The SNS envelopes of `Type` `kind` (`Notification`, `SubscriptionConfirmation`).
    pub fn of_type(&self, kind: &str) -> Vec<Value> {
        self.envelopes()
            .into_iter()
            .filter(|e| e["Type"] == kind)
            .collect()
    }

    /// The Notification envelopes whose Amazon Pay message is about `object_id`.
    pub fn notifications_about(&self, object_id: &str) -> Vec<Value> {
        self.of_type("Notification")
            .into_iter()
            .filter(|e| message_of(e)["ObjectId"] == object_id)
            .collect()
    }
}

/// The Amazon Pay message inside an SNS Notification envelope (`Message` is a string).
pub fn message_of(envelope: &Value) -> Value {
    envelope["Message"]
        .as_str()
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or(Value::Null)
}

impl Drop for RequestCapture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A TCP listener that accepts and counts connections, and answers nothing.
pub struct ConnectionCounter {
    addr: SocketAddr,
    count: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl ConnectionCounter {
    /// Listens on a free loopback port.
    pub async fn start() -> ConnectionCounter {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a connection counter");
        let addr = listener.local_addr().expect("its address");
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                seen.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        ConnectionCounter { addr, count, task }
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

impl Drop for ConnectionCounter {
    fn drop(&mut self) {
        self.task.abort();
    }
}
