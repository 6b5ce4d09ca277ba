//! `savedwallet simulate`: months of recurring billing in one process — the local stack (the
//! same scheduler, workers, reconciler, outreach and event dispatch as `savedwallet local`)
//! against the sandbox, a seeded population of buyers, the simulated clock stepped a day at
//! a time, faults on request, and at the end the invariant check against the sandbox's
//! ledger: no double charge, no lost period.

mod check;
mod crash;
mod population;
mod report;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Months, TimeDelta};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::task::JoinSet;

use savedwallet_app::ports::{BillingJob, DeliveryError, EventSink};
use savedwallet_app::store::MerchantEvent;
use savedwallet_app::usecases::{Billed, BILLING_LEASE};
use savedwallet_app::Service;
use savedwallet_sandbox::{DropMode, FaultConfig, QuotaClock};
use savedwallet_shared::api::{Operation, Quotas};
use savedwallet_shared::region::{Environment, Region};

use crate::stack::{AmazonWrap, LocalQueue, LocalStack, StackOptions, StoreChoice};
pub use check::Findings;
use population::BuyerAct;
pub use population::Kind;
pub use report::Report;

/// A fault the run injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Amazon answers 429 to a share of requests (not applied; the client resends).
    TooManyRequests,
    /// Amazon answers 500/503 to a share of requests (not applied).
    ServerError,
    /// Every Amazon request is slower.
    Latency,
    /// Amazon applies a share of requests and the answer is lost.
    LostResponse,
    /// A share of billing jobs is delivered twice, at once.
    DuplicateDelivery,
    /// The scheduler runs twice at once every time.
    DuplicateScheduler,
    /// A share of billing workers die right after sending Create Charge.
    WorkerCrash,
}

impl Fault {
    /// Every fault.
    pub const ALL: [Fault; 7] = [
        Fault::TooManyRequests,
        Fault::ServerError,
        Fault::Latency,
        Fault::LostResponse,
        Fault::DuplicateDelivery,
        Fault::DuplicateScheduler,
        Fault::WorkerCrash,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Fault::TooManyRequests => "429",
            Fault::ServerError => "5xx",
            Fault::Latency => "latency",
            Fault::LostResponse => "lost-response",
            Fault::DuplicateDelivery => "duplicate-delivery",
            Fault::DuplicateScheduler => "duplicate-scheduler",
            Fault::WorkerCrash => "crash",
        }
    }

    /// Parses a name (or `all`).
    pub fn parse_list(s: &str) -> Result<Vec<Fault>, String> {
        if s == "all" {
            return Ok(Fault::ALL.to_vec());
        }
        Fault::ALL
            .iter()
            .find(|f| f.name() == s)
            .map(|f| vec![*f])
            .ok_or_else(|| {
                let names: Vec<_> = Fault::ALL.iter().map(|f| f.name()).collect();
                format!("unknown fault {s:?} (one of: all, {})", names.join(", "))
            })
    }
}

/// How much of what each fault does.
const FAULT_RATE: f64 = 0.02;
const DUPLICATE_RATE: f64 = 0.1;
const LATENCY_MS: u64 = 5;

/// A simulation.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Subscriptions (one buyer and wallet each).
    pub subscriptions: usize,
    /// Months of simulated time.
    pub months: u32,
    /// Faults.
    pub faults: Vec<Fault>,
    /// Seed of the population, the sandbox and the fault dice.
    pub seed: u64,
    /// Concurrent billing workers.
    pub workers: usize,
    /// The store.
    pub store: StoreChoice,
    /// Amazon's throttling (sandbox quotas, wall-clock refill; the client paces to match).
    pub throttling: bool,
    /// Multiplier of the quotas.
    pub quota_scale: f64,
    /// Every buyer approves (the throughput benchmark) instead of the realistic mix.
    pub all_approve: bool,
    /// The first renewals are spread over this many days from the start.
    pub spread_days: u32,
    /// The merchant's region.
    pub region: Region,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            subscriptions: 1000,
            months: 3,
            faults: Vec::new(),
            seed: 1,
            workers: 4,
            store: StoreChoice::Embedded(None),
            throttling: true,
            quota_scale: 40.0,
            all_approve: false,
            spread_days: 28,
            region: Region::Eu,
        }
    }
}

/// Delivered merchant events, deduplicated by id as a receiver would.
#[derive(Default)]
struct CountingSink {
    ids: Mutex<HashSet<String>>,
    deliveries: AtomicU64,
    by_type: Mutex<std::collections::BTreeMap<String, u64>>,
}

#[async_trait::async_trait]
impl EventSink for CountingSink {
    async fn deliver(&self, event: &MerchantEvent) -> Result<(), DeliveryError> {
        self.deliveries.fetch_add(1, Ordering::Relaxed);
        if self.ids.lock().insert(event.event_id.to_string()) {
            *self.by_type.lock().entry(event.kind.clone()).or_default() += 1;
        }
        Ok(())
    }
}

/// Counters of one run.
#[derive(Default)]
struct Counters {
    jobs: u64,
    duplicate_jobs: u64,
    scheduler_runs: u64,
    job_errors: u64,
    billing_wall: Duration,
}

struct Run {
    service: Arc<Service>,
    sink: Arc<CountingSink>,
    workers: usize,
    faults: Vec<Fault>,
    dice: StdRng,
    counters: Counters,
}

impl Run {
    async fn work(&mut self, jobs: Vec<BillingJob>) {
        let crashable = self.faults.contains(&Fault::WorkerCrash);
        let started = Instant::now();
        let mut pending = jobs.into_iter();
        let mut set = JoinSet::new();
        loop {
            while set.len() < self.workers {
                let Some(job) = pending.next() else { break };
                let service = self.service.clone();
                set.spawn(async move {
                    if crashable {
                        crash::run_crashable(async { service.run_billing_job(&job).await }).await
                    } else {
                        Some(service.run_billing_job(&job).await)
                    }
                });
            }
            let Some(done) = set.join_next().await else {
                break;
            };
            self.counters.jobs += 1;
            match done {
                Ok(Some(Ok(Billed::Charged(_) | Billed::Waiting | Billed::Skipped))) => {}
                // A crash (None) or an error leaves the period claimed until its lease lapses.
                Ok(None) => {}
                Ok(Some(Err(e))) => {
                    self.counters.job_errors += 1;
                    tracing::debug!(error = %e, "a billing job failed; retried later");
                }
                // Like a crash: the period stays claimed until its lease lapses; the other
                // jobs of the pass still run.
                Err(e) => {
                    self.counters.job_errors += 1;
                    tracing::error!(error = %e, "a billing worker panicked");
                }
            }
        }
        self.counters.billing_wall += started.elapsed();
    }

    /// One pass, as the local stack's jobs do it, with the queue and scheduler faults.
    async fn pass(&mut self, stack: &LocalStack) -> Result<(), String> {
        stack.sandbox.ipn().idle().await;
        let queue = LocalQueue::default();
        let e = |e: savedwallet_app::ServiceError| e.to_string();
        if self.faults.contains(&Fault::DuplicateScheduler) {
            let (a, b) = tokio::join!(
                self.service.schedule_billing(&queue, 0.0, u32::MAX),
                self.service.schedule_billing(&queue, 0.0, u32::MAX)
            );
            a.map_err(e)?;
            b.map_err(e)?;
            self.counters.scheduler_runs += 2;
        } else {
            self.service
                .schedule_billing(&queue, 0.0, u32::MAX)
                .await
                .map_err(e)?;
            self.counters.scheduler_runs += 1;
        }
        let mut jobs = queue.take();
        if self.faults.contains(&Fault::DuplicateDelivery) {
            let extra: Vec<_> = jobs
                .iter()
                .filter(|_| self.dice.random_bool(DUPLICATE_RATE))
                .cloned()
                .collect();
            self.counters.duplicate_jobs += extra.len() as u64;
            // Interleaved, so the copy often runs beside the original.
            let mut mixed = Vec::with_capacity(jobs.len() + extra.len());
            let mut extra = extra.into_iter().peekable();
            for j in jobs.drain(..) {
                let twin = extra.next_if(|x| x == &j);
                mixed.push(j);
                mixed.extend(twin);
            }
            jobs = mixed;
        }
        self.work(jobs).await;
        self.service.reconcile(u32::MAX).await.map_err(e)?;
        self.service
            .watch_upcoming(u32::MAX, u32::MAX)
            .await
            .map_err(e)?;
        stack.sandbox.ipn().idle().await;
        self.service
            .dispatch_events(self.sink.as_ref(), u32::MAX)
            .await
            .map_err(e)?;
        Ok(())
    }
}

fn sandbox_faults(faults: &[Fault], seed: u64) -> Option<FaultConfig> {
    let mut cfg = FaultConfig {
        seed,
        drop_mode: DropMode::Abort,
        ..FaultConfig::default()
    };
    let mut any = false;
    for f in faults {
        match f {
            Fault::TooManyRequests => cfg.rate_429 = FAULT_RATE,
            Fault::ServerError => cfg.rate_5xx = FAULT_RATE,
            Fault::Latency => cfg.latency_ms = LATENCY_MS,
            Fault::LostResponse => cfg.drop_response_rate = FAULT_RATE,
            _ => continue,
        }
        any = true;
    }
    any.then_some(cfg)
}

/// Runs a simulation; `progress(done, total, phase)` reports progress.
pub async fn simulate(
    cfg: SimConfig,
    mut progress: impl FnMut(u64, u64, &str),
) -> Result<Report, String> {
    let crashes = Arc::new(AtomicU64::new(0));
    let mut opts = StackOptions::ephemeral();
    opts.store = cfg.store.clone();
    opts.region = cfg.region;
    opts.throttling = cfg.throttling;
    opts.quota_scale = cfg.quota_scale;
    // A jump of the simulated clock must refill no quota: buckets follow the wall clock.
    opts.quota_clock = QuotaClock::Wall;
    opts.workers = cfg.workers;
    opts.seed = cfg.seed;
    opts.demo_plans = false;
    if cfg.faults.contains(&Fault::WorkerCrash) {
        let (crashes, seed) = (crashes.clone(), cfg.seed);
        opts.amazon_wrap = Some(AmazonWrap(Arc::new(move |inner| {
            Arc::new(crash::CrashingAmazon::new(
                inner,
                FAULT_RATE,
                seed,
                crashes.clone(),
            ))
        })));
    }
    let stack = LocalStack::start(opts).await.map_err(|e| e.to_string())?;
    let total = cfg.subscriptions as u64;
    let mut seeded = 0;
    let population = population::seed(
        &stack.service,
        stack.store.as_ref(),
        &stack.sandbox,
        cfg.region,
        cfg.subscriptions,
        cfg.all_approve,
        TimeDelta::days(i64::from(cfg.spread_days.max(1))),
        cfg.seed,
        || {
            seeded += 1;
            progress(seeded, total, "seeding");
        },
    )
    .await?;
    if let Some(f) = sandbox_faults(&cfg.faults, cfg.seed) {
        stack.sandbox.set_faults(f).map_err(|e| e.to_string())?;
    }
    let store_before = stack.store.request_counts();
    let ledger_before = stack.sandbox.ledger();
    let start = stack.sandbox.now();
    let end = start
        .checked_add_months(Months::new(cfg.months))
        .ok_or("--months out of range")?;
    let days = (end - start).num_days().max(1) as u64;
    let mut run = Run {
        service: stack.service.clone(),
        sink: Arc::new(CountingSink::default()),
        workers: cfg.workers.max(1),
        faults: cfg.faults.clone(),
        dice: StdRng::seed_from_u64(cfg.seed ^ 0xd1ce),
        counters: Counters::default(),
    };
    let mut acts = population.acts;
    let wall = Instant::now();
    // The first renewals are due from `start` on: bill them, then step a day at a time.
    run.pass(&stack).await?;
    for day in 1..=days {
        stack.sandbox.advance_clock(Duration::from_secs(86_400));
        let now = stack.sandbox.now();
        let later = acts.split_off(&(now + TimeDelta::seconds(1)));
        for act in std::mem::replace(&mut acts, later).into_values().flatten() {
            let done = match &act {
                BuyerAct::Update(w) => stack.sandbox.buyer_update_payment_method(
                    w.as_str(),
                    savedwallet_sandbox::Preset::AlwaysApprove,
                ),
                BuyerAct::Close(w) => stack.sandbox.buyer_close(w.as_str()),
            };
            // A wallet closed by its buyer cannot be updated any more: fine.
            if let Err(e) = done {
                tracing::debug!(error = %e, ?act, "a buyer act was refused");
            }
        }
        run.pass(&stack).await?;
        progress(day, days, "billing");
    }
    // Past the end: leases of crashed workers lapse and their periods replay; pending
    // authorizations and IPNs settle. Then the faults stop and one last pass runs.
    let billing_wall = wall.elapsed();
    for _ in 0..2 {
        stack.sandbox.advance_clock(
            (BILLING_LEASE + TimeDelta::minutes(1))
                .to_std()
                .unwrap_or_default(),
        );
        run.pass(&stack).await?;
    }
    stack
        .sandbox
        .set_faults(FaultConfig::default())
        .map_err(|e| e.to_string())?;
    stack.sandbox.advance_clock(
        (BILLING_LEASE + TimeDelta::minutes(1))
            .to_std()
            .unwrap_or_default(),
    );
    run.pass(&stack).await?;
    stack.sandbox.ipn().idle().await;

    let final_now = stack.sandbox.now();
    let ledger = stack.sandbox.ledger();
    let findings = check::check(
        stack.store.as_ref(),
        &population.members,
        &ledger,
        final_now,
    )
    .await?;
    let limit = Quotas::scaled(cfg.quota_scale)
        .map_err(|e| e.to_string())?
        .limit(Operation::CreateCharge, Environment::Sandbox);
    let report = Report::new(report::Inputs {
        cfg: &cfg,
        members: &population.members,
        findings,
        ledger_before: &ledger_before,
        ledger: &ledger,
        store_requests: stack.store.request_counts().since(&store_before).total(),
        wall: billing_wall,
        billing_wall: run.counters.billing_wall,
        quota: cfg.throttling.then_some((limit.burst, limit.per_second)),
        crashes: crashes.load(Ordering::Relaxed),
        duplicate_jobs: run.counters.duplicate_jobs,
        scheduler_runs: run.counters.scheduler_runs,
        jobs: run.counters.jobs,
        job_errors: run.counters.job_errors,
        events_delivered: run.sink.deliveries.load(Ordering::Relaxed),
        events_by_type: run.sink.by_type.lock().clone(),
        days,
    });
    stack.shutdown().await.map_err(|e| e.to_string())?;
    Ok(report)
}
