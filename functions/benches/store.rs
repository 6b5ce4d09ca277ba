//! Embedded store hot path: bill one due subscription (claim → attempt + usage →
//! result + advance), i.e. the three requests a billing worker makes per charge.
//! Run: `cargo bench -p savedwallet-functions --bench store`.

use std::time::Instant;

use chrono::{TimeDelta, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use savedwallet_functions::store::*;
use savedwallet_shared::api::ChargePermissionState;
use savedwallet_shared::money::{Currency, Price};
use savedwallet_shared::region::Region;

struct Fixture {
    store: EmbeddedStore,
    period: u32,
    _dir: Option<tempfile::TempDir>,
}

const SUB: &str = "sub-bench";
const CPID: &str = "S01-bench";

async fn fixture(store: EmbeddedStore, dir: Option<tempfile::TempDir>) -> Fixture {
    let now = Utc.with_ymd_and_hms(2026, 11, 10, 12, 0, 0).unwrap();
    store
        .create_wallet(&Wallet {
            charge_permission_id: CPID.into(),
            owner_customer_id: "cust".into(),
            state: ChargePermissionState::Chargeable,
            reason_codes: vec![],
            region: Region::Na,
            currency: Currency::USD,
            payment_method_update_required: false,
            updated_at: now,
            version: 0,
        })
        .await
        .unwrap();
    store
        .create_subscription(&Subscription {
            subscription_id: SUB.into(),
            charge_permission_id: CPID.into(),
            plan_id: "plan".into(),
            owner_customer_id: "cust".into(),
            price: Price::from_minor(1400, Currency::USD),
            status: SubscriptionStatus::Active,
            next_due_at: now,
            period: 1,
            dunning: DunningState::Current,
            attempt_count: 0,
            lease: None,
            version: 0,
        })
        .await
        .unwrap();
    Fixture {
        store,
        period: 1,
        _dir: dir,
    }
}

/// One billing cycle; the subscription stays due (same due time) for the next period.
async fn bill_one(f: &mut Fixture) {
    let now = Utc.with_ymd_and_hms(2026, 11, 10, 12, 0, 0).unwrap();
    let s = &f.store;
    let claim = s
        .claim_due_period(SUB, f.period, "bench", now, TimeDelta::minutes(5))
        .await
        .unwrap();
    let sub = &claim.subscription;
    let attempt = s
        .record_attempt(
            &ChargeAttempt {
                charge_key: sub.charge_key(),
                attempt: claim.attempt,
                charge_permission_id: CPID.into(),
                amount: sub.price,
                idempotency_key: format!("bench-{}", f.period),
                request_body: r#"{"chargePermissionId":"S01-bench","chargeAmount":{"amount":"14.00","currencyCode":"USD"}}"#.into(),
                charge_id: None,
                state: AttemptState::Sending,
                reason_code: None,
                usage_month: usage_month(now),
                usage_released: false,
                created_at: now,
                updated_at: now,
                version: 0,
            },
            Price::from_minor(i64::MAX / 2, Currency::USD),
        )
        .await
        .unwrap();
    s.finish_attempt(&AttemptResult {
        attempt: ChargeAttempt {
            state: AttemptState::Succeeded,
            charge_id: Some(format!("C-{}", f.period)),
            ..attempt
        },
        release_usage: false,
        target: FinishTarget::Subscription {
            subscription_id: SUB.into(),
            lease_owner: "bench".into(),
            claimed_period: f.period,
            claimed_version: sub.version,
            advance: PeriodAdvance {
                next_due_at: now,
                period: f.period + 1,
                dunning: DunningState::Current,
                attempt_count: 0,
                status: SubscriptionStatus::Active,
            },
        },
    })
    .await
    .unwrap();
    f.period += 1;
}

fn hot_path(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("embedded_hot_path");
    group.throughput(Throughput::Elements(1));

    let mut mem = rt.block_on(fixture(EmbeddedStore::in_memory().unwrap(), None));
    group.bench_function("in_memory", |b| b.iter(|| rt.block_on(bill_one(&mut mem))));

    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path().join("bench.redb")).unwrap();
    let mut file = rt.block_on(fixture(store, Some(dir)));
    group.sample_size(10);
    group.bench_function("file", |b| b.iter(|| rt.block_on(bill_one(&mut file))));
    group.finish();

    // A plain figure for the README: billed subscriptions per second, one worker.
    for (name, f) in [("in_memory", &mut mem), ("file", &mut file)] {
        let n = 300;
        let start = Instant::now();
        for _ in 0..n {
            rt.block_on(bill_one(f));
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "embedded {name}: {:.0} billed subscriptions/s ({:.0} store ops/s)",
            n as f64 / secs,
            3.0 * n as f64 / secs
        );
    }
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
