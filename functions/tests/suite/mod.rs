//! The store conformance suite: written once against the [`Store`] port, run on every
//! adapter. Time is always passed in (`now`), never slept.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use savedwallet_functions::store::codec::attr;
use savedwallet_functions::store::item::{Item, Val};
use savedwallet_functions::store::schema::{keys, DUE_SHARDS, GSI1PK, GSI1SK, TTL_ATTRIBUTE};
use savedwallet_functions::store::*;
use savedwallet_shared::api::{ChargePermissionState, ReasonCode};
use savedwallet_shared::money::{Currency, Price};
use savedwallet_shared::region::Region;

use crate::common::Raw;

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 10, 12, 0, 0)
        .single()
        .expect("valid")
}

fn usd(minor: i64) -> Price {
    Price::from_minor(minor, Currency::USD)
}

fn uid(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

pub fn wallet(id: &str, owner: &str) -> Wallet {
    Wallet {
        charge_permission_id: id.to_string(),
        owner_customer_id: owner.to_string(),
        state: ChargePermissionState::Chargeable,
        reason_codes: vec![],
        region: Region::Na,
        currency: Currency::USD,
        payment_method_update_required: false,
        updated_at: t0(),
        version: 0,
    }
}

pub fn subscription(id: &str, cpid: &str, due: DateTime<Utc>) -> Subscription {
    Subscription {
        subscription_id: id.to_string(),
        charge_permission_id: cpid.to_string(),
        plan_id: "plan-monthly".into(),
        owner_customer_id: "cust-1".into(),
        price: usd(1400),
        status: SubscriptionStatus::Active,
        next_due_at: due,
        period: 1,
        dunning: DunningState::Current,
        attempt_count: 0,
        lease: None,
        version: 0,
    }
}

pub fn attempt(
    key: ChargeKey,
    n: u32,
    cpid: &str,
    amount: Price,
    at: DateTime<Utc>,
) -> ChargeAttempt {
    ChargeAttempt {
        idempotency_key: format!("{key}-{n}").replace('#', "-"),
        request_body: format!(
            r#"{{"chargePermissionId":"{cpid}","chargeAmount":{{"amount":"{}","currencyCode":"USD"}}}}"#,
            amount.amount_string()
        ),
        charge_key: key,
        attempt: n,
        charge_permission_id: cpid.to_string(),
        amount,
        charge_id: None,
        state: AttemptState::Sending,
        reason_code: None,
        usage_month: usage_month(at),
        usage_released: false,
        created_at: at,
        updated_at: at,
        version: 0,
    }
}

fn event(id: &str, at: DateTime<Utc>) -> OutboxEvent {
    OutboxEvent {
        event_id: id.to_string(),
        kind: "wallet.payment_method_update_required".into(),
        aggregate_id: "w".into(),
        payload: r#"{"x":1}"#.into(),
        created_at: at,
    }
}

/// A successful attempt that moves the subscription claimed by `claim` (period 1) to
/// period 2, due `next_due_at`.
fn paid_period_1(sent: &ChargeAttempt, claim: &Claim, next_due_at: DateTime<Utc>) -> AttemptResult {
    let sub = &claim.subscription;
    AttemptResult {
        attempt: ChargeAttempt {
            state: AttemptState::Succeeded,
            charge_id: Some(uid("C")),
            ..sent.clone()
        },
        release_usage: false,
        target: FinishTarget::Subscription {
            subscription_id: sub.subscription_id.clone(),
            lease_owner: sub
                .lease
                .as_ref()
                .map(|l| l.owner.clone())
                .unwrap_or_default(),
            claimed_period: 1,
            claimed_version: sub.version,
            advance: PeriodAdvance {
                next_due_at,
                period: 2,
                dunning: DunningState::Current,
                attempt_count: 0,
                status: SubscriptionStatus::Active,
            },
        },
    }
}

fn version_of(e: &StoreError) -> Option<u64> {
    match e {
        StoreError::VersionConflict { current, .. } => match current.as_deref() {
            Some(Record::Wallet(w)) => Some(w.version),
            Some(Record::Order(o)) => Some(o.version),
            Some(Record::Subscription(s)) => Some(s.version),
            Some(Record::Attempt(a)) => Some(a.version),
            _ => None,
        },
        _ => None,
    }
}

pub async fn wallets<S: Store + Raw>(s: &S) {
    let owner = uid("owner");
    let id = uid("S01");
    let w = s.create_wallet(&wallet(&id, &owner)).await.unwrap();
    assert_eq!(w.version, 1);
    assert!(matches!(
        s.create_wallet(&wallet(&id, &owner)).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    assert_eq!(s.get_wallet(&id).await.unwrap(), w);
    assert!(matches!(
        s.get_wallet("nope").await,
        Err(StoreError::NotFound { .. })
    ));

    let mut changed = w.clone();
    changed.state = ChargePermissionState::NonChargeable;
    changed.reason_codes = vec![
        ReasonCode::PaymentMethodExpired,
        ReasonCode::Unknown("New".into()),
    ];
    changed.payment_method_update_required = true;
    let v2 = s.update_wallet(&changed, None).await.unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(s.get_wallet(&id).await.unwrap(), v2);

    // A stale writer loses and learns the current version without a second read.
    let err = s.update_wallet(&w, None).await.unwrap_err();
    assert!(
        matches!(err, StoreError::VersionConflict { expected: 1, .. }),
        "{err:?}"
    );
    assert_eq!(version_of(&err), Some(2));
    assert!(matches!(
        s.update_wallet(&wallet("missing", &owner), None).await,
        Err(StoreError::NotFound { .. })
    ));

    // Wallet + outbox event commit together; a stale write leaves no event behind.
    let e1 = event(&uid("evt"), t0());
    let v3 = s.update_wallet(&v2, Some(&e1)).await.unwrap();
    assert_eq!(v3.version, 3);
    let e2 = event(&uid("evt"), t0());
    assert!(matches!(
        s.update_wallet(&v2, Some(&e2)).await,
        Err(StoreError::VersionConflict { .. })
    ));
    let pending = s
        .pending_events(keys::outbox_shard(&e1.event_id), 100)
        .await
        .unwrap();
    assert!(pending.contains(&e1));
    let pending2 = s
        .pending_events(keys::outbox_shard(&e2.event_id), 100)
        .await
        .unwrap();
    assert!(!pending2.iter().any(|e| e.event_id == e2.event_id));

    // Lookup index: wallets of an owner.
    let other = uid("S01");
    s.create_wallet(&wallet(&other, &owner)).await.unwrap();
    let mut ids: Vec<String> = s
        .wallets_of_owner(&owner)
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.charge_permission_id)
        .collect();
    ids.sort();
    let mut want = vec![id.clone(), other];
    want.sort();
    assert_eq!(ids, want);
}

pub async fn plans_and_orders<S: Store + Raw>(s: &S) {
    let plan = Plan {
        plan_id: uid("plan"),
        price: Price::from_minor(1500, Currency::JPY),
        interval: BillingInterval {
            unit: IntervalUnit::Month,
            count: 1,
        },
        version: 0,
    };
    let p = s.create_plan(&plan).await.unwrap();
    assert_eq!(s.get_plan(&plan.plan_id).await.unwrap(), p);
    assert!(matches!(
        s.create_plan(&plan).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    assert!(matches!(
        s.get_plan("x").await,
        Err(StoreError::NotFound { .. })
    ));

    let order = Order {
        order_id: uid("ord"),
        owner_customer_id: "cust".into(),
        charge_permission_id: "S01-x".into(),
        price: usd(999),
        state: OrderState::Created,
        created_at: t0(),
        version: 0,
    };
    let o1 = s.create_order(&order).await.unwrap();
    assert!(matches!(
        s.create_order(&order).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    let o2 = s
        .update_order(&Order {
            state: OrderState::Charging,
            ..o1.clone()
        })
        .await
        .unwrap();
    assert_eq!(o2.version, 2);
    assert_eq!(s.get_order(&order.order_id).await.unwrap(), o2);
    let err = s.update_order(&o1).await.unwrap_err();
    assert_eq!(version_of(&err), Some(2), "{err:?}");
    assert!(matches!(
        s.get_order("x").await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn claims_and_leases<S: Store + Raw>(s: &S) {
    let due = t0();
    let lease = TimeDelta::minutes(5);
    let id = uid("sub");
    let cpid = uid("S01");
    s.create_wallet(&wallet(&cpid, "cust")).await.unwrap();
    let created = s
        .create_subscription(&subscription(&id, &cpid, due))
        .await
        .unwrap();
    assert_eq!(s.get_subscription(&id).await.unwrap(), created);

    // Not yet due.
    let early = s
        .claim_due_period(&id, 1, "w1", due - TimeDelta::seconds(1), lease)
        .await;
    assert!(
        matches!(early, Err(StoreError::ConditionFailed { .. })),
        "{early:?}"
    );
    // Wrong period.
    assert!(matches!(
        s.claim_due_period(&id, 2, "w1", due, lease).await,
        Err(StoreError::ConditionFailed { .. })
    ));
    assert!(matches!(
        s.claim_due_period("missing", 1, "w1", due, lease).await,
        Err(StoreError::NotFound { .. })
    ));

    let c1 = s.claim_due_period(&id, 1, "w1", due, lease).await.unwrap();
    assert_eq!(c1.attempt, 1);
    assert_eq!(c1.recovered, None);
    assert_eq!(
        c1.subscription.lease.as_ref().map(|l| l.owner.as_str()),
        Some("w1")
    );
    assert_eq!(c1.subscription.version, 2);
    assert_eq!(s.get_subscription(&id).await.unwrap(), c1.subscription);

    // Live lease: nobody else gets it.
    match s
        .claim_due_period(&id, 1, "w2", due + TimeDelta::minutes(4), lease)
        .await
    {
        Err(StoreError::AlreadyClaimed { until, current }) => {
            assert_eq!(until, due + lease);
            assert_eq!(current.lease.map(|l| l.owner), Some("w1".into()));
        }
        other => panic!("expected AlreadyClaimed, got {other:?}"),
    }

    // w1 records its attempt, then stalls past its lease.
    let a1 = s
        .record_attempt(
            &attempt(c1.subscription.charge_key(), 1, &cpid, usd(1400), due),
            usd(1_000_000),
        )
        .await
        .unwrap();

    // Lease lapsed (w1 crashed): w2 takes over and is told what it recovered.
    let later = due + lease + TimeDelta::seconds(1);
    let c2 = s
        .claim_due_period(&id, 1, "w2", later, lease)
        .await
        .unwrap();
    assert_eq!(c2.attempt, 2);
    assert_eq!(
        c2.recovered,
        Some(Lease {
            owner: "w1".into(),
            until: due + lease
        })
    );

    // The crashed worker wakes up: its result is refused, nothing changes.
    let result = paid_period_1(&a1, &c1, due + TimeDelta::days(30));
    match s.finish_attempt(&result).await {
        Err(StoreError::ConditionFailed { current, .. }) => {
            assert!(matches!(current.as_deref(), Some(Record::Subscription(_))))
        }
        other => panic!("expected lease lost, got {other:?}"),
    }
    assert_eq!(s.get_subscription(&id).await.unwrap(), c2.subscription);
    // Nothing of the transaction was applied: the attempt is unchanged.
    assert_eq!(s.get_attempt(&a1.charge_key, 1).await.unwrap(), a1);

    // Canceled subscriptions cannot be claimed and leave the due index.
    let mut canceled = s.get_subscription(&id).await.unwrap();
    canceled.status = SubscriptionStatus::Canceled;
    canceled.lease = None;
    let canceled = s.update_subscription(&canceled).await.unwrap();
    let far = later + TimeDelta::hours(1);
    assert!(matches!(
        s.claim_due_period(&id, 1, "w3", far, lease).await,
        Err(StoreError::ConditionFailed { .. })
    ));
    let raw = s.raw_get(keys::subscription(&id)).await.unwrap();
    assert!(!raw.contains_key(GSI1PK) && !raw.contains_key(GSI1SK));
    // Stale subscription update.
    assert!(matches!(
        s.update_subscription(&c2.subscription).await,
        Err(StoreError::VersionConflict { .. })
    ));
    assert_eq!(canceled.version, c2.subscription.version + 1);
    assert!(matches!(
        s.claim_due_period(&id, 1, "w3", far, TimeDelta::zero())
            .await,
        Err(StoreError::Invalid(_))
    ));
}

/// An edit that lands while a claimed period is being charged (cancel, reschedule)
/// survives the worker's result: the advance is refused, and the outcome is recorded
/// without a target.
pub async fn edit_while_charging<S: Store + Raw>(s: &S) {
    let due = t0();
    let cpid = uid("S01");
    s.create_wallet(&wallet(&cpid, "cust")).await.unwrap();
    fn cancel(sub: &mut Subscription) {
        sub.status = SubscriptionStatus::Canceled;
    }
    fn reschedule(sub: &mut Subscription) {
        sub.next_due_at += TimeDelta::days(3);
    }
    let edits: [fn(&mut Subscription); 2] = [cancel, reschedule];
    for edit in edits {
        let id = uid("sub");
        s.create_subscription(&subscription(&id, &cpid, due))
            .await
            .unwrap();
        let claim = s
            .claim_due_period(&id, 1, "w1", due, TimeDelta::minutes(5))
            .await
            .unwrap();
        let sent = s
            .record_attempt(
                &attempt(claim.subscription.charge_key(), 1, &cpid, usd(1400), due),
                usd(1_000_000),
            )
            .await
            .unwrap();
        // The merchant edits from a fresh read (the lease is still on the record).
        let mut current = s.get_subscription(&id).await.unwrap();
        edit(&mut current);
        let edited = s.update_subscription(&current).await.unwrap();

        let result = paid_period_1(&sent, &claim, due + TimeDelta::days(30));
        match s.finish_attempt(&result).await {
            Err(StoreError::ConditionFailed { current, .. }) => assert_eq!(
                current.as_deref(),
                Some(&Record::Subscription(edited.clone()))
            ),
            other => panic!("expected the edit to win, got {other:?}"),
        }
        assert_eq!(s.get_subscription(&id).await.unwrap(), edited);
        let raw = s.raw_get(keys::subscription(&id)).await.unwrap();
        assert_eq!(
            raw.contains_key(GSI1PK),
            edited.status == SubscriptionStatus::Active
        );
        // The charge happened: its outcome is still recorded.
        let done = s
            .finish_attempt(&AttemptResult {
                target: FinishTarget::None,
                ..result
            })
            .await
            .unwrap();
        assert_eq!(s.get_attempt(&sent.charge_key, 1).await.unwrap(), done);
    }
}

/// Collects every due subscription id across all shards, paging with `limit`.
async fn all_due<S: Store>(s: &S, now: DateTime<Utc>, limit: u32) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut pages = 0;
    for shard in 0..DUE_SHARDS {
        let mut token = None;
        loop {
            let page = s
                .due_subscriptions(shard, now, limit, token.as_ref())
                .await
                .unwrap();
            pages += 1;
            assert!(page.subscriptions.len() <= limit as usize);
            for sub in &page.subscriptions {
                assert_eq!(keys::due_shard(&sub.subscription_id), shard);
                ids.push(sub.subscription_id.clone());
            }
            match page.next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
    }
    ids.sort();
    (ids, pages)
}

/// Due index: sharding, paging, sort order, sparse when canceled, claims leave it until
/// the lease lapses. Each adapter runs on its own table/database, so the due set is
/// exactly this test's subscriptions.
pub async fn due_pagination<S: Store + Raw>(s: &S) {
    let now = t0();
    let mut due_ids = Vec::new();
    for i in 0..45 {
        let id = format!("sub-{i:03}");
        // Mixed due times: 30 due (some long ago), 15 in the future.
        let due = if i % 3 == 2 {
            now + TimeDelta::minutes(i)
        } else {
            now - TimeDelta::minutes(i * 7)
        };
        s.create_subscription(&subscription(&id, "S01-p", due))
            .await
            .unwrap();
        if due <= now {
            due_ids.push(id);
        }
    }
    // A canceled one never shows.
    let mut c = subscription("sub-canceled", "S01-p", now - TimeDelta::days(1));
    c.status = SubscriptionStatus::Canceled;
    s.create_subscription(&c).await.unwrap();
    due_ids.sort();

    let (ids, pages) = all_due(s, now, 2).await;
    assert_eq!(ids, due_ids);
    assert!(
        pages > DUE_SHARDS as usize,
        "small pages must span several requests"
    );

    // Oldest first inside a shard.
    for shard in 0..DUE_SHARDS {
        let page = s.due_subscriptions(shard, now, 100, None).await.unwrap();
        let times: Vec<_> = page.subscriptions.iter().map(|s| s.next_due_at).collect();
        let mut sorted = times.clone();
        sorted.sort();
        assert_eq!(times, sorted);
    }

    // Claimed: gone from the index until the lease lapses.
    let claimed = due_ids[0].clone();
    let lease = TimeDelta::minutes(10);
    s.claim_due_period(&claimed, 1, "w", now, lease)
        .await
        .unwrap();
    let (ids, _) = all_due(s, now + TimeDelta::minutes(9), 50).await;
    assert!(!ids.contains(&claimed));
    let (ids, _) = all_due(s, now + TimeDelta::minutes(10), 50).await;
    assert!(ids.contains(&claimed));

    // The sharded index keys are on the stored item.
    let raw = s.raw_get(keys::subscription(&due_ids[1])).await.unwrap();
    assert_eq!(
        raw.get(GSI1PK),
        Some(&Val::S(keys::due_partition(keys::due_shard(&due_ids[1]))))
    );
    assert!(matches!(
        s.due_subscriptions(DUE_SHARDS, now, 10, None).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.due_subscriptions(0, now, 10, Some(&PageToken::new("zz")))
            .await,
        Err(StoreError::Invalid(_))
    ));

    // A token reused with an earlier `now`, or handed to another shard, starts past the
    // end of the range: an empty page or a clean error, never a panic.
    let shard = keys::due_shard(&due_ids[0]);
    let first = s.due_subscriptions(shard, now, 1, None).await.unwrap();
    let token = first
        .next
        .expect("the shard holds more than one due subscription");
    let earlier = now - TimeDelta::days(365);
    match s.due_subscriptions(shard, earlier, 10, Some(&token)).await {
        Ok(page) => assert!(page.subscriptions.is_empty(), "{page:?}"),
        Err(e) => assert!(
            matches!(e, StoreError::Invalid(_) | StoreError::Backend(_)),
            "{e:?}"
        ),
    }
    // Another shard's token is refused, not silently read from the shard's start.
    let other = (shard + 1) % DUE_SHARDS;
    let res = s.due_subscriptions(other, now, 10, Some(&token)).await;
    assert!(matches!(res, Err(StoreError::Invalid(_))), "{res:?}");
}

pub async fn attempts_and_usage<S: Store + Raw>(s: &S) {
    let now = t0();
    let month = usage_month(now);
    let cpid = uid("S01");
    let cap = usd(10_000);
    s.create_wallet(&wallet(&cpid, "cust")).await.unwrap();
    let key = ChargeKey::Order {
        order_id: uid("ord"),
    };

    let a1 = s
        .record_attempt(&attempt(key.clone(), 1, &cpid, usd(6000), now), cap)
        .await
        .unwrap();
    assert_eq!(a1.version, 1);
    assert_eq!(s.get_attempt(&key, 1).await.unwrap(), a1);
    let usage = s.monthly_usage(&cpid, &month).await.unwrap().unwrap();
    assert_eq!(usage.total, usd(6000));

    // Duplicate attempt: refused, usage untouched.
    assert!(matches!(
        s.record_attempt(&attempt(key.clone(), 1, &cpid, usd(10), now), cap)
            .await,
        Err(StoreError::AlreadyExists { .. })
    ));
    // Over the cap: refused with the current usage, nothing written.
    match s
        .record_attempt(&attempt(key.clone(), 2, &cpid, usd(4001), now), cap)
        .await
    {
        Err(StoreError::LimitExceeded { used, .. }) => assert_eq!(used, Some(usd(6000))),
        other => panic!("expected LimitExceeded, got {other:?}"),
    }
    assert!(matches!(
        s.get_attempt(&key, 2).await,
        Err(StoreError::NotFound { .. })
    ));
    // Exactly reaching the cap is allowed.
    let a2 = s
        .record_attempt(&attempt(key.clone(), 2, &cpid, usd(4000), now), cap)
        .await
        .unwrap();
    assert_eq!(
        s.monthly_usage(&cpid, &month).await.unwrap().unwrap().total,
        cap
    );
    // Above the cap on its own: refused before any request.
    let before = s.request_counts();
    assert!(matches!(
        s.record_attempt(&attempt(key.clone(), 9, &cpid, usd(10_001), now), cap)
            .await,
        Err(StoreError::LimitExceeded { used: None, .. })
    ));
    assert_eq!(s.request_counts().since(&before).total(), 0);
    // A different month has its own counter.
    let next_month = now + TimeDelta::days(30);
    s.record_attempt(&attempt(key.clone(), 3, &cpid, usd(100), next_month), cap)
        .await
        .unwrap();
    assert_eq!(
        s.monthly_usage(&cpid, &usage_month(next_month))
            .await
            .unwrap()
            .unwrap()
            .total,
        usd(100)
    );
    assert_eq!(s.monthly_usage(&cpid, "1999-01").await.unwrap(), None);

    // Outcome with charge id; declined attempt gives its amount back.
    let ok = s
        .finish_attempt(&AttemptResult {
            attempt: ChargeAttempt {
                state: AttemptState::Succeeded,
                charge_id: Some("S01-1-1-C1".into()),
                ..a1.clone()
            },
            release_usage: false,
            target: FinishTarget::None,
        })
        .await
        .unwrap();
    assert_eq!(ok.version, 2);
    assert_eq!(s.attempt_by_charge_id("S01-1-1-C1").await.unwrap(), ok);
    assert!(matches!(
        s.attempt_by_charge_id("none").await,
        Err(StoreError::NotFound { .. })
    ));
    let declined = s
        .finish_attempt(&AttemptResult {
            attempt: ChargeAttempt {
                state: AttemptState::Declined,
                reason_code: Some(ReasonCode::SoftDeclined),
                ..a2.clone()
            },
            release_usage: true,
            target: FinishTarget::None,
        })
        .await
        .unwrap();
    assert_eq!(declined.reason_code, Some(ReasonCode::SoftDeclined));
    assert_eq!(
        s.monthly_usage(&cpid, &month).await.unwrap().unwrap().total,
        usd(6000)
    );
    // Stale outcome: version conflict with the stored attempt, usage untouched.
    let err = s
        .finish_attempt(&AttemptResult {
            attempt: a2.clone(),
            release_usage: true,
            target: FinishTarget::None,
        })
        .await
        .unwrap_err();
    assert_eq!(version_of(&err), Some(2), "{err:?}");
    assert_eq!(
        s.monthly_usage(&cpid, &month).await.unwrap().unwrap().total,
        usd(6000)
    );
    // A declined attempt gives its amount back once: a second release from the fresh
    // record, one that claims it never released, or one with another amount is refused.
    assert!(declined.usage_released);
    let again = |attempt: ChargeAttempt| AttemptResult {
        attempt,
        release_usage: true,
        target: FinishTarget::None,
    };
    assert!(matches!(
        s.finish_attempt(&again(declined.clone())).await,
        Err(StoreError::Invalid(_))
    ));
    for forged in [
        ChargeAttempt {
            usage_released: false,
            ..declined.clone()
        },
        ChargeAttempt {
            usage_released: false,
            amount: usd(1),
            ..declined.clone()
        },
    ] {
        match s.finish_attempt(&again(forged)).await {
            Err(StoreError::ConditionFailed { current, .. }) => {
                assert_eq!(current.as_deref(), Some(&Record::Attempt(declined.clone())))
            }
            other => panic!("expected ConditionFailed, got {other:?}"),
        }
    }
    assert_eq!(
        s.monthly_usage(&cpid, &month).await.unwrap().unwrap().total,
        usd(6000)
    );
    assert_eq!(s.get_attempt(&key, 2).await.unwrap(), declined);

    let all = s.attempts_of(&key).await.unwrap();
    assert_eq!(
        all.iter().map(|a| a.attempt).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(all[0].request_body, a1.request_body);

    // Wallet not chargeable / missing / wrong currency: nothing written.
    let mut w = s.get_wallet(&cpid).await.unwrap();
    w.payment_method_update_required = true;
    s.update_wallet(&w, None).await.unwrap();
    match s
        .record_attempt(&attempt(key.clone(), 4, &cpid, usd(1), now), cap)
        .await
    {
        Err(StoreError::ConditionFailed { current, .. }) => {
            assert!(matches!(current.as_deref(), Some(Record::Wallet(_))))
        }
        other => panic!("expected ConditionFailed, got {other:?}"),
    }
    assert!(matches!(
        s.get_attempt(&key, 4).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        s.monthly_usage(&cpid, &month).await.unwrap().unwrap().total,
        usd(6000)
    );
    assert!(matches!(
        s.record_attempt(&attempt(key.clone(), 4, "S01-missing", usd(1), now), cap)
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.record_attempt(
            &attempt(key.clone(), 4, &cpid, usd(1), now),
            Price::from_minor(5, Currency::EUR)
        )
        .await,
        Err(StoreError::Invalid(_))
    ));
}

/// Bill one due subscription end to end and count the backend requests.
pub async fn hot_path_cost<S: Store + Raw>(s: &S) {
    let now = t0();
    let cpid = uid("S01");
    s.create_wallet(&wallet(&cpid, "cust")).await.unwrap();
    let id = uid("sub");
    s.create_subscription(&subscription(&id, &cpid, now))
        .await
        .unwrap();
    let cap = usd(1_500_000);

    let before = s.request_counts();
    // 1. claim (UpdateItem)
    let claim = s
        .claim_due_period(&id, 1, "worker", now, TimeDelta::minutes(5))
        .await
        .unwrap();
    let sub = &claim.subscription;
    // 2. attempt + monthly usage + wallet check (TransactWriteItems)
    let recorded = s
        .record_attempt(
            &attempt(
                sub.charge_key(),
                claim.attempt,
                &sub.charge_permission_id,
                sub.price,
                now,
            ),
            cap,
        )
        .await
        .unwrap();
    // (Amazon Pay Create Charge happens here.)
    // 3. result + advance + release lease (TransactWriteItems)
    let monthly = BillingInterval {
        unit: IntervalUnit::Month,
        count: 1,
    };
    let next_due = monthly.advance(sub.next_due_at).unwrap();
    let done = s
        .finish_attempt(&paid_period_1(&recorded, &claim, next_due))
        .await
        .unwrap();
    let cost = s.request_counts().since(&before);
    assert_eq!(cost.total(), 3, "{cost:?}");
    assert_eq!(cost.update_item, 1);
    assert_eq!(cost.transact_write_items, 2);
    assert_eq!(done.state, AttemptState::Succeeded);

    let after = s.get_subscription(&id).await.unwrap();
    assert_eq!(after.period, 2);
    assert_eq!(after.lease, None);
    assert_eq!(after.attempt_count, 0);
    assert_eq!(
        after.next_due_at,
        Utc.with_ymd_and_hms(2026, 12, 10, 12, 0, 0).unwrap()
    );
    // Period 1 cannot be claimed again; period 2 is not due yet.
    assert!(s
        .claim_due_period(&id, 1, "w", now, TimeDelta::minutes(5))
        .await
        .is_err());
    assert!(s
        .claim_due_period(&id, 2, "w", now, TimeDelta::minutes(5))
        .await
        .is_err());
    let raw = s.raw_get(keys::subscription(&id)).await.unwrap();
    assert_eq!(
        raw.get(GSI1SK),
        Some(&Val::N(after.next_due_at.timestamp_millis()))
    );
    // Money records never expire: TTL is only on notifications and idempotency records.
    let charge_key = done.charge_key.to_string();
    for key in [
        keys::subscription(&id),
        keys::attempt(&charge_key, done.attempt),
        keys::usage(&cpid, &done.usage_month),
        keys::wallet(&cpid),
    ] {
        let raw = s.raw_get(key.clone()).await.unwrap();
        assert!(!raw.contains_key(TTL_ATTRIBUTE), "{key:?}");
    }
}

pub async fn notifications<S: Store + Raw>(s: &S) {
    let now = t0();
    let id = uid("notif");
    let exp = now + TimeDelta::days(7);
    assert_eq!(
        s.record_notification(&id, now, exp).await.unwrap(),
        NotificationStatus::New
    );
    assert_eq!(
        s.record_notification(&id, now + TimeDelta::hours(1), exp)
            .await
            .unwrap(),
        NotificationStatus::Duplicate
    );
    let raw = s.raw_get(keys::notification(&id)).await.unwrap();
    assert_eq!(raw.get(TTL_ATTRIBUTE), Some(&Val::N(exp.timestamp())));
    // Already expired on arrival: refused (a redelivery would count as new).
    let other = uid("notif");
    assert!(matches!(
        s.record_notification(&other, now, now).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(s.raw_get(keys::notification(&other)).await.is_none());
    // Expired but not yet deleted by TTL: counts as new.
    assert_eq!(
        s.record_notification(&id, exp + TimeDelta::seconds(1), exp + TimeDelta::days(7))
            .await
            .unwrap(),
        NotificationStatus::New
    );
}

pub async fn idempotency<S: Store + Raw>(s: &S) {
    let now = t0();
    let key = uid("idem");
    let until = now + TimeDelta::seconds(30);
    let exp = now + TimeDelta::hours(1);
    assert_eq!(
        s.start_idempotent(&key, "h1", now, until, exp)
            .await
            .unwrap(),
        IdempotencyStart::Started
    );
    assert_eq!(
        s.start_idempotent(&key, "h1", now, until, exp)
            .await
            .unwrap(),
        IdempotencyStart::InProgress { until }
    );
    assert_eq!(
        s.start_idempotent(&key, "h2", now, until, exp)
            .await
            .unwrap(),
        IdempotencyStart::PayloadMismatch
    );
    let raw = s.raw_get(keys::idempotency(&key)).await.unwrap();
    assert_eq!(raw.get(TTL_ATTRIBUTE), Some(&Val::N(exp.timestamp())));
    assert!(matches!(
        s.complete_idempotent(
            &key,
            "h2",
            &SavedResponse {
                status: 201,
                body: "{}".into()
            },
            exp
        )
        .await,
        Err(StoreError::ConditionFailed { .. })
    ));
    let resp = SavedResponse {
        status: 201,
        body: r#"{"chargeId":"C1"}"#.into(),
    };
    s.complete_idempotent(&key, "h1", &resp, exp).await.unwrap();
    assert_eq!(
        s.start_idempotent(&key, "h1", now, until, exp)
            .await
            .unwrap(),
        IdempotencyStart::Completed(resp.clone())
    );
    // Completed records are not abandoned.
    assert!(s.abandon_idempotent(&key, "h1").await.is_err());
    // Expired completed record: a new request starts over.
    let later = exp + TimeDelta::seconds(1);
    assert_eq!(
        s.start_idempotent(
            &key,
            "h1",
            later,
            later + TimeDelta::seconds(30),
            later + TimeDelta::hours(1)
        )
        .await
        .unwrap(),
        IdempotencyStart::Started
    );

    // A crashed caller's in-progress record lapses at its Lambda deadline.
    let k2 = uid("idem");
    s.start_idempotent(&k2, "h", now, until, exp).await.unwrap();
    assert_eq!(
        s.start_idempotent(
            &k2,
            "h",
            until + TimeDelta::milliseconds(1),
            until + TimeDelta::seconds(30),
            exp
        )
        .await
        .unwrap(),
        IdempotencyStart::Started
    );
    // A record that would expire before its in-progress window ends, or a window that
    // already ended, would let a second caller start meanwhile: refused, nothing stored.
    let k3 = uid("idem");
    for (u, e) in [(until, until - TimeDelta::seconds(1)), (now, exp)] {
        assert!(matches!(
            s.start_idempotent(&k3, "h", now, u, e).await,
            Err(StoreError::Invalid(_))
        ));
    }
    assert!(s.raw_get(keys::idempotency(&k3)).await.is_none());

    // Abandon after a failure: the client may retry at once.
    s.abandon_idempotent(&k2, "h").await.unwrap();
    assert!(s.raw_get(keys::idempotency(&k2)).await.is_none());
    assert_eq!(
        s.start_idempotent(&k2, "h", now, until, exp).await.unwrap(),
        IdempotencyStart::Started
    );
}

pub async fn outbox<S: Store + Raw>(s: &S) {
    let base = t0();
    // Events that hash to the same shard, appended out of order.
    let mut ids = Vec::new();
    while ids.len() < 3 {
        let id = uid("evt");
        if keys::outbox_shard(&id) == 1 {
            ids.push(id);
        }
    }
    let events: Vec<OutboxEvent> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| event(id, base + TimeDelta::seconds(10 - i as i64)))
        .collect();
    for e in &events {
        s.append_event(e).await.unwrap();
    }
    assert!(matches!(
        s.append_event(&events[0]).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    let pending = s.pending_events(1, 100).await.unwrap();
    let mine: Vec<_> = pending
        .iter()
        .filter(|e| ids.contains(&e.event_id))
        .cloned()
        .collect();
    assert_eq!(
        mine,
        vec![events[2].clone(), events[1].clone(), events[0].clone()]
    );
    s.ack_event(&events[2]).await.unwrap();
    let pending = s.pending_events(1, 100).await.unwrap();
    assert!(!pending.contains(&events[2]));
    assert!(pending.contains(&events[1]));
    assert!(matches!(
        s.pending_events(99, 1).await,
        Err(StoreError::Invalid(_))
    ));
}

/// Embedded-only: TTL emulation removes expired records and nothing else.
pub async fn embedded_ttl_purge(s: &EmbeddedStore) {
    let now = t0();
    let old = uid("notif");
    let fresh = uid("notif");
    s.record_notification(&old, now, now + TimeDelta::hours(1))
        .await
        .unwrap();
    s.record_notification(&fresh, now, now + TimeDelta::days(2))
        .await
        .unwrap();
    let w = uid("S01");
    s.create_wallet(&wallet(&w, "cust")).await.unwrap();
    assert_eq!(s.purge_expired(now + TimeDelta::days(1)).await.unwrap(), 1);
    assert!(s.raw_get(keys::notification(&old)).await.is_none());
    assert!(s.raw_get(keys::notification(&fresh)).await.is_some());
    assert!(s.get_wallet(&w).await.is_ok());
}

pub async fn bad_data_is_an_error<S: Store + Raw>(s: &S) {
    let id = uid("S01");
    let key = keys::wallet(&id);
    let mut item: Item = key.to_item();
    item.insert(attr::CPID.into(), Val::s(&id));
    item.insert(attr::VERSION.into(), Val::s("not-a-number"));
    s.raw_put(key, item).await.unwrap();
    assert!(matches!(
        s.get_wallet(&id).await,
        Err(StoreError::Decode { .. })
    ));
    assert!(matches!(
        s.get_wallet("bad\u{0}id").await,
        Err(StoreError::Invalid(_))
    ));
}

// ---------------------------------------------------------------- races

/// 50 workers claim the same period: exactly one wins, every loser is told why.
pub async fn race_claim<S: Store + 'static>(s: Arc<S>, rounds: usize) {
    for round in 0..rounds {
        let id = uid("race");
        let now = t0();
        s.create_subscription(&subscription(&id, "S01-r", now))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for w in 0..50 {
            let s = s.clone();
            let id = id.clone();
            tasks.push(tokio::spawn(async move {
                s.claim_due_period(&id, 1, &format!("w{w}"), now, TimeDelta::minutes(5))
                    .await
            }));
        }
        let mut wins = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(c) => {
                    wins += 1;
                    assert_eq!(c.attempt, 1);
                }
                Err(StoreError::AlreadyClaimed { .. }) => {}
                Err(e) => panic!("round {round}: unexpected {e:?}"),
            }
        }
        assert_eq!(wins, 1, "round {round}");
        assert_eq!(s.get_subscription(&id).await.unwrap().attempt_count, 1);
    }
}

/// 50 charges race for one wallet's monthly headroom: the total never exceeds the cap.
pub async fn race_monthly_cap<S: Store + 'static>(s: Arc<S>, rounds: usize) {
    for round in 0..rounds {
        let now = t0();
        let cpid = uid("S01");
        s.create_wallet(&wallet(&cpid, "cust")).await.unwrap();
        let cap = usd(7_500);
        let mut tasks = Vec::new();
        for i in 0..50 {
            let s = s.clone();
            let cpid = cpid.clone();
            tasks.push(tokio::spawn(async move {
                let key = ChargeKey::Order {
                    order_id: format!("{cpid}-o{i}"),
                };
                loop {
                    match s
                        .record_attempt(&attempt(key.clone(), 1, &cpid, usd(1_000), now), cap)
                        .await
                    {
                        // Real DynamoDB may cancel racing transactions; the caller retries.
                        Err(StoreError::Contention) => continue,
                        other => return other,
                    }
                }
            }));
        }
        let mut ok = 0i64;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(StoreError::LimitExceeded { .. }) => {}
                Err(e) => panic!("round {round}: unexpected {e:?}"),
            }
        }
        let total = s
            .monthly_usage(&cpid, &usage_month(now))
            .await
            .unwrap()
            .unwrap()
            .total;
        assert_eq!(ok, 7, "round {round}");
        assert_eq!(total, usd(ok * 1_000));
        assert!(total.minor_units() <= cap.minor_units());
    }
}

/// Two identical API requests at once: one processes, the other sees it in progress and
/// then gets the saved response.
pub async fn race_idempotency<S: Store + 'static>(s: Arc<S>, rounds: usize) {
    for round in 0..rounds {
        let key = uid("idem");
        let now = t0();
        let until = now + TimeDelta::seconds(30);
        let exp = now + TimeDelta::hours(24);
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let s = s.clone();
            let key = key.clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                s.start_idempotent(&key, "hash", now, until, exp)
                    .await
                    .unwrap()
            }));
        }
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        let started = outcomes
            .iter()
            .filter(|o| **o == IdempotencyStart::Started)
            .count();
        assert_eq!(started, 1, "round {round}: {outcomes:?}");
        assert!(outcomes.contains(&IdempotencyStart::InProgress { until }));
        let resp = SavedResponse {
            status: 201,
            body: format!("round {round}"),
        };
        s.complete_idempotent(&key, "hash", &resp, exp)
            .await
            .unwrap();
        assert_eq!(
            s.start_idempotent(&key, "hash", now, until, exp)
                .await
                .unwrap(),
            IdempotencyStart::Completed(resp)
        );
    }
}
