//! The whole local stack in one process: the Amazon Pay sandbox simulator on its own port
//! (IPNs subscribed to the local `/ipn`), the API of `docs/openapi.json` with the local-only
//! `/dev` routes, the use cases over the embedded store (or DynamoDB), the background jobs,
//! and per-install secrets. `savedwallet local` runs it; `savedwallet simulate`, the
//! whole-system tests and the API benchmark start it in-process on free ports.

pub mod demo;
pub mod jobs;
pub mod secrets;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use tokio::task::JoinHandle;

use savedwallet_amazon_pay::{AmazonPayClient, ClientConfig, Pacing};
use savedwallet_app::ids::PlanId;
use savedwallet_app::ports::{AmazonPay, Clock, EventSink};
use savedwallet_app::store::Store;
use savedwallet_app::usecases::PlanInput;
use savedwallet_app::validate::MoneyInput;
use savedwallet_app::{Origin, Service, ServiceConfig};
use savedwallet_functions::amazon::{AmazonPayGateway, Timeouts};
use savedwallet_functions::events::{parse_secret, LogSink, WebhookSink};
use savedwallet_functions::http::{
    self, AdminToken, AppState, AuthMode, DevHooks, DevTools, HttpConfig, JobsReport, LocalAuth,
    LocalIssuer, RateLimit,
};
use savedwallet_functions::runtime::OsEntropy;
use savedwallet_functions::sns::{SnsConfig, SnsVerifier};
use savedwallet_functions::store::{dynamo, DynamoStore, EmbeddedStore};
use savedwallet_sandbox::ipn::{SignatureVersion, DEFAULT_TOPIC_ARN};
use savedwallet_sandbox::{Knobs, QuotaClock, Sandbox, SandboxHandle};
use savedwallet_shared::api::Quotas;
use savedwallet_shared::idempotency::KeyScope;
use savedwallet_shared::region::{Environment, Region};

pub use jobs::{Jobs, LocalQueue};
pub use secrets::{SecretError, Secrets};

/// The key id the sandbox knows the local merchant key by.
pub const KEY_ID: &str = "SANDBOX-LOCALDEVELOPMENTKEY000";
/// The sandbox's merchant id (in its IPNs).
pub const MERCHANT_ID: &str = "A2SANDBOXMERCHANT";
/// The store id of local checkout sessions.
pub const STORE_ID: &str = "amzn1.application-oa2-client.savedwalletlocal";
/// The dev JWT issuer.
pub const ISSUER: &str = "https://savedwallet.local";
/// The dev JWT audience.
pub const AUDIENCE: &str = "savedwallet-api";
/// The demo plans: monthly, and one billing every minute (local mode only).
pub const DEMO_PLANS: [&str; 2] = ["demo-monthly", "demo-minute"];

/// Where the stack keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// The embedded store in a file (`.local/store.redb`) or, with `None`, in memory.
    Embedded(Option<PathBuf>),
    /// A DynamoDB(-compatible) endpoint and table (created if missing).
    Dynamo {
        /// Endpoint URL (e.g. `http://127.0.0.1:8000`).
        endpoint: String,
        /// Table name.
        table: String,
    },
}

/// Wraps the service's Amazon Pay port (`simulate` injects worker crashes there).
#[derive(Clone)]
pub struct AmazonWrap(pub Arc<WrapFn>);

/// What an [`AmazonWrap`] does: the port in, the decorated port out.
pub type WrapFn = dyn Fn(Arc<dyn AmazonPay>) -> Arc<dyn AmazonPay> + Send + Sync;

impl std::fmt::Debug for AmazonWrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AmazonWrap(..)")
    }
}

/// How to start a stack.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// The state directory (`.local`): secrets, store file, sandbox state. `None`: all in
    /// memory, fresh secrets (tests, `simulate`).
    pub dir: Option<PathBuf>,
    /// The API's address (port 0 picks one).
    pub api_addr: SocketAddr,
    /// The sandbox's address.
    pub sandbox_addr: SocketAddr,
    /// The store.
    pub store: StoreChoice,
    /// The merchant's Amazon Pay region.
    pub region: Region,
    /// Frontend origins buyers may return to (and CORS origins).
    pub frontend_origins: Vec<Origin>,
    /// Amazon's throttling in the sandbox (and the client's pacing to match).
    pub throttling: bool,
    /// Multiplier of Amazon's quotas (sandbox and pacer).
    pub quota_scale: f64,
    /// Which clock refills the sandbox's quotas.
    pub quota_clock: QuotaClock,
    /// Start with the simulated clock frozen (it then moves only by advances).
    pub freeze_clock: bool,
    /// The simulator's knobs.
    pub knobs: Knobs,
    /// Seconds until asynchronous authorizations resolve in the sandbox.
    pub async_delay_secs: i64,
    /// IPNs delivered twice (probability).
    pub ipn_duplicate_rate: f64,
    /// IPNs held back behind the next one (probability).
    pub ipn_reorder_rate: f64,
    /// SNS SignatureVersion of the local IPN subscription.
    pub ipn_signature_version: SignatureVersion,
    /// The SNS topics `/ipn` believes, each with the lowest SignatureVersion it accepts
    /// from that topic ([`default_sns_topics`]: the sandbox's topic, version 1 and up).
    pub sns_allowed_topics: Vec<(String, SignatureVersion)>,
    /// Each buyer's token bucket on the routes that call Amazon Pay (429 `rate_limited`).
    pub buyer_rate_limit: RateLimit,
    /// Wait at start until the sandbox's IPN subscription is confirmed through `/ipn`, and
    /// fail when it is not. Off only for stacks whose `/ipn` refuses the sandbox's topic or
    /// its signature version on purpose (tests of the allow list).
    pub require_ipn_confirmation: bool,
    /// Deliver merchant events to this webhook (else they are logged).
    pub webhook_url: Option<url::Url>,
    /// Run the background jobs every this often (`None`: only on `POST /dev/jobs/run`).
    pub job_interval: Option<Duration>,
    /// Concurrent billing workers.
    pub workers: usize,
    /// The sandbox's seed.
    pub seed: u64,
    /// Create the demo plans.
    pub demo_plans: bool,
    /// A decorator of the service's Amazon Pay port (`None`: the client as it is).
    pub amazon_wrap: Option<AmazonWrap>,
    /// The built browser helper package (`scripts/build-wasm`) the demo shop loads.
    pub helper_dir: Option<PathBuf>,
}

impl StackOptions {
    /// Everything in memory on free loopback ports, throttling off, clock frozen, no
    /// background loops: what tests start.
    pub fn ephemeral() -> StackOptions {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        StackOptions {
            dir: None,
            api_addr: any,
            sandbox_addr: any,
            store: StoreChoice::Embedded(None),
            region: Region::Eu,
            frontend_origins: vec![Origin::parse("http://localhost:3000").expect("a valid origin")],
            throttling: false,
            quota_scale: 1.0,
            quota_clock: QuotaClock::Simulated,
            freeze_clock: true,
            knobs: Knobs::default(),
            async_delay_secs: 30,
            ipn_duplicate_rate: 0.0,
            ipn_reorder_rate: 0.0,
            ipn_signature_version: SignatureVersion::V1,
            sns_allowed_topics: default_sns_topics(),
            buyer_rate_limit: RateLimit::default(),
            require_ipn_confirmation: true,
            webhook_url: None,
            job_interval: None,
            workers: 4,
            seed: 0x5eed,
            demo_plans: true,
            amazon_wrap: None,
            helper_dir: None,
        }
    }
}

/// The topics `/ipn` believes by default: the sandbox's, with SignatureVersion 1 and up
/// (SPEC §16: "expect 1, accept both").
pub fn default_sns_topics() -> Vec<(String, SignatureVersion)> {
    vec![(DEFAULT_TOPIC_ARN.to_string(), SignatureVersion::V1)]
}

/// Why the stack could not start.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// A secret could not be made or read.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The sandbox did not start.
    #[error("sandbox: {0}")]
    Sandbox(String),
    /// The store could not be opened.
    #[error("store: {0}")]
    Store(String),
    /// A setting is invalid.
    #[error("{0}")]
    Config(String),
    /// The API could not listen.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// What `.local/stack.json` holds (the contract's "Local mode").
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct StackInfo {
    /// The API's base URL.
    pub api_url: String,
    /// The IPN endpoint the sandbox delivers to.
    pub ipn_url: String,
    /// The sandbox's Amazon Pay API base URL.
    pub sandbox_url: String,
    /// The sandbox's control API.
    pub sandbox_control_url: String,
    /// The admin token (`Authorization: Bearer …` on `/admin/v1`).
    pub admin_token: String,
    /// The dev JWT issuer (`POST /dev/token` mints one).
    pub issuer: String,
    /// The dev JWT audience.
    pub audience: String,
    /// The webhook secret events are signed with (Standard Webhooks).
    pub webhook_secret: String,
    /// Where the data lives.
    pub store: String,
    /// The demo plans' ids.
    pub demo_plans: Vec<String>,
    /// The demo shop (the buyer's account page; the merchant view beside it).
    pub demo_url: String,
}

/// The service's clock: the simulator's, so one advance moves both.
struct SandboxClock(Arc<SandboxHandle>);

impl Clock for SandboxClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }
}

/// `/dev` hooks over the simulator's clock and the jobs.
struct Hooks {
    sandbox: Arc<SandboxHandle>,
    jobs: Arc<Jobs>,
}

#[async_trait]
impl DevHooks for Hooks {
    async fn advance_clock(&self, by: Duration) -> Result<DateTime<Utc>, String> {
        self.sandbox.advance_clock(by);
        Ok(self.sandbox.now())
    }

    async fn run_jobs(&self) -> Result<JobsReport, String> {
        self.jobs.pass().await.map_err(|e| e.to_string())
    }
}

/// A running stack.
pub struct LocalStack {
    /// URLs and credentials (`stack.json`).
    pub info: StackInfo,
    /// The simulator.
    pub sandbox: Arc<SandboxHandle>,
    /// The use cases.
    pub service: Arc<Service>,
    /// The store (request counts for benchmarks).
    pub store: Arc<dyn Store>,
    /// The dev JWT issuer.
    pub issuer: Arc<LocalIssuer>,
    /// The background jobs.
    pub jobs: Arc<Jobs>,
    secrets: Secrets,
    server: JoinHandle<()>,
    loops: Option<JoinHandle<()>>,
    stop: tokio::sync::watch::Sender<bool>,
}

async fn open_store(choice: &StoreChoice) -> Result<(Arc<dyn Store>, String), StackError> {
    match choice {
        StoreChoice::Embedded(Some(path)) => {
            let s = EmbeddedStore::open(path).map_err(StackError::Store)?;
            Ok((Arc::new(s), format!("embedded {}", path.display())))
        }
        StoreChoice::Embedded(None) => {
            let s = EmbeddedStore::in_memory().map_err(StackError::Store)?;
            Ok((Arc::new(s), "embedded, in memory".into()))
        }
        StoreChoice::Dynamo { endpoint, table } => {
            // A local DynamoDB-compatible server takes any credentials; real ones are used
            // when the environment has them.
            let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .endpoint_url(endpoint)
                .region(aws_config::Region::new(
                    std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
                ));
            if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
                loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                    "local",
                    "local",
                    None,
                    None,
                    "savedwallet-local",
                ));
            }
            let client = aws_sdk_dynamodb::Client::new(&loader.load().await);
            let exists = client
                .describe_table()
                .table_name(table)
                .send()
                .await
                .is_ok();
            if !exists {
                dynamo::create_table(&client, table)
                    .await
                    .map_err(|e| StackError::Store(format!("cannot create table {table}: {e}")))?;
            }
            Ok((
                Arc::new(DynamoStore::from_client(client, table.clone())),
                format!("DynamoDB {endpoint} table {table}"),
            ))
        }
    }
}

impl LocalStack {
    /// Starts every part and waits until the sandbox's IPN subscription is confirmed.
    pub async fn start(opts: StackOptions) -> Result<LocalStack, StackError> {
        let secrets = match &opts.dir {
            Some(dir) => Secrets::load_or_create(dir)?,
            None => Secrets::ephemeral()?,
        };
        let sandbox = Arc::new(start_sandbox(&opts, &secrets).await?);
        let (store, store_desc) = open_store(&opts.store).await?;
        // Bound first: the API's own origin (the demo shop's) is an allowed return origin.
        let listener = tokio::net::TcpListener::bind(opts.api_addr)
            .await
            .map_err(|source| StackError::Listen {
                addr: opts.api_addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StackError::Listen {
            addr: opts.api_addr,
            source,
        })?;
        let api_url = format!("http://{addr}");
        let api_origin = Origin::parse(&api_url)
            .map_err(|e| StackError::Config(format!("the API's origin {api_url}: {e}")))?;
        let service = Arc::new(build_service(
            &opts,
            &secrets,
            &sandbox,
            store.clone(),
            api_origin,
        )?);

        let sink: Arc<dyn EventSink> = match &opts.webhook_url {
            Some(url) => Arc::new(
                WebhookSink::new(
                    url.clone(),
                    parse_secret(&secrets.webhook_secret).map_err(StackError::Config)?,
                )
                .map_err(StackError::Config)?,
            ),
            None => Arc::new(LogSink),
        };
        let jobs = Arc::new(Jobs::new(
            service.clone(),
            sandbox.clone(),
            sink,
            opts.workers,
        ));

        let issuer = Arc::new(
            LocalIssuer::from_pkcs8(&secrets.issuer_pkcs8, ISSUER, AUDIENCE)
                .map_err(|e| StackError::Config(format!("jwt-issuer.pk8: {e}")))?,
        );
        let admin = AdminToken::new(&secrets.admin_token)
            .map_err(|e| StackError::Config(format!("admin-token: {e}")))?;
        let sandbox_url: url::Url = sandbox
            .base_url()
            .parse()
            .map_err(|e| StackError::Config(format!("sandbox URL: {e}")))?;
        let mut sns = SnsConfig::local_sandbox(&sandbox_url)
            .map_err(|e| StackError::Config(e.to_string()))?;
        for (topic, minimum) in &opts.sns_allowed_topics {
            sns = sns.allow_topic(topic.clone(), *minimum);
        }
        let state = AppState::new(
            service.clone(),
            AuthMode::Local(Box::new(LocalAuth {
                jwt: issuer.verifier(),
                admin,
            })),
            Arc::new(SnsVerifier::new(sns)),
            HttpConfig {
                cors_origins: opts.frontend_origins.clone(),
                rate_limit: opts.buyer_rate_limit,
                ..HttpConfig::default()
            },
        );
        let app = http::local_app(
            state,
            DevTools {
                issuer: issuer.clone(),
                hooks: Arc::new(Hooks {
                    sandbox: sandbox.clone(),
                    jobs: jobs.clone(),
                }),
                token_ttl: Duration::from_secs(24 * 3600),
            },
        );
        let app = app.merge(demo::routes(demo::Demo {
            service: service.clone(),
            jwt: Arc::new(issuer.verifier()),
            region: opts.region,
            sandbox_url: sandbox.base_url().to_string(),
            helper_dir: opts.helper_dir.clone(),
        }));
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let server = tokio::spawn(async move {
            let serve = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|s| *s).await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "the API server stopped");
            }
        });
        let ipn_url = format!("{api_url}/ipn");
        let demo_url = format!("{api_url}/demo/");
        subscribe_ipn(
            &sandbox,
            &ipn_url,
            opts.ipn_signature_version,
            opts.require_ipn_confirmation,
        )
        .await?;

        let mut demo = Vec::new();
        if opts.demo_plans {
            demo = create_demo_plans(&service, opts.region).await?;
        }
        let loops = opts
            .job_interval
            .map(|every| tokio::spawn(run_loops(jobs.clone(), every, stop.subscribe())));
        let info = StackInfo {
            api_url,
            ipn_url,
            sandbox_url: sandbox.base_url().to_string(),
            sandbox_control_url: sandbox.control_url(),
            admin_token: secrets.admin_token.clone(),
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            webhook_secret: secrets.webhook_secret.clone(),
            store: store_desc,
            demo_plans: demo,
            demo_url,
        };
        Ok(LocalStack {
            info,
            sandbox,
            service,
            store,
            issuer,
            jobs,
            secrets,
            server,
            loops,
            stop,
        })
    }

    /// The install's secrets (the merchant's private key, the binding secret, …): the
    /// log-redaction test looks for them in the logs.
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// A dev JWT for `customer` (what `POST /dev/token` answers).
    pub fn token(&self, customer: &str) -> Result<String, String> {
        let id = savedwallet_app::ids::CustomerId::parse(customer).map_err(|e| e.to_string())?;
        self.issuer
            .mint(&id, Duration::from_secs(3600))
            .map_err(|e| e.to_string())
    }

    /// Stops the loops and the API, then the sandbox (its state written).
    pub async fn shutdown(self) -> Result<(), StackError> {
        let _ = self.stop.send(true);
        if let Some(l) = self.loops {
            let _ = l.await;
        }
        let _ = self.server.await;
        match Arc::try_unwrap(self.sandbox) {
            Ok(s) => s
                .shutdown()
                .await
                .map_err(|e| StackError::Sandbox(e.to_string())),
            // Someone still holds the sandbox (a test): its state is flushed instead.
            Err(s) => s
                .flush()
                .await
                .map_err(|e| StackError::Sandbox(e.to_string())),
        }
    }
}

async fn start_sandbox(
    opts: &StackOptions,
    secrets: &Secrets,
) -> Result<SandboxHandle, StackError> {
    let (dup, reorder, version, seed) = (
        opts.ipn_duplicate_rate,
        opts.ipn_reorder_rate,
        opts.ipn_signature_version,
        opts.seed,
    );
    let mut b = Sandbox::builder()
        .throttling(opts.throttling)
        .quota_scale(opts.quota_scale)
        .quota_clock(opts.quota_clock)
        .knobs(opts.knobs.clone())
        .async_delay_secs(opts.async_delay_secs)
        .seed(opts.seed)
        .public_key(KEY_ID, secrets.merchant_key.public_pem.clone())
        .ipn_config(move |c| {
            c.signature_version = version;
            c.duplicate_rate = dup;
            c.reorder_rate = reorder;
            c.reorder_max_hold = Duration::from_millis(500);
            c.seed = Some(seed);
        });
    if opts.freeze_clock {
        b = b.freeze_clock();
    }
    if let Some(dir) = &opts.dir {
        b = b.state_file(dir.join("sandbox-state.json"));
    }
    b.spawn(opts.sandbox_addr)
        .await
        .map_err(|e| StackError::Sandbox(e.to_string()))
}

fn build_service(
    opts: &StackOptions,
    secrets: &Secrets,
    sandbox: &Arc<SandboxHandle>,
    store: Arc<dyn Store>,
    api_origin: Origin,
) -> Result<Service, StackError> {
    let mut cfg = ClientConfig::new(
        opts.region,
        Environment::Sandbox,
        KEY_ID,
        SecretString::from(secrets.merchant_key.private_pem.clone()),
    );
    cfg.endpoint = Some(
        sandbox
            .base_url()
            .parse()
            .map_err(|e| StackError::Config(format!("sandbox URL: {e}")))?,
    );
    // One pacer for the whole process, shaped like the sandbox's quotas.
    cfg.pacing = if opts.throttling {
        Pacing::Quotas(
            Quotas::scaled(opts.quota_scale).map_err(|e| StackError::Config(e.to_string()))?,
        )
    } else {
        Pacing::Off
    };
    let client = AmazonPayClient::new(cfg).map_err(|e| StackError::Config(e.to_string()))?;
    let mut gateway: Arc<dyn AmazonPay> = Arc::new(AmazonPayGateway::new(
        client,
        opts.region,
        Timeouts::default(),
    ));
    if let Some(wrap) = &opts.amazon_wrap {
        gateway = (wrap.0)(gateway);
    }
    let mut config = ServiceConfig::new(
        KeyScope::new(MERCHANT_ID, Environment::Sandbox, "local"),
        STORE_ID,
    );
    // The frontends', and the API's own (the demo shop is served there): API.md "Local mode".
    config.return_origins = opts.frontend_origins.clone();
    config.return_origins.push(api_origin);
    // Local only: http://localhost return URLs and minute-long plans (LambdaEnv has no
    // way to set either).
    config.allow_loopback_http = true;
    config.allow_minute_plans = true;
    config.binding_secret = secrets.binding_secret.clone();
    config.charge_deadline = Duration::from_secs(25);
    Ok(Service::new(
        store,
        gateway,
        Arc::new(SandboxClock(sandbox.clone())),
        Arc::new(OsEntropy),
        config,
    ))
}

/// Subscribes `ipn_url` to the sandbox's topic (once: a restarted stack keeps its
/// subscription) and waits for the confirmation round trip; with `require`, an
/// unconfirmed subscription is an error.
async fn subscribe_ipn(
    sandbox: &SandboxHandle,
    ipn_url: &str,
    version: SignatureVersion,
    require: bool,
) -> Result<(), StackError> {
    let url: url::Url = ipn_url
        .parse()
        .map_err(|e| StackError::Config(format!("IPN URL: {e}")))?;
    let subscribed =
        |s: &savedwallet_sandbox::ipn::SnsSubscription| s.endpoint == url && s.confirmed;
    if !sandbox.ipn().subscriptions().iter().any(subscribed) {
        sandbox
            .ipn()
            .register_endpoint_with(url.clone(), version)
            .await
            .map_err(|e| StackError::Sandbox(e.to_string()))?;
        sandbox.ipn().idle().await;
    }
    if !require || sandbox.ipn().subscriptions().iter().any(subscribed) {
        Ok(())
    } else {
        Err(StackError::Sandbox(format!(
            "the IPN subscription of {ipn_url} was not confirmed (see the log)"
        )))
    }
}

async fn create_demo_plans(service: &Service, region: Region) -> Result<Vec<String>, StackError> {
    // JPY has no minor unit.
    let (currency, monthly, minute) = match region {
        Region::Na => ("USD", "9.99", "1.00"),
        Region::Eu => ("EUR", "9.99", "1.00"),
        Region::Jp => ("JPY", "980", "100"),
    };
    let mut ids = Vec::new();
    for (id, name, amount, interval) in [
        (DEMO_PLANS[0], "Demo monthly", monthly, "month"),
        (DEMO_PLANS[1], "Demo every minute", minute, "minute"),
    ] {
        let plan_id = PlanId::parse(id).map_err(|e| StackError::Config(e.to_string()))?;
        service
            .put_plan(
                &plan_id,
                PlanInput {
                    name: name.into(),
                    price: MoneyInput {
                        amount: amount.into(),
                        currency_code: currency.to_string(),
                    },
                    interval: interval.into(),
                    interval_count: 1,
                    active: Some(true),
                },
            )
            .await
            .map_err(|e| StackError::Config(format!("demo plan {id}: {e}")))?;
        ids.push(id.to_string());
    }
    Ok(ids)
}

/// Runs a pass every `every` until stopped; a failed pass is logged and the next one tries again.
async fn run_loops(jobs: Arc<Jobs>, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                match jobs.pass().await {
                    Ok(r) if r != JobsReport::default() => tracing::info!(?r, "background jobs"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "background jobs failed; next pass retries"),
                }
            }
            _ = async { let _ = stop.wait_for(|s| *s).await; } => break,
        }
    }
}
