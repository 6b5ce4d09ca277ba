//! The API benchmark: the local stack in this process (the code `savedwallet local` runs),
//! driven over loopback HTTP with the simulator's throttling off. For each concurrency it
//! prints pay-order requests per second, p50/p99 latency, and the DynamoDB-model store
//! requests and Amazon Pay requests per successful payment; then the simulator's own
//! latency for a signed Create Charge at the same concurrency, so the service's overhead
//! per payment (API latency minus the simulator's) can be read off.
//!
//! `cargo run --release -p savedwallet-tests --bin api-bench -- [--payments N]
//! [--concurrency 1,32] [--store memory|file|DYNAMODB_ENDPOINT]`

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use secrecy::SecretString;
use serde_json::json;

use savedwallet_amazon_pay::{AmazonPayClient, ClientConfig, Pacing};
use savedwallet_cli::stack::{secrets, StoreChoice};
use savedwallet_shared::api::{ChargeInitiator, CreateChargeRequest};
use savedwallet_shared::money::Price;
use savedwallet_shared::region::{Environment, Region};
use savedwallet_tests::{Preset, System, FRONTEND};

/// Payments per customer (under the API's per-buyer burst of 10).
const PER_CUSTOMER: usize = 8;

struct Args {
    payments: usize,
    concurrency: Vec<usize>,
    store: String,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        payments: 2000,
        concurrency: vec![1, 32],
        store: "memory".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--payments" => a.payments = value()?.parse().map_err(|_| "--payments: a number")?,
            "--concurrency" => {
                a.concurrency = value()?
                    .split(',')
                    .map(|c| {
                        c.trim()
                            .parse()
                            .map_err(|_| "--concurrency: numbers, e.g. 1,32")
                    })
                    .collect::<Result<_, _>>()?
            }
            "--store" => a.store = value()?,
            "--bench" => {} // cargo bench passes it
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs `jobs` with `concurrency` workers; returns each job's latency and the wall time.
async fn drive<J, F, Fut>(
    jobs: Vec<J>,
    concurrency: usize,
    f: F,
) -> (Vec<Duration>, Duration, usize)
where
    J: Send + 'static,
    F: Fn(J) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let queue = Arc::new(Mutex::new(jobs.into_iter().collect::<VecDeque<J>>()));
    let f = Arc::new(f);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (queue, f) = (queue.clone(), f.clone());
        workers.push(tokio::spawn(async move {
            let mut out = Vec::new();
            let mut failed = 0;
            loop {
                let Some(job) = queue.lock().pop_front() else {
                    break;
                };
                let t = Instant::now();
                if f(job).await {
                    out.push(t.elapsed());
                } else {
                    failed += 1;
                }
            }
            (out, failed)
        }));
    }
    let mut all = Vec::new();
    let mut failed = 0;
    for w in workers {
        if let Ok((mut v, n)) = w.await {
            all.append(&mut v);
            failed += n;
        }
    }
    let wall = started.elapsed();
    all.sort();
    (all, wall, failed)
}

#[tokio::main]
async fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let store = match a.store.as_str() {
        "memory" => StoreChoice::Embedded(None),
        "file" => StoreChoice::Embedded(Some(
            std::env::temp_dir().join(format!("api-bench-{}.redb", std::process::id())),
        )),
        endpoint => StoreChoice::Dynamo {
            endpoint: endpoint.to_string(),
            table: format!("api-bench-{}", std::process::id()),
        },
    };
    let store_label = a.store.clone();
    let sys = System::start_with(|o| {
        o.store = store;
        o.demo_plans = false;
    })
    .await;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client");

    // Buyers and their wallets (not timed).
    let total: usize = a.payments * a.concurrency.len();
    let customers = total.div_ceil(PER_CUSTOMER);
    eprintln!("setting up {customers} wallets and {total} orders ...");
    let mut work = Vec::new();
    let mut permissions = Vec::new();
    for c in 0..customers {
        let customer = format!("bench_{c}");
        let token = sys.token(&customer).await;
        let wallet = sys.wallet(&token, Preset::AlwaysApprove).await;
        let wallet_id = wallet["walletId"].as_str().expect("walletId").to_string();
        permissions.push(wallet_id.clone());
        for _ in 0..PER_CUSTOMER {
            if work.len() == total {
                break;
            }
            let order = sys.order(&customer, "1.00", true).await;
            work.push((token.clone(), order, wallet_id.clone()));
        }
    }

    println!("\nAPI benchmark: POST /v1/orders/{{id}}/pay over loopback, simulator throttling off, store: {store_label}");
    println!("| concurrency | payments | req/s | p50 ms | p99 ms | store req/payment | Amazon req/payment | simulator Create Charge p50 / p99 ms | overhead p50 ms |");
    println!("|---|---|---|---|---|---|---|---|---|");

    // A client of our own for the simulator's share: a second key registered at the sandbox.
    let pair = secrets::rsa_pair().expect("key");
    let key_id = "SANDBOX-APIBENCHKEY00000000000";
    let reg = http
        .post(format!("{}/keys", sys.control()))
        .json(&json!({ "publicKeyId": key_id, "publicKeyPem": pair.public_pem }))
        .send()
        .await
        .expect("register key");
    assert!(
        reg.status().is_success(),
        "key registration: {}",
        reg.status()
    );
    let mut cfg = ClientConfig::new(
        Region::Eu,
        Environment::Sandbox,
        key_id,
        SecretString::from(pair.private_pem),
    );
    cfg.endpoint = Some(sys.stack.info.sandbox_url.parse().expect("url"));
    cfg.pacing = Pacing::Off;
    let direct = Arc::new(AmazonPayClient::new(cfg).expect("client"));

    for &c in &a.concurrency {
        let batch: Vec<_> = work.drain(..a.payments.min(work.len())).collect();
        let n = batch.len();
        sys.stack.sandbox.ipn().idle().await;
        let store_before = sys.stack.store.request_counts();
        let amazon_before = api_calls(&sys).await;
        let api = sys.api().to_string();
        let http2 = http.clone();
        let (lat, wall, failed) = drive(batch, c, move |(token, order, wallet): (String, String, String)| {
            let (http, api) = (http2.clone(), api.clone());
            async move {
                let r = http
                    .post(format!("{api}/v1/orders/{order}/pay"))
                    .bearer_auth(token)
                    .json(&json!({ "walletId": wallet, "checkoutResultReturnUrl": format!("{FRONTEND}/done") }))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().as_u16() == 201 => {
                        let v: serde_json::Value = r.json().await.unwrap_or_default();
                        v["status"] == "succeeded"
                    }
                    _ => false,
                }
            }
        })
        .await;
        let ok = lat.len();
        // Each charge makes Amazon publish an IPN, which the service verifies and follows
        // with a Get Charge: that work belongs to the payment, so it is counted once settled.
        sys.stack.sandbox.ipn().idle().await;
        let store_per = sys
            .stack
            .store
            .request_counts()
            .since(&store_before)
            .total() as f64
            / ok.max(1) as f64;
        let amazon = api_calls(&sys).await;
        let per = |op: &str| {
            (amazon.get(op).copied().unwrap_or(0) - amazon_before.get(op).copied().unwrap_or(0))
                as f64
                / ok.max(1) as f64
        };
        let amazon_total: u64 = amazon.values().sum::<u64>() - amazon_before.values().sum::<u64>();
        let amazon_per = amazon_total as f64 / ok.max(1) as f64;
        let amazon_detail = format!(
            "{amazon_per:.2} ({:.2} Create Charge, {:.2} Get Charge)",
            per("CreateCharge"),
            per("GetCharge")
        );

        // The simulator alone: a signed MITU Create Charge at the same concurrency.
        let charges: Vec<(String, usize)> = (0..n)
            .map(|i| (permissions[i % permissions.len()].clone(), i))
            .collect();
        let client = direct.clone();
        // Amazon's keys are at most 32 characters: short and unique in this run.
        let stamp = std::process::id();
        let (sim, _, sim_failed) = drive(charges, c, move |(cp, i): (String, usize)| {
            let client = client.clone();
            let key = format!("b{stamp}-{c}-{i}");
            async move {
                let mut req = CreateChargeRequest::new(
                    cp,
                    Price::parse_with_code("1.00", "EUR").expect("price"),
                );
                req.capture_now = Some(true);
                req.charge_initiator = Some(ChargeInitiator::Mitu);
                req.can_handle_pending_authorization = Some(true);
                match client.create_charge(&req, &key).await {
                    Ok(_) => true,
                    Err(e) => {
                        if i == 0 {
                            eprintln!("simulator Create Charge failed: {e}");
                        }
                        false
                    }
                }
            }
        })
        .await;
        let (p50, p99) = (percentile(&lat, 0.5), percentile(&lat, 0.99));
        let (s50, s99) = (percentile(&sim, 0.5), percentile(&sim, 0.99));
        println!(
            "| {c} | {ok} ok / {failed} failed | {:.0} | {:.2} | {:.2} | {store_per:.1} | {amazon_detail} | {:.2} / {:.2} ({sim_failed} failed) | {:.2} |",
            ok as f64 / wall.as_secs_f64(),
            ms(p50),
            ms(p99),
            ms(s50),
            ms(s99),
            // Only Create Charge is on the request path; the IPN's Get Charge comes after.
            ms(p50) - ms(s50) * per("CreateCharge"),
        );
    }
}

/// Signed API calls per operation that reached the simulator.
async fn api_calls(sys: &System) -> std::collections::BTreeMap<String, u64> {
    let ledger = sys.ledger().await;
    ledger["apiCalls"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_u64()?)))
                .collect()
        })
        .unwrap_or_default()
}
