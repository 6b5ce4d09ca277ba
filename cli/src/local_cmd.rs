//! `savedwallet local`: the whole stack on this machine (see `savedwallet_cli::stack`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use savedwallet_app::Origin;
use savedwallet_cli::stack::{self, secrets, LocalStack, StackInfo, StackOptions, StoreChoice};
use savedwallet_sandbox::ipn::SignatureVersion;
use savedwallet_sandbox::{HardDeclineEffect, Knobs, MfaFailureEffect, QuotaClock};
use savedwallet_shared::region::Region;

const AFTER_HELP: &str = "\
What runs (one process, localhost only):
  Demo shop    http://127.0.0.1:8080/demo/   a shop's account page on the browser helper
                                       (--helper-dir), and the merchant view (merchant.html)
  API          http://127.0.0.1:8080   buyer /v1, merchant /admin/v1, /ipn, /health, /openapi.json,
                                       and the local-only /dev routes (loopback callers only):
                                         POST /dev/token {\"customerId\"}     a buyer JWT (24 h)
                                         POST /dev/clock/advance {\"seconds\"} move both clocks
                                         POST /dev/jobs/run                  billing, reconciler and
                                                                             events, now
  Sandbox      http://127.0.0.1:8085   the Amazon Pay API v2 simulator (consent, MFA and update
                                       pages; control API under /_sandbox/); its IPNs go to /ipn,
                                       signed like SNS and verified like production
  Store        .local/store.redb       (or --dynamodb-endpoint)
  Jobs         every --job-interval    scheduler + billing workers, reconciler, merchant events
                                       (to --webhook-url, signed as Standard Webhooks, else logged)

Files under --dir (made on first run; secrets are mode 0600):
  keys/private.pem, keys/public.pem  the merchant's Amazon Pay signing key pair
  jwt-issuer.pk8                     the dev JWT issuer's key
  admin-token                        the merchant's bearer token for /admin/v1
  binding-secret, webhook-secret     checkout-session binding and webhook signing secrets
  store.redb, sandbox-state.json     the data (delete both to start over)
  stack.json                         URLs, admin token, issuer and audience, rewritten each start

Demo plans: demo-monthly (9.99 a month) and demo-minute (1.00 every minute: local mode only).
The README has a curl walkthrough.";

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("expected a probability from 0 to 1, got {s:?}")),
    }
}

/// Arguments of `savedwallet local`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct LocalArgs {
    /// State directory: secrets, the store file, the sandbox's state, stack.json.
    #[arg(long, default_value = ".local")]
    dir: PathBuf,
    /// The API's address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The sandbox simulator's address.
    #[arg(long, default_value = "127.0.0.1:8085")]
    sandbox_listen: SocketAddr,
    /// Keep the data in DynamoDB (or a compatible server) at this endpoint instead of the
    /// embedded store; the table is created if missing.
    #[arg(long, value_name = "URL")]
    dynamodb_endpoint: Option<String>,
    /// The DynamoDB table (with --dynamodb-endpoint).
    #[arg(long, default_value = "savedwallet-local")]
    dynamodb_table: String,
    /// The merchant's Amazon Pay region: na, eu or jp (MFA applies to EU/UK charges).
    #[arg(long, default_value = "eu")]
    region: Region,
    /// A frontend origin buyers may return to and CORS allows (repeatable).
    #[arg(
        long = "frontend-origin",
        value_name = "ORIGIN",
        default_value = "http://localhost:3000"
    )]
    frontend_origins: Vec<String>,
    /// Deliver merchant events to this URL (POST, Standard Webhooks signature with the
    /// secret in .local/webhook-secret); without it events are logged.
    #[arg(long, value_name = "URL")]
    webhook_url: Option<url::Url>,
    /// Seconds between passes of the background jobs (0: only POST /dev/jobs/run).
    #[arg(long, default_value_t = 5)]
    job_interval: u64,
    /// Concurrent billing workers.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Turn off the sandbox's Amazon quotas (and the client's pacing).
    #[arg(long)]
    no_throttling: bool,
    /// Multiply Amazon's quotas (sandbox and pacer).
    #[arg(long, default_value_t = 1.0)]
    quota_scale: f64,
    /// What HardDeclined does: non-chargeable (at once) or stays-chargeable.
    #[arg(long, default_value = "non-chargeable", value_name = "EFFECT")]
    hard_decline: HardDeclineEffect,
    /// What a failed MFA challenge does: non-chargeable or stays-chargeable.
    #[arg(long, default_value = "non-chargeable", value_name = "EFFECT")]
    mfa_failure: MfaFailureEffect,
    /// Seconds until the sandbox's asynchronous authorizations resolve.
    #[arg(long, default_value_t = 30)]
    async_delay: i64,
    /// Probability that the sandbox delivers an IPN twice (the service deduplicates).
    #[arg(long, default_value_t = 0.1, value_parser = parse_rate)]
    ipn_duplicate_rate: f64,
    /// Probability that an IPN is held back behind the next one.
    #[arg(long, default_value_t = 0.1, value_parser = parse_rate)]
    ipn_reorder_rate: f64,
    /// SNS SignatureVersion of the IPN subscription: 1 or 2.
    #[arg(long, default_value = "1", value_name = "1|2")]
    ipn_signature_version: SignatureVersion,
    /// Freeze the simulated clock: it then moves only by POST /dev/clock/advance.
    #[arg(long)]
    freeze_clock: bool,
    /// The sandbox's seed (ids, fault injection).
    #[arg(long, default_value_t = 0x5eed)]
    seed: u64,
    /// The built browser helper package the demo shop loads (scripts/build-wasm writes
    /// <target dir>/wasm-pkg; ./scripts/local builds it and passes it here).
    #[arg(long, value_name = "DIR")]
    helper_dir: Option<PathBuf>,
}

impl LocalArgs {
    fn options(&self) -> Result<StackOptions, String> {
        let mut origins = Vec::new();
        for o in &self.frontend_origins {
            origins.push(Origin::parse(o).map_err(|e| format!("--frontend-origin {o}: {e}"))?);
        }
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        let store = match &self.dynamodb_endpoint {
            Some(endpoint) => StoreChoice::Dynamo {
                endpoint: endpoint.clone(),
                table: self.dynamodb_table.clone(),
            },
            None => StoreChoice::Embedded(Some(self.dir.join("store.redb"))),
        };
        Ok(StackOptions {
            dir: Some(self.dir.clone()),
            api_addr: self.listen,
            sandbox_addr: self.sandbox_listen,
            store,
            region: self.region,
            frontend_origins: origins,
            throttling: !self.no_throttling,
            quota_scale: self.quota_scale,
            quota_clock: QuotaClock::Wall,
            freeze_clock: self.freeze_clock,
            knobs: Knobs {
                hard_decline: self.hard_decline,
                mfa_failure: self.mfa_failure,
                ..Knobs::default()
            },
            async_delay_secs: self.async_delay,
            ipn_duplicate_rate: self.ipn_duplicate_rate,
            ipn_reorder_rate: self.ipn_reorder_rate,
            ipn_signature_version: self.ipn_signature_version,
            sns_allowed_topics: stack::default_sns_topics(),
            buyer_rate_limit: savedwallet_functions::http::RateLimit::default(),
            require_ipn_confirmation: true,
            webhook_url: self.webhook_url.clone(),
            job_interval: (self.job_interval > 0).then(|| Duration::from_secs(self.job_interval)),
            workers: self.workers,
            seed: self.seed,
            demo_plans: true,
            amazon_wrap: None,
            helper_dir: self.helper_dir.clone(),
        })
    }
}

fn banner(info: &StackInfo, stack_json: &std::path::Path) -> String {
    format!(
        "\n  savedwallet local stack is up\n\n\
         \x20 Demo shop:        {demo}\n\
         \x20 Merchant view:    {demo}merchant.html#token={token}\n\
         \x20 API:              {api}   (OpenAPI: {api}/openapi.json)\n\
         \x20 IPN endpoint:     {ipn}   (subscribed at the sandbox)\n\
         \x20 Sandbox:          {sandbox}   (control API: {control})\n\
         \x20 Store:            {store}\n\
         \x20 Demo plans:       {plans}\n\
         \x20 Admin token:      {token}\n\
         \x20 Details:          {json}\n\n\
         \x20 A buyer token:    curl -s -X POST {api}/dev/token -H 'content-type: application/json' \\\n\
         \x20                     -d '{{\"customerId\":\"cust_1\"}}'\n\
         \x20 Run jobs now:     curl -s -X POST {api}/dev/jobs/run\n\n\
         \x20 Ctrl-C stops everything (the data stays in the state directory).\n",
        api = info.api_url,
        demo = info.demo_url,
        ipn = info.ipn_url,
        sandbox = info.sandbox_url,
        control = info.sandbox_control_url,
        store = info.store,
        plans = info.demo_plans.join(", "),
        token = info.admin_token,
        json = stack_json.display(),
    )
}

/// Runs the command: serve until Ctrl-C.
pub async fn run(args: LocalArgs) -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
    let opts = match args.options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let stack = match LocalStack::start(opts).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stack_json = args.dir.join("stack.json");
    let written = serde_json::to_vec_pretty(&stack.info)
        .map_err(|e| e.to_string())
        .and_then(|b| secrets::write_private(&stack_json, &b).map_err(|e| e.to_string()));
    if let Err(e) = written {
        eprintln!("error: cannot write {}: {e}", stack_json.display());
        return ExitCode::FAILURE;
    }
    println!("{}", banner(&stack.info, &stack_json));
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("error: cannot wait for Ctrl-C: {e}");
    }
    match stack.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
