//! Throttling on Amazon's quota shape (scaled or explicit, simulated or wall clock) and the
//! latency / hanging-response faults.

use std::time::{Duration, Instant};

use crate::helpers::*;
use savedwallet_amazon_pay::AmazonPayClient;
use savedwallet_sandbox::{DropMode, FaultConfig, QuotaClock, SandboxHandle};
use savedwallet_shared::api::{ChargeState, Operation};
use savedwallet_shared::region::Region;
use serde_json::{json, Value};

async fn put_throttling(sb: &SandboxHandle, body: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .put(format!("{}/throttling", sb.control_url()))
        .json(&body)
        .send()
        .await
        .expect("throttling");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// `n` Create Charges in a row → the statuses.
async fn burst(c: &AmazonPayClient, cp: &str, n: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..n {
        statuses.push(match c.create_charge(&charge_req(cp, 100), &key()).await {
            Ok(r) => r.status,
            Err(e) => {
                let (status, reason) = api_err::<()>(Err(e));
                assert_eq!(reason, "TooManyRequests", "{status}");
                status
            }
        });
    }
    statuses
}

#[tokio::test]
async fn sandbox_quotas_refill_on_the_simulated_clock() {
    let (sb, c, cp) = with_wallet("always-approve").await;
    let (status, v) = put_throttling(&sb, json!({"enabled": true})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["clock"], "simulated");
    assert_eq!(
        v["effective"]["CreateCharge"]["sandbox"],
        json!({"burst": 2, "perSecond": 1.0})
    );
    // The clock is frozen: nothing refills until it is advanced.
    assert_eq!(burst(&c, &cp, 3).await, [201, 201, 429]);
    assert_eq!(burst(&c, &cp, 1).await, [429]);
    advance(&sb, 1).await;
    assert_eq!(burst(&c, &cp, 2).await, [201, 429]);
    // The ledger counts the quota's 429s apart from the calls that reached the engine.
    let ledger = sb.ledger();
    assert_eq!(ledger["throttled"]["CreateCharge"], 3);
    assert_eq!(ledger["apiCalls"]["CreateCharge"], 3);
    // Operations have their own buckets (Get Charge Permission: burst 10).
    c.get_charge_permission(&cp).await.expect("own bucket");
    sb.set_throttling(false);
    assert_eq!(burst(&c, &cp, 3).await, [201, 201, 201]);
}

#[tokio::test]
async fn the_wall_clock_refills_nothing_when_the_simulated_clock_jumps() {
    let (sb, c, cp) = with_wallet("always-approve").await;
    let (status, v) = put_throttling(
        &sb,
        json!({"enabled": true, "clock": "wall",
               "operations": {"CreateCharge": {"burst": 2, "perSecond": 0.001}}}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(burst(&c, &cp, 3).await, [201, 201, 429]);
    advance(&sb, 3600).await;
    assert_eq!(burst(&c, &cp, 1).await, [429], "an hour of simulated time");
    // The same bucket on the simulated clock refills with the jump.
    put_throttling(&sb, json!({"clock": "simulated"})).await;
    assert_eq!(burst(&c, &cp, 3).await, [201, 201, 429]);
    advance(&sb, 3600).await;
    assert_eq!(burst(&c, &cp, 2).await, [201, 201]);
}

#[tokio::test]
async fn quotas_scale_or_take_explicit_numbers() {
    let (sb, c, cp) = with_wallet("always-approve").await;
    let (_, v) = put_throttling(&sb, json!({"enabled": true, "scale": 10})).await;
    assert_eq!(
        v["effective"]["CreateCharge"]["live"],
        json!({"burst": 100, "perSecond": 40.0})
    );
    let (_, v) = put_throttling(&sb, json!({"scale": 2})).await;
    assert_eq!(
        v["effective"]["CreateCharge"]["sandbox"],
        json!({"burst": 4, "perSecond": 2.0})
    );
    assert_eq!(burst(&c, &cp, 5).await, [201, 201, 201, 201, 429]);
    let (_, v) = put_throttling(
        &sb,
        json!({"operations": {"create-charge": {"burst": 3, "perSecond": 1}}}),
    )
    .await;
    assert_eq!(
        v["operations"]["CreateCharge"],
        json!({"burst": 3, "perSecond": 1.0})
    );
    assert_eq!(burst(&c, &cp, 4).await, [201, 201, 201, 429]);
    for bad in [
        json!({"scale": 0}),
        json!({"scale": -1}),
        json!({"operations": {"Nope": {"burst": 1, "perSecond": 1}}}),
        json!({"operations": {"CreateCharge": {"burst": 0, "perSecond": 1}}}),
        json!({"clock": "sundial"}),
    ] {
        let (status, v) = put_throttling(&sb, bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {v}");
    }
    // The builder takes the same settings.
    let sb2 = builder()
        .throttling(true)
        .quota(Operation::CreateCharge, 100, 40.0)
        .quota_clock(QuotaClock::Wall)
        .spawn("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("sandbox");
    let q = sb2.quotas();
    assert!(q.enabled);
    assert_eq!(q.clock, QuotaClock::Wall);
    assert_eq!(
        q.limit(
            savedwallet_shared::region::Environment::Sandbox,
            Operation::CreateCharge
        )
        .burst,
        100
    );
    let refused = builder()
        .quota_scale(0.0)
        .spawn("127.0.0.1:0".parse().expect("addr"))
        .await;
    assert!(
        matches!(refused, Err(savedwallet_sandbox::SandboxError::Invalid(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn latency_and_hanging_responses() {
    let (sb, _, cp) = with_wallet("always-approve").await;
    let quick = client_with_timeout(&sb, KEY_ID, Region::Eu, Duration::from_secs(1));
    // latencyMs delays every request of the listed operations (either spelling).
    sb.set_faults(FaultConfig {
        latency_ms: 400,
        operations: Some(vec!["get-charge-permission".into()]),
        ..Default::default()
    })
    .expect("faults");
    let started = Instant::now();
    quick.get_charge_permission(&cp).await.expect("delayed");
    assert!(started.elapsed() >= Duration::from_millis(400));
    // dropMode hang: the request is applied, the answer never comes (client timeout).
    sb.set_faults(FaultConfig {
        drop_response_rate: 1.0,
        drop_mode: DropMode::Hang,
        hang_ms: 5_000,
        remaining: Some(1),
        operations: Some(vec!["CreateCharge".into()]),
        ..Default::default()
    })
    .expect("faults");
    let k = key();
    let hung = quick.create_charge(&charge_req(&cp, 4711), &k).await;
    assert!(
        matches!(
            hung,
            Err(savedwallet_amazon_pay::Error::Unanswered {
                last: Some(savedwallet_amazon_pay::AttemptFailure::Timeout { .. }),
                ..
            })
        ),
        "{hung:?}"
    );
    let ledger = sb.ledger();
    let applied: Vec<&Value> = ledger["charges"]
        .as_array()
        .expect("charges")
        .iter()
        .filter(|c| c["chargeAmount"]["amount"] == "47.11")
        .collect();
    assert_eq!(applied.len(), 1, "the hung request was applied");
    let replay = quick
        .create_charge(&charge_req(&cp, 4711), &k)
        .await
        .expect("replay");
    assert_eq!(
        replay.body.charge_id,
        applied[0]["chargeId"].as_str().expect("id")
    );
    assert_eq!(replay.body.status_details.state, ChargeState::Authorized);
    assert!(sb
        .set_faults(FaultConfig {
            operations: Some(vec!["Charge".into()]),
            ..Default::default()
        })
        .is_err_and(|e| e.to_string().contains("unknown operation")));
}
