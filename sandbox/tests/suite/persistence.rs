//! `--state FILE`: objects, keys, idempotency keys, the clock offset and timers survive a
//! restart.

use crate::helpers::*;
use savedwallet_shared::api::*;
use savedwallet_shared::money::{Currency, Price};
use serde_json::{json, Value};

/// A fresh directory below the target dir (removed by the test when it passes).
fn temp_dir(prefix: &str) -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

/// A sandbox from [`builder`] persisting to `file`.
async fn with_state_file(file: &std::path::Path) -> savedwallet_sandbox::SandboxHandle {
    builder()
        .state_file(file)
        .spawn("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("start")
}

#[tokio::test]
async fn state_file_round_trip() {
    let dir = temp_dir("sandbox-persist");
    let file = dir.join("state.json");

    let sb = with_state_file(&file).await;
    // A key registered through the control API (not by the builder) must persist too.
    let resp = reqwest::Client::new()
        .post(format!("{}/keys", sb.control_url()))
        .json(&json!({"publicKeyId": "SANDBOX-CONTROLKEY", "publicKeyPem": public_pem()}))
        .send()
        .await
        .expect("key");
    assert_eq!(resp.status().as_u16(), 201);
    let c = client_for(
        &sb,
        "SANDBOX-CONTROLKEY",
        savedwallet_shared::region::Region::Eu,
    );
    let cp = control_wallet(
        &sb,
        json!({"region": "eu", "preset": "soft-decline", "softDeclines": 1}),
    )
    .await;
    let cp = cp["chargePermissionId"].as_str().expect("id").to_string();
    let k = key();
    let mut req = CreateChargeRequest::new(&cp, Price::from_minor(1234, Currency::EUR));
    req.charge_initiator = Some(ChargeInitiator::Mitr);
    assert_eq!(
        api_err(c.create_charge(&req, &k).await),
        (422, "SoftDeclined".into())
    );
    let k2 = key();
    let ch = c.create_charge(&req, &k2).await.expect("charge").body;
    advance(&sb, 10 * 24 * 3600).await;
    sb.shutdown().await.expect("shutdown flushes");

    let text = std::fs::read_to_string(&file).expect("state file written");
    let snap: Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(snap["version"], 1);
    assert!(
        !dir.join("state.json.tmp").exists(),
        "temp file renamed away"
    );

    // Restart with no keys in the builder: everything comes from the file.
    let sb2 = savedwallet_sandbox::Sandbox::builder()
        .throttling(false)
        .state_file(&file)
        .spawn("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("second start");
    let c2 = client_for(
        &sb2,
        "SANDBOX-CONTROLKEY",
        savedwallet_shared::region::Region::Eu,
    );
    let got = c2
        .get_charge(&ch.charge_id)
        .await
        .expect("charge survives")
        .body;
    assert_eq!(got, ch);
    // Idempotency keys survive: replays give the stored answers.
    assert_eq!(
        c2.create_charge(&req, &k2)
            .await
            .expect("replay")
            .body
            .charge_id,
        ch.charge_id
    );
    assert_eq!(
        api_err(c2.create_charge(&req, &k).await),
        (422, "SoftDeclined".into())
    );
    // The clock offset survives.
    let clock: Value = reqwest::get(format!("{}/clock", sb2.control_url()))
        .await
        .expect("clock")
        .json()
        .await
        .expect("json");
    assert!(clock["offsetSeconds"].as_i64().expect("offset") >= 10 * 24 * 3600);
    // Timers survive: 30 days after authorization the charge expires unused.
    advance(&sb2, 20 * 24 * 3600 + 60).await;
    let expired = c2.get_charge(&ch.charge_id).await.expect("get").body;
    assert_eq!(expired.status_details.state, ChargeState::Canceled);
    assert_eq!(
        expired.status_details.reason_code,
        Some(ReasonCode::ExpiredUnused)
    );
    sb2.shutdown().await.expect("shutdown");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn serves_https_with_the_given_certificate() {
    let dir = temp_dir("sandbox-tls");
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("cert");
    let cert_pem = ck.cert.pem();
    std::fs::write(dir.join("cert.pem"), &cert_pem).expect("write");
    std::fs::write(dir.join("key.pem"), ck.signing_key.serialize_pem()).expect("write");
    let sb = builder()
        .tls(dir.join("cert.pem"), dir.join("key.pem"))
        .spawn("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("https sandbox");
    assert!(sb.base_url().starts_with("https://127.0.0.1:"));
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).expect("root"))
        .build()
        .expect("client");
    let text = http
        .get(format!("{}/_sandbox", sb.base_url()))
        .send()
        .await
        .expect("https GET")
        .text()
        .await
        .expect("text");
    assert!(text.contains("Control API"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The charge permission ids in a state file.
fn saved_permissions(file: &std::path::Path) -> Vec<String> {
    let snap: Value = serde_json::from_str(&std::fs::read_to_string(file).expect("state file"))
        .expect("valid JSON");
    let mut ids: Vec<String> = snap["state"]["permissions"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    ids.sort();
    ids
}

#[tokio::test]
async fn changes_are_saved_while_running_and_flush_writes_at_once() {
    let dir = temp_dir("sandbox-saved");
    let file = dir.join("state.json");
    let sb = with_state_file(&file).await;
    // A change is written by the background writer, without flush or shutdown.
    let cp = control_wallet(&sb, json!({"region": "eu"})).await;
    let cp = cp["chargePermissionId"].as_str().expect("id").to_string();
    tokio::time::timeout(std::time::Duration::from_secs(10), sb.persisted())
        .await
        .expect("written within 10 s");
    assert_eq!(saved_permissions(&file), std::slice::from_ref(&cp));
    // POST /_sandbox/flush writes now: the file comes back although nothing changed since.
    std::fs::remove_file(&file).expect("remove");
    let resp = reqwest::Client::new()
        .post(format!("{}/flush", sb.control_url()))
        .send()
        .await
        .expect("flush");
    assert_eq!(resp.status().as_u16(), 200);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["flushed"], true);
    assert_eq!(saved_permissions(&file), [cp]);
    sb.shutdown().await.expect("shutdown");
    // Without a state file there is nothing to flush, and nothing to wait for.
    let plain = start().await;
    let (status, v) = control_post(&plain, "/flush", json!({})).await;
    assert_eq!((status, &v["flushed"]), (200, &json!(false)));
    plain.persisted().await;
    let _ = std::fs::remove_dir_all(&dir);
}
