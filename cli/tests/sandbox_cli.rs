//! `savedwallet sandbox` starts, prints its URLs, loads keys and serves the control API.

mod common;

use common::{http, start_sandbox};
use std::process::Command;

#[test]
fn sandbox_command_starts_and_prints_its_urls() {
    let vectors: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../testdata/amazon-pay/signing-vectors.json"
        ))
        .expect("vectors"),
    )
    .expect("json");
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("sandbox-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let pem = dir.join("public.pem");
    std::fs::write(&pem, vectors["keys"]["publicKeyPem"].as_str().expect("pem")).expect("write");
    let state = dir.join("state.json");

    let sandbox = start_sandbox("SANDBOX-CLIKEY", &pem, &state, &["--no-throttling"]);
    let (base, control) = (sandbox.base.clone(), sandbox.control.clone());
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    assert_eq!(control, format!("{base}/_sandbox"));

    let (status, body) = http(&base, "GET", "/_sandbox", None);
    assert_eq!(status, 200);
    assert!(body.contains("POST   /_sandbox/charge-permissions"));
    let (status, body) = http(&base, "GET", "/_sandbox/keys", None);
    assert_eq!(status, 200);
    assert!(body.contains("SANDBOX-CLIKEY"), "{body}");
    // An unsigned API call is refused.
    let (status, body) = http(
        &base,
        "GET",
        "/v2/charges/S01-0000000-0000000-C000000",
        None,
    );
    assert_eq!(status, 400);
    assert!(body.contains("MissingHeaderValue"));
    drop(sandbox);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sandbox_help_documents_the_control_api() {
    let out = Command::new(env!("CARGO_BIN_EXE_savedwallet"))
        .args(["sandbox", "--help"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--listen",
        "--public-key",
        "--state",
        "--tls-cert",
        "/_sandbox/clock/advance",
        "hard-decline-until-updated",
    ] {
        assert!(text.contains(needle), "--help mentions {needle}");
    }
}
