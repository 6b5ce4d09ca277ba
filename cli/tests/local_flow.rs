//! `scripts/local` end to end with the built binary: generate keys, start the sandbox with
//! the public key, create a Saved Wallet through the control API, then call
//! `savedwallet pay get-charge-permission` and `create-charge` with exactly the environment
//! variables and body the script prints. The key id and the bodies are read from the script,
//! so the test follows it when it changes.

mod common;

use common::{bin, http, start_sandbox};
use std::io::Write;
use std::process::{Output, Stdio};

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

fn expect_ok(out: &Output, what: &str) -> serde_json::Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{what}: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{what}: stdout not JSON: {e}"))
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

    // Started as the script starts it (no --no-throttling).
    let public_pem = keys.join("public.pem");
    let sandbox = start_sandbox(&key_id, &public_pem, &dir.path().join("state.json"), &[]);
    let base = sandbox.base.clone();
    let control_path = sandbox.control.trim_start_matches(&base);
    let (status, created) = http(
        &base,
        "POST",
        &format!("{control_path}/charge-permissions"),
        Some(wallet_body),
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
