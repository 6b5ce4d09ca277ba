//! The sandbox's IPN sender over real loopback HTTP, checked by the independent SNS
//! verifier of `helpers::sns` (x509-parser + rsa, written from SPEC §12.3).

use crate::helpers::verify_envelope;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use savedwallet_sandbox::ipn::{
    DeliveryStatus, IpnConfig, IpnSender, IpnState, SignatureVersion, SnsMessageType,
};
use savedwallet_shared::api::{IpnMessage, IpnNotificationType, IpnObjectType};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use url::Url;

const WAIT: Duration = Duration::from_secs(20);

/// One request the fake merchant endpoint received.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

#[derive(Clone)]
struct Receiver {
    tx: mpsc::UnboundedSender<Received>,
    /// Statuses to answer, in order; 200 once empty.
    script: Arc<Mutex<VecDeque<u16>>>,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: String) -> StatusCode {
    r.tx.send(Received { headers, body }).unwrap();
    let code = r.script.lock().unwrap().pop_front().unwrap_or(200);
    StatusCode::from_u16(code).unwrap()
}

/// Starts a merchant IPN endpoint that records requests and answers `script` then 200s.
async fn start_receiver(script: &[u16]) -> (Url, mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let state = Receiver {
        tx,
        script: Arc::new(Mutex::new(script.iter().copied().collect())),
    };
    let app = Router::new().route("/ipn", post(receive)).with_state(state);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (Url::parse(&format!("http://{addr}/ipn")).unwrap(), rx)
}

/// Binds the sandbox port first so the config can carry its real base URL.
async fn sandbox_listener() -> (TcpListener, Url) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, Url::parse(&format!("http://{addr}")).unwrap())
}

fn serve(listener: TcpListener, ipn: &IpnSender) {
    let app = ipn.router();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
}

fn test_config(base: Url) -> IpnConfig {
    let mut c = IpnConfig::new(base);
    c.retry.min_delay = Duration::from_millis(5);
    c.retry.max_delay = Duration::from_millis(20);
    c.retry.request_timeout = Duration::from_secs(10);
    c.reorder_max_hold = Duration::from_secs(60);
    c.seed = Some(42);
    c
}

async fn start_sandbox(config: impl FnOnce(&mut IpnConfig)) -> (IpnSender, Url) {
    let (listener, base) = sandbox_listener().await;
    let mut c = test_config(base.clone());
    config(&mut c);
    let ipn = IpnSender::new(c).unwrap();
    serve(listener, &ipn);
    (ipn, base)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("no delivery within the timeout")
        .expect("receiver closed")
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn message(n: u32) -> IpnMessage {
    IpnMessage {
        merchant_id: "A1B2C3D4E5F6G7".into(),
        object_type: IpnObjectType::Charge,
        object_id: format!("S01-5105180-3221187-C{n:06}"),
        charge_permission_id: Some("S01-5105180-3221187".into()),
        notification_type: IpnNotificationType::StateChange,
        notification_id: format!("nid-{n}"),
        notification_version: Some("V2".into()),
    }
}

fn assert_sns_headers(r: &Received, kind: &str) {
    let body = r.json();
    assert_eq!(r.header("x-amz-sns-message-type"), Some(kind));
    assert_eq!(r.header("x-amz-sns-message-id"), body["MessageId"].as_str());
    assert_eq!(r.header("x-amz-sns-topic-arn"), body["TopicArn"].as_str());
    assert_eq!(
        r.header("user-agent"),
        Some("Amazon Simple Notification Service Agent")
    );
    assert_eq!(r.header("content-type"), Some("text/plain; charset=UTF-8"));
    // SNS timestamps carry milliseconds: 2024-06-01T12:34:56.789Z.
    let ts = body["Timestamp"].as_str().unwrap();
    assert_eq!(ts.len(), 24, "{ts}");
    assert!(chrono::NaiveDateTime::parse_from_str(ts, "%Y-%m-%dT%H:%M:%S%.3fZ").is_ok());
    let id = body["MessageId"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 4);
}

async fn full_flow(version: SignatureVersion) {
    let (receiver, mut rx) = start_receiver(&[]).await;
    let (ipn, base) = start_sandbox(|c| c.signature_version = version).await;

    // Registration sends a signed SubscriptionConfirmation.
    let sub = ipn.register_endpoint(receiver.clone()).await.unwrap();
    let confirmation = next(&mut rx).await;
    assert_sns_headers(&confirmation, "SubscriptionConfirmation");
    assert_eq!(confirmation.header("x-amz-sns-subscription-arn"), None);
    let body = confirmation.json();
    assert_eq!(body["SignatureVersion"], version.as_str());
    assert_eq!(body["Token"], sub.token.as_str());
    assert!(body["Message"].as_str().unwrap().contains('\n'));
    verify_envelope(&base, &body).await.unwrap();

    // Visiting SubscribeURL confirms it.
    assert!(!ipn.subscriptions()[0].confirmed);
    let subscribe_url = body["SubscribeURL"].as_str().unwrap();
    assert!(subscribe_url.starts_with(base.join("/_sandbox/sns/confirm?").unwrap().as_str()));
    let resp = http().get(subscribe_url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains(&format!(
        "<SubscriptionArn>{}</SubscriptionArn>",
        sub.subscription_arn
    )));
    assert!(ipn.subscriptions()[0].confirmed);

    // Notifications, in publish order, signed, carrying the Amazon Pay message as a string.
    let ids: Vec<String> = (1..=3).map(|n| ipn.publish(message(n)).unwrap()).collect();
    for (n, id) in (1..=3).zip(&ids) {
        let r = next(&mut rx).await;
        assert_sns_headers(&r, "Notification");
        assert_eq!(
            r.header("x-amz-sns-subscription-arn"),
            Some(sub.subscription_arn.as_str())
        );
        let body = r.json();
        assert_eq!(body["MessageId"], id.as_str());
        assert!(body.get("Subject").is_none() && body.get("Token").is_none());
        assert!(body["UnsubscribeURL"]
            .as_str()
            .unwrap()
            .starts_with(base.as_str()));
        verify_envelope(&base, &body).await.unwrap();
        let inner: IpnMessage = serde_json::from_str(body["Message"].as_str().unwrap()).unwrap();
        assert_eq!(inner, message(n));

        // Tampering with anything signed breaks the signature.
        let mut tampered = body.clone();
        tampered["Message"] = Value::String(
            body["Message"]
                .as_str()
                .unwrap()
                .replace("STATE_CHANGE", "ATTRIBUTE_CHANGE"),
        );
        assert!(verify_envelope(&base, &tampered).await.is_err());
        let mut other_version = body.clone();
        other_version["SignatureVersion"] = Value::String(
            if version == SignatureVersion::V1 {
                "2"
            } else {
                "1"
            }
            .into(),
        );
        assert!(verify_envelope(&base, &other_version).await.is_err());
    }

    ipn.idle().await;
    let records = ipn.deliveries();
    assert_eq!(records.len(), 4);
    assert_eq!(
        records[0].message_type,
        SnsMessageType::SubscriptionConfirmation
    );
    for (r, id) in records[1..].iter().zip(&ids) {
        assert_eq!(&r.message_id, id);
        assert_eq!(r.attempts, 1);
        assert_eq!(r.status, DeliveryStatus::Delivered { http_status: 200 });
        assert!(!r.duplicate);
        assert_eq!(r.endpoint, receiver);
    }
    assert_eq!(records[1].notification_id.as_deref(), Some("nid-1"));
}

#[tokio::test]
async fn signature_version_2_flow_verifies() {
    full_flow(SignatureVersion::V2).await;
}

#[tokio::test]
async fn signature_version_1_flow_verifies() {
    full_flow(SignatureVersion::V1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_with_the_same_message_id() {
    // The confirmation takes the first 200; then the notification gets 500, 500, 200.
    let (receiver, mut rx) = start_receiver(&[200, 500, 500]).await;
    let (ipn, base) = start_sandbox(|_| {}).await;
    ipn.register_endpoint(receiver).await.unwrap();
    next(&mut rx).await;
    let id = ipn.publish(message(1)).unwrap();
    let attempts: Vec<Received> = vec![
        next(&mut rx).await,
        next(&mut rx).await,
        next(&mut rx).await,
    ];
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
    assert!(rx.try_recv().is_err(), "no attempt after success");
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let (receiver, mut rx) = start_receiver(&[200, 400]).await;
    let (ipn, _) = start_sandbox(|_| {}).await;
    ipn.register_endpoint(receiver).await.unwrap();
    next(&mut rx).await;
    ipn.publish(message(1)).unwrap();
    next(&mut rx).await;
    ipn.idle().await;
    assert!(rx.try_recv().is_err(), "a 4xx must not be retried");
    let record = ipn.deliveries().pop().unwrap();
    assert_eq!(record.attempts, 1);
    assert_eq!(record.status, DeliveryStatus::Rejected { http_status: 400 });
}

#[tokio::test]
async fn delivery_gives_up_after_max_attempts() {
    let (receiver, mut rx) = start_receiver(&[200, 503, 503, 503, 503]).await;
    let (ipn, _) = start_sandbox(|c| c.retry.max_attempts = 3).await;
    ipn.register_endpoint(receiver).await.unwrap();
    next(&mut rx).await;
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
    let (receiver, mut rx) = start_receiver(&[]).await;
    let (ipn, _) = start_sandbox(config).await;
    ipn.register_endpoint(receiver).await.unwrap();
    next(&mut rx).await;
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
async fn unsubscribe_url_removes_the_endpoint() {
    let (receiver, mut rx) = start_receiver(&[]).await;
    let (ipn, base) = start_sandbox(|_| {}).await;
    ipn.register_endpoint(receiver).await.unwrap();
    next(&mut rx).await;
    ipn.publish(message(1)).unwrap();
    let body = next(&mut rx).await.json();
    let resp = http()
        .get(body["UnsubscribeURL"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let bye = next(&mut rx).await;
    assert_sns_headers(&bye, "UnsubscribeConfirmation");
    verify_envelope(&base, &bye.json()).await.unwrap();
    assert!(ipn.subscriptions().is_empty());
    ipn.publish(message(2)).unwrap();
    ipn.idle().await;
    assert!(rx.try_recv().is_err(), "no delivery after unsubscribing");
}

#[tokio::test]
async fn unknown_confirmation_token_is_404() {
    let (_, base) = start_sandbox(|_| {}).await;
    let url = base.join("/_sandbox/sns/confirm?Token=nope").unwrap();
    let resp = http().get(url).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let url = base.join("/_sandbox/sns/confirm").unwrap();
    assert_eq!(http().get(url).send().await.unwrap().status(), 400);
}

#[tokio::test]
async fn envelope_for_builds_a_verifiable_envelope() {
    let (ipn, base) = start_sandbox(|_| {}).await;
    let e = ipn.envelope_for(&message(9), "arn:sub").unwrap();
    assert_eq!(e.message_type, SnsMessageType::Notification);
    let v = serde_json::to_value(&e).unwrap();
    verify_envelope(&base, &v).await.unwrap();
    assert!(ipn.deliveries().is_empty(), "building does not send");
}

#[tokio::test]
async fn snapshot_and_restore_keep_the_certificate_and_subscriptions() {
    let (receiver, mut rx) = start_receiver(&[]).await;
    let (listener, base) = sandbox_listener().await;
    let first = IpnSender::new(test_config(base.clone())).unwrap();
    let sub = first.register_endpoint(receiver).await.unwrap();
    first.idle().await;
    next(&mut rx).await;
    let saved = serde_json::to_string(&first.snapshot()).unwrap();
    let first_url = first.signing_cert_url();
    let first_pem = first.certificate_pem().to_string();
    drop(first);

    let state: IpnState = serde_json::from_str(&saved).unwrap();
    assert!(
        !format!("{state:?}").contains("PRIVATE KEY"),
        "Debug must hide the key"
    );
    let restored = IpnSender::restore(test_config(base.clone()), state).unwrap();
    serve(listener, &restored);
    assert_eq!(restored.signing_cert_url(), first_url);
    assert_eq!(restored.certificate_pem(), first_pem);
    assert_eq!(restored.subscriptions(), vec![sub.clone()]);
    let served = http()
        .get(first_url.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(served, first_pem);

    // The restored sender still delivers to the restored subscription, verifiably.
    restored.publish(message(1)).unwrap();
    let body = next(&mut rx).await.json();
    assert_eq!(body["SigningCertURL"], first_url.as_str());
    verify_envelope(&base, &body).await.unwrap();

    // A fresh sender has a different certificate.
    let fresh = IpnSender::new(test_config(base)).unwrap();
    assert_ne!(fresh.certificate_pem(), first_pem);
    assert_ne!(fresh.signing_cert_url(), first_url);
}

#[tokio::test]
async fn invalid_inputs_are_rejected() {
    let (ipn, _) = start_sandbox(|_| {}).await;
    let err = ipn
        .register_endpoint(Url::parse("ftp://127.0.0.1/x").unwrap())
        .await;
    assert!(err.is_err());
    let bad = IpnState {
        certificate_pem: "x".into(),
        private_key_pem: "y".into(),
        subscriptions: vec![],
    };
    assert!(IpnSender::restore(ipn.config().clone(), bad).is_err());
}

#[tokio::test]
async fn every_endpoint_gets_its_own_signed_copy_confirmed_or_not() {
    let (a, mut rx_a) = start_receiver(&[]).await;
    let (b, mut rx_b) = start_receiver(&[]).await;
    let (ipn, base) = start_sandbox(|_| {}).await;
    let sub_a = ipn.register_endpoint(a.clone()).await.unwrap();
    let sub_b = ipn.register_endpoint(b).await.unwrap();
    // Re-registering returns the same subscription and re-sends the pending confirmation.
    assert_eq!(ipn.register_endpoint(a).await.unwrap(), sub_a);
    let confirm_a = next(&mut rx_a).await.json();
    assert_eq!(next(&mut rx_a).await.json()["Token"], confirm_a["Token"]);
    next(&mut rx_b).await;
    // Only A confirms; Amazon manages subscriptions, so B still receives notifications.
    let resp = http()
        .get(confirm_a["SubscribeURL"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let id = ipn.publish(message(1)).unwrap();
    let (ra, rb) = (next(&mut rx_a).await, next(&mut rx_b).await);
    for (r, sub) in [(&ra, &sub_a), (&rb, &sub_b)] {
        let body = r.json();
        assert_eq!(body["MessageId"], id.as_str(), "one publish, one MessageId");
        assert_eq!(
            r.header("x-amz-sns-subscription-arn"),
            Some(sub.subscription_arn.as_str())
        );
        assert!(body["UnsubscribeURL"]
            .as_str()
            .unwrap()
            .contains(&sub.subscription_arn.replace(':', "%3A")));
        verify_envelope(&base, &body).await.unwrap();
    }
    ipn.idle().await;
    let subs = ipn.subscriptions();
    assert!(subs[0].confirmed && !subs[1].confirmed);
}
