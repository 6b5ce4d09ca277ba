//! Notifications, API idempotency records (with holder tokens) and merchant events.

use std::sync::Arc;

use super::*;
use crate::common::Raw;

pub async fn notifications<S: Store + Raw>(s: &S) {
    let n = "8e3b0000notification0001";
    assert_eq!(
        s.begin_notification(n, "h1", at(0), at(60)).await.unwrap(),
        NotificationBegin::Started
    );
    // A redelivery while the first handler works: in progress (answer 5xx, SNS retries).
    assert_eq!(
        s.begin_notification(n, "h2", at(1), at(61)).await.unwrap(),
        NotificationBegin::InProgress { until: at(60) }
    );
    // The holder's own resend is recognised.
    assert_eq!(
        s.begin_notification(n, "h1", at(2), at(62)).await.unwrap(),
        NotificationBegin::Started
    );
    // A failure frees it: the redelivery processes it (not a duplicate).
    assert_eq!(
        refusal(s.release_notification(n, "h2").await.unwrap_err()),
        Refusal::NotOwner
    );
    s.release_notification(n, "h1").await.unwrap();
    assert_eq!(
        s.begin_notification(n, "h2", at(3), at(63)).await.unwrap(),
        NotificationBegin::Started
    );
    s.complete_notification(n, "h2", at(3) + TimeDelta::days(7))
        .await
        .unwrap();
    // Completing twice (a lost answer) is fine for the holder, refused for others.
    s.complete_notification(n, "h2", at(3) + TimeDelta::days(7))
        .await
        .unwrap();
    assert_eq!(
        refusal(
            s.complete_notification(n, "h1", at(4) + TimeDelta::days(7))
                .await
                .unwrap_err()
        ),
        Refusal::NotOwner
    );
    assert_eq!(
        s.begin_notification(n, "h3", at(5), at(65)).await.unwrap(),
        NotificationBegin::Done
    );
    // A crashed holder's record frees itself when its time runs out.
    let m = "8e3b0000notification0002";
    s.begin_notification(m, "h1", at(0), at(60)).await.unwrap();
    assert_eq!(
        s.begin_notification(m, "h2", at(61), at(120))
            .await
            .unwrap(),
        NotificationBegin::Started
    );
    // After the retention, a redelivery counts as new.
    assert_eq!(
        s.begin_notification(
            n,
            "h4",
            at(3) + TimeDelta::days(8),
            at(3) + TimeDelta::days(8) + TimeDelta::seconds(60)
        )
        .await
        .unwrap(),
        NotificationBegin::Started
    );
    assert!(matches!(
        s.begin_notification(m, "h5", at(200), at(100)).await,
        Err(StoreError::Invalid(_))
    ));
}

pub async fn idempotency<S: Store + Raw>(s: &S) {
    let (k, h) = ("customer:c1:POST:/v1/subscriptions:key-1", "hash-a");
    let day = TimeDelta::days(1);
    assert_eq!(
        s.start_idempotent(k, h, "t1", at(0), at(30), at(0) + day)
            .await
            .unwrap(),
        IdempotencyStart::Started
    );
    assert_eq!(
        s.start_idempotent(k, h, "t2", at(1), at(31), at(1) + day)
            .await
            .unwrap(),
        IdempotencyStart::InProgress { until: at(30) }
    );
    assert_eq!(
        s.start_idempotent(k, "hash-b", "t2", at(1), at(31), at(1) + day)
            .await
            .unwrap(),
        IdempotencyStart::PayloadMismatch
    );
    // The first caller runs past its in-progress expiry; a second takes over …
    assert_eq!(
        s.start_idempotent(k, h, "t2", at(31), at(61), at(31) + day)
            .await
            .unwrap(),
        IdempotencyStart::Started
    );
    // … and the stale first caller can neither abandon nor complete the newer record.
    assert_eq!(
        refusal(s.abandon_idempotent(k, "t1").await.unwrap_err()),
        Refusal::NotOwner
    );
    let resp = SavedResponse {
        status: 201,
        body: "{\"ok\":true}".into(),
    };
    assert_eq!(
        refusal(
            s.complete_idempotent(k, "t1", &resp, at(40) + day)
                .await
                .unwrap_err()
        ),
        Refusal::NotOwner
    );
    s.complete_idempotent(k, "t2", &resp, at(40) + day)
        .await
        .unwrap();
    assert_eq!(
        s.start_idempotent(k, h, "t3", at(50), at(80), at(50) + day)
            .await
            .unwrap(),
        IdempotencyStart::Completed(resp.clone())
    );
    // Abandon frees the key for a retry.
    let k2 = "customer:c1:POST:/v1/subscriptions:key-2";
    s.start_idempotent(k2, h, "t1", at(0), at(30), at(0) + day)
        .await
        .unwrap();
    s.abandon_idempotent(k2, "t1").await.unwrap();
    assert_eq!(
        s.start_idempotent(k2, h, "t2", at(1), at(31), at(1) + day)
            .await
            .unwrap(),
        IdempotencyStart::Started
    );
    assert!(matches!(
        s.start_idempotent(k2, h, "t2", at(1), at(0), at(1) + day)
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.start_idempotent(k2, h, "t2", at(1), at(100), at(50))
            .await,
        Err(StoreError::Invalid(_))
    ));
}

pub async fn events<S: Store + Raw>(s: &S) {
    let evs: Vec<_> = (0..5)
        .map(|i| event(&format!("evt_{i}"), "payment.succeeded", at(i)))
        .collect();
    s.append_events(&evs).await.unwrap();
    assert!(matches!(
        s.append_events(&evs[..1]).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    // Oldest first, paged.
    let p1 = s.events_since(None, 3, at(10)).await.unwrap();
    assert_eq!(p1.items, evs[..3].to_vec());
    let p2 = s.events_since(p1.next.as_ref(), 3, at(10)).await.unwrap();
    assert_eq!(p2.items, evs[3..].to_vec());
    // Delivery: due ones by shard; delivered ones leave the index; failures come back later.
    let mut due = Vec::new();
    for shard in 0..DELIVERY_SHARDS {
        due.extend(s.due_deliveries(shard, at(10), 100).await.unwrap());
    }
    assert_eq!(due.len(), 5);
    s.set_delivery(&evs[0], None).await.unwrap();
    s.set_delivery(&evs[1], Some(at(100))).await.unwrap();
    let mut due = Vec::new();
    for shard in 0..DELIVERY_SHARDS {
        due.extend(s.due_deliveries(shard, at(10), 100).await.unwrap());
    }
    let ids: Vec<_> = due.iter().map(|e| e.event_id.to_string()).collect();
    assert_eq!(due.len(), 3, "{ids:?}");
    assert!(!ids.contains(&"evt_0".to_string()) && !ids.contains(&"evt_1".to_string()));
    let mut later = Vec::new();
    for shard in 0..DELIVERY_SHARDS {
        later.extend(s.due_deliveries(shard, at(100), 100).await.unwrap());
    }
    let e1 = later
        .iter()
        .find(|e| e.event_id.as_str() == "evt_1")
        .unwrap();
    assert_eq!(e1.deliveries, 1);
    // Past the retention, events are not listed.
    let far = at(0) + TimeDelta::days(31);
    assert_eq!(s.events_since(None, 10, far).await.unwrap().items, vec![]);
}

pub async fn race_idempotency<S: Store + Raw + 'static>(s: Arc<S>, rounds: u32) {
    for round in 0..rounds {
        let key = format!("race-key-{round}");
        let mut tasks = Vec::new();
        for i in 0..20 {
            let (s, key) = (s.clone(), key.clone());
            tasks.push(tokio::spawn(async move {
                s.start_idempotent(&key, "h", &format!("t{i}"), at(0), at(30), at(3600))
                    .await
            }));
        }
        let mut started = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(IdempotencyStart::Started) => started += 1,
                Ok(IdempotencyStart::InProgress { .. }) | Err(StoreError::Contention) => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(started, 1, "round {round}");
    }
}
