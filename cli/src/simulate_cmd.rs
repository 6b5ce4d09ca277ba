//! `savedwallet simulate`: the command line of `savedwallet_cli::simulate`.

use std::process::ExitCode;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use savedwallet_cli::simulate::{simulate, Fault, SimConfig};
use savedwallet_cli::stack::StoreChoice;
use savedwallet_shared::region::Region;

const AFTER_HELP: &str = "\
The run starts the whole stack in this process (the API and /ipn on loopback, the sandbox
simulator, the embedded in-memory store or DynamoDB), imports the subscriptions at period 2
(period 1 paid before the run: no quota spent on setup), steps the simulated clock one day at
a time for --months and runs the jobs after each step, exactly as `savedwallet local` does.

Buyers (realistic mix): 70% approve, 8% soft decline once or twice, 5% hard decline until the
buyer updates the card 1-6 days later, 5% asynchronous approvals, 2% asynchronous declines
(never recovered: dunning ends them), 5% a weekly plan on a wallet whose monthly limit fits two
charges, 3% close their wallet on Amazon, 2% cards that ask for MFA on customer-initiated
charges (MITR must never be asked). --all-approve: every buyer approves (benchmarks).

Faults (--faults, repeatable or comma-separated; `all`): 429 and 5xx (2% of Amazon requests,
not applied), latency (+5 ms per request), lost-response (2% applied and the answer lost),
duplicate-delivery (10% of billing jobs delivered twice), duplicate-scheduler (two scheduler
runs at once, every time), crash (2% of billing workers die right after sending Create Charge).

Quotas: on by default, the sandbox's Create Charge quota times --quota-scale (40: burst 80,
40 per second), refilled by the wall clock so a clock jump refills nothing.

The report ends with the invariant check against the sandbox's ledger; the command exits 1
when a charge was doubled or a period lost, 2 on bad arguments.";

/// Months of recurring billing against the sandbox, then the invariant check.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct SimulateArgs {
    /// Subscriptions (one buyer and wallet each).
    #[arg(long, default_value_t = 1000)]
    subscriptions: usize,
    /// Months of simulated time.
    #[arg(long, default_value_t = 3)]
    months: u32,
    /// Faults to inject (see below).
    #[arg(long, value_delimiter = ',')]
    faults: Vec<String>,
    /// Seed of the population, the sandbox and the fault dice.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Concurrent billing workers.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Keep the data in DynamoDB (or a compatible server) at this endpoint; a fresh table
    /// is created for the run.
    #[arg(long, value_name = "URL")]
    dynamodb_endpoint: Option<String>,
    /// Turn off Amazon's quotas (sandbox and the client's pacing).
    #[arg(long)]
    no_throttling: bool,
    /// Multiply the sandbox's quotas.
    #[arg(long, default_value_t = 40.0)]
    quota_scale: f64,
    /// Every buyer approves (throughput benchmarks).
    #[arg(long)]
    all_approve: bool,
    /// The first renewals are spread over this many days (1: all due at once).
    #[arg(long, default_value_t = 28)]
    spread_days: u32,
    /// The merchant's Amazon Pay region: na, eu or jp.
    #[arg(long, default_value = "eu")]
    region: Region,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub async fn run(args: SimulateArgs) -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
    if args.subscriptions == 0 || args.months == 0 || args.workers == 0 {
        eprintln!("error: --subscriptions, --months and --workers must be at least 1");
        return ExitCode::from(2);
    }
    if !(args.quota_scale.is_finite() && args.quota_scale > 0.0) {
        eprintln!("error: --quota-scale must be a positive number");
        return ExitCode::from(2);
    }
    let mut faults = Vec::new();
    for name in &args.faults {
        match Fault::parse_list(name.trim()) {
            Ok(f) => faults.extend(f),
            Err(e) => {
                eprintln!("error: --faults: {e}");
                return ExitCode::from(2);
            }
        }
    }
    faults.sort_by_key(|f| f.name());
    faults.dedup();
    let cfg = SimConfig {
        subscriptions: args.subscriptions,
        months: args.months,
        faults,
        seed: args.seed,
        workers: args.workers,
        store: match args.dynamodb_endpoint {
            Some(endpoint) => StoreChoice::Dynamo {
                endpoint,
                table: format!("savedwallet-simulate-{}", std::process::id()),
            },
            None => StoreChoice::Embedded(None),
        },
        throttling: !args.no_throttling,
        quota_scale: args.quota_scale,
        all_approve: args.all_approve,
        spread_days: args.spread_days,
        region: args.region,
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:>8} [{bar:40}] {pos}/{len} {elapsed_precise}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut phase = String::new();
    // Without a terminal the bar stays hidden: a line per simulated day instead (logs, CI).
    let plain = !std::io::IsTerminal::is_terminal(&std::io::stderr());
    let started = std::time::Instant::now();
    let result = simulate(cfg, |done, total, p| {
        if phase != p {
            phase = p.to_string();
            bar.set_message(phase.clone());
            bar.set_length(total);
        }
        bar.set_position(done);
        if plain && (p != "seeding" || done == total) {
            eprintln!(
                "{p} {done}/{total} ({:.1} s)",
                started.elapsed().as_secs_f64()
            );
        }
    })
    .await;
    bar.finish_and_clear();
    match result {
        Ok(report) => {
            if args.json {
                match serde_json::to_string_pretty(&report) {
                    Ok(j) => println!("{j}"),
                    Err(e) => eprintln!("error: {e}"),
                }
            } else {
                print!("{report}");
            }
            if report.holds() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
