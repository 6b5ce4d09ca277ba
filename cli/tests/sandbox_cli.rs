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

    let sandbox = start_sandbox(
        "SANDBOX-CLIKEY",
        &pem,
        &state,
        &[
            "--no-throttling",
            "--hard-decline",
            "stays-chargeable",
            "--mfa-regions",
            "all-regions",
            "--conversion-fields",
            "null",
            "--sync-latency-ms",
            "250",
            "--ipn-signature-version",
            "2",
            "--ipn-duplicate-rate",
            "0.5",
            "--ipn-reorder-rate",
            "0.25",
            "--quota",
            "create-charge=100/40",
            "--quota-clock",
            "wall",
            "--freeze-clock",
        ],
    );
    let (base, control) = (sandbox.base.clone(), sandbox.control.clone());
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    assert_eq!(control, format!("{base}/_sandbox"));

    let (status, body) = http(&base, "GET", "/_sandbox", None);
    assert_eq!(status, 200);
    assert!(body.contains("POST   /_sandbox/charge-permissions"));
    let (status, body) = http(&base, "GET", "/_sandbox/keys", None);
    assert_eq!(status, 200);
    assert!(body.contains("SANDBOX-CLIKEY"), "{body}");
    // The knob flags reach the control API.
    let (status, body) = http(&base, "GET", "/_sandbox/knobs", None);
    assert_eq!(status, 200);
    let knobs: serde_json::Value = serde_json::from_str(&body).expect("knobs json");
    assert_eq!(knobs["hardDecline"], "stays-chargeable");
    assert_eq!(knobs["mfaRegions"], "all-regions");
    assert_eq!(knobs["conversionFields"], "null");
    assert_eq!(knobs["syncLatencyMs"], 250);
    assert_eq!(knobs["mfaFailure"], "non-chargeable", "default kept");
    let (_, body) = http(&base, "GET", "/_sandbox/ipn-delivery", None);
    let delivery: serde_json::Value = serde_json::from_str(&body).expect("delivery json");
    assert_eq!(delivery["duplicateRate"], 0.5);
    assert_eq!(delivery["reorderRate"], 0.25);
    let (_, body) = http(&base, "GET", "/_sandbox/throttling", None);
    let quotas: serde_json::Value = serde_json::from_str(&body).expect("quota json");
    assert_eq!(quotas["clock"], "wall");
    assert_eq!(quotas["enabled"], false, "--no-throttling");
    assert_eq!(
        quotas["effective"]["CreateCharge"]["live"],
        serde_json::json!({"burst": 100, "perSecond": 40.0})
    );
    // The frozen clock does not move by itself.
    let (_, first) = http(&base, "GET", "/_sandbox/clock", None);
    let (_, again) = http(&base, "GET", "/_sandbox/clock", None);
    let now =
        |b: &str| serde_json::from_str::<serde_json::Value>(b).expect("clock")["nowUnixMs"].clone();
    assert_eq!(now(&first), now(&again));
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
        "--hard-decline",
        "--mfa-failure",
        "--missing-charge-initiator",
        "--mfa-regions",
        "--conversion-fields",
        "--checkout-session-canceled-status",
        "--sync-latency-ms",
        "--ipn-signature-version",
        "--ipn-duplicate-rate",
        "--ipn-reorder-rate",
        "--quota-scale",
        "--quota-clock",
        "--freeze-clock",
        "/_sandbox/knobs",
        "/_sandbox/ipn-delivery",
        "/_sandbox/charge-permissions/{id}/state",
    ] {
        assert!(text.contains(needle), "--help mentions {needle}");
    }
}

#[test]
fn sandbox_refuses_invalid_knob_values() {
    for args in [
        &["--hard-decline", "sometimes"][..],
        &["--ipn-signature-version", "3"][..],
        &["--ipn-duplicate-rate", "1.5"][..],
        &["--quota", "create-charge=100"][..],
        &["--quota-clock", "sundial"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_savedwallet"))
            .arg("sandbox")
            .args(args)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}: usage error");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(args[0]), "{args:?}: {err}");
    }
    // A value clap accepts but the sandbox refuses: the start fails.
    let out = Command::new(env!("CARGO_BIN_EXE_savedwallet"))
        .args([
            "sandbox",
            "--listen",
            "127.0.0.1:0",
            "--checkout-session-canceled-status",
            "500",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("400 or 422"));
}
