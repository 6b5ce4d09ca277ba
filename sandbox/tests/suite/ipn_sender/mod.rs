//! The sandbox's IPN sender over real loopback HTTP, checked by the independent SNS
//! verifier of `helpers::sns` (x509-parser + rsa, written from SPEC §12.3): signing and
//! subscriptions here, delivery behaviour in `delivery`.

mod delivery;

use crate::helpers::verify_envelope;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use savedwallet_sandbox::ipn::{
    DeliveryStatus, IpnConfig, IpnError, IpnSender, IpnState, SignatureVersion, SnsMessageType,
};
use savedwallet_shared::api::{IpnMessage, IpnNotificationType, IpnObjectType};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;
use url::Url;

pub(super) const WAIT: Duration = Duration::from_secs(20);

/// One request the fake merchant endpoint received.
#[derive(Debug, Clone)]
pub(super) struct Received {
    pub(super) headers: HeaderMap,
    pub(super) body: String,
}

impl Received {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub(super) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

#[derive(Clone)]
struct Receiver {
    tx: mpsc::UnboundedSender<Received>,
    /// Statuses to answer, in order; 200 once empty.
    script: Arc<Mutex<VecDeque<u16>>>,
}

/// In a script: never answer (the sender's request timeout decides).
pub(super) const HANG: u16 = 0;

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: String) -> StatusCode {
    r.tx.send(Received { headers, body }).unwrap();
    let code = r.script.lock().unwrap().pop_front().unwrap_or(200);
    if code == HANG {
        std::future::pending::<()>().await;
    }
    StatusCode::from_u16(code).unwrap()
}

/// Starts a merchant IPN endpoint that records requests and answers `script` (statuses,
/// or [`HANG`]) then 200s.
pub(super) async fn start_receiver(script: &[u16]) -> (Url, mpsc::UnboundedReceiver<Received>) {
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
pub(super) async fn sandbox_listener() -> (TcpListener, Url) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, Url::parse(&format!("http://{addr}")).unwrap())
}

pub(super) fn serve(listener: TcpListener, ipn: &IpnSender) {
    let app = ipn.router();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
}

pub(super) fn test_config(base: Url) -> IpnConfig {
    let mut c = IpnConfig::new(base);
    c.retry.min_delay = Duration::from_millis(5);
    c.retry.max_delay = Duration::from_millis(20);
    c.retry.request_timeout = Duration::from_secs(10);
    c.reorder_max_hold = Duration::from_secs(60);
    c.seed = Some(42);
    c
}

pub(super) async fn start_sandbox(config: impl FnOnce(&mut IpnConfig)) -> (IpnSender, Url) {
    let (listener, base) = sandbox_listener().await;
    let mut c = test_config(base.clone());
    config(&mut c);
    let ipn = IpnSender::new(c).unwrap();
    serve(listener, &ipn);
    (ipn, base)
}

pub(super) async fn next(rx: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("no delivery within the timeout")
        .expect("receiver closed")
}

/// A sender (configured by `config`) with one endpoint answering `script` after its
/// confirmation, which has been received → (sender, sandbox base URL, endpoint requests).
pub(super) async fn subscribed(
    script: &[u16],
    config: impl FnOnce(&mut IpnConfig),
) -> (IpnSender, Url, mpsc::UnboundedReceiver<Received>) {
    let mut full = vec![200];
    full.extend_from_slice(script);
    let (receiver, mut rx) = start_receiver(&full).await;
    let (ipn, base) = start_sandbox(config).await;
    ipn.register_endpoint(receiver).await.unwrap();
    next(&mut rx).await;
    (ipn, base, rx)
}

/// The next `n` requests the endpoint receives.
pub(super) async fn next_n(rx: &mut mpsc::UnboundedReceiver<Received>, n: usize) -> Vec<Received> {
    let mut got = Vec::with_capacity(n);
    for _ in 0..n {
        got.push(next(rx).await);
    }
    got
}

pub(super) fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

pub(super) fn message(n: u32) -> IpnMessage {
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

pub(super) fn assert_sns_headers(r: &Received, kind: &str) {
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
        assert!(verify_envelope(&base, &tampered)
            .await
            .is_err_and(|e| e.starts_with("bad signature")));
        let mut other_version = body.clone();
        other_version["SignatureVersion"] = Value::String(
            if version == SignatureVersion::V1 {
                "2"
            } else {
                "1"
            }
            .into(),
        );
        assert!(verify_envelope(&base, &other_version)
            .await
            .is_err_and(|e| e.starts_with("bad signature")));
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

#[tokio::test]
async fn unsubscribe_url_removes_the_endpoint() {
    let (ipn, base, mut rx) = subscribed(&[], |_| {}).await;
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
    assert!(
        matches!(rx.try_recv(), Err(TryRecvError::Empty)),
        "no delivery after unsubscribing"
    );
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
    assert!(matches!(err, Err(IpnError::InvalidEndpoint(_))), "{err:?}");
    let bad = IpnState {
        certificate_pem: "x".into(),
        private_key_pem: "y".into(),
        subscriptions: vec![],
    };
    assert!(matches!(
        IpnSender::restore(ipn.config().clone(), bad),
        Err(IpnError::InvalidState(_))
    ));
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

#[tokio::test]
async fn each_subscription_signs_with_its_own_version() {
    let (a, mut rx_a) = start_receiver(&[]).await;
    let (b, mut rx_b) = start_receiver(&[]).await;
    let (ipn, base) = start_sandbox(|_| {}).await;
    assert_eq!(ipn.config().signature_version, SignatureVersion::V1);
    let sub_a = ipn.register_endpoint(a.clone()).await.unwrap();
    let sub_b = ipn
        .register_endpoint_with(b, SignatureVersion::V2)
        .await
        .unwrap();
    assert_eq!(
        (sub_a.signature_version, sub_b.signature_version),
        (SignatureVersion::V1, SignatureVersion::V2)
    );
    for (rx, want) in [(&mut rx_a, "1"), (&mut rx_b, "2")] {
        let confirmation = next(rx).await.json();
        assert_eq!(confirmation["SignatureVersion"], want);
        verify_envelope(&base, &confirmation).await.unwrap();
    }
    ipn.publish(message(1)).unwrap();
    for (rx, want) in [(&mut rx_a, "1"), (&mut rx_b, "2")] {
        let body = next(rx).await.json();
        assert_eq!(body["SignatureVersion"], want);
        verify_envelope(&base, &body).await.unwrap();
    }
    // Registering again with the other version switches the subscription.
    let again = ipn
        .register_endpoint_with(a, SignatureVersion::V2)
        .await
        .unwrap();
    assert_eq!(again.subscription_arn, sub_a.subscription_arn);
    next(&mut rx_a).await; // the still-unconfirmed subscription's confirmation again
    ipn.publish(message(2)).unwrap();
    let body = next(&mut rx_a).await.json();
    assert_eq!(body["SignatureVersion"], "2");
    verify_envelope(&base, &body).await.unwrap();
    ipn.idle().await;
    let versions: Vec<SignatureVersion> = ipn
        .deliveries()
        .iter()
        .map(|d| d.signature_version)
        .collect();
    assert_eq!(versions.last(), Some(&SignatureVersion::V2));
}
