//! The Lambda cold-start benchmark. For each function (the one bootstrap binary
//! `savedwallet-lambda`, a host release build, run as each function with
//! `SAVEDWALLET_FUNCTION`, as the template does), beside the hello-world `lambda_runtime`
//! baseline `baseline-hello` built with the same profile, `--runs` times: spawn it fresh
//! against a local Runtime API, time process start → its first `next` poll (init), then its
//! first invocation (invoke → response, with an event that makes it do its real work against
//! moto and the sandbox simulator of a [`Deployment`]), then read its peak RSS (VmHWM). One
//! discarded warm-up spawn per binary first (page cache); the functions take turns, so background noise
//! spreads over all of them. Also the arm64 deployment zips (`scripts/lambda-release`) and
//! the first-use costs the functions pay on their first invocation (AWS config, the secret,
//! the HTTPS clients and their TLS roots), measured in fresh processes of this binary with
//! the functions' environment. Prints Markdown. Figures are measured, never asserted.
//!
//! Build the binaries as cargo-lambda builds the deployed one (it passes panic = "abort";
//! the workspace's release profile unwinds, for the local stack):
//!
//! ```text
//! cargo build --release --config 'profile.release.panic="abort"' -p savedwallet-functions --bins
//! cargo run --release -p savedwallet-tests --bin lambda-bench -- [--runs 10]
//!     [--bins <target>/release] [--arm64 <target>/lambda] [--only wallets,admin]
//!     [--env NAME=VALUE]   (more variables for the functions, e.g. MALLOC_ARENA_MAX=1)
//! ```

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use savedwallet_functions::lambda::{build_service, LambdaEnv};
use savedwallet_functions::metrics::EmfMetrics;
use savedwallet_tests::lambda::measure::{
    machine_facts, rss_split, status_field, zip_sizes, RssSplit,
};
use savedwallet_tests::lambda::{
    api_event, api_event_raw, newest_source_mtime, scheduler_event, sqs_event, target_dir, Caller,
    Deployment, FUNCTIONS, SHOP,
};
use savedwallet_tests::runtime_api::{Bootstrap, BootstrapOptions};

/// The hello-world baseline's binary.
const BASELINE: &str = "baseline-hello";
/// Targets: init ≤ 2 × the baseline's, peak RSS ≤ 16 MiB, arm64 zip ≤ 8 MiB.
const INIT_FACTOR: f64 = 2.0;
const RSS_LIMIT_KIB: u64 = 16 * 1024;
const ZIP_LIMIT: u64 = 8 * 1024 * 1024;
/// How often each first-use probe runs (a fresh process each time).
const PROBES: usize = 5;

struct Args {
    bins: PathBuf,
    arm64: PathBuf,
    runs: usize,
    only: Option<Vec<String>>,
    env: Vec<(String, String)>,
    probe: Option<String>,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        bins: target_dir().join("release"),
        arm64: target_dir().join("lambda"),
        runs: 10,
        only: None,
        env: Vec::new(),
        probe: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--bins" => a.bins = value()?.into(),
            "--arm64" => a.arm64 = value()?.into(),
            "--runs" => a.runs = value()?.parse().map_err(|_| "--runs: a number")?,
            "--only" => a.only = Some(value()?.split(',').map(str::to_string).collect()),
            "--env" => {
                let kv = value()?;
                let (k, v) = kv.split_once('=').ok_or("--env: NAME=VALUE")?;
                a.env.push((k.to_string(), v.to_string()));
            }
            "--probe" => a.probe = Some(value()?),
            "--bench" => {} // cargo bench passes it
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.runs == 0 {
        return Err("--runs: at least 1".into());
    }
    Ok(a)
}

// ---------------------------------------------------------------- small helpers

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / 1048576.0)
}

// ---------------------------------------------------------------- first-use probes

/// In a fresh process with the functions' environment: what the first invocation builds.
/// `pieces`: a reqwest/rustls client, `aws_config::load_defaults`, GetSecretValue, each
/// twice (the first in the process, then again). `build`: `load_defaults` + `build_service`, as the
/// functions' first invocation runs them. Prints one JSON object.
async fn probe(kind: &str) -> Result<Value, String> {
    let rss = || {
        [
            status_field("self", "VmRSS"),
            status_field("self", "RssAnon"),
        ]
    };
    let start_rss = rss();
    let mut steps = Vec::new();
    let mut step = |name: &str, t: Instant| {
        let [rss_kib, anon_kib] = rss();
        steps.push(
            json!({ "step": name, "ms": ms(t.elapsed()), "rssKib": rss_kib, "anonKib": anon_kib }),
        );
    };
    let secret = std::env::var("AMAZON_PAY_SECRET_ARN").map_err(|e| e.to_string())?;
    let get_secret = |aws: &aws_config::SdkConfig| {
        let sm = aws_sdk_secretsmanager::Client::new(aws);
        let secret = secret.clone();
        async move {
            sm.get_secret_value()
                .secret_id(secret)
                .send()
                .await
                .map(|_| ())
        }
    };
    match kind {
        "pieces" => {
            let t = Instant::now();
            let c = reqwest::Client::builder()
                .build()
                .map_err(|e| e.to_string())?;
            step("reqwest client (rustls, platform verifier), first", t);
            let t = Instant::now();
            let c2 = reqwest::Client::builder()
                .build()
                .map_err(|e| e.to_string())?;
            step("reqwest client, second", t);
            drop((c, c2));
            let t = Instant::now();
            let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            step("aws_config::load_defaults, first", t);
            let t = Instant::now();
            let aws2 = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            step("aws_config::load_defaults, second", t);
            drop(aws2);
            let t = Instant::now();
            get_secret(&aws).await.map_err(|e| format!("{e:?}"))?;
            step(
                "GetSecretValue, first (the SDK's HTTPS connector, credentials)",
                t,
            );
            let t = Instant::now();
            get_secret(&aws).await.map_err(|e| format!("{e:?}"))?;
            step("GetSecretValue, second (moto round trip)", t);
        }
        "build" => {
            let env = LambdaEnv::from_env().map_err(|e| e.to_string())?;
            let metrics = Arc::new(EmfMetrics::new(env.service_name.clone()));
            let t = Instant::now();
            let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            step("aws_config::load_defaults", t);
            let t = Instant::now();
            build_service(&env, &aws, metrics)
                .await
                .map_err(|e| e.to_string())?;
            step(
                "build_service (secret fetched, Amazon Pay client, store)",
                t,
            );
        }
        other => return Err(format!("unknown probe {other}")),
    }
    let peak = status_field("self", "VmHWM");
    Ok(json!({ "startRssKib": start_rss, "steps": steps, "peakRssKib": peak }))
}

/// A probe's medians: (step, time ms, RSS and anon RSS after in KiB), the RSS and anon RSS
/// at its start, its peak RSS.
struct ProbeResult {
    steps: Vec<(String, f64, u64, u64)>,
    start_rss_kib: [u64; 2],
    peak_rss_kib: u64,
}

/// Runs `--probe kind` in a fresh process with the functions' environment, `PROBES` times.
async fn run_probes(d: &Deployment, kind: &str) -> Result<ProbeResult, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut all: Vec<Value> = Vec::new();
    for _ in 0..PROBES {
        let out = tokio::process::Command::new(&exe)
            .args(["--probe", kind])
            .env_clear()
            .envs(d.env())
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout);
        let v: Value = serde_json::from_str(text.trim()).map_err(|_| {
            let err = String::from_utf8_lossy(&out.stderr);
            format!("probe {kind}: {text} {err}")
        })?;
        all.push(v);
    }
    let median = |v: &mut dyn Iterator<Item = f64>| {
        let mut v: Vec<f64> = v.collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let names: Vec<String> = all[0]["steps"]
        .as_array()
        .map(|s| {
            s.iter()
                .filter_map(|x| x["step"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let steps = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let field = |f: &'static str| {
                all.iter()
                    .map(move |p| p["steps"][i][f].as_f64().unwrap_or(0.0))
            };
            let t = median(&mut field("ms"));
            let rss = median(&mut field("rssKib"));
            let anon = median(&mut field("anonKib"));
            (name.clone(), t, rss as u64, anon as u64)
        })
        .collect();
    let top = |f: &str, i: usize| {
        let at = |p: &Value| p[f].get(i).unwrap_or(&p[f]).as_f64().unwrap_or(0.0);
        median(&mut all.iter().map(at)) as u64
    };
    Ok(ProbeResult {
        steps,
        start_rss_kib: [top("startRssKib", 0), top("startRssKib", 1)],
        peak_rss_kib: top("peakRssKib", 0),
    })
}

// ---------------------------------------------------------------- the measured runs

/// What each function is first invoked with: something it answers quickly after building
/// its service (the secret fetched, the router or the job's clients built).
fn first_event(function: &str, worker_batch: &Value) -> Value {
    let buyer = Caller::Buyer("bench-buyer".into());
    match function {
        "wallets" => api_event("GET", "/v1/wallets", "/v1/wallets", &buyer, None, None),
        "admin" => api_event(
            "GET",
            "/admin/v1/customers/{customerId}/wallets",
            "/admin/v1/customers/bench-buyer/wallets",
            &Caller::Iam,
            None,
            None,
        ),
        "ipn" => api_event_raw(
            "POST",
            "/ipn",
            "/ipn",
            &Caller::Anonymous,
            Some(("text/plain; charset=UTF-8", "not an SNS message")),
            None,
            &[("x-amz-sns-message-type", "Notification")],
        ),
        "create-charge" => api_event(
            "POST",
            "/v1/orders/{orderId}/pay",
            "/v1/orders/ord_doesnotexist/pay",
            &buyer,
            Some(&json!({
                "walletId": "B01-0000000-0000000",
                "checkoutResultReturnUrl": format!("{SHOP}/done"),
            })),
            Some(&format!("bench-{}", savedwallet_tests::uuid_like())),
        ),
        "complete-checkout" => api_event(
            "POST",
            "/v1/wallets",
            "/v1/wallets",
            &buyer,
            Some(&json!({ "amazonCheckoutSessionId": "00000000-0000-0000-0000-000000000000" })),
            Some(&format!("bench-{}", savedwallet_tests::uuid_like())),
        ),
        "billing-scheduler" => scheduler_event("billing"),
        "reconciler" => scheduler_event("reconcile"),
        "event-dispatcher" => scheduler_event("dispatch"),
        "billing-worker" => worker_batch.clone(),
        _ => json!({ "name": "x" }),
    }
}

/// A short description of an answer: the HTTP status of an API answer, else the JSON.
fn summary(answer: &Result<Value, String>) -> String {
    let s = match answer {
        Ok(v) => match v["statusCode"].as_u64() {
            Some(status) => {
                let body: Value = v["body"]
                    .as_str()
                    .and_then(|b| serde_json::from_str(b).ok())
                    .unwrap_or(Value::Null);
                match body["error"]["code"].as_str() {
                    Some(code) => format!("{status} {code}"),
                    None => status.to_string(),
                }
            }
            None => v.to_string(),
        },
        Err(e) => format!("error: {e}"),
    };
    let s = s.replace('|', "\\|");
    if s.chars().count() > 48 {
        format!("{}…", s.chars().take(47).collect::<String>())
    } else {
        s
    }
}

#[derive(Default)]
struct Samples {
    init: Vec<Duration>,
    first: Vec<Duration>,
    second: Vec<Duration>,
    rss_kib: Vec<u64>,
    init_rss_kib: Vec<u64>,
    /// Resident memory by mapping and threads after the first invocation (the peak run).
    split: (RssSplit, u64),
    answer: String,
}

/// What one cold start measured.
struct Run {
    init: Duration,
    first: Duration,
    second: Duration,
    rss_kib: u64,
    init_rss_kib: u64,
    split: (RssSplit, u64),
    answer: String,
}

/// A function's binary in `dir`: the baseline's own; for a function the one binary
/// `savedwallet-lambda` (arm64: its directory), else a per-function copy (the layout of
/// `scripts/build-lambda-bins`).
fn binary_of(dir: &Path, function: &str) -> PathBuf {
    let one = dir.join("savedwallet-lambda");
    if function == BASELINE || !one.exists() {
        dir.join(function)
    } else {
        one
    }
}

/// One cold start: spawn, first poll, first invocation, peak RSS, a second invocation.
async fn one_run(
    d: &Deployment,
    binary: &Path,
    function: &str,
    event: &Value,
    extra_env: &[(String, String)],
) -> Result<Run, String> {
    let mut opts = BootstrapOptions::new(format!("savedwallet-{function}"))
        .vars(d.env())
        .vars(extra_env.iter().cloned());
    if function != BASELINE {
        // The one deployed binary learns its role as in the template.
        opts = opts.var("SAVEDWALLET_FUNCTION", function);
    }
    let f = Bootstrap::spawn(binary, opts)
        .await
        .map_err(|e| e.to_string())?;
    f.wait_ready(Duration::from_secs(30))
        .await
        .map_err(|e| format!("{e}\n{}", f.output_tail(20)))?;
    let init = f.cold_start().ok_or("no first poll")?;
    let init_rss_kib = f.peak_rss_kib().ok_or("no VmHWM")?;
    let t = Instant::now();
    let answer = f.invoke(event.clone()).await.map_err(|e| e.to_string());
    let first = t.elapsed();
    let rss_kib = f.peak_rss_kib().ok_or("no VmHWM")?;
    let pid = f.pid().ok_or("no pid")?;
    let by_mapping = rss_split(pid, binary).unwrap_or_default();
    let split = (by_mapping, status_field(&pid.to_string(), "Threads"));
    let t = Instant::now();
    let _ = f.invoke(event.clone()).await;
    Ok(Run {
        init,
        first,
        second: t.elapsed(),
        rss_kib,
        init_rss_kib,
        split,
        answer: summary(&answer),
    })
}

/// A batch of one poisoned record, received from the billing queue as SQS delivers it.
async fn poisoned_batch(d: &Deployment) -> Value {
    d.send_message(&d.billing_queue_url, r#"{"subscription":"sub_x"}"#)
        .await;
    let received = d.receive_exactly(&d.billing_queue_url, 1).await;
    sqs_event(&d.billing_queue_arn, &received)
}

/// The main table (the issue's columns and targets) and where the time and memory go.
fn print_tables(a: &Args, functions: &[&str], samples: &[Samples]) {
    let hello = percentile(&samples[0].init, 0.5);
    let max = |v: &[u64]| v.iter().copied().max().unwrap_or(0) as f64 / 1024.0;
    println!(
        "## Lambda cold start ({} runs per function, binaries from {})\n",
        a.runs,
        a.bins.display()
    );
    println!("| function | init median | init p90 | ×hello | first invocation | peak RSS | host size | arm64 zip | arm64 unzipped | targets |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for (f, s) in functions.iter().zip(samples) {
        let init = percentile(&s.init, 0.5);
        let factor = ms(init) / ms(hello).max(1e-6);
        let rss = s.rss_kib.iter().copied().max().unwrap_or(0);
        let host = std::fs::metadata(binary_of(&a.bins, f)).map_or(0, |m| m.len());
        let zip = zip_sizes(&binary_of(&a.arm64, f).join("bootstrap.zip"));
        let (zip_s, unzip_s) = match zip {
            Some((z, u)) => (mib(z), mib(u)),
            None => ("n/a".into(), "n/a".into()),
        };
        let mark = |ok: bool| if ok { "met" } else { "**NOT met**" };
        let targets = if *f == BASELINE {
            "baseline".to_string()
        } else {
            format!(
                "init {}, RSS {}, zip {}",
                mark(factor <= INIT_FACTOR),
                mark(rss <= RSS_LIMIT_KIB),
                zip.map_or("n/a", |(z, _)| mark(z <= ZIP_LIMIT))
            )
        };
        println!(
            "| {f} | {:.2} ms | {:.2} ms | {factor:.2} | {:.1} ms | {:.1} MiB | {} | {zip_s} | {unzip_s} | {targets} |",
            ms(init),
            ms(percentile(&s.init, 0.9)),
            ms(percentile(&s.first, 0.5)),
            max(&s.rss_kib),
            mib(host),
        );
    }
    println!(
        "\nTargets: init ≤ {INIT_FACTOR}× the hello-world median, peak RSS (VmHWM after the first \
invocation, max over runs) ≤ 16 MiB, arm64 zip ≤ 8 MiB. Init = spawn → first `next` poll. \
First invocation: median, invoke → response through the local Runtime API, against moto and \
the sandbox simulator on loopback. arm64 from {}.\n",
        a.arm64.display()
    );
    println!("### Where it goes\n");
    println!("| function | first answer | 2nd invocation | peak RSS at init | RSS after the first invocation: binary / other files / anon | threads |");
    println!("|---|---|---:|---:|---:|---:|");
    for (f, s) in functions.iter().zip(samples) {
        let (split, threads) = s.split;
        let m = |k: u64| k as f64 / 1024.0;
        println!(
            "| {f} | {} | {:.1} ms | {:.1} MiB | {:.1} / {:.1} / {:.1} MiB | {threads} |",
            s.answer,
            ms(percentile(&s.second, 0.5)),
            max(&s.init_rss_kib),
            m(split.binary_kib),
            m(split.libs_kib),
            m(split.anon_kib),
        );
    }
    println!(
        "\nRSS by mapping: `/proc/<pid>/smaps` of the run with the highest peak (resident now, \
not peak): the executable's own pages (file-backed, clean: what the code touched plus what \
the kernel's fault-around mapped beside it), other files (libc, ld.so, libgcc_s), anonymous \
(heap, stacks).\n"
    );
}

async fn bench(a: Args) -> Result<(), String> {
    let facts = machine_facts();
    let mut functions: Vec<&str> = std::iter::once(BASELINE).chain(FUNCTIONS).collect();
    if let Some(only) = &a.only {
        functions.retain(|f| *f == BASELINE || only.iter().any(|o| o == f));
    }
    let newest = newest_source_mtime();
    for f in &functions {
        let bin = binary_of(&a.bins, f);
        let meta = std::fs::metadata(&bin).map_err(|e| {
            format!(
                "{}: {e}; build them: cargo build --release --config 'profile.release.panic=\"abort\"' -p savedwallet-functions --bins",
                bin.display()
            )
        })?;
        let zip = binary_of(&a.arm64, f).join("bootstrap.zip");
        let zip_built = std::fs::metadata(&zip).and_then(|m| m.modified()).ok();
        for (path, built) in [(&bin, meta.modified().ok()), (&zip, zip_built)] {
            if let (Some(src), Some(built)) = (newest, built) {
                if built < src {
                    println!("> warning: {} is older than the sources\n", path.display());
                }
            }
        }
    }

    eprintln!("starting moto and a deployment…");
    let d = Deployment::new().await;
    let batch = poisoned_batch(&d).await;
    let mut samples: Vec<Samples> = functions.iter().map(|_| Samples::default()).collect();
    for run in 0..=a.runs {
        eprintln!(
            "{}",
            if run == 0 {
                "warm-up run (not counted)".to_string()
            } else {
                format!("run {run}/{}", a.runs)
            }
        );
        for (f, s) in functions.iter().zip(&mut samples) {
            let event = first_event(f, &batch);
            let r = one_run(&d, &binary_of(&a.bins, f), f, &event, &a.env)
                .await
                .map_err(|e| format!("{f}: {e}"))?;
            if run > 0 {
                if s.rss_kib.iter().all(|&k| k <= r.rss_kib) {
                    s.split = r.split;
                }
                s.init.push(r.init);
                s.first.push(r.first);
                s.second.push(r.second);
                s.rss_kib.push(r.rss_kib);
                s.init_rss_kib.push(r.init_rss_kib);
                s.answer = r.answer;
            }
        }
    }

    eprintln!("first-use probes…");
    let pieces = run_probes(&d, "pieces").await?;
    let build = run_probes(&d, "build").await?;

    for s in &mut samples {
        s.init.sort();
        s.first.sort();
        s.second.sort();
    }
    print_tables(&a, &functions, &samples);
    println!("## First-use costs (paid on the first invocation, not at init)\n");
    println!(
        "Fresh processes of this binary (`--probe`) with the functions' environment, median of \
{PROBES}; RSS = VmRSS after the step, anon = RssAnon (the growth counts: the start is this larger \
binary's; VmRSS also grows by the code pages a step runs for the first time).\n"
    );
    println!("| probe | step | time | RSS after | of it anon |");
    println!("|---|---|---:|---:|---:|");
    for (kind, p) in [("pieces", &pieces), ("build", &build)] {
        let kib = |k: u64| format!("{:.2} MiB", k as f64 / 1024.0);
        let [rss, anon] = p.start_rss_kib;
        println!(
            "| {kind} | (process start) | | {} | {} |",
            kib(rss),
            kib(anon)
        );
        for (step, t, rss, anon) in &p.steps {
            println!(
                "| {kind} | {step} | {t:.2} ms | {} | {} |",
                kib(*rss),
                kib(*anon)
            );
        }
        println!("| {kind} | (peak, VmHWM) | | {} | |", kib(p.peak_rss_kib));
    }
    println!("\n## Machine\n");
    for (k, v) in facts {
        println!("- {k}: {v}");
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("lambda-bench: {e}");
            std::process::exit(2);
        }
    };
    if let Some(kind) = a.probe.clone() {
        match probe(&kind).await {
            Ok(v) => println!("{v}"),
            Err(e) => {
                eprintln!("probe {kind}: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    if let Err(e) = bench(a).await {
        eprintln!("lambda-bench: {e}");
        std::process::exit(1);
    }
}
