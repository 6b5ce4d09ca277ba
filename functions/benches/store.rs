//! Embedded store hot path: bill one due subscription (claim → attempt + usage + lease
//! check → result + advance), i.e. the three requests a billing worker makes per charge.
//! Run: `cargo bench -p savedwallet-functions --bench store`.

use std::time::Instant;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use savedwallet_app::ids::*;
use savedwallet_functions::store::*;
use savedwallet_shared::api::{ChargeInitiator, ChargePermissionState};
use savedwallet_shared::idempotency::{KeyScope, LogicalChargeKey};
use savedwallet_shared::limits::UsageMonth;
use savedwallet_shared::money::{Currency, Price};
use savedwallet_shared::region::{Environment, Region};

struct Fixture {
    store: EmbeddedStore,
    sub: Subscription,
    _dir: Option<tempfile::TempDir>,
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 10, 12, 0, 0).unwrap()
}

fn usd(minor: i64) -> Price {
    Price::from_minor(minor, Currency::USD)
}

async fn fixture(store: EmbeddedStore, dir: Option<tempfile::TempDir>) -> Fixture {
    let owner = CustomerId::parse("cust").unwrap();
    let wallet = WalletId::parse("S01-0000000-0000001").unwrap();
    store
        .create_wallet(
            &Wallet {
                wallet_id: wallet.clone(),
                owner: owner.clone(),
                region: Region::Na,
                currency: Currency::USD,
                state: ChargePermissionState::Chargeable,
                reasons: vec![],
                payment_descriptor: None,
                update_required: false,
                update_required_since: None,
                monthly_limit: None,
                created_at: now(),
                updated_at: now(),
                version: 0,
            },
            &[],
        )
        .await
        .unwrap();
    let sub = Subscription {
        subscription_id: SubscriptionId::parse("sub_bench").unwrap(),
        owner,
        wallet_id: wallet,
        plan_id: PlanId::parse("plan").unwrap(),
        price: usd(1400),
        interval: BillingInterval {
            unit: IntervalUnit::Minute,
            count: 1,
        },
        status: SubscriptionStatus::Active,
        period: 1,
        anchor: now(),
        next_billing_at: now(),
        due_at: Some(now()),
        dunning: Dunning::Current,
        latest_payment_id: None,
        lease: None,
        canceled_at: None,
        cancel_reason: None,
        created_at: now(),
        updated_at: now(),
        version: 0,
    };
    let sub = store
        .write_subscription(
            &SubscriptionWrite {
                record: sub,
                lease_owner: None,
            },
            &[],
        )
        .await
        .unwrap();
    Fixture {
        store,
        sub,
        _dir: dir,
    }
}

/// One billing cycle; the subscription stays due (same due time) for the next period.
async fn bill_one(f: &mut Fixture) {
    let s = &f.store;
    let scope = KeyScope::new("A2BENCH", Environment::Sandbox, "bench");
    let claim = s
        .claim_period(
            &f.sub.subscription_id,
            f.sub.period,
            "bench",
            now(),
            TimeDelta::minutes(5),
        )
        .await
        .unwrap();
    let sub = claim.subscription;
    let payment = Payment {
        payment_id: PaymentId::for_period(&sub.subscription_id, sub.period),
        owner: sub.owner.clone(),
        kind: PaymentKind::Period {
            subscription_id: sub.subscription_id.clone(),
            period: sub.period,
        },
        wallet_id: sub.wallet_id.clone(),
        amount: sub.price,
        initiator: ChargeInitiator::Mitr,
        capture_now: true,
        soft_descriptor: None,
        can_handle_pending: true,
        return_url: None,
        status: PaymentStatus::Pending,
        attempt_count: 1,
        open_attempt: Some(1),
        charge_id: None,
        decline_code: None,
        buyer_action: None,
        message: None,
        redirect_url: None,
        expires_at: None,
        next_attempt_at: None,
        captured: None,
        refunded: usd(0),
        wake_at: Some(now() + TimeDelta::minutes(1)),
        created_at: now(),
        updated_at: now(),
        version: 0,
    };
    let key = scope.derive(
        &LogicalChargeKey::SubscriptionPeriod {
            subscription_id: sub.subscription_id.to_string(),
            period: sub.period,
        },
        1,
    );
    let attempt = ChargeAttempt {
        payment_id: payment.payment_id.clone(),
        attempt: 1,
        wallet_id: sub.wallet_id.clone(),
        amount: sub.price,
        idempotency_key: key,
        request_body: r#"{"chargePermissionId":"S01-0000000-0000001","chargeAmount":{"amount":"14.00","currencyCode":"USD"}}"#.into(),
        writer: "bench".into(),
        usage_month: UsageMonth::of(now()),
        state: AttemptState::Sending,
        charge_id: None,
        reason_code: None,
        http_status: None,
        sends: 1,
        usage_released: false,
        created_at: now(),
        updated_at: now(),
        version: 0,
    };
    let begun = s
        .begin_attempt(&BeginAttempt {
            payment: PaymentWrite::Create(payment),
            attempt,
            monthly_cap: usd(i64::MAX / 2),
            billing: BillingLink::Lease {
                subscription_id: sub.subscription_id.clone(),
                lease_owner: "bench".into(),
                period: sub.period,
            },
            order: None,
            events: vec![],
        })
        .await
        .unwrap();
    let Begun::Recorded { payment, attempt } = begun else {
        panic!("expected a new attempt");
    };
    let (payment, attempt) = (*payment, *attempt);
    let charge = ChargeId::parse(&format!("S01-0000000-0000001-C{:06}", sub.period)).unwrap();
    let finished = s
        .finish_attempt(&FinishAttempt {
            from: attempt.state,
            attempt: ChargeAttempt {
                state: AttemptState::Captured,
                charge_id: Some(charge.clone()),
                ..attempt
            },
            payment: Payment {
                status: PaymentStatus::Succeeded,
                open_attempt: None,
                charge_id: Some(charge),
                captured: Some(sub.price),
                wake_at: None,
                ..payment
            },
            subscription: Some(SubscriptionWrite {
                record: Subscription {
                    period: sub.period + 1,
                    lease: None,
                    ..sub.clone()
                },
                lease_owner: Some("bench".into()),
            }),
            wallet: None,
            events: vec![],
        })
        .await
        .unwrap();
    drop(finished);
    f.sub = s.get_subscription(&sub.subscription_id).await.unwrap();
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

    // A plain figure for the README: billed subscriptions per second, one worker (the
    // cycle also re-reads the subscription, which a worker gets from its queue message).
    for (name, f) in [("in_memory", &mut mem), ("file", &mut file)] {
        let n = 300;
        let before = f.store.request_counts();
        let start = Instant::now();
        for _ in 0..n {
            rt.block_on(bill_one(f));
        }
        let secs = start.elapsed().as_secs_f64();
        let requests = f.store.request_counts().since(&before).total() as f64 / n as f64;
        println!(
            "embedded {name}: {:.0} billed subscriptions/s ({requests:.0} store requests each, 3 of them the hot path)",
            n as f64 / secs,
        );
    }
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
