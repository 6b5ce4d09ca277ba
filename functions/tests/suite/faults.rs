//! The store under injected backend failures (`FaultBackend`, on every adapter): a write
//! whose answer is lost is recognised as the caller's own when resent, a refused write
//! changed nothing, and decisions read from a stale index are re-checked.

use super::*;
use savedwallet_functions::store::faulty::{Fault, FaultBackend, Target};
use savedwallet_functions::store::item::{Backend, BackendError};
use savedwallet_functions::store::TableStore;

type Faulty<B> = TableStore<FaultBackend<B>>;

fn lost() -> Fault {
    Fault::AppliedThenLost
}

pub async fn lost_answers_are_recognised<B: Backend>(s: &Faulty<B>) {
    let f = s.backend();
    stored_wallet(s, "S01-7000000-0000001", "alice").await;
    let month = UsageMonth::of(t0());
    // begin_attempt: committed, answer lost; the resend is the caller's own.
    let p = payment(
        mitu_kind("f1"),
        "alice",
        "S01-7000000-0000001",
        eur(250),
        t0(),
    );
    let b = begin_new(&p, "w1", t0());
    f.fail_next(Target::Transact, lost());
    assert!(matches!(
        s.begin_attempt(&b).await,
        Err(StoreError::OutcomeUnknown(_))
    ));
    match s.begin_attempt(&b).await.unwrap() {
        // DynamoDB's ClientRequestToken may replay the success itself …
        Begun::Recorded { .. } => {}
        // … otherwise the store recognises the writer's own attempt.
        Begun::AlreadyRecorded(a) => assert_eq!(a.writer, "w1"),
    }
    let (stored, attempts) = s.payment_with_attempts(&p.payment_id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    let used = s
        .monthly_usage(&wid("S01-7000000-0000001"), month)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(used.total, eur(250), "counted once");
    // Another writer's resend is not mistaken for its own.
    assert_eq!(
        refusal(
            s.begin_attempt(&begin_new(&p, "w2", t0()))
                .await
                .unwrap_err()
        ),
        Refusal::AttemptOpen { attempt: 1 }
    );
    // finish_attempt: committed, answer lost; the resend succeeds, usage released once.
    let fin = finish(&stored, &attempts[0], AttemptState::Declined, at(1));
    f.fail_next(Target::Transact, lost());
    assert!(matches!(
        s.finish_attempt(&fin).await,
        Err(StoreError::OutcomeUnknown(_))
    ));
    let done = s.finish_attempt(&fin).await.unwrap();
    assert_eq!(done.attempt.state, AttemptState::Declined);
    let used = s
        .monthly_usage(&wid("S01-7000000-0000001"), month)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(used.total, eur(0), "released once");
    // claim: committed, answer lost; the resend is recognised by its lease owner.
    let sub = stored_subscription(
        s,
        subscription("sub_lost", "alice", "S01-7000000-0000001", t0()),
    )
    .await;
    f.fail_next(Target::Touching("SUB#".into()), lost());
    assert!(matches!(
        s.claim_period(&sub.subscription_id, 1, "w1", at(0), TimeDelta::minutes(5))
            .await,
        Err(StoreError::OutcomeUnknown(_))
    ));
    let c = s
        .claim_period(&sub.subscription_id, 1, "w1", at(1), TimeDelta::minutes(5))
        .await
        .unwrap();
    assert_eq!(c.subscription.lease.map(|l| l.owner), Some("w1".into()));
    // A notification whose begin answer was lost: the first delivery is not a duplicate.
    let n = "lost-notification-1";
    f.fail_next(Target::Touching("NOTIF#".into()), lost());
    assert!(matches!(
        s.begin_notification(n, "h1", at(0), at(60)).await,
        Err(StoreError::OutcomeUnknown(_))
    ));
    assert_eq!(
        s.begin_notification(n, "h1", at(1), at(61)).await.unwrap(),
        NotificationBegin::Started
    );
    f.fail_next(Target::Touching("NOTIF#".into()), lost());
    assert!(s
        .complete_notification(n, "h1", at(1) + TimeDelta::days(7))
        .await
        .is_err());
    s.complete_notification(n, "h1", at(1) + TimeDelta::days(7))
        .await
        .unwrap();
    assert_eq!(
        s.begin_notification(n, "h2", at(2), at(62)).await.unwrap(),
        NotificationBegin::Done
    );
    // An idempotency start whose answer was lost is the caller's; a second caller waits.
    let k = "lost-idem-1";
    f.fail_next(Target::Touching("IDEM#".into()), lost());
    assert!(s
        .start_idempotent(k, "h", "t1", at(0), at(30), at(3600))
        .await
        .is_err());
    assert_eq!(
        s.start_idempotent(k, "h", "t1", at(1), at(31), at(3601))
            .await
            .unwrap(),
        IdempotencyStart::Started
    );
    assert_eq!(
        s.start_idempotent(k, "h", "t2", at(2), at(32), at(3602))
            .await
            .unwrap(),
        IdempotencyStart::InProgress { until: at(30) }
    );
    assert_eq!(f.pending_faults(), 0);
}

pub async fn refusals_write_nothing<B: Backend>(s: &Faulty<B>) {
    let f = s.backend();
    stored_wallet(s, "S01-7100000-0000001", "alice").await;
    let p = payment(
        mitu_kind("f2"),
        "alice",
        "S01-7100000-0000001",
        eur(100),
        t0(),
    );
    let b = begin_new(&p, "w1", t0());
    f.fail_next(Target::Transact, Fault::Refuse(BackendError::Contention));
    assert!(matches!(
        s.begin_attempt(&b).await,
        Err(StoreError::Contention)
    ));
    f.fail_next(Target::Transact, Fault::Refuse(BackendError::Throttled));
    assert!(matches!(
        s.begin_attempt(&b).await,
        Err(StoreError::Throttled)
    ));
    assert!(matches!(
        s.get_payment(&p.payment_id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        s.monthly_usage(&wid("S01-7100000-0000001"), UsageMonth::of(t0()))
            .await
            .unwrap(),
        None
    );
    // The caller's retry then goes through.
    assert!(matches!(
        s.begin_attempt(&b).await.unwrap(),
        Begun::Recorded { .. }
    ));
}

pub async fn stale_index_decisions_are_rechecked<B: Backend>(s: &Faulty<B>) {
    let f = s.backend();
    stored_wallet(s, "S01-7200000-0000001", "alice").await;
    let sub = stored_subscription(
        s,
        subscription("sub_stale", "alice", "S01-7200000-0000001", t0()),
    )
    .await;
    f.freeze_index();
    // A wallet created after the freeze is not yet listed (eventually consistent) …
    stored_wallet(s, "S01-7200000-0000002", "alice").await;
    let listed = s.wallets_of(&cust("alice"), 10, None).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    // … and a period claimed after the freeze still looks due; the claim re-checks.
    s.claim_period(&sub.subscription_id, 1, "w1", at(0), TimeDelta::minutes(5))
        .await
        .unwrap();
    let shard = savedwallet_functions::store::schema::keys::due_shard("sub_stale");
    let page = s.due_subscriptions(shard, at(10), 100, None).await.unwrap();
    let stale = page
        .subscriptions
        .iter()
        .find(|x| x.subscription_id == sub.subscription_id)
        .expect("the stale index still shows it");
    assert!(matches!(
        s.claim_period(
            &stale.subscription_id,
            stale.period,
            "w2",
            at(10),
            TimeDelta::minutes(5)
        )
        .await,
        Err(StoreError::AlreadyClaimed { .. })
    ));
    f.thaw_index();
    assert_eq!(
        s.wallets_of(&cust("alice"), 10, None)
            .await
            .unwrap()
            .items
            .len(),
        2
    );
}
