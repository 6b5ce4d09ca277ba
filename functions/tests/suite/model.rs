//! A randomized model test: many workers claim, record, finish, crash and edit concurrently
//! against one store, with lost answers and refused writes injected, on skewed clocks.
//! Afterwards, for every logical charge: at most one attempt holds money, at most one
//! attempt is open (and the payment says which), and every wallet's monthly usage equals
//! the sum of its attempts that were not given back — never above the cap.
//!
//! Each run is a seeded schedule with its own ids; the count is `SAVEDWALLET_MODEL_RUNS`
//! (default: thousands on the embedded store, a hundred on DynamoDB/moto).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use savedwallet_functions::store::faulty::{FaultBackend, RandomFaults};
use savedwallet_functions::store::item::Backend;
use savedwallet_functions::store::TableStore;

/// Shape of one schedule.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Concurrent workers.
    pub workers: usize,
    /// Steps per worker.
    pub steps: usize,
    /// Subscriptions.
    pub subscriptions: usize,
    /// Merchant (MITU) payments.
    pub merchant_payments: usize,
}

const WALLETS: usize = 2;
const LEASE_SECS: i64 = 120;

struct Run {
    tag: String,
    clock: AtomicI64,
}

impl Run {
    fn wallet(&self, i: usize) -> String {
        format!("S01-{}-{i:07}", self.tag)
    }
    fn sub(&self, i: usize) -> String {
        format!("sub_m{}x{i}", self.tag)
    }
    fn mitu(&self, i: usize) -> String {
        format!("m{}-{i}", self.tag)
    }
    /// A worker's clock: the shared time plus its own skew (±20 s).
    fn now(&self, skew: i64) -> DateTime<Utc> {
        at(self.clock.load(Ordering::SeqCst) + skew)
    }
    fn tick(&self, secs: i64) {
        self.clock.fetch_add(secs, Ordering::SeqCst);
    }
}

/// Retries a store call through transient failures (what every caller does).
macro_rules! retrying {
    ($e:expr) => {{
        let mut tries = 0;
        loop {
            match $e {
                Err(e) if e.is_transient() && tries < 20 => tries += 1,
                other => break other,
            }
        }
    }};
}

fn random_outcome(rng: &mut StdRng) -> AttemptState {
    match rng.random_range(0..10) {
        0..=4 => AttemptState::Captured,
        5 | 6 => AttemptState::Declined,
        7 => AttemptState::Pending,
        8 => AttemptState::Unknown,
        _ => AttemptState::Failed,
    }
}

/// Moves an open attempt on (possibly through Pending/Unknown first), as the service would.
async fn settle<B: Backend>(
    s: &TableStore<FaultBackend<B>>,
    rng: &mut StdRng,
    payment: &Payment,
    attempt: &ChargeAttempt,
    sub: Option<(&Subscription, &str)>,
    now: DateTime<Utc>,
) {
    let mut to = random_outcome(rng);
    if attempt.state == AttemptState::Pending
        && !matches!(to, AttemptState::Captured | AttemptState::Declined)
    {
        to = AttemptState::Captured;
    }
    let mut f = finish(payment, attempt, to, now);
    if let Some((sub, owner)) = sub {
        if to == AttemptState::Captured {
            let next = sub
                .interval
                .nth_after(sub.anchor, sub.period)
                .unwrap_or(now);
            f.subscription = Some(SubscriptionWrite {
                record: Subscription {
                    period: sub.period + 1,
                    due_at: Some(next),
                    next_billing_at: next,
                    lease: None,
                    latest_payment_id: Some(payment.payment_id.clone()),
                    updated_at: now,
                    ..sub.clone()
                },
                lease_owner: Some(owner.to_string()),
            });
        }
    }
    match retrying!(s.finish_attempt(&f).await) {
        Ok(_) => {}
        Err(StoreError::Refused { .. }) | Err(StoreError::VersionConflict { .. }) => {
            // Lease lost or the subscription was edited: record the outcome alone.
            f.subscription = None;
            let _ = retrying!(s.finish_attempt(&f).await);
        }
        Err(_) => {}
    }
}

async fn worker<B: Backend>(
    s: Arc<TableStore<FaultBackend<B>>>,
    run: Arc<Run>,
    shape: Shape,
    id: usize,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let skew = rng.random_range(-20..=20);
    for step in 0..shape.steps {
        run.tick(rng.random_range(0..90));
        let now = run.now(skew);
        let owner = format!("w{id}-{step}");
        match rng.random_range(0..10) {
            // Bill a subscription period.
            0..=5 => {
                let sid = SubscriptionId::parse(&run.sub(rng.random_range(0..shape.subscriptions)))
                    .unwrap();
                let Ok(sub) = retrying!(s.get_subscription(&sid).await) else {
                    continue;
                };
                let claim = retrying!(
                    s.claim_period(
                        &sid,
                        sub.period,
                        &owner,
                        now,
                        TimeDelta::seconds(LEASE_SECS)
                    )
                    .await
                );
                let Ok(claim) = claim else { continue };
                let sub = claim.subscription;
                let pid = PaymentId::for_period(&sid, sub.period);
                let link = BillingLink::Lease {
                    subscription_id: sid.clone(),
                    lease_owner: owner.clone(),
                    period: sub.period,
                };
                let begun = match retrying!(s.payment_with_attempts(&pid).await) {
                    Ok((p, attempts)) => match p.open_attempt {
                        // Recovery: replay the open attempt (same key, same body).
                        Some(n) => attempts
                            .into_iter()
                            .find(|a| a.attempt == n)
                            .map(|a| (p, a)),
                        None if p.status.accepts_new_attempt() => {
                            let mut b = begin_next(&p, &owner, now);
                            b.billing = link;
                            b.monthly_cap = eur(3000);
                            match retrying!(s.begin_attempt(&b).await) {
                                Ok(Begun::Recorded { payment, attempt }) => {
                                    Some((*payment, *attempt))
                                }
                                _ => None,
                            }
                        }
                        None => None,
                    },
                    Err(StoreError::NotFound { .. }) => {
                        let p = payment(
                            period_kind(sid.as_str(), sub.period),
                            "alice",
                            sub.wallet_id.as_str(),
                            sub.price,
                            now,
                        );
                        let mut b = begin_new(&p, &owner, now);
                        b.billing = link;
                        b.monthly_cap = eur(3000);
                        match retrying!(s.begin_attempt(&b).await) {
                            Ok(Begun::Recorded { payment, attempt }) => Some((*payment, *attempt)),
                            Ok(Begun::AlreadyRecorded(a)) => {
                                retrying!(s.get_payment(&pid).await).ok().map(|p| (p, *a))
                            }
                            _ => None,
                        }
                    }
                    Err(_) => None,
                };
                // A crash between "recorded" and "answered" leaves the attempt open.
                if let Some((p, a)) = begun {
                    if !rng.random_bool(0.15) {
                        settle(&s, &mut rng, &p, &a, Some((&sub, &owner)), now).await;
                    }
                }
            }
            // A merchant's unscheduled charge, or its retry.
            6 | 7 => {
                let reason = run.mitu(rng.random_range(0..shape.merchant_payments));
                let wallet = run.wallet(rng.random_range(0..WALLETS));
                let fresh = payment(
                    mitu_kind(&reason),
                    "alice",
                    &wallet,
                    eur(rng.random_range(1..900)),
                    now,
                );
                let begun = match retrying!(s.payment_with_attempts(&fresh.payment_id).await) {
                    Ok((p, attempts)) => match p.open_attempt {
                        Some(n) => attempts
                            .into_iter()
                            .find(|a| a.attempt == n)
                            .map(|a| (p, a)),
                        None if p.status.accepts_new_attempt() => {
                            let mut b = begin_next(&p, &owner, now);
                            b.monthly_cap = eur(3000);
                            match retrying!(s.begin_attempt(&b).await) {
                                Ok(Begun::Recorded { payment, attempt }) => {
                                    Some((*payment, *attempt))
                                }
                                _ => None,
                            }
                        }
                        None => None,
                    },
                    Err(_) => {
                        let mut b = begin_new(&fresh, &owner, now);
                        b.monthly_cap = eur(3000);
                        match retrying!(s.begin_attempt(&b).await) {
                            Ok(Begun::Recorded { payment, attempt }) => Some((*payment, *attempt)),
                            _ => None,
                        }
                    }
                };
                if let Some((p, a)) = begun {
                    if !rng.random_bool(0.15) {
                        settle(&s, &mut rng, &p, &a, None, now).await;
                    }
                }
            }
            // An edit racing the workers.
            8 => {
                let sid = SubscriptionId::parse(&run.sub(rng.random_range(0..shape.subscriptions)))
                    .unwrap();
                if let Ok(sub) = retrying!(s.get_subscription(&sid).await) {
                    let edit = if rng.random_bool(0.2) {
                        SubscriptionEdit::Cancel {
                            at: now,
                            reason: CancelReason::Buyer,
                        }
                    } else {
                        SubscriptionEdit::ChangeWallet {
                            wallet_id: wid(&run.wallet(rng.random_range(0..WALLETS))),
                            due_now: rng.random_bool(0.5).then_some(now),
                            at: now,
                        }
                    };
                    let _ = retrying!(s.edit_subscription(&sub, &edit, &[]).await);
                }
            }
            // Time passes (leases lapse, periods come due).
            _ => run.tick(rng.random_range(60..400)),
        }
    }
}

/// Checks the invariants of one run's records.
async fn check<B: Backend>(s: &TableStore<FaultBackend<B>>, run: &Run, shape: Shape) {
    let mut payments = Vec::new();
    for i in 0..shape.subscriptions {
        let sid = SubscriptionId::parse(&run.sub(i)).unwrap();
        let sub = s.get_subscription(&sid).await.unwrap();
        for period in 1..=sub.period + 1 {
            payments.push(PaymentId::for_period(&sid, period));
        }
    }
    for i in 0..shape.merchant_payments {
        payments.push(PaymentId::for_unscheduled(run.mitu(i).as_bytes()));
    }
    let mut counted: HashMap<(String, String), i64> = HashMap::new();
    for pid in payments {
        let (p, attempts) = match s.payment_with_attempts(&pid).await {
            Ok(x) => x,
            Err(StoreError::NotFound { .. }) => continue,
            Err(e) => panic!("{e:?}"),
        };
        let money = attempts
            .iter()
            .filter(|a| matches!(a.state, AttemptState::Captured | AttemptState::Authorized))
            .count();
        assert!(
            money <= 1,
            "run {}: two successful attempts for {pid}: {attempts:?}",
            run.tag
        );
        let open: Vec<u32> = attempts
            .iter()
            .filter(|a| !a.state.is_final())
            .map(|a| a.attempt)
            .collect();
        assert!(
            open.len() <= 1,
            "run {}: two open attempts: {attempts:?}",
            run.tag
        );
        assert_eq!(
            p.open_attempt,
            open.first().copied(),
            "run {}: {p:?} vs {attempts:?}",
            run.tag
        );
        assert_eq!(p.attempt_count as usize, attempts.len(), "run {}", run.tag);
        for a in &attempts {
            assert_eq!(
                a.usage_released,
                a.state.releases_usage(),
                "run {}: {a:?}",
                run.tag
            );
            if !a.usage_released {
                *counted
                    .entry((a.wallet_id.to_string(), a.usage_month.to_string()))
                    .or_default() += a.amount.minor_units();
            }
        }
    }
    for w in 0..WALLETS {
        let wallet = run.wallet(w);
        for m in 0..3u32 {
            let month = UsageMonth::of(t0());
            let month = (0..m).fold(month, |mm, _| mm.next());
            let stored = s
                .monthly_usage(&wid(&wallet), month)
                .await
                .unwrap()
                .map(|u| u.total.minor_units())
                .unwrap_or(0);
            let expected = counted
                .get(&(wallet.clone(), month.to_string()))
                .copied()
                .unwrap_or(0);
            assert_eq!(
                stored, expected,
                "run {}: usage of {wallet} in {month}",
                run.tag
            );
            assert!(stored <= 3000, "run {}: usage above the cap", run.tag);
        }
    }
}

/// Runs `runs` seeded schedules, each on a fresh store from `store` (moto's index queries
/// scan the whole table, so a table per run keeps every run equally fast).
pub async fn randomized_model<B, F, Fut>(store: F, runs: u64, shape: Shape)
where
    B: Backend,
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = Arc<TableStore<FaultBackend<B>>>>,
{
    let runs = std::env::var("SAVEDWALLET_MODEL_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(runs);
    let mut injected = 0;
    for r in 0..runs {
        let s = store(r).await;
        let run = Arc::new(Run {
            tag: format!("{r:07}"),
            clock: AtomicI64::new(0),
        });
        s.backend().set_random(RandomFaults::default());
        for w in 0..WALLETS {
            stored_wallet(&*s, &run.wallet(w), "alice").await;
        }
        for i in 0..shape.subscriptions {
            let wallet = run.wallet(i % WALLETS);
            let mut sub = subscription(&run.sub(i), "alice", &wallet, at(i as i64 * 30));
            // Short periods, so a run bills several of them.
            sub.interval = BillingInterval {
                unit: IntervalUnit::Minute,
                count: 30,
            };
            stored_subscription(&*s, sub).await;
        }
        s.backend().set_random(RandomFaults {
            lost_answer: 0.05,
            refused: 0.05,
        });
        let mut tasks = Vec::new();
        for w in 0..shape.workers {
            let seed = r.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (w as u64);
            tasks.push(tokio::spawn(worker(s.clone(), run.clone(), shape, w, seed)));
        }
        for t in tasks {
            t.await.unwrap();
        }
        s.backend().set_random(RandomFaults::default());
        check(&s, &run, shape).await;
        injected += s.backend().injected();
    }
    assert!(injected > 0, "no fault was injected");
}
