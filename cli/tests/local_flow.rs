//! `scripts/local` end to end: the script runs `savedwallet local`, and the built binary
//! starts the whole stack from an empty state directory — secrets made, the API and the
//! sandbox on their ports, `stack.json` written — then a buyer sets up a wallet through the
//! sandbox's control API and pays an order over HTTP. A restart on the same directory keeps
//! the secrets and the data.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use common::{bin, http, http_with, Guard};
use serde_json::Value;

/// Starts `savedwallet local` on free ports; returns once it printed that it is up.
fn start_local(dir: &Path) -> Guard {
    let mut child = bin()
        .args(["local", "--dir"])
        .arg(dir)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--sandbox-listen",
            "127.0.0.1:0",
            "--job-interval",
            "0",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn savedwallet local");
    let stdout = child.stdout.take().expect("stdout");
    let guard = Guard(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("savedwallet local says it is up within 60 s");
        if line.contains("savedwallet local stack is up") {
            return guard;
        }
    }
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[test]
fn the_script_runs_the_local_command() {
    let script = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/local"))
        .expect("scripts/local");
    assert!(
        script.contains("savedwallet\" local --helper-dir \"$TARGET_DIR/wasm-pkg\" \"$@\""),
        "scripts/local must exec `savedwallet local` with the built helper and its arguments:\n{script}"
    );
    assert!(
        script.contains("scripts/build-wasm"),
        "scripts/local must build the helper the demo shop loads:\n{script}"
    );
}

#[test]
fn the_local_stack_starts_charges_and_keeps_its_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("local");
    let guard = start_local(&state);
    for f in [
        "stack.json",
        "admin-token",
        "keys/private.pem",
        "store.redb",
    ] {
        assert!(state.join(f).exists(), "{f} missing");
    }
    let info = json(&std::fs::read_to_string(state.join("stack.json")).expect("stack.json"));
    let api = info["apiUrl"].as_str().expect("apiUrl").to_string();
    let sandbox = info["sandboxUrl"].as_str().expect("sandboxUrl").to_string();
    let admin = format!(
        "Bearer {}",
        info["adminToken"].as_str().expect("adminToken")
    );
    assert_eq!(http(&api, "GET", "/health", None).0, 200);

    let (status, t) = http(
        &api,
        "POST",
        "/dev/token",
        Some(r#"{"customerId":"cust_1"}"#),
    );
    assert_eq!(status, 200, "{t}");
    let buyer = format!("Bearer {}", json(&t)["token"].as_str().expect("token"));
    let call = |method: &str, path: &str, auth: &str, key: &str, body: &str| {
        let (s, b) = http_with(
            &api,
            method,
            path,
            &[("Authorization", auth), ("Idempotency-Key", key)],
            Some(body),
        );
        (s, json(&b))
    };
    let (s, setup) = call(
        "POST",
        "/v1/wallets/setup",
        &buyer,
        "setup-1",
        r#"{"returnUrl":"http://localhost:3000/wallet-return"}"#,
    );
    assert_eq!(s, 201, "{setup}");
    let session = setup["checkoutSessionId"].as_str().expect("session");
    let (s, consent) = http(
        &sandbox,
        "POST",
        &format!("/_sandbox/checkout-sessions/{session}/buyer"),
        Some(r#"{"preset":"always-approve"}"#),
    );
    assert_eq!(s, 200, "{consent}");
    let (s, wallet) = call(
        "POST",
        "/v1/wallets",
        &buyer,
        "wallet-1",
        &format!(r#"{{"amazonCheckoutSessionId":"{session}"}}"#),
    );
    assert!(s == 200 || s == 201, "{s} {wallet}");
    let wallet_id = wallet["walletId"].as_str().expect("walletId").to_string();
    let (s, order) = call(
        "POST",
        "/admin/v1/orders",
        &admin,
        "order-1",
        r#"{"customerId":"cust_1","amount":{"amount":"12.50","currencyCode":"EUR"},"description":"Test"}"#,
    );
    assert_eq!(s, 201, "{order}");
    let order_id = order["orderId"].as_str().expect("orderId");
    let (s, paid) = call(
        "POST",
        &format!("/v1/orders/{order_id}/pay"),
        &buyer,
        "pay-1",
        &format!(
            r#"{{"walletId":"{wallet_id}","checkoutResultReturnUrl":"http://localhost:3000/done"}}"#
        ),
    );
    assert_eq!(s, 201, "{paid}");
    assert_eq!(paid["status"], "succeeded", "{paid}");
    let (_, ledger) = http(&sandbox, "GET", "/_sandbox/ledger", None);
    let ledger = json(&ledger);
    assert_eq!(
        ledger["charges"].as_array().map(Vec::len),
        Some(1),
        "{ledger}"
    );
    drop(guard);

    // A restart on the same directory: same admin token, the wallet still the buyer's.
    let _again = start_local(&state);
    let info2 = json(&std::fs::read_to_string(state.join("stack.json")).expect("stack.json"));
    assert_eq!(info2["adminToken"], info["adminToken"]);
    let api = info2["apiUrl"].as_str().expect("apiUrl");
    let (s, t) = http(
        api,
        "POST",
        "/dev/token",
        Some(r#"{"customerId":"cust_1"}"#),
    );
    assert_eq!(s, 200, "{t}");
    let buyer = format!("Bearer {}", json(&t)["token"].as_str().expect("token"));
    let (s, w) = http_with(
        api,
        "GET",
        &format!("/v1/wallets/{wallet_id}"),
        &[("Authorization", &buyer)],
        None,
    );
    assert_eq!(s, 200, "{w}");
    assert_eq!(json(&w)["state"], "Chargeable");
}
