//! The API around the engine: idempotency, key environments and path prefixes, throttling,
//! faults, request ids, simulation codes in Live, control API input checks.

use crate::helpers::*;
use savedwallet_amazon_pay::Operation;
use savedwallet_shared::api::*;
use savedwallet_shared::money::{Currency, Price};
use serde_json::{json, Value};

#[tokio::test]
async fn idempotent_replay_and_duplicate_key() {
    let (sb, c, cp) = with_wallet("always-approve").await;
    let k = key();
    let first = c
        .create_charge(&charge_req(&cp, 1000), &k)
        .await
        .expect("first");
    let second = c
        .create_charge(&charge_req(&cp, 1000), &k)
        .await
        .expect("replay");
    assert_eq!(first.status, second.status);
    assert_eq!(first.body, second.body, "the same response is replayed");
    let dup = c.create_charge(&charge_req(&cp, 1001), &k).await;
    assert_eq!(api_err(dup), (400, "DuplicateIdempotencyKey".into()));
    let ledger = sb.ledger();
    let n = ledger["charges"]
        .as_array()
        .expect("charges")
        .iter()
        .filter(|c| c["chargePermissionId"] == cp.as_str())
        .count();
    assert_eq!(n, 1, "only one charge exists");
    // A stored 4xx answer is replayed too.
    let k2 = key();
    let usd = CreateChargeRequest::new(&cp, Price::from_minor(5, Currency::USD));
    assert_eq!(
        api_err(c.create_charge(&usd, &k2).await),
        (400, "CurrencyMismatch".into())
    );
    assert_eq!(
        api_err(c.create_charge(&usd, &k2).await),
        (400, "CurrencyMismatch".into())
    );
    // 5xx answers are not stored: the retry with the same key is applied.
    let k3 = key();
    let e = simulating(&c, "ProcessingFailure")
        .create_charge(&charge_req(&cp, 700), &k3)
        .await;
    assert_eq!(api_err(e), (500, "ProcessingFailure".into()));
    let ok = c
        .create_charge(&charge_req(&cp, 700), &k3)
        .await
        .expect("retry");
    assert_eq!(ok.body.status_details.state, ChargeState::Authorized);
    // Keys are per environment of the key id, not per operation: same key on a refund differs.
    let e = c.create_refund(&refund(&ok.body.charge_id, 1), &k3).await;
    assert_eq!(api_err(e), (400, "DuplicateIdempotencyKey".into()));
}

#[tokio::test]
async fn legacy_keys_prefixes_and_environments() {
    let sb = start().await;
    let legacy = client_for(&sb, LEGACY_KEY_ID, savedwallet_shared::region::Region::Eu);
    assert!(legacy
        .path_for(Operation::CreateCharge, None)
        .expect("path")
        .starts_with("/sandbox/v2/"));
    let cp = wallet(&sb, "always-approve").await;
    assert_eq!(
        legacy
            .create_charge(&charge_req(&cp, 100), &key())
            .await
            .expect("legacy")
            .status,
        201
    );
    // Legacy key without a prefix, and a SANDBOX key on /live.
    let mut raw = RawRequest::new(&sb, "GET", &format!("/v2/chargePermissions/{cp}"), "");
    raw.key_id = LEGACY_KEY_ID.into();
    assert_eq!(raw.outcome(&sb).await, (400, "InvalidRequest".into()));
    let raw = RawRequest::new(&sb, "GET", &format!("/live/v2/chargePermissions/{cp}"), "");
    assert_eq!(raw.outcome(&sb).await, (400, "InvalidRequest".into()));
    // Trailing slash (.NET style) is tolerated and signed as sent.
    let raw = RawRequest::new(&sb, "GET", &format!("/v2/chargePermissions/{cp}/"), "");
    let (status, v) = raw.send(&sb).await;
    assert_eq!(status, 200);
    assert_eq!(v["chargePermissionId"], cp.as_str());
    // Live objects are invisible to sandbox keys.
    let live = control_wallet(&sb, json!({"environment": "Live", "region": "eu"})).await;
    assert_eq!(live["releaseEnvironment"], "Live");
    let live_id = live["chargePermissionId"].as_str().expect("id");
    assert!(live_id.starts_with('P'));
    assert_eq!(
        api_err(client(&sb).get_charge_permission(live_id).await),
        (404, "ResourceNotFound".into())
    );
}

#[tokio::test]
async fn faults_and_lost_responses() {
    let sb = builder()
        .spawn("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("sandbox");
    let c = client(&sb);
    let cp = wallet(&sb, "always-approve").await;
    // Apply-then-drop: the client sees a failure, the charge exists, and the retry with the
    // same idempotency key returns that very charge.
    let resp = reqwest::Client::new()
        .put(format!("{}/faults", sb.control_url()))
        .json(&json!({"dropResponseRate": 1.0, "remaining": 1, "operations": ["CreateCharge"]}))
        .send()
        .await
        .expect("faults");
    assert_eq!(resp.status().as_u16(), 200);
    let k = key();
    let lost = c.create_charge(&charge_req(&cp, 4242), &k).await;
    assert!(
        matches!(
            lost,
            Err(savedwallet_amazon_pay::Error::Unanswered {
                last: Some(savedwallet_amazon_pay::AttemptFailure::Connection { .. }),
                ..
            })
        ),
        "the response was dropped: {lost:?}"
    );
    let ledger = sb.ledger();
    let applied: Vec<&Value> = ledger["charges"]
        .as_array()
        .expect("charges")
        .iter()
        .filter(|c| c["chargeAmount"]["amount"] == "42.42")
        .collect();
    assert_eq!(applied.len(), 1, "the charge was applied");
    let retry = c
        .create_charge(&charge_req(&cp, 4242), &k)
        .await
        .expect("retry");
    assert_eq!(
        retry.body.charge_id,
        applied[0]["chargeId"].as_str().expect("id")
    );

    // Injected 429 and 5xx are not applied.
    sb.set_faults(savedwallet_sandbox::FaultConfig {
        rate_429: 1.0,
        remaining: Some(1),
        ..Default::default()
    })
    .expect("faults");
    assert_eq!(
        api_err(c.get_charge_permission(&cp).await),
        (429, "TooManyRequests".into())
    );
    sb.set_faults(savedwallet_sandbox::FaultConfig {
        rate_5xx: 1.0,
        remaining: Some(1),
        ..Default::default()
    })
    .expect("faults");
    assert_eq!(
        charge_err(&c, &cp, 4343).await,
        (503, "ServiceUnavailable".into())
    );
    sb.set_faults(savedwallet_sandbox::FaultConfig {
        reset_rate: 1.0,
        remaining: Some(1),
        ..Default::default()
    })
    .expect("faults");
    let reset = c.create_charge(&charge_req(&cp, 4343), &key()).await;
    assert!(
        matches!(
            reset,
            Err(savedwallet_amazon_pay::Error::Unanswered {
                last: Some(savedwallet_amazon_pay::AttemptFailure::Connection { .. }),
                ..
            })
        ),
        "{reset:?}"
    );
    let ledger = sb.ledger();
    assert!(!ledger["charges"]
        .as_array()
        .expect("charges")
        .iter()
        .any(|c| c["chargeAmount"]["amount"] == "43.43"));
    // Faults are over: normal service.
    charge(&c, &cp, 4343).await;
}

#[tokio::test]
async fn request_id_on_every_answer_and_amazon_id_shapes() {
    let sb = start().await;
    let cp = wallet(&sb, "always-approve").await;
    // S01-1234567-1234567 (P01 in Live).
    let parts: Vec<&str> = cp.split('-').collect();
    assert_eq!(parts.len(), 3, "{cp}");
    assert_eq!(parts[0], "S01");
    assert!(parts[1..]
        .iter()
        .all(|p| p.len() == 7 && p.bytes().all(|b| b.is_ascii_digit())));
    let sid = setup_session(&sb).await;
    assert!(uuid::Uuid::parse_str(&sid).is_ok(), "session id {sid}");

    let get = |path: String| RawRequest::new(&sb, "GET", &path, "");
    let mut cases: Vec<(&str, RawRequest, Option<String>, u16)> = vec![
        ("ok", get(format!("/v2/chargePermissions/{cp}")), None, 200),
        (
            "not found",
            get("/v2/chargePermissions/S01-0000000-0000000".into()),
            None,
            404,
        ),
        ("wrong method", get("/v2/charges".into()), None, 405),
        ("unknown path", get("/v2/nothing".into()), None, 404),
        (
            "bad body",
            RawRequest::new(&sb, "POST", "/v2/charges", "{"),
            None,
            400,
        ),
    ];
    let forged = get(format!("/v2/chargePermissions/{cp}"));
    let auth = forged
        .authorization()
        .replace("Signature=", "Signature=AAAA");
    cases.push(("bad signature", forged, Some(auth), 403));
    let unsigned = get(format!("/v2/chargePermissions/{cp}"));
    cases.push(("no authorization", unsigned, Some(String::new()), 400));
    let mut seen = std::collections::HashSet::new();
    for (name, req, auth, want) in cases {
        let auth = auth.unwrap_or_else(|| req.authorization());
        let (status, headers, body) = req.send_full(&sb, &auth).await;
        assert_eq!(status, want, "{name}: {body}");
        let id = headers
            .get("x-amz-pay-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{name}: no x-amz-pay-request-id"));
        assert!(
            !id.is_empty() && seen.insert(id.to_string()),
            "{name}: {id}"
        );
    }
    // Injected throttling and outages carry it too.
    for (fault, want) in [
        (
            savedwallet_sandbox::FaultConfig {
                rate_429: 1.0,
                remaining: Some(1),
                ..Default::default()
            },
            (429, "TooManyRequests"),
        ),
        (
            savedwallet_sandbox::FaultConfig {
                rate_5xx: 1.0,
                remaining: Some(1),
                ..Default::default()
            },
            (503, "ServiceUnavailable"),
        ),
    ] {
        sb.set_faults(fault).expect("faults");
        let req = get(format!("/v2/chargePermissions/{cp}"));
        let (status, headers, body) = req.send_full(&sb, &req.authorization()).await;
        assert_eq!(
            (status, body["reasonCode"].as_str()),
            (want.0, Some(want.1))
        );
        assert!(headers.contains_key("x-amz-pay-request-id"), "{status}");
    }
}

#[tokio::test]
async fn live_ignores_simulation_codes() {
    let sb = start().await;
    let live = control_wallet(
        &sb,
        json!({"environment": "Live", "region": "eu", "currency": "EUR"}),
    )
    .await;
    let live_id = live["chargePermissionId"].as_str().expect("id");
    let body = format!(
        r#"{{"chargePermissionId":"{live_id}","chargeAmount":{{"amount":"10.00","currencyCode":"EUR"}},"chargeInitiator":"MITU"}}"#
    );
    let mut req = RawRequest::new(&sb, "POST", "/live/v2/charges", &body);
    req.key_id = LEGACY_KEY_ID.into();
    req.signed_simulation_code("HardDeclined");
    let (status, v) = req.send(&sb).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["statusDetails"]["state"], "Authorized");
    assert_eq!(v["releaseEnvironment"], "Live");
    // The same signed code in Sandbox is applied.
    let cp = wallet(&sb, "always-approve").await;
    let body = body.replace(live_id, &cp);
    let mut req = RawRequest::new(&sb, "POST", "/sandbox/v2/charges", &body);
    req.key_id = LEGACY_KEY_ID.into();
    req.signed_simulation_code("HardDeclined");
    assert_eq!(req.outcome(&sb).await, (422, "HardDeclined".into()));
}

#[tokio::test]
async fn control_api_rejects_out_of_range_clock_and_delays() {
    let sb = start().await;
    for (path, body, says) in [
        ("/clock/advance", json!({"seconds": i64::MAX}), "at most"),
        (
            "/clock/advance",
            json!({"seconds": -1}),
            "only moves forward",
        ),
        (
            "/charge-permissions",
            json!({"preset": "async-approve", "asyncDelaySeconds": i64::MAX}),
            "asyncDelaySeconds must be 0 to 86400",
        ),
    ] {
        let (status, v) = control_post(&sb, path, body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            v["error"].as_str().is_some_and(|e| e.contains(says)),
            "{body}: {v}"
        );
    }
    // Still serving, clock untouched by the refused calls.
    let clock: Value = reqwest::get(format!("{}/clock", sb.control_url()))
        .await
        .expect("clock")
        .json()
        .await
        .expect("json");
    assert_eq!(clock["offsetSeconds"], 0);
}
