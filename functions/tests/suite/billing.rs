//! Billing: the due index, exactly-once claims, leases tied to attempts, edits that never
//! undo what billing owns, and the cost of the hot path.

use std::sync::Arc;

use super::*;
use crate::common::Raw;
use savedwallet_functions::store::item::{Item, Val};
use savedwallet_functions::store::schema::keys;

fn lease() -> TimeDelta {
    TimeDelta::minutes(5)
}

/// The begin of a claimed period's first attempt (lease-linked).
fn begin_period(sub: &Subscription, owner: &str, now: DateTime<Utc>) -> BeginAttempt {
    let p = Payment {
        initiator: ChargeInitiator::Mitr,
        ..payment(
            period_kind(sub.subscription_id.as_str(), sub.period),
            sub.owner.as_str(),
            sub.wallet_id.as_str(),
            sub.price,
            now,
        )
    };
    let mut b = begin_new(&p, owner, now);
    b.billing = BillingLink::Lease {
        subscription_id: sub.subscription_id.clone(),
        lease_owner: owner.into(),
        period: sub.period,
    };
    b
}

/// The subscription after a paid period (billing's advance).
fn advanced(sub: &Subscription, now: DateTime<Utc>) -> Subscription {
    let next = sub.interval.nth_after(sub.anchor, sub.period).unwrap();
    Subscription {
        period: sub.period + 1,
        next_billing_at: next,
        due_at: Some(next),
        lease: None,
        dunning: Dunning::Current,
        updated_at: now,
        ..sub.clone()
    }
}

pub async fn claims_and_leases<S: Store + Raw>(s: &S) {
    stored_wallet(s, "S01-6000000-0000001", "alice").await;
    let sub = stored_subscription(
        s,
        subscription("sub_claim", "alice", "S01-6000000-0000001", t0()),
    )
    .await;
    let id = &sub.subscription_id;
    assert!(matches!(
        s.claim_period(id, 1, "w1", at(0), TimeDelta::seconds(30))
            .await,
        Err(StoreError::Invalid(_))
    ));
    let c1 = s.claim_period(id, 1, "w1", at(0), lease()).await.unwrap();
    assert_eq!(c1.recovered, None);
    // While the lease lives: another worker is told until when; the holder's own resend
    // (its first answer lost) is recognised.
    match s.claim_period(id, 1, "w2", at(10), lease()).await {
        Err(StoreError::AlreadyClaimed { until, .. }) => assert_eq!(until, at(300)),
        other => panic!("{other:?}"),
    }
    assert!(s.claim_period(id, 1, "w1", at(10), lease()).await.is_ok());
    // Another period, or not yet due: refused.
    assert_eq!(
        refusal(
            s.claim_period(id, 2, "w2", at(400), lease())
                .await
                .unwrap_err()
        ),
        Refusal::NotDue
    );
    // The lapsed lease is taken over and reported.
    let c2 = s.claim_period(id, 1, "w2", at(301), lease()).await.unwrap();
    assert_eq!(c2.recovered.map(|l| l.owner), Some("w1".into()));
    // The due index hides a claimed period until its lease lapses.
    let shard = keys::due_shard(id.as_str());
    let due = s.due_subscriptions(shard, at(400), 10, None).await.unwrap();
    assert!(due.subscriptions.iter().all(|x| &x.subscription_id != id));
    let due = s.due_subscriptions(shard, at(602), 10, None).await.unwrap();
    assert!(due.subscriptions.iter().any(|x| &x.subscription_id == id));
}

pub async fn late_record_after_takeover<S: Store + Raw>(s: &S) {
    stored_wallet(s, "S01-6100000-0000001", "alice").await;
    let sub = stored_subscription(
        s,
        subscription("sub_late", "alice", "S01-6100000-0000001", t0()),
    )
    .await;
    let id = sub.subscription_id.clone();
    // W1 claims and stalls; its lease lapses; W2 takes over and records the attempt.
    let c1 = s.claim_period(&id, 1, "w1", at(0), lease()).await.unwrap();
    let c2 = s
        .claim_period(&id, 1, "w2", at(301), lease())
        .await
        .unwrap();
    // W1 wakes before W2 records: the attempt is tied to the claim, so W1's is refused.
    assert_eq!(
        refusal(
            s.begin_attempt(&begin_period(&c1.subscription, "w1", at(302)))
                .await
                .unwrap_err()
        ),
        Refusal::LeaseLost
    );
    recorded(s, &begin_period(&c2.subscription, "w2", at(302))).await;
    // W1 wakes: its late record is refused (the attempt exists — another writer's) …
    match s
        .begin_attempt(&begin_period(&c1.subscription, "w1", at(303)))
        .await
    {
        Err(StoreError::Refused {
            refusal: Refusal::AttemptOpen { attempt: 1 },
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // … and so is a new attempt by W1 for the period, on its lost lease.
    let p = s.get_payment(&PaymentId::for_period(&id, 1)).await.unwrap();
    let mut next = begin_next(&p, "w1", at(304));
    next.billing = BillingLink::Lease {
        subscription_id: id.clone(),
        lease_owner: "w1".into(),
        period: 1,
    };
    assert!(matches!(
        s.begin_attempt(&next).await,
        Err(StoreError::Refused { .. })
    ));
    let (_, attempts) = s.payment_with_attempts(&p.payment_id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].writer, "w2");
}

pub async fn lease_must_be_live_for_a_period_attempt<S: Store + Raw>(s: &S) {
    stored_wallet(s, "S01-6200000-0000001", "alice").await;
    let sub = stored_subscription(
        s,
        subscription("sub_live", "alice", "S01-6200000-0000001", t0()),
    )
    .await;
    let c = s
        .claim_period(&sub.subscription_id, 1, "w1", at(0), lease())
        .await
        .unwrap();
    // Recording after the lease's end (a worker that stalled past it, nobody took over):
    // refused, so it cannot race a worker that claims next.
    assert_eq!(
        refusal(
            s.begin_attempt(&begin_period(&c.subscription, "w1", at(301)))
                .await
                .unwrap_err()
        ),
        Refusal::LeaseLost
    );
}

pub async fn edits_never_undo_billing<S: Store + Raw>(s: &S) {
    stored_wallet(s, "S01-6300000-0000001", "alice").await;
    stored_wallet(s, "S01-6300000-0000002", "alice").await;
    let sub = stored_subscription(
        s,
        subscription("sub_edit", "alice", "S01-6300000-0000001", t0()),
    )
    .await;
    let id = sub.subscription_id.clone();
    let c = s.claim_period(&id, 1, "w1", at(0), lease()).await.unwrap();
    let (p1, a1) = recorded(s, &begin_period(&c.subscription, "w1", at(1))).await;
    // The buyer moves the subscription to another wallet while the period is charged: the
    // edit keeps the lease, so no other worker can claim the period meanwhile …
    let edited = s
        .edit_subscription(
            &c.subscription,
            &SubscriptionEdit::ChangeWallet {
                wallet_id: wid("S01-6300000-0000002"),
                due_now: None,
                at: at(2),
            },
            &[],
        )
        .await
        .unwrap();
    assert_eq!(edited.lease, c.subscription.lease);
    assert!(matches!(
        s.claim_period(&id, 1, "w2", at(3), lease()).await,
        Err(StoreError::AlreadyClaimed { .. })
    ));
    // … and even after the lease lapses and a re-claim, no fresh attempt starts while
    // attempt 1 is open.
    let c2 = s
        .claim_period(&id, 1, "w2", at(301), lease())
        .await
        .unwrap();
    let stored = s.get_payment(&p1.payment_id).await.unwrap();
    let mut next = begin_next(&stored, "w2", at(302));
    next.billing = BillingLink::Lease {
        subscription_id: id.clone(),
        lease_owner: "w2".into(),
        period: 1,
    };
    assert_eq!(
        refusal(s.begin_attempt(&next).await.unwrap_err()),
        Refusal::AttemptOpen { attempt: 1 }
    );
    // W1's finish with the period advance is refused (its lease is gone) and names it;
    // the attempt's outcome is recorded alone instead.
    let mut f = finish(&p1, &a1, AttemptState::Captured, at(303));
    f.subscription = Some(SubscriptionWrite {
        record: advanced(&c.subscription, at(303)),
        lease_owner: Some("w1".into()),
    });
    assert_eq!(
        refusal(s.finish_attempt(&f).await.unwrap_err()),
        Refusal::LeaseLost
    );
    f.subscription = None;
    s.finish_attempt(&f).await.unwrap();
    // W2 (the lease holder) advances the period from what it reads.
    let current = s.get_subscription(&id).await.unwrap();
    assert_eq!(current.lease.as_ref().map(|l| l.owner.as_str()), Some("w2"));
    assert_eq!(current.wallet_id, wid("S01-6300000-0000002"));
    let w = SubscriptionWrite {
        record: advanced(&current, at(304)),
        lease_owner: Some("w2".into()),
    };
    let after = s.write_subscription(&w, &[]).await.unwrap();
    assert_eq!(after.period, 2);
    assert_eq!(c2.subscription.period, 1);
    // A cancel made while charging is not undone by the worker's advance.
    let c3 = s
        .claim_period(&id, 2, "w3", after.due_at.unwrap(), lease())
        .await
        .unwrap();
    let canceled = s
        .edit_subscription(
            &c3.subscription,
            &SubscriptionEdit::Cancel {
                at: after.due_at.unwrap(),
                reason: CancelReason::Buyer,
            },
            &[],
        )
        .await
        .unwrap();
    let w = SubscriptionWrite {
        record: advanced(&c3.subscription, after.due_at.unwrap()),
        lease_owner: Some("w3".into()),
    };
    assert!(matches!(
        s.write_subscription(&w, &[]).await,
        Err(StoreError::VersionConflict { .. })
    ));
    let stored = s.get_subscription(&id).await.unwrap();
    assert_eq!(stored.status, SubscriptionStatus::Canceled);
    assert_eq!(stored, canceled);
    assert_eq!(
        refusal(
            s.edit_subscription(
                &stored,
                &SubscriptionEdit::Cancel {
                    at: at(9),
                    reason: CancelReason::Buyer
                },
                &[]
            )
            .await
            .unwrap_err()
        ),
        Refusal::SubscriptionCanceled
    );
}

pub async fn due_index_follows_policy<S: Store + Raw>(s: &S) {
    stored_wallet(s, "S01-6400000-0000001", "alice").await;
    let shard_of = |id: &str| keys::due_shard(id);
    let due_ids = |page: &DuePage| -> Vec<String> {
        page.subscriptions
            .iter()
            .map(|x| x.subscription_id.to_string())
            .collect()
    };
    // Waiting for a payment method, or canceled: out of the due index (they cannot starve
    // the ones behind them).
    let mut waiting = subscription("sub_wait", "alice", "S01-6400000-0000001", t0());
    waiting.status = SubscriptionStatus::PastDue;
    waiting.due_at = None;
    waiting.dunning = Dunning::AwaitingPaymentMethod { since: t0() };
    let waiting = stored_subscription(s, waiting).await;
    let page = s
        .due_subscriptions(shard_of("sub_wait"), at(1), 100, None)
        .await
        .unwrap();
    assert!(!due_ids(&page).contains(&"sub_wait".to_string()));
    // The wallet is Chargeable again: a wallet change (or billing's write) makes it due.
    let due_again = s
        .edit_subscription(
            &waiting,
            &SubscriptionEdit::ChangeWallet {
                wallet_id: wid("S01-6400000-0000001"),
                due_now: Some(at(2)),
                at: at(2),
            },
            &[],
        )
        .await
        .unwrap();
    assert_eq!(due_again.dunning, Dunning::Current);
    let page = s
        .due_subscriptions(shard_of("sub_wait"), at(3), 100, None)
        .await
        .unwrap();
    assert!(due_ids(&page).contains(&"sub_wait".to_string()));
    // Incomplete subscriptions are never billed by the worker.
    let mut inc = subscription("sub_inc", "alice", "S01-6400000-0000001", t0());
    inc.status = SubscriptionStatus::Incomplete;
    stored_subscription(s, inc).await;
    let page = s
        .due_subscriptions(shard_of("sub_inc"), at(3), 100, None)
        .await
        .unwrap();
    assert!(!due_ids(&page).contains(&"sub_inc".to_string()));
}

pub async fn poisoned_due_shard<S: Store + Raw>(s: &S) {
    stored_wallet(s, "S01-6500000-0000001", "alice").await;
    // Find ids in one shard; plant an undecodable item before them in the index.
    let shard = keys::due_shard("sub_p0");
    let ids: Vec<String> = (1..200)
        .map(|i| format!("sub_p{i}"))
        .filter(|id| keys::due_shard(id) == shard)
        .take(3)
        .collect();
    let mut bad: Item = keys::subscription("sub_p0").to_item();
    bad.insert("type".into(), Val::s("subscription"));
    bad.insert("gsi1pk".into(), Val::S(keys::due_partition(shard)));
    bad.insert("gsi1sk".into(), Val::N(t0().timestamp_millis() - 1000));
    bad.insert("status".into(), Val::N(7));
    s.raw_put(keys::subscription("sub_p0"), bad).await.unwrap();
    for (i, id) in ids.iter().enumerate() {
        stored_subscription(
            s,
            subscription(id, "alice", "S01-6500000-0000001", at(i as i64)),
        )
        .await;
    }
    let page = s
        .due_subscriptions(shard, at(100), 100, None)
        .await
        .unwrap();
    assert_eq!(page.skipped, 1);
    let got: Vec<String> = page
        .subscriptions
        .iter()
        .map(|x| x.subscription_id.to_string())
        .collect();
    assert_eq!(got, ids, "oldest due first, the bad item skipped");
    // The others can be billed.
    for id in &ids {
        s.claim_period(
            &SubscriptionId::parse(id).unwrap(),
            1,
            "w",
            at(100),
            lease(),
        )
        .await
        .unwrap();
    }
}

pub async fn due_pagination<S: Store + Raw>(s: &S) {
    stored_wallet(s, "S01-6600000-0000001", "alice").await;
    let shard = keys::due_shard("sub_q0");
    let ids: Vec<String> = (0..400)
        .map(|i| format!("sub_q{i}"))
        .filter(|id| keys::due_shard(id) == shard)
        .take(7)
        .collect();
    for (i, id) in ids.iter().enumerate() {
        stored_subscription(
            s,
            subscription(id, "alice", "S01-6600000-0000001", at(i as i64)),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = s
            .due_subscriptions(shard, at(1000), 3, cursor.as_ref())
            .await
            .unwrap();
        seen.extend(
            page.subscriptions
                .into_iter()
                .map(|x| x.subscription_id.to_string()),
        );
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    let other = (shard + 1) % DUE_SHARDS;
    let page = s.due_subscriptions(shard, at(1000), 3, None).await.unwrap();
    assert!(matches!(
        s.due_subscriptions(other, at(1000), 3, page.next.as_ref())
            .await,
        Err(StoreError::Invalid(_))
    ));
}

pub async fn hot_path_cost<S: Store + Raw>(s: &S) {
    stored_wallet(s, "S01-6700000-0000001", "alice").await;
    let sub = stored_subscription(
        s,
        subscription("sub_hot", "alice", "S01-6700000-0000001", t0()),
    )
    .await;
    let before = s.request_counts();
    let c = s
        .claim_period(&sub.subscription_id, 1, "w1", at(0), lease())
        .await
        .unwrap();
    let (p, a) = recorded(s, &begin_period(&c.subscription, "w1", at(1))).await;
    let mut f = finish(&p, &a, AttemptState::Captured, at(2));
    f.subscription = Some(SubscriptionWrite {
        record: advanced(&c.subscription, at(2)),
        lease_owner: Some("w1".into()),
    });
    s.finish_attempt(&f).await.unwrap();
    let cost = s.request_counts().since(&before);
    assert_eq!(cost.total(), 3, "{cost:?}");
    assert_eq!(cost.update_item, 1, "{cost:?}");
    assert_eq!(cost.transact_write_items, 2, "{cost:?}");
    let after = s.get_subscription(&sub.subscription_id).await.unwrap();
    assert_eq!((after.period, after.lease), (2, None));
}

pub async fn race_claim<S: Store + Raw + 'static>(s: Arc<S>, rounds: u32) {
    stored_wallet(&*s, "S01-6800000-0000001", "alice").await;
    for round in 0..rounds {
        let id = format!("sub_race{round}");
        stored_subscription(&*s, subscription(&id, "alice", "S01-6800000-0000001", t0())).await;
        let sid = SubscriptionId::parse(&id).unwrap();
        let mut tasks = Vec::new();
        for w in 0..50 {
            let (s, sid) = (s.clone(), sid.clone());
            tasks.push(tokio::spawn(async move {
                s.claim_period(&sid, 1, &format!("w{w}"), at(1), lease())
                    .await
            }));
        }
        let mut won = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => won += 1,
                Err(StoreError::AlreadyClaimed { .. }) | Err(StoreError::Contention) => {}
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(won, 1, "round {round}");
    }
}

pub async fn race_monthly_cap<S: Store + Raw + 'static>(s: Arc<S>, rounds: u32) {
    for round in 0..rounds {
        let wallet = format!("S01-6900000-{round:07}");
        stored_wallet(&*s, &wallet, "alice").await;
        let mut tasks = Vec::new();
        for i in 0..50 {
            let (s, wallet) = (s.clone(), wallet.clone());
            tasks.push(tokio::spawn(async move {
                let p = payment(
                    mitu_kind(&format!("cap{round}-{i}")),
                    "alice",
                    &wallet,
                    eur(100),
                    t0(),
                );
                let mut b = begin_new(&p, "w", t0());
                b.monthly_cap = eur(1000);
                loop {
                    match s.begin_attempt(&b).await {
                        Err(StoreError::Contention) => continue,
                        other => return other,
                    }
                }
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(StoreError::LimitExceeded { .. }) => {}
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(ok, 10, "round {round}");
        let used = s
            .monthly_usage(&wid(&wallet), UsageMonth::of(t0()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(used.total, eur(1000));
    }
}
