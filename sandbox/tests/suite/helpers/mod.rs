//! Shared test helpers: a sandbox on loopback, the project's own client pointed at it, a raw
//! signer (rsa crate) for hand-built requests, an IPN receiver with an independent SNS
//! verifier, and typed flow helpers.

mod flows;
mod raw;
mod receiver;
mod sns;

pub use flows::*;
pub use raw::RawRequest;
pub use receiver::{ipn_receiver, ipn_receiver_with, IpnReceiver};
pub use sns::verify_envelope;

use std::time::Duration;

use savedwallet_amazon_pay::{AmazonPayClient, ClientConfig, Pacing, RetryPolicy};
use savedwallet_sandbox::{Sandbox, SandboxBuilder, SandboxHandle};
use savedwallet_shared::region::{Environment, Region};
use serde_json::Value;

/// The signing-vector key id used by most tests.
pub const KEY_ID: &str = "SANDBOX-TESTKEY0000000000001";
/// A legacy (unprefixed) key id.
pub const LEGACY_KEY_ID: &str = "AEXAMPLELEGACYKEYID000000";
/// A key id registered with a different public key than [`private_pem`].
pub const OTHER_KEY_ID: &str = "SANDBOX-OTHERKEY00000000001";

/// `testdata/amazon-pay/signing-vectors.json`.
pub fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/amazon-pay/signing-vectors.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("vectors")).expect("json")
}

/// The vectors' private key (PKCS#8 PEM).
pub fn private_pem() -> String {
    vectors()["keys"]["privateKeyPem"]
        .as_str()
        .expect("pem")
        .to_string()
}

/// The vectors' public key.
pub fn public_pem() -> String {
    vectors()["keys"]["publicKeyPem"]
        .as_str()
        .expect("pem")
        .to_string()
}

/// A public key that does not match [`private_pem`].
pub fn other_public_pem() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/other-public.pem"
    ))
    .expect("other key")
}

/// Builder with the test keys registered, throttling off and the simulated clock frozen
/// (time moves only by `advance`, so no check depends on how fast the machine is).
pub fn builder() -> SandboxBuilder {
    Sandbox::builder()
        .throttling(false)
        .freeze_clock()
        .public_key(KEY_ID, public_pem())
        .public_key(LEGACY_KEY_ID, public_pem())
        .public_key(OTHER_KEY_ID, other_public_pem())
        .ipn_config(|c| {
            c.retry.min_delay = Duration::from_millis(20);
            c.retry.max_delay = Duration::from_millis(100);
            c.retry.request_timeout = Duration::from_secs(5);
        })
}

/// A sandbox from [`builder`] on a free loopback port.
pub async fn start() -> SandboxHandle {
    builder()
        .spawn("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("sandbox starts")
}

/// The project's client pointed at the sandbox (no pacing, no retries).
pub fn client_for(sb: &SandboxHandle, key_id: &str, region: Region) -> AmazonPayClient {
    client_with_timeout(sb, key_id, region, Duration::from_secs(10))
}

/// [`client_for`] with a per-request timeout.
pub fn client_with_timeout(
    sb: &SandboxHandle,
    key_id: &str,
    region: Region,
    timeout: Duration,
) -> AmazonPayClient {
    let mut cfg = ClientConfig::new(
        region,
        Environment::Sandbox,
        key_id,
        secrecy::SecretString::from(private_pem()),
    );
    cfg.endpoint = Some(url::Url::parse(sb.base_url()).expect("url"));
    cfg.pacing = Pacing::Off;
    cfg.retry = RetryPolicy::none();
    cfg.request_timeout = timeout;
    AmazonPayClient::new(cfg).expect("client")
}

/// The client for an EU merchant with [`KEY_ID`].
pub fn client(sb: &SandboxHandle) -> AmazonPayClient {
    client_for(sb, KEY_ID, Region::Eu)
}

/// A fresh idempotency key.
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

/// Advances the simulated clock through the control API.
pub async fn advance(sb: &SandboxHandle, seconds: i64) {
    let resp = reqwest::Client::new()
        .post(format!("{}/clock/advance", sb.control_url()))
        .json(&serde_json::json!({ "seconds": seconds }))
        .send()
        .await
        .expect("advance");
    assert_eq!(resp.status().as_u16(), 200);
}
