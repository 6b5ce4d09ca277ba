//! The report of a run: what was billed, how, at what cost, and the invariant check.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde_json::Value;

use super::check::Findings;
use super::population::{Kind, Member};
use super::SimConfig;

/// What [`Report::new`] sums up.
pub(super) struct Inputs<'a> {
    pub cfg: &'a SimConfig,
    pub members: &'a [Member],
    pub findings: Findings,
    pub ledger_before: &'a Value,
    pub ledger: &'a Value,
    pub store_requests: u64,
    pub wall: Duration,
    pub billing_wall: Duration,
    pub quota: Option<(u32, f64)>,
    pub crashes: u64,
    pub duplicate_jobs: u64,
    pub scheduler_runs: u64,
    pub jobs: u64,
    pub job_errors: u64,
    pub events_delivered: u64,
    pub events_by_type: BTreeMap<String, u64>,
    pub days: u64,
}

/// A run's figures (also as JSON with `--json`).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Subscriptions simulated.
    pub subscriptions: usize,
    /// Simulated days.
    pub days: u64,
    /// Faults injected (names).
    pub faults: Vec<String>,
    /// Buyers per kind.
    pub buyers: BTreeMap<String, u64>,
    /// The checks and tallies of ledger and store.
    pub findings: Findings,
    /// Signed Amazon Pay calls per operation during the run.
    pub amazon_calls: BTreeMap<String, u64>,
    /// Requests the sandbox's quota answered 429, per operation.
    pub throttled: BTreeMap<String, u64>,
    /// Create Charge calls answered 429 by the quota, as a share of Create Charge calls.
    pub create_charge_429_share: f64,
    /// Amazon Pay requests per paid period.
    pub amazon_requests_per_paid_period: f64,
    /// Store requests (DynamoDB model) per paid period.
    pub store_requests_per_paid_period: f64,
    /// Wall seconds of the run (seeding excluded).
    pub wall_seconds: f64,
    /// Wall seconds the workers were billing.
    pub billing_seconds: f64,
    /// Create Charge calls per second of billing.
    pub create_charges_per_second: f64,
    /// The Create Charge quota (burst, per second) when throttled.
    pub quota: Option<(u32, f64)>,
    /// Create Charge rate as a share of the quota's restore rate.
    pub quota_utilisation: Option<f64>,
    /// Worker crashes injected (after Create Charge was sent).
    pub crashes: u64,
    /// Billing jobs delivered a second time.
    pub duplicate_jobs: u64,
    /// Scheduler runs.
    pub scheduler_runs: u64,
    /// Billing jobs run (duplicates included).
    pub jobs: u64,
    /// Billing jobs that ended in an error (retried later).
    pub job_errors: u64,
    /// Merchant event deliveries (a redelivered event counts again).
    pub events_delivered: u64,
    /// Distinct events delivered, by type.
    pub events_by_type: BTreeMap<String, u64>,
}

fn counts(v: &Value) -> BTreeMap<String, u64> {
    v.as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_u64()?)))
                .collect()
        })
        .unwrap_or_default()
}

fn delta(after: &Value, before: &Value) -> BTreeMap<String, u64> {
    let b = counts(before);
    counts(after)
        .into_iter()
        .map(|(k, v)| {
            let d = v.saturating_sub(b.get(&k).copied().unwrap_or(0));
            (k, d)
        })
        .filter(|(_, v)| *v > 0)
        .collect()
}

fn per(n: u64, d: u64) -> f64 {
    n as f64 / d.max(1) as f64
}

impl Report {
    pub(super) fn new(i: Inputs<'_>) -> Report {
        let amazon_calls = delta(&i.ledger["apiCalls"], &i.ledger_before["apiCalls"]);
        let throttled = delta(&i.ledger["throttled"], &i.ledger_before["throttled"]);
        let creates = amazon_calls.get("CreateCharge").copied().unwrap_or(0);
        let create_429 = throttled.get("CreateCharge").copied().unwrap_or(0);
        let paid = i.findings.periods_paid;
        let billing = i.billing_wall.as_secs_f64();
        let rate = creates as f64 / billing.max(1e-9);
        let mut buyers = BTreeMap::new();
        for m in i.members {
            *buyers.entry(Kind::name(m.kind).to_string()).or_default() += 1;
        }
        Report {
            subscriptions: i.cfg.subscriptions,
            days: i.days,
            faults: i.cfg.faults.iter().map(|f| f.name().to_string()).collect(),
            buyers,
            amazon_requests_per_paid_period: per(amazon_calls.values().sum(), paid),
            store_requests_per_paid_period: per(i.store_requests, paid),
            create_charge_429_share: per(create_429, creates + create_429),
            amazon_calls,
            throttled,
            wall_seconds: i.wall.as_secs_f64(),
            billing_seconds: billing,
            create_charges_per_second: rate,
            quota: i.quota,
            quota_utilisation: i.quota.map(|(_, r)| rate / r),
            crashes: i.crashes,
            duplicate_jobs: i.duplicate_jobs,
            scheduler_runs: i.scheduler_runs,
            jobs: i.jobs,
            job_errors: i.job_errors,
            events_delivered: i.events_delivered,
            events_by_type: i.events_by_type,
            findings: i.findings,
        }
    }

    /// True when no money was doubled or lost.
    pub fn holds(&self) -> bool {
        self.findings.double_charges == 0 && self.findings.lost_periods == 0
    }
}

fn list(f: &mut fmt::Formatter<'_>, title: &str, m: &BTreeMap<String, u64>) -> fmt::Result {
    let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k} {v}")).collect();
    writeln!(
        f,
        "  {title:<26}{}",
        if parts.is_empty() {
            "-".into()
        } else {
            parts.join(", ")
        }
    )
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = &self.findings;
        writeln!(
            f,
            "\nsimulate: {} subscriptions, {} days, faults: {}",
            self.subscriptions,
            self.days,
            if self.faults.is_empty() {
                "none".into()
            } else {
                self.faults.join(", ")
            }
        )?;
        list(f, "buyers", &self.buyers)?;
        writeln!(
            f,
            "  {:<26}{} payments, {} paid, {} retried ({} retries), {} recovered",
            "periods billed",
            x.period_payments,
            x.periods_paid,
            x.retried_payments,
            x.retries,
            x.recoveries
        )?;
        list(f, "payments by status", &x.payments_by_status)?;
        list(f, "charges by state (Amazon)", &x.charges_by_state)?;
        list(f, "declined charges (Amazon)", &x.declines_by_reason)?;
        list(f, "subscriptions at the end", &x.subscriptions_by_status)?;
        list(f, "events (distinct)", &self.events_by_type)?;
        writeln!(
            f,
            "  {:<26}{} deliveries",
            "event deliveries", self.events_delivered
        )?;
        list(f, "Amazon Pay calls", &self.amazon_calls)?;
        list(f, "429 from the quota", &self.throttled)?;
        writeln!(
            f,
            "  {:<26}{:.2} Amazon Pay, {:.2} store (DynamoDB model)",
            "requests per paid period",
            self.amazon_requests_per_paid_period,
            self.store_requests_per_paid_period
        )?;
        writeln!(
            f,
            "  {:<26}{:.1} Create Charge/s over {:.1} s of billing ({:.1} s wall){}",
            "rate",
            self.create_charges_per_second,
            self.billing_seconds,
            self.wall_seconds,
            match (self.quota, self.quota_utilisation) {
                (Some((b, r)), Some(u)) => format!(
                    "; quota burst {b} / {r} per s: {:.0}% of the restore rate, {:.2}% of Create Charge calls answered 429",
                    u * 100.0,
                    self.create_charge_429_share * 100.0
                ),
                _ => "; throttling off".into(),
            }
        )?;
        writeln!(
            f,
            "  {:<26}{} crashes, {} duplicate deliveries, {} scheduler runs, {} jobs ({} failed, retried)",
            "faults seen",
            self.crashes,
            self.duplicate_jobs,
            self.scheduler_runs,
            self.jobs,
            self.job_errors
        )?;
        writeln!(
            f,
            "  {:<26}double charges: {}, lost periods: {}  {}",
            "invariants",
            x.double_charges,
            x.lost_periods,
            if self.holds() { "OK" } else { "VIOLATED" }
        )?;
        for v in &x.violations {
            writeln!(f, "    - {v}")?;
        }
        Ok(())
    }
}
