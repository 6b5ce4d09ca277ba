//! `scripts/local` end to end with the built binary: generate keys, start the sandbox with
//! the public key, create a Saved Wallet through the control API, then call
//! `savedwallet pay get-charge-permission` and `create-charge` with exactly the environment
//! variables and body the script prints. The key id and the bodies are read from the script,
//! so the test follows it when it changes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Kills the sandbox child (ours, by its handle) even when an assertion fails.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn script() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/local"))
        .expect("scripts/local")
}

/// The text between `start` and the next `end` after it, in the script.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("scripts/local no longer has {start:?}"))
        + start.len();
    let len = text[from..]
        .find(end)
        .unwrap_or_else(|| panic!("scripts/local: no {end:?} after {start:?}"));
    &text[from..from + len]
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_savedwallet"));
    for (k, _) in std::env::vars() {
        if k.starts_with("AMAZON_PAY_") {
            c.env_remove(k);
        }
    }
    c
}

fn expect_ok(out: &Output, what: &str) -> serde_json::Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{what}: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{what}: stdout not JSON: {e}"))
}

/// A one-shot HTTP/1.1 POST with a JSON body (the script uses curl).
fn http_post_json(base: &str, path: &str, body: &str) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Runs `savedwallet pay …` with the variables scripts/local prints.
fn pay(env: &[(&str, String)], args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = bin();
    cmd.arg("pay").args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().expect("spawn pay");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write body");
    }
    child.wait_with_output().expect("pay output")
}

fn start_sandbox(key_id: &str, public_pem: &Path, state: &Path) -> (Guard, String, String) {
    let child = bin()
        .args(["sandbox", "--listen", "127.0.0.1:0", "--public-key"])
        .arg(format!("{key_id}={}", public_pem.display()))
        .arg("--state")
        .arg(state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sandbox");
    let mut guard = Guard(child);
    let stdout = guard.0.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (mut base, mut control) = (None, None);
    while base.is_none() || control.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the sandbox prints its URLs within 30 s");
        if let Some(u) = line.strip_prefix("API base URL: ") {
            base = Some(u.to_string());
        }
        if let Some(u) = line.strip_prefix("Control API: ") {
            control = Some(u.to_string());
        }
    }
    (guard, base.expect("base"), control.expect("control"))
}

#[test]
fn the_local_script_flow_works_end_to_end() {
    let script = script();
    let key_id = between(&script, "KEY_ID=\"", "\"").to_string();
    let wallet_body = between(
        &script,
        "/_sandbox/charge-permissions\" -H 'content-type: application/json' \\\n  -d '",
        "'",
    );
    let charge_template = between(&script, "    echo '", "' \\");
    assert!(charge_template.contains("$CP_ID"), "{charge_template}");

    let dir = tempfile::tempdir().expect("tempdir");
    let keys = dir.path().join("keys");
    let out = bin()
        .args(["keys", "generate", "--out"])
        .arg(&keys)
        .output()
        .expect("keys generate");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (_guard, base, control) = start_sandbox(
        &key_id,
        &keys.join("public.pem"),
        &dir.path().join("state.json"),
    );
    let control_path = control.trim_start_matches(&base);
    let (status, created) = http_post_json(
        &base,
        &format!("{control_path}/charge-permissions"),
        wallet_body,
    );
    assert_eq!(status, 201, "{created}");
    let created: serde_json::Value = serde_json::from_str(&created).expect("JSON");
    let cp = created["chargePermissionId"]
        .as_str()
        .expect("chargePermissionId")
        .to_string();

    // `export AMAZON_PAY_ENDPOINT=$BASE AMAZON_PAY_REGION=eu AMAZON_PAY_ENV=sandbox
    //   AMAZON_PAY_PUBLIC_KEY_ID=$KEY_ID AMAZON_PAY_PRIVATE_KEY_FILE=…/private.pem`
    let exports = between(&script, "export ", "\\\n");
    for name in ["AMAZON_PAY_ENDPOINT", "AMAZON_PAY_REGION", "AMAZON_PAY_ENV"] {
        assert!(exports.contains(name), "{exports}");
    }
    let region = between(exports, "AMAZON_PAY_REGION=", " ").to_string();
    let environment = between(exports, "AMAZON_PAY_ENV=", " ").trim().to_string();
    let env = [
        ("AMAZON_PAY_ENDPOINT", base.clone()),
        ("AMAZON_PAY_REGION", region),
        ("AMAZON_PAY_ENV", environment),
        ("AMAZON_PAY_PUBLIC_KEY_ID", key_id.clone()),
        (
            "AMAZON_PAY_PRIVATE_KEY_FILE",
            keys.join("private.pem").display().to_string(),
        ),
    ];

    let permission = expect_ok(
        &pay(&env, &["get-charge-permission", &cp], None),
        "get-charge-permission",
    );
    assert_eq!(permission["chargePermissionId"], cp.as_str());
    assert_eq!(permission["chargePermissionType"], "PaymentMethodOnFile");
    assert_eq!(permission["statusDetails"]["state"], "Chargeable");

    let body = charge_template.replace("$CP_ID", &cp);
    let charge = expect_ok(
        &pay(&env, &["create-charge", "--body", "-"], Some(&body)),
        "create-charge",
    );
    let sent: serde_json::Value = serde_json::from_str(&body).expect("the script's body");
    assert_eq!(charge["chargePermissionId"], cp.as_str());
    assert_eq!(charge["chargeAmount"], sent["chargeAmount"]);
    assert_eq!(
        charge["statusDetails"]["state"], "Captured",
        "captureNow: true"
    );
    assert_eq!(charge["chargeInitiator"], sent["chargeInitiator"]);
}
