//! `savedwallet pay` and `savedwallet keys` end to end: the built binary against a tiny
//! axum server on 127.0.0.1 that verifies signatures with the `rsa` crate.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use rsa::pkcs8::DecodePublicKey;
use rsa::sha2::Sha256;
use rsa::signature::Verifier;
use savedwallet_amazon_pay::{pem, Operation};
use savedwallet_shared::signing::{
    canonical_request_from_pairs, string_to_sign, AuthorizationHeader, RequestParts,
};
use secrecy::ExposeSecret;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

const CHARGE_PERMISSION: &str = r#"{"chargePermissionId":"S01-1234567-1234567","chargePermissionType":"PaymentMethodOnFile","statusDetails":{"state":"Chargeable","reasons":null,"lastUpdatedTimestamp":"20240601T123456Z"},"releaseEnvironment":"Sandbox"}"#;

fn vectors() -> serde_json::Value {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/amazon-pay/signing-vectors.json"
    );
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// What the server saw: method, path, headers, body, and whether the signature verified.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    verified: bool,
}

impl Seen {
    fn header(&self, n: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.as_str())
    }
}

struct AppState {
    public_key: rsa::PublicKey,
    seen: Mutex<Vec<Seen>>,
}

fn verify(
    key: &rsa::PublicKey,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> bool {
    let Some(auth) = headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .map(|(_, v)| v)
    else {
        return false;
    };
    let Ok(auth) = AuthorizationHeader::parse(auth) else {
        return false;
    };
    let Ok(cr) = canonical_request_from_pairs(
        RequestParts {
            method,
            path,
            query: "",
            body,
        },
        &auth.signed_headers,
        headers,
    ) else {
        return false;
    };
    let sts = string_to_sign(auth.algorithm, &cr);
    let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(&auth.signature_b64) else {
        return false;
    };
    let Ok(sig) = rsa::pss::Signature::try_from(sig.as_slice()) else {
        return false;
    };
    rsa::pss::VerifyingKey::<Sha256>::new_with_salt_len(key.clone(), auth.algorithm.salt_len())
        .verify(sts.as_bytes(), &sig)
        .is_ok()
}

async fn handle(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let verified = verify(
        &state.public_key,
        method.as_str(),
        uri.path(),
        &headers,
        &body,
    );
    state.seen.lock().unwrap().push(Seen {
        method: method.to_string(),
        path: uri.path().to_string(),
        headers,
        body: body.to_vec(),
        verified,
    });
    let json = |status: StatusCode, body: &str| {
        (
            status,
            [
                ("content-type", "application/json"),
                ("x-amz-pay-request-id", "cli-req-1"),
            ],
            body.to_string(),
        )
            .into_response()
    };
    if !verified {
        return json(
            StatusCode::FORBIDDEN,
            r#"{"reasonCode":"InvalidRequestSignature","message":"bad signature"}"#,
        );
    }
    match (method.as_str(), uri.path()) {
        ("GET", "/v2/chargePermissions/S01-1234567-1234567") => {
            json(StatusCode::OK, CHARGE_PERMISSION)
        }
        ("POST", "/v2/charges") => json(
            StatusCode::UNPROCESSABLE_ENTITY,
            r#"{"reasonCode":"HardDeclined","message":"The payment method was declined."}"#,
        ),
        _ => json(
            StatusCode::NOT_FOUND,
            r#"{"reasonCode":"ResourceNotFound","message":"no such resource"}"#,
        ),
    }
}

/// Starts the verifying server for `public_pem`; returns its base URL and state.
async fn start(public_pem: &str) -> (String, Arc<AppState>) {
    let der = pem::decode_first(public_pem).unwrap().der;
    let state = Arc::new(AppState {
        public_key: rsa::PublicKey::from_public_key_der(der.expose_secret()).unwrap(),
        seen: Mutex::new(Vec::new()),
    });
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(Arc::clone(&state));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), state)
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_savedwallet"));
    // Start clean: no AMAZON_PAY_* from the developer's shell.
    for (k, _) in std::env::vars() {
        if k.starts_with("AMAZON_PAY_") {
            c.env_remove(k);
        }
    }
    c.stdin(Stdio::null());
    c
}

/// Runs the binary off the async runtime (the server keeps serving meanwhile).
async fn run(mut cmd: Command, stdin: Option<&'static [u8]>) -> Output {
    tokio::task::spawn_blocking(move || {
        if let Some(input) = stdin {
            use std::io::Write;
            cmd.stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = cmd.spawn().unwrap();
            child.stdin.take().unwrap().write_all(input).unwrap();
            child.wait_with_output().unwrap()
        } else {
            cmd.output().unwrap()
        }
    })
    .await
    .unwrap()
}

/// Asserts the process exit code (showing stderr when it differs); returns stderr.
fn expect_exit(out: &Output, code: i32) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    stderr
}

fn write_key(dir: &Path) -> PathBuf {
    let p = dir.join("private.pem");
    std::fs::write(&p, vectors()["keys"]["privateKeyPem"].as_str().unwrap()).unwrap();
    p
}

/// `savedwallet pay get-charge-permission` in region jp as LIVE-NEWKEY, signed with `key`.
fn get_jp_charge_permission(key: &Path, base: &str) -> Command {
    let mut cmd = bin();
    cmd.args([
        "pay",
        "get-charge-permission",
        "S01-1234567-1234567",
        "--region",
        "jp",
        "--public-key-id",
        "LIVE-NEWKEY",
        "--endpoint",
        base,
    ])
    .arg("--private-key")
    .arg(key);
    cmd
}

/// Every subcommand of `pay --help` names the operation's real method and path (from
/// `Operation`, which the client sends), so the help cannot drift from what is sent.
#[tokio::test]
async fn pay_help_lists_every_operation_truthfully() {
    let mut cmd = bin();
    cmd.args(["pay", "--help"]);
    let out = run(cmd, None).await;
    expect_exit(&out, 0);
    let help = String::from_utf8_lossy(&out.stdout);
    for op in Operation::ALL {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{} ", op.name())))
            .unwrap_or_else(|| panic!("{op} missing from pay --help:\n{help}"));
        let route = format!("{} /v2/{}", op.method().as_str(), op.resource_path("{id}"));
        assert!(line.ends_with(&route), "{line:?} should end with {route:?}");
    }
    for env in [
        "AMAZON_PAY_REGION",
        "AMAZON_PAY_PUBLIC_KEY_ID",
        "AMAZON_PAY_PRIVATE_KEY_FILE",
    ] {
        assert!(help.contains(env), "{env} fallback documented");
    }
}

#[tokio::test]
async fn get_charge_permission_prints_the_json() {
    let (base, state) = start(vectors()["keys"]["publicKeyPem"].as_str().unwrap()).await;
    let dir = tempfile::tempdir().unwrap();
    let key = write_key(dir.path());
    let mut cmd = bin();
    cmd.args(["pay", "get-charge-permission", "S01-1234567-1234567"])
        .env("AMAZON_PAY_REGION", "eu")
        .env("AMAZON_PAY_PUBLIC_KEY_ID", "SANDBOX-CLITEST")
        .env("AMAZON_PAY_PRIVATE_KEY_FILE", &key)
        .env("AMAZON_PAY_ENDPOINT", &base);
    let out = run(cmd, None).await;
    let stderr = expect_exit(&out, 0);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let expected: serde_json::Value = serde_json::from_str(CHARGE_PERMISSION).unwrap();
    assert_eq!(json, expected);
    assert!(
        stderr.contains("HTTP 200") && stderr.contains("cli-req-1"),
        "{stderr}"
    );

    let seen = state.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let s = &seen[0];
    assert!(s.verified, "the server verified the signature");
    assert_eq!(
        (s.method.as_str(), s.path.as_str()),
        ("GET", "/v2/chargePermissions/S01-1234567-1234567")
    );
    assert_eq!(s.header("x-amz-pay-region"), Some("eu"));
    assert_eq!(
        s.header("x-amz-pay-host"),
        Some(base.trim_start_matches("http://"))
    );
    assert!(s
        .header("authorization")
        .unwrap()
        .starts_with("AMZN-PAY-RSASSA-PSS-V2 PublicKeyId=SANDBOX-CLITEST, "));
}

#[tokio::test]
async fn api_error_exits_non_zero_with_reason_code() {
    let (base, state) = start(vectors()["keys"]["publicKeyPem"].as_str().unwrap()).await;
    let dir = tempfile::tempdir().unwrap();
    let key = write_key(dir.path());
    let body: &'static [u8] = b"{\"chargePermissionId\":\"S01-1234567-1234567\",  \"chargeAmount\":{\"amount\":\"14.99\",\"currencyCode\":\"EUR\"}}";
    let cmd = create_charge_at(
        &key,
        &base,
        &[
            "--idempotency-key",
            "cli-key-1",
            "--algorithm",
            "v1",
            "--simulation-code",
            "HardDeclined",
        ],
    );
    let out = run(cmd, Some(body)).await;
    let stderr = expect_exit(&out, 1);
    assert!(
        stderr.contains("HardDeclined: The payment method was declined."),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    let seen = state.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "422 is not retried");
    let s = &seen[0];
    assert!(s.verified);
    assert_eq!(s.body, body, "body sent byte-exact from stdin");
    assert_eq!(s.header("x-amz-pay-idempotency-key"), Some("cli-key-1"));
    assert_eq!(s.header("x-amz-pay-simulation-code"), Some("HardDeclined"));
    assert!(s
        .header("authorization")
        .unwrap()
        .starts_with("AMZN-PAY-RSASSA-PSS PublicKeyId="));
}

#[tokio::test]
async fn usage_errors_have_their_own_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let key = write_key(dir.path());
    // Missing region.
    let mut cmd = bin();
    cmd.args([
        "pay",
        "get-charge",
        "S01-1-2-C3",
        "--public-key-id",
        "SANDBOX-X",
    ])
    .arg("--private-key")
    .arg(&key);
    let out = run(cmd, None).await;
    assert!(expect_exit(&out, 2).contains("--region"));
    // Body that is not JSON.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{not json").unwrap();
    let mut cmd = bin();
    cmd.args([
        "pay",
        "create-charge",
        "--region",
        "na",
        "--public-key-id",
        "SANDBOX-X",
        "--endpoint",
        "http://127.0.0.1:9",
    ])
    .arg("--private-key")
    .arg(&key)
    .arg("--body")
    .arg(&bad);
    let out = run(cmd, None).await;
    assert!(expect_exit(&out, 2).contains("not valid JSON"));
    // Unknown operation (clap).
    let mut cmd = bin();
    cmd.args(["pay", "refund-everything"]);
    expect_exit(&run(cmd, None).await, 2);
}

#[tokio::test]
async fn keys_generate_produces_a_usable_pair() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("keys");
    let mut cmd = bin();
    cmd.args(["keys", "generate", "--out"]).arg(&out_dir);
    let out = run(cmd, None).await;
    expect_exit(&out, 0);
    let private = out_dir.join("private.pem");
    let public = out_dir.join("public.pem");
    let private_pem = std::fs::read_to_string(&private).unwrap();
    let public_pem = std::fs::read_to_string(&public).unwrap();
    assert!(private_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    assert!(public_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&private).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // The rsa crate reads the public key: 2048-bit.
    let der = pem::decode_first(&public_pem).unwrap().der;
    let pk = rsa::PublicKey::from_public_key_der(der.expose_secret()).unwrap();
    assert_eq!(rsa::traits::PublicKeyParts::size(&pk), 256);

    // The CLI signs with the new private key and the rsa-verifying server accepts it.
    let (base, state) = start(&public_pem).await;
    let mut cmd = get_jp_charge_permission(&private, &base);
    cmd.args(["--env", "live"]);
    let out = run(cmd, None).await;
    expect_exit(&out, 0);
    assert!(state.seen.lock().unwrap()[0].verified);
    // The old vector key does not verify against the new public key (the check can fail).
    let mut cmd = get_jp_charge_permission(&write_key(dir.path()), &base);
    cmd.arg("--no-retry");
    let out = run(cmd, None).await;
    assert!(expect_exit(&out, 1).contains("InvalidRequestSignature"));

    // Refuses to overwrite.
    let mut cmd = bin();
    cmd.args(["keys", "generate", "--out"]).arg(&out_dir);
    let out = run(cmd, None).await;
    assert!(expect_exit(&out, 2).contains("refusing to overwrite"));
    assert_eq!(std::fs::read_to_string(&private).unwrap(), private_pem);
}

/// A listener that accepts connections and never answers (the CLI must time out).
async fn start_silent() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            held.push(conn);
        }
    });
    (format!("http://{addr}"), task)
}

/// `pay create-charge --body -` as SANDBOX-CLITEST with the key at `key` against `base`.
fn create_charge_at(key: &Path, base: &str, extra: &[&str]) -> Command {
    let mut cmd = bin();
    cmd.args([
        "pay",
        "create-charge",
        "--body",
        "-",
        "--region",
        "eu",
        "--public-key-id",
        "SANDBOX-CLITEST",
        "--endpoint",
        base,
    ])
    .args(extra)
    .arg("--private-key")
    .arg(key);
    cmd
}

const CHARGE_BODY: &[u8] = b"{\"chargePermissionId\":\"S01-1234567-1234567\",\"chargeAmount\":{\"amount\":\"14.99\",\"currencyCode\":\"EUR\"}}";

#[tokio::test]
async fn timeouts_exit_3_and_say_the_outcome_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let key = write_key(dir.path());
    let (base, server) = start_silent().await;
    let args = [
        "--no-retry",
        "--idempotency-key",
        "cli-timeout-1",
        "--timeout",
        "1",
    ];
    let out = run(create_charge_at(&key, &base, &args), Some(CHARGE_BODY)).await;
    let stderr = expect_exit(&out, 3);
    assert!(stderr.contains("timed out"), "{stderr}");
    // It was sent and never answered: replay the same key, never a new one.
    assert!(
        stderr.contains("the outcome is unknown")
            && stderr.contains("--idempotency-key cli-timeout-1"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    server.abort();
}

#[tokio::test]
async fn network_errors_exit_3_and_say_nothing_was_sent() {
    let dir = tempfile::tempdir().unwrap();
    let key = write_key(dir.path());
    // A port nothing listens on: the connection is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let no_retry = ["--no-retry", "--idempotency-key", "cli-refused-1"];
    let out = run(create_charge_at(&key, &base, &no_retry), Some(CHARGE_BODY)).await;
    let stderr = expect_exit(&out, 3);
    assert!(stderr.contains("nothing reached Amazon"), "{stderr}");
    assert!(!stderr.contains("the outcome is unknown"), "{stderr}");
    assert!(out.stdout.is_empty());
}
