//! Delivery: retries and their classes, endpoints that fail or hang, duplicates and
//! reordering (switchable at run time), NotificationId filling.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_with_the_same_message_id() {
    // The confirmation takes the first 200; then the notification gets 500, 500, 200.
    let (ipn, base, mut rx) = subscribed(&[500, 500], |_| {}).await;
    let id = ipn.publish(message(1)).unwrap();
    let attempts = next_n(&mut rx, 3).await;
    ipn.idle().await;
    for a in &attempts {
        assert_eq!(a.json()["MessageId"], id.as_str());
        assert_eq!(a.body, attempts[0].body, "retries resend the same envelope");
    }
    verify_envelope(&base, &attempts[2].json()).await.unwrap();
    let record = ipn.deliveries().pop().unwrap();
    assert_eq!(record.message_id, id);
    assert_eq!(record.attempts, 3);
    assert_eq!(
        record.status,
        DeliveryStatus::Delivered { http_status: 200 }
    );
    assert!(
        matches!(rx.try_recv(), Err(TryRecvError::Empty)),
        "no attempt after success"
    );
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let (ipn, _, mut rx) = subscribed(&[400], |_| {}).await;
    ipn.publish(message(1)).unwrap();
    next(&mut rx).await;
    ipn.idle().await;
    assert!(
        matches!(rx.try_recv(), Err(TryRecvError::Empty)),
        "a 4xx must not be retried"
    );
    let record = ipn.deliveries().pop().unwrap();
    assert_eq!(record.attempts, 1);
    assert_eq!(record.status, DeliveryStatus::Rejected { http_status: 400 });
}

#[tokio::test]
async fn delivery_gives_up_after_max_attempts() {
    let (ipn, _, mut rx) = subscribed(&[503, 503, 503, 503], |c| c.retry.max_attempts = 3).await;
    ipn.publish(message(1)).unwrap();
    ipn.idle().await;
    let mut got = 0;
    while rx.try_recv().is_ok() {
        got += 1;
    }
    assert_eq!(got, 3);
    let record = ipn.deliveries().pop().unwrap();
    assert_eq!(record.attempts, 3);
    assert_eq!(
        record.status,
        DeliveryStatus::Failed {
            last_error: "HTTP 503".into()
        }
    );
}

#[tokio::test]
async fn unreachable_endpoint_is_retried_then_failed() {
    // A port that was bound and released: connections are refused.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        Url::parse(&format!("http://{}/ipn", l.local_addr().unwrap())).unwrap()
    };
    let (ipn, _) = start_sandbox(|c| c.retry.max_attempts = 2).await;
    ipn.register_endpoint(dead).await.unwrap();
    ipn.idle().await;
    let record = ipn.deliveries().pop().unwrap();
    assert_eq!(record.attempts, 2);
    assert!(matches!(record.status, DeliveryStatus::Failed { .. }));
}

/// Publishes `count` messages to a fresh receiver and returns, per received request,
/// (MessageId, NotificationId of the inner message).
async fn received_after_publishing(
    count: u32,
    config: impl FnOnce(&mut IpnConfig),
) -> (IpnSender, Vec<(String, String)>, Vec<String>) {
    let (ipn, _, mut rx) = subscribed(&[], config).await;
    let ids: Vec<String> = (1..=count)
        .map(|n| ipn.publish(message(n)).unwrap())
        .collect();
    ipn.idle().await;
    let mut got = Vec::new();
    while let Ok(r) = rx.try_recv() {
        let body = r.json();
        let inner: IpnMessage = serde_json::from_str(body["Message"].as_str().unwrap()).unwrap();
        got.push((
            body["MessageId"].as_str().unwrap().to_string(),
            inner.notification_id,
        ));
    }
    (ipn, got, ids)
}

#[tokio::test]
async fn duplicate_rate_one_delivers_everything_twice() {
    let (ipn, got, ids) = received_after_publishing(3, |c| c.duplicate_rate = 1.0).await;
    let got_ids: Vec<&str> = got.iter().map(|(m, _)| m.as_str()).collect();
    let expected: Vec<&str> = ids.iter().flat_map(|i| [i.as_str(), i.as_str()]).collect();
    assert_eq!(got_ids, expected);
    let records = ipn.deliveries();
    assert_eq!(records.iter().filter(|r| r.duplicate).count(), 3);
}

// Multi-threaded on purpose: determinism must not depend on task scheduling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_are_deterministic_for_a_seed() {
    let pattern = |got: &[(String, String)]| -> Vec<String> {
        got.iter().map(|(_, nid)| nid.clone()).collect()
    };
    let config = |c: &mut IpnConfig| {
        c.duplicate_rate = 0.5;
        c.seed = Some(7);
    };
    let (_, first, _) = received_after_publishing(12, config).await;
    let (_, second, _) = received_after_publishing(12, config).await;
    assert_eq!(pattern(&first), pattern(&second));
    // Some, but not all, were duplicated.
    assert!(first.len() > 12 && first.len() < 24, "{}", first.len());
}

// Multi-threaded on purpose: determinism must not depend on task scheduling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorder_swaps_each_held_message_with_its_successor() {
    let (_, got, _) = received_after_publishing(5, |c| c.reorder_rate = 1.0).await;
    let order: Vec<&str> = got.iter().map(|(_, n)| n.as_str()).collect();
    // 1 held until 2 is sent, 3 held until 4, 5 released when the queue goes idle.
    assert_eq!(order, vec!["nid-2", "nid-1", "nid-4", "nid-3", "nid-5"]);
}

#[tokio::test]
async fn without_reorder_order_is_kept() {
    let (_, got, _) = received_after_publishing(5, |_| {}).await;
    let order: Vec<&str> = got.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(order, vec!["nid-1", "nid-2", "nid-3", "nid-4", "nid-5"]);
}

#[tokio::test]
async fn redirects_and_timeouts_are_retried() {
    // Confirmation 200; then a 302 (SNS follows no redirect) and a hang past the timeout.
    let (ipn, base, mut rx) = subscribed(&[302, HANG], |c| {
        c.retry.request_timeout = Duration::from_millis(300)
    })
    .await;
    let id = ipn.publish(message(1)).unwrap();
    let attempts = next_n(&mut rx, 3).await;
    ipn.idle().await;
    for a in &attempts {
        assert_eq!(a.json()["MessageId"], id.as_str());
    }
    verify_envelope(&base, &attempts[2].json()).await.unwrap();
    let record = ipn.deliveries().pop().unwrap();
    assert_eq!(record.attempts, 3);
    assert_eq!(
        record.status,
        DeliveryStatus::Delivered { http_status: 200 }
    );
    // The same endpoint giving up: the last error names the timeout.
    let (ipn, _, _rx) = subscribed(&[HANG, HANG], |c| {
        c.retry.request_timeout = Duration::from_millis(200);
        c.retry.max_attempts = 2;
    })
    .await;
    ipn.publish(message(1)).unwrap();
    ipn.idle().await;
    assert_eq!(
        ipn.deliveries().pop().unwrap().status,
        DeliveryStatus::Failed {
            last_error: "timeout".into()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_endpoint_does_not_hold_the_others() {
    // A answers its confirmation, then never again; the timeout is far beyond WAIT, so a
    // B held up by A would miss the deadline.
    let (a, mut rx_a) = start_receiver(&[200, HANG, HANG, HANG]).await;
    let (b, mut rx_b) = start_receiver(&[]).await;
    let (ipn, _) = start_sandbox(|c| c.retry.request_timeout = Duration::from_secs(600)).await;
    ipn.register_endpoint(a).await.unwrap();
    ipn.register_endpoint(b).await.unwrap();
    next(&mut rx_a).await;
    next(&mut rx_b).await;
    let ids: Vec<String> = (1..=3).map(|n| ipn.publish(message(n)).unwrap()).collect();
    for id in &ids {
        assert_eq!(next(&mut rx_b).await.json()["MessageId"], id.as_str());
    }
    // A got its first notification (and hangs on it); its later ones wait behind it.
    assert_eq!(next(&mut rx_a).await.json()["MessageId"], ids[0].as_str());
}

#[tokio::test]
async fn a_held_back_message_is_released_after_reorder_max_hold() {
    let (receiver, mut rx) = start_receiver(&[]).await;
    let (ipn, _) = start_sandbox(|c| {
        c.reorder_rate = 1.0;
        c.reorder_max_hold = Duration::from_millis(200);
    })
    .await;
    ipn.register_endpoint(receiver).await.unwrap();
    next(&mut rx).await;
    // No successor and nobody in idle(): only the hold limit can release it.
    let id = ipn.publish(message(1)).unwrap();
    let got = next(&mut rx).await;
    assert_eq!(got.json()["MessageId"], id.as_str());
}

#[tokio::test]
async fn an_empty_notification_id_is_filled() {
    let (ipn, _, mut rx) = subscribed(&[], |_| {}).await;
    let mut m = message(1);
    m.notification_id = String::new();
    ipn.publish(m).unwrap();
    let body = next(&mut rx).await.json();
    let inner: IpnMessage = serde_json::from_str(body["Message"].as_str().unwrap()).unwrap();
    assert_eq!(inner.notification_id.len(), 32, "{}", inner.notification_id);
    assert!(inner.notification_id.bytes().all(|b| b.is_ascii_hexdigit()));
    ipn.idle().await;
    assert_eq!(
        ipn.deliveries().pop().unwrap().notification_id,
        Some(inner.notification_id)
    );
}

#[tokio::test]
async fn delivery_faults_switch_while_running() {
    let (ipn, _, mut rx) = subscribed(&[], |_| {}).await;
    ipn.set_delivery_faults(savedwallet_sandbox::ipn::DeliveryFaults {
        duplicate_rate: 1.0,
        ..Default::default()
    })
    .unwrap();
    let first = ipn.publish(message(1)).unwrap();
    ipn.idle().await;
    ipn.set_delivery_faults(Default::default()).unwrap();
    let second = ipn.publish(message(2)).unwrap();
    ipn.idle().await;
    let mut got = Vec::new();
    while let Ok(r) = rx.try_recv() {
        got.push(r.json()["MessageId"].as_str().unwrap().to_string());
    }
    assert_eq!(got, [first.clone(), first, second]);
}
