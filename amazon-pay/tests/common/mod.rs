//! Test helpers: the recorded vectors, an independent RSASSA-PSS verifier (the `rsa`
//! crate) implementing SPEC §2.6, and a recording axum server on 127.0.0.1:0.
#![allow(dead_code)]

use base64::Engine as _;
use rsa::pkcs8::DecodePublicKey;
use rsa::sha2::Sha256;
use rsa::signature::Verifier;
use savedwallet_amazon_pay::{
    pem, AmazonPayClient, AttemptFailure, ClientConfig, Delivery, Error, Pacing, RetryPolicy,
    Stopped,
};
use savedwallet_shared::region::{Environment, Region};
use savedwallet_shared::signing::{
    canonical_request_from_pairs, string_to_sign, AuthorizationHeader, RequestParts,
};
use secrecy::ExposeSecret;
use serde_json::Value;

/// Every request `server` saw verifies (SPEC §2.6, the `rsa` crate) and carries the headers
/// the client must sign.
pub fn assert_all_signed(server: &TestServer) {
    let key = rsa_public_key(&public_key_pem());
    for s in server.seen() {
        assert!(
            verify_received(&key, &s.request, None),
            "request not correctly signed: {:?}",
            s.request.path
        );
        let date = s.request.header("x-amz-pay-date").expect("date header");
        assert!(savedwallet_shared::signing::parse_pay_date(date).is_ok());
        assert_eq!(date.len(), "20240601T123456Z".len(), "basic date format");
        assert_eq!(
            s.request.header("x-amz-pay-host"),
            Some(server.authority().as_str())
        );
        assert_eq!(s.request.header("x-amz-pay-region"), Some("eu"));
        let auth = s.request.header("authorization").expect("authorization");
        for h in [
            "accept",
            "content-type",
            "x-amz-pay-date",
            "x-amz-pay-host",
            "x-amz-pay-region",
        ] {
            assert!(auth.contains(h), "{h} signed");
        }
    }
}

/// The last attempt of an [`Error::Unanswered`] that stopped for `why` after `attempts`.
pub fn unanswered(err: &Error, why: Stopped, attempts: u32) -> (Delivery, &AttemptFailure) {
    match err {
        Error::Unanswered {
            delivery,
            stopped,
            attempts: n,
            last: Some(last),
        } if *stopped == why && *n == attempts => (*delivery, last),
        other => panic!("expected Unanswered({why:?}) after {attempts} attempts, got {other:?}"),
    }
}

/// A client configuration for `server` as `key_id`: EU sandbox (unless the key says live),
/// no pacing, 10 s per attempt, up to 3 fast resends.
pub fn config_for(server: &TestServer, key_id: &str) -> ClientConfig {
    let mut c = ClientConfig::new(
        Region::Eu,
        Environment::Sandbox,
        key_id,
        secrecy::SecretString::from(private_key_pem()),
    );
    c.endpoint = Some(server.base.clone());
    c.pacing = Pacing::Off;
    c.request_timeout = std::time::Duration::from_secs(10);
    c.retry = RetryPolicy {
        max_retries: 3,
        base_delay: std::time::Duration::from_millis(5),
        max_delay: std::time::Duration::from_millis(20),
        max_total: std::time::Duration::from_secs(20),
    };
    c
}

/// The client of [`config_for`] as `SANDBOX-TESTKEY`.
pub fn client_for(server: &TestServer) -> AmazonPayClient {
    AmazonPayClient::new(config_for(server, "SANDBOX-TESTKEY")).expect("client")
}

/// The signing vectors file.
pub fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/amazon-pay/signing-vectors.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("vectors readable"))
        .expect("vectors JSON")
}

/// The throwaway test private key (PKCS#8 PEM).
pub fn private_key_pem() -> String {
    vectors()["keys"]["privateKeyPem"]
        .as_str()
        .expect("private key")
        .to_string()
}

/// The throwaway test public key (SPKI PEM).
pub fn public_key_pem() -> String {
    vectors()["keys"]["publicKeyPem"]
        .as_str()
        .expect("public key")
        .to_string()
}

/// Parses an SPKI PEM public key with the `rsa` crate.
pub fn rsa_public_key(pem_text: &str) -> rsa::PublicKey {
    let block = pem::decode_first(pem_text).expect("PEM");
    assert_eq!(block.label, "PUBLIC KEY");
    rsa::PublicKey::from_public_key_der(block.der.expose_secret()).expect("SPKI")
}

/// RSASSA-PSS SHA-256 verification with an explicit salt length, by the `rsa` crate.
pub fn rsa_verify(key: &rsa::PublicKey, salt: usize, message: &[u8], sig_b64: &str) -> bool {
    let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(sig_b64) else {
        return false;
    };
    let Ok(sig) = rsa::pss::Signature::try_from(sig.as_slice()) else {
        return false;
    };
    let vk = rsa::pss::VerifyingKey::<Sha256>::new_with_salt_len(key.clone(), salt);
    vk.verify(message, &sig).is_ok()
}

/// A received request as a verifier sees it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    /// Case-insensitive header lookup.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// SPEC §2.6 with the `rsa` crate: parse authorization, rebuild the canonical request
/// from what was received, verify with the salt the header names (or `force_salt`).
pub fn verify_received(key: &rsa::PublicKey, r: &Received, force_salt: Option<usize>) -> bool {
    let Some(auth) = r.header("authorization") else {
        return false;
    };
    let Ok(auth) = AuthorizationHeader::parse(auth) else {
        return false;
    };
    let Ok(cr) = canonical_request_from_pairs(
        RequestParts {
            method: &r.method,
            path: &r.path,
            query: &r.query,
            body: &r.body,
        },
        &auth.signed_headers,
        &r.headers,
    ) else {
        return false;
    };
    let sts = string_to_sign(auth.algorithm, &cr);
    let salt = force_salt.unwrap_or(auth.algorithm.salt_len());
    rsa_verify(key, salt, sts.as_bytes(), &auth.signature_b64)
}

/// A vector's request as [`Received`].
pub fn vector_request(v: &Value) -> Received {
    let req = &v["request"];
    Received {
        method: req["method"].as_str().expect("method").to_string(),
        path: req["path"].as_str().expect("path").to_string(),
        query: req["rawQuery"].as_str().unwrap_or("").to_string(),
        headers: req["headers"]
            .as_object()
            .expect("headers")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().expect("value").to_string()))
            .collect(),
        body: req["body"].as_str().unwrap_or("").as_bytes().to_vec(),
    }
}

// ---------------------------------------------------------------------------------------
// A scripted, recording HTTP server on 127.0.0.1:0.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// What the server does for one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Answer with status, extra headers and body.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Never answer (the client must time out).
    Hang,
}

impl Reply {
    /// JSON answer with an `x-amz-pay-request-id`.
    pub fn json(status: u16, body: &str) -> Reply {
        Reply::Respond {
            status,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("x-amz-pay-request-id".into(), format!("req-{status}")),
            ],
            body: body.into(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        if let Reply::Respond { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }
}

/// One recorded request with its arrival time.
#[derive(Debug, Clone)]
pub struct Seen {
    pub request: Received,
    pub at: std::time::Instant,
}

#[derive(Default)]
struct ServerState {
    script: Mutex<VecDeque<Reply>>,
    last: Mutex<Option<Reply>>,
    seen: Mutex<Vec<Seen>>,
}

/// Handle of a running test server.
pub struct TestServer {
    pub base: url::Url,
    state: Arc<ServerState>,
}

impl TestServer {
    /// Starts a server that plays `script` in order and repeats the last reply afterwards.
    pub async fn start(script: Vec<Reply>) -> TestServer {
        let last = script.last().cloned();
        let state = Arc::new(ServerState {
            script: Mutex::new(script.into()),
            last: Mutex::new(last),
            seen: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TestServer {
            base: url::Url::parse(&format!("http://{addr}")).expect("url"),
            state,
        }
    }

    /// Requests received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().expect("lock").clone()
    }

    /// `host:port` the client must sign as x-amz-pay-host.
    pub fn authority(&self) -> String {
        format!(
            "{}:{}",
            self.base.host_str().expect("host"),
            self.base.port().expect("port")
        )
    }
}

async fn handle(
    State(state): State<Arc<ServerState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = Received {
        method: method.as_str().to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or("").to_string(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: body.to_vec(),
    };
    state.seen.lock().expect("lock").push(Seen {
        request,
        at: std::time::Instant::now(),
    });
    let reply = {
        let next = state.script.lock().expect("lock").pop_front();
        next.or_else(|| state.last.lock().expect("lock").clone())
    };
    match reply {
        Some(Reply::Respond {
            status,
            headers,
            body,
        }) => {
            let mut resp = (StatusCode::from_u16(status).expect("status"), body).into_response();
            for (n, v) in headers {
                resp.headers_mut().insert(
                    axum::http::HeaderName::from_bytes(n.as_bytes()).expect("name"),
                    axum::http::HeaderValue::from_str(&v).expect("value"),
                );
            }
            resp
        }
        Some(Reply::Hang) => std::future::pending().await,
        None => StatusCode::NOT_IMPLEMENTED.into_response(),
    }
}

/// A Charge body in the given state.
pub fn charge_json(state: &str) -> String {
    let extra = if state == "ActionRequired" {
        r#","reasonCode":"BuyerActionRequired","reasonDescription":"Charge requires buyer action to proceed.""#
    } else {
        ""
    };
    let wcd = if state == "ActionRequired" {
        r#","webCheckoutDetails":{"checkoutResultReturnUrl":"https://m.example/r","amazonPayRedirectUrl":"https://pay.example/mfa"}"#
    } else {
        ""
    };
    format!(
        r#"{{"chargeId":"S01-1234567-1234567-C000001","chargePermissionId":"S01-1234567-1234567","chargeAmount":{{"amount":"14.99","currencyCode":"EUR"}},"statusDetails":{{"state":"{state}"{extra},"lastUpdatedTimestamp":"20240601T123456Z"}},"creationTimestamp":"20240601T123456Z","releaseEnvironment":"Sandbox"{wcd}}}"#
    )
}

/// A Saved Wallet Charge Permission body.
pub fn charge_permission_json() -> String {
    r#"{"chargePermissionId":"S01-1234567-1234567","chargePermissionType":"PaymentMethodOnFile","presentmentCurrency":"EUR","statusDetails":{"state":"Chargeable","reasons":null,"lastUpdatedTimestamp":"20240601T123456Z"},"creationTimestamp":"20240601T123456Z","expirationTimestamp":null,"releaseEnvironment":"Sandbox"}"#.to_string()
}
