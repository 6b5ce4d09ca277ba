//! Throughput of signed Create Charge calls against the sandbox over loopback.
//!
//! `cargo bench -p savedwallet-sandbox --bench throughput` — requests are signed before the
//! timed window (signing is the client's cost), sent over keep-alive connections with
//! moderate concurrency, throttling off. Prints requests/s and latency percentiles.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use savedwallet_amazon_pay::{Signer, SigningAlgorithm};
use savedwallet_sandbox::{Sandbox, WalletOptions};
use savedwallet_shared::money::{Currency, Price};
use savedwallet_shared::region::Region;
use savedwallet_shared::signing::RequestParts;

const KEY_ID: &str = "SANDBOX-BENCHKEY000000000001";

struct Prepared {
    headers: Vec<(String, String)>,
    body: String,
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let total = env_usize("BENCH_REQUESTS", 10_000);
    let concurrency = env_usize("BENCH_CONCURRENCY", 32);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(total, concurrency));
}

async fn run(total: usize, concurrency: usize) {
    let vectors: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../testdata/amazon-pay/signing-vectors.json"
        ))
        .expect("vectors"),
    )
    .expect("json");
    let private_pem = vectors["keys"]["privateKeyPem"]
        .as_str()
        .expect("pem")
        .to_string();
    let public_pem = vectors["keys"]["publicKeyPem"]
        .as_str()
        .expect("pem")
        .to_string();
    let sandbox = Sandbox::builder()
        .throttling(false)
        .public_key(KEY_ID, public_pem)
        .spawn("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("sandbox");
    let cp = sandbox
        .create_charge_permission(WalletOptions {
            region: Region::Eu,
            monthly_limit: Some(Price::from_minor(i64::MAX / 4, Currency::EUR)),
            currency: Some(Currency::EUR),
            ..Default::default()
        })
        .expect("wallet")
        .charge_permission_id;

    let signer = Signer::from_pem(
        &secrecy::SecretString::from(private_pem),
        KEY_ID.to_string(),
        SigningAlgorithm::V2,
    )
    .expect("signer");
    let host = sandbox.addr().to_string();
    let t_sign = Instant::now();
    let prepared: Vec<Prepared> = (0..total)
        .map(|i| {
            let body = format!(
                r#"{{"chargePermissionId":"{cp}","chargeAmount":{{"amount":"0.01","currencyCode":"EUR"}},"captureNow":true,"chargeInitiator":"MITR","channel":"Web","merchantMetadata":{{"merchantReferenceId":"bench-{i}"}}}}"#
            );
            let mut headers = vec![
                ("accept".to_string(), "application/json".to_string()),
                ("content-type".to_string(), "application/json".to_string()),
                ("x-amz-pay-date".to_string(), chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string()),
                ("x-amz-pay-host".to_string(), host.clone()),
                ("x-amz-pay-idempotency-key".to_string(), format!("bench{i:027}")),
                ("x-amz-pay-region".to_string(), "eu".to_string()),
            ];
            let auth = signer
                .sign_request(
                    RequestParts { method: "POST", path: "/v2/charges", query: "", body: body.as_bytes() },
                    &headers,
                )
                .expect("sign");
            headers.push(("authorization".to_string(), auth.format()));
            Prepared { headers, body }
        })
        .collect();
    eprintln!(
        "signed {total} requests in {:.1?} (not timed)",
        t_sign.elapsed()
    );

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    let url = format!("{}/v2/charges", sandbox.base_url());
    // Warm-up: open connections and touch every code path once.
    for p in prepared.iter().take(concurrency.min(total)) {
        send(&http, &url, p).await;
    }
    let prepared = Arc::new(prepared);
    let next = Arc::new(AtomicUsize::new(concurrency.min(total)));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, url, prepared, next) =
            (http.clone(), url.clone(), prepared.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut ok = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= prepared.len() {
                    break;
                }
                let t = Instant::now();
                if send(&http, &url, &prepared[i]).await == 201 {
                    ok += 1;
                }
                lat.push(t.elapsed());
            }
            (ok, lat)
        }));
    }
    let mut ok = 0;
    let mut lat: Vec<Duration> = Vec::new();
    for t in tasks {
        let (o, l) = t.await.expect("task");
        ok += o;
        lat.extend(l);
    }
    let elapsed = start.elapsed();
    lat.sort();
    let n = lat.len().max(1);
    let pct = |p: f64| {
        lat.get(((n as f64 * p) as usize).min(n - 1))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "signed Create Charge over loopback: {} requests ({} x 201) in {:.2?} with concurrency {} -> {:.0} req/s (p50 {:.2?}, p99 {:.2?})",
        lat.len(),
        ok,
        elapsed,
        concurrency,
        lat.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99)
    );
    assert_eq!(ok, lat.len(), "every timed request must succeed");
}

async fn send(http: &reqwest::Client, url: &str, p: &Prepared) -> u16 {
    let mut rb = http.post(url);
    for (n, v) in &p.headers {
        rb = rb.header(n.as_str(), v.as_str());
    }
    match rb.body(p.body.clone()).send().await {
        Ok(r) => {
            let s = r.status().as_u16();
            let _ = r.bytes().await;
            s
        }
        Err(_) => 0,
    }
}
