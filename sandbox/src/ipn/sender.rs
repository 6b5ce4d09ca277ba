//! `IpnSender`: subscriptions, envelope building, and the background delivery task.

use super::cert::SigningCertificate;
use super::envelope::{SnsEnvelope, SnsMessageType};
use super::{IpnConfig, IpnError, SNS_ROUTE_PREFIX, SNS_USER_AGENT};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use savedwallet_shared::api::IpnMessage;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use url::Url;

/// One HTTP/S subscription of the simulated topic (a merchant's IPN endpoint).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// `<topic arn>:<uuid>`.
    pub subscription_arn: String,
    /// Where envelopes are POSTed.
    pub endpoint: Url,
    /// Confirmation token carried by the SubscriptionConfirmation.
    pub token: String,
    /// Whether `SubscribeURL` has been visited.
    pub confirmed: bool,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token confirms the subscription: keep it out of logs.
        f.debug_struct("Subscription")
            .field("subscription_arn", &self.subscription_arn)
            .field("endpoint", &self.endpoint.as_str())
            .field("confirmed", &self.confirmed)
            .finish_non_exhaustive()
    }
}

/// Final (or current) outcome of one delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "status",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum DeliveryStatus {
    /// Attempts are still going on.
    InFlight,
    /// The endpoint answered 2xx.
    Delivered {
        /// The HTTP status received.
        http_status: u16,
    },
    /// The endpoint answered 4xx; SNS does not retry those.
    Rejected {
        /// The HTTP status received.
        http_status: u16,
    },
    /// Every attempt failed (5xx, 3xx, timeout or connection error).
    Failed {
        /// What the last attempt saw.
        last_error: String,
    },
}

/// One delivery of one envelope to one endpoint (a duplicate gets its own record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryRecord {
    /// Order in which first attempts were made (0-based, across all endpoints).
    pub sequence: u64,
    /// Endpoint POSTed to.
    pub endpoint: Url,
    /// Subscription ARN.
    pub subscription_arn: String,
    /// Envelope type.
    pub message_type: SnsMessageType,
    /// SNS `MessageId` (the same on retries and duplicates).
    pub message_id: String,
    /// Amazon Pay `NotificationId` (notifications only).
    pub notification_id: Option<String>,
    /// HTTP attempts made so far.
    pub attempts: u32,
    /// Outcome.
    pub status: DeliveryStatus,
    /// True for the extra copy sent by the duplicate option.
    pub duplicate: bool,
}

/// What must survive a sandbox restart: the signing certificate and the subscriptions.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpnState {
    /// PEM of the self-signed signing certificate.
    pub certificate_pem: String,
    /// PKCS#8 PEM of its RSA private key.
    pub private_key_pem: String,
    /// Registered endpoints.
    pub subscriptions: Vec<Subscription>,
}

impl fmt::Debug for IpnState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IpnState")
            .field("subscriptions", &self.subscriptions)
            .finish_non_exhaustive()
    }
}

/// A published notification, fixed at publish time so every subscriber, retry and
/// duplicate carries the same MessageId and Timestamp.
#[derive(Debug, Clone)]
struct Publication {
    message_id: String,
    timestamp: String,
    message_json: String,
    notification_id: String,
}

#[derive(Debug)]
enum Job {
    Notify(Publication),
    Confirm {
        kind: SnsMessageType,
        subscription: Subscription,
    },
}

/// State shared by the handle, the router and the delivery tasks.
pub(super) struct Shared {
    pub(super) config: IpnConfig,
    pub(super) cert: SigningCertificate,
    pub(super) subscriptions: Mutex<Vec<Subscription>>,
    deliveries: Mutex<Vec<DeliveryRecord>>,
    /// Jobs queued or in progress (including retry tasks); `idle()` waits for 0.
    pending: watch::Sender<usize>,
    /// Callers currently inside `idle()`; a held-back message is released when > 0.
    idle_waiters: watch::Sender<usize>,
    http: reqwest::Client,
}

/// Decrements a watch counter on drop, so a panicking task cannot leave `idle()` hanging.
struct CountGuard(watch::Sender<usize>);

impl CountGuard {
    fn new(counter: &watch::Sender<usize>) -> Self {
        counter.send_modify(|n| *n += 1);
        CountGuard(counter.clone())
    }
}

impl Drop for CountGuard {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// The IPN sender. Cheap to clone; all clones share one topic and one delivery task.
#[derive(Clone)]
pub struct IpnSender {
    pub(super) shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<(Job, CountGuard)>,
}

impl fmt::Debug for IpnSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IpnSender")
            .field("topic_arn", &self.shared.config.topic_arn)
            .field("signing_cert_url", &self.signing_cert_url().as_str())
            .finish_non_exhaustive()
    }
}

impl IpnSender {
    /// Generates a new signing certificate and starts the delivery task (needs a tokio runtime).
    pub fn new(config: IpnConfig) -> Result<Self, IpnError> {
        config.validate()?;
        let runtime = current_runtime()?;
        let cert = SigningCertificate::generate()?;
        Self::start(runtime, config, cert, Vec::new())
    }

    /// Restarts from a [`IpnSender::snapshot`]: same certificate (so the same
    /// `SigningCertURL`) and the same subscriptions.
    pub fn restore(config: IpnConfig, state: IpnState) -> Result<Self, IpnError> {
        config.validate()?;
        let runtime = current_runtime()?;
        let cert = SigningCertificate::from_pem(state.certificate_pem, state.private_key_pem)?;
        Self::start(runtime, config, cert, state.subscriptions)
    }

    fn start(
        runtime: tokio::runtime::Handle,
        config: IpnConfig,
        cert: SigningCertificate,
        subscriptions: Vec<Subscription>,
    ) -> Result<Self, IpnError> {
        // SNS does not follow redirects; proxies from the environment must not intercept
        // deliveries to local endpoints.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.retry.request_timeout)
            .no_proxy()
            .build()
            .map_err(|e| IpnError::HttpClient(e.to_string()))?;
        let rng = match config.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        let shared = Arc::new(Shared {
            config,
            cert,
            subscriptions: Mutex::new(subscriptions),
            deliveries: Mutex::new(Vec::new()),
            pending: watch::Sender::new(0),
            idle_waiters: watch::Sender::new(0),
            http,
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let dispatcher = Dispatcher {
            shared: shared.clone(),
            rx,
            rng,
            held: None,
        };
        runtime.spawn(dispatcher.run());
        Ok(IpnSender { shared, tx })
    }

    /// The cert, key and subscriptions, for the sandbox's `--state FILE`.
    pub fn snapshot(&self) -> IpnState {
        IpnState {
            certificate_pem: self.shared.cert.cert_pem().to_string(),
            private_key_pem: self.shared.cert.key_pem().to_string(),
            subscriptions: self.shared.subscriptions.lock().clone(),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &IpnConfig {
        &self.shared.config
    }

    /// `SigningCertURL` of every envelope.
    pub fn signing_cert_url(&self) -> Url {
        self.shared.sns_url(self.shared.cert.file_name())
    }

    /// The signing certificate (PEM), as served at [`IpnSender::signing_cert_url`].
    pub fn certificate_pem(&self) -> &str {
        self.shared.cert.cert_pem()
    }

    /// Registered subscriptions, in registration order.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        self.shared.subscriptions.lock().clone()
    }

    /// Every delivery so far (for the sandbox's ledger and for tests).
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.shared.deliveries.lock().clone()
    }

    /// Subscribes `endpoint` (if not already) and sends it a SubscriptionConfirmation.
    /// Re-registering an unconfirmed endpoint re-sends the confirmation.
    pub async fn register_endpoint(&self, endpoint: Url) -> Result<Subscription, IpnError> {
        if !matches!(endpoint.scheme(), "http" | "https") || endpoint.host_str().is_none() {
            return Err(IpnError::InvalidEndpoint(
                "an IPN endpoint must be an http(s) URL with a host".into(),
            ));
        }
        let (subscription, send_confirmation) = {
            let mut subs = self.shared.subscriptions.lock();
            match subs.iter().find(|s| s.endpoint == endpoint) {
                Some(existing) => (existing.clone(), !existing.confirmed),
                None => {
                    let sub = Subscription {
                        subscription_arn: format!(
                            "{}:{}",
                            self.shared.config.topic_arn,
                            uuid::Uuid::new_v4()
                        ),
                        endpoint,
                        token: random_token(),
                        confirmed: false,
                    };
                    subs.push(sub.clone());
                    (sub, true)
                }
            }
        };
        if send_confirmation {
            self.enqueue(Job::Confirm {
                kind: SnsMessageType::SubscriptionConfirmation,
                subscription: subscription.clone(),
            })?;
        }
        Ok(subscription)
    }

    /// Removes a subscription and sends it an UnsubscribeConfirmation; false if unknown.
    pub fn unsubscribe(&self, subscription_arn: &str) -> Result<bool, IpnError> {
        let removed = {
            let mut subs = self.shared.subscriptions.lock();
            subs.iter()
                .position(|s| s.subscription_arn == subscription_arn)
                .map(|i| subs.remove(i))
        };
        match removed {
            Some(subscription) => {
                self.enqueue(Job::Confirm {
                    kind: SnsMessageType::UnsubscribeConfirmation,
                    subscription,
                })?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Marks the subscription holding `token` confirmed; returns its ARN.
    pub fn confirm_subscription(&self, token: &str) -> Option<String> {
        let mut subs = self.shared.subscriptions.lock();
        let sub = subs.iter_mut().find(|s| s.token == token)?;
        sub.confirmed = true;
        Some(sub.subscription_arn.clone())
    }

    /// Queues `msg` for delivery to every registered endpoint and returns its SNS
    /// MessageId. An empty `NotificationId` is filled with a random one.
    pub fn publish(&self, mut msg: IpnMessage) -> Result<String, IpnError> {
        if msg.notification_id.is_empty() {
            msg.notification_id = super::new_notification_id();
        }
        let publication = Publication {
            message_id: uuid::Uuid::new_v4().to_string(),
            timestamp: sns_timestamp(),
            message_json: serde_json::to_string(&msg)?,
            notification_id: msg.notification_id,
        };
        let id = publication.message_id.clone();
        self.enqueue(Job::Notify(publication))?;
        Ok(id)
    }

    /// Builds and signs the Notification envelope for `msg` and one subscription, without
    /// sending it (fresh MessageId, current Timestamp).
    pub fn envelope_for(
        &self,
        msg: &IpnMessage,
        subscription_arn: &str,
    ) -> Result<SnsEnvelope, IpnError> {
        let publication = Publication {
            message_id: uuid::Uuid::new_v4().to_string(),
            timestamp: sns_timestamp(),
            message_json: serde_json::to_string(msg)?,
            notification_id: msg.notification_id.clone(),
        };
        self.shared
            .notification_envelope(&publication, subscription_arn)
    }

    /// Resolves once every queued delivery (retries and duplicates included) has finished.
    /// A notification held back by the reorder option is released while someone waits here.
    pub async fn idle(&self) {
        let _waiting = CountGuard::new(&self.shared.idle_waiters);
        let mut pending = self.shared.pending.subscribe();
        // Cannot fail: `self.shared` keeps the sender alive.
        let _ = pending.wait_for(|n| *n == 0).await;
    }

    fn enqueue(&self, job: Job) -> Result<(), IpnError> {
        let guard = CountGuard::new(&self.shared.pending);
        self.tx.send((job, guard)).map_err(|_| IpnError::Stopped)
    }
}

impl Shared {
    /// `public_base_url` + `/_sandbox/sns/<tail>` (keeps any path prefix of the base).
    pub(super) fn sns_url(&self, tail: &str) -> Url {
        let mut url = self.config.public_base_url.clone();
        let path = format!(
            "{}{}/{}",
            url.path().trim_end_matches('/'),
            SNS_ROUTE_PREFIX,
            tail
        );
        url.set_path(&path);
        url.set_query(None);
        url.set_fragment(None);
        url
    }

    fn sign(&self, mut envelope: SnsEnvelope) -> Result<SnsEnvelope, IpnError> {
        envelope.signature = self.cert.sign(
            envelope.signature_version,
            envelope.string_to_sign().as_bytes(),
        )?;
        Ok(envelope)
    }

    fn notification_envelope(
        &self,
        p: &Publication,
        subscription_arn: &str,
    ) -> Result<SnsEnvelope, IpnError> {
        let mut unsubscribe = self.sns_url("unsubscribe");
        unsubscribe
            .query_pairs_mut()
            .append_pair("Action", "Unsubscribe")
            .append_pair("SubscriptionArn", subscription_arn);
        self.sign(SnsEnvelope {
            message_type: SnsMessageType::Notification,
            message_id: p.message_id.clone(),
            token: None,
            topic_arn: self.config.topic_arn.clone(),
            subject: None,
            message: p.message_json.clone(),
            subscribe_url: None,
            timestamp: p.timestamp.clone(),
            signature_version: self.config.signature_version,
            signature: String::new(),
            signing_cert_url: self.sns_url(self.cert.file_name()).into(),
            unsubscribe_url: Some(unsubscribe.into()),
        })
    }

    fn confirmation_envelope(
        &self,
        kind: SnsMessageType,
        sub: &Subscription,
    ) -> Result<SnsEnvelope, IpnError> {
        let topic = &self.config.topic_arn;
        let mut subscribe = self.sns_url("confirm");
        subscribe
            .query_pairs_mut()
            .append_pair("Action", "ConfirmSubscription")
            .append_pair("TopicArn", topic)
            .append_pair("Token", &sub.token);
        let message = match kind {
            SnsMessageType::UnsubscribeConfirmation => format!(
                "You have chosen to deactivate subscription {}.\nTo cancel this operation and \
                 restore the subscription, visit the SubscribeURL included in this message.",
                sub.subscription_arn
            ),
            _ => format!(
                "You have chosen to subscribe to the topic {topic}.\nTo confirm the \
                 subscription, visit the SubscribeURL included in this message."
            ),
        };
        self.sign(SnsEnvelope {
            message_type: kind,
            message_id: uuid::Uuid::new_v4().to_string(),
            token: Some(sub.token.clone()),
            topic_arn: topic.clone(),
            subject: None,
            message,
            subscribe_url: Some(subscribe.into()),
            timestamp: sns_timestamp(),
            signature_version: self.config.signature_version,
            signature: String::new(),
            signing_cert_url: self.sns_url(self.cert.file_name()).into(),
            unsubscribe_url: None,
        })
    }

    fn record(&self, mut record: DeliveryRecord) -> usize {
        let mut all = self.deliveries.lock();
        record.sequence = all.len() as u64;
        all.push(record);
        all.len() - 1
    }

    fn update(&self, index: usize, attempts: u32, status: DeliveryStatus) {
        if let Some(r) = self.deliveries.lock().get_mut(index) {
            r.attempts = attempts;
            r.status = status;
        }
    }
}

/// One envelope on its way to one endpoint.
struct Delivery {
    endpoint: Url,
    subscription_arn: String,
    message_type: SnsMessageType,
    message_id: String,
    topic_arn: String,
    body: String,
    record: usize,
}

enum Attempt {
    Done(DeliveryStatus),
    Retry(String),
}

/// The single background task: takes jobs in publish order and makes first attempts in
/// order; retries run in their own tasks so one failing endpoint does not stall the rest.
struct Dispatcher {
    shared: Arc<Shared>,
    rx: mpsc::UnboundedReceiver<(Job, CountGuard)>,
    rng: StdRng,
    held: Option<(Publication, CountGuard)>,
}

impl Dispatcher {
    async fn run(mut self) {
        loop {
            let next = if self.held.is_some() {
                let mut waiters = self.shared.idle_waiters.subscribe();
                let max_hold = self.shared.config.reorder_max_hold;
                tokio::select! {
                    // A successor that is already queued always wins, so runs are deterministic.
                    biased;
                    job = self.rx.recv() => job,
                    _ = async { drop(waiters.wait_for(|n| *n > 0).await) } => {
                        self.release_held().await;
                        continue;
                    }
                    _ = tokio::time::sleep(max_hold) => {
                        self.release_held().await;
                        continue;
                    }
                }
            } else {
                self.rx.recv().await
            };
            let Some((job, guard)) = next else {
                self.release_held().await;
                return;
            };
            match job {
                Job::Notify(publication) => {
                    let hold = self.rng.random::<f64>() < self.shared.config.reorder_rate;
                    if hold && self.held.is_none() {
                        self.held = Some((publication, guard));
                        continue;
                    }
                    self.notify(&publication).await;
                }
                Job::Confirm { kind, subscription } => {
                    match self.shared.confirmation_envelope(kind, &subscription) {
                        Ok(envelope) => self.send(envelope, &subscription, None, false).await,
                        Err(e) => tracing::error!(error = %e, "cannot build SNS confirmation"),
                    }
                }
            }
            drop(guard);
            self.release_held().await;
        }
    }

    async fn release_held(&mut self) {
        if let Some((publication, _guard)) = self.held.take() {
            self.notify(&publication).await;
        }
    }

    /// Delivers one publication to every current subscriber (confirmed or not: Amazon
    /// manages the subscription, so the sandbox does not gate on confirmation).
    async fn notify(&mut self, p: &Publication) {
        let subscriptions = self.shared.subscriptions.lock().clone();
        for sub in &subscriptions {
            let envelope = match self.shared.notification_envelope(p, &sub.subscription_arn) {
                Ok(e) => e,
                Err(e) => {
                    tracing::error!(error = %e, "cannot build SNS notification");
                    continue;
                }
            };
            let duplicate = self.rng.random::<f64>() < self.shared.config.duplicate_rate;
            let nid = Some(p.notification_id.clone());
            if duplicate {
                self.send(envelope.clone(), sub, nid.clone(), false).await;
                self.send(envelope, sub, nid, true).await;
            } else {
                self.send(envelope, sub, nid, false).await;
            }
        }
    }

    /// Makes the first attempt now; hands retries to a separate task.
    async fn send(
        &self,
        envelope: SnsEnvelope,
        sub: &Subscription,
        notification_id: Option<String>,
        duplicate: bool,
    ) {
        let body = match serde_json::to_string(&envelope) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "cannot serialise SNS envelope");
                return;
            }
        };
        let record = self.shared.record(DeliveryRecord {
            sequence: 0,
            endpoint: sub.endpoint.clone(),
            subscription_arn: sub.subscription_arn.clone(),
            message_type: envelope.message_type,
            message_id: envelope.message_id.clone(),
            notification_id,
            attempts: 0,
            status: DeliveryStatus::InFlight,
            duplicate,
        });
        let delivery = Delivery {
            endpoint: sub.endpoint.clone(),
            subscription_arn: sub.subscription_arn.clone(),
            message_type: envelope.message_type,
            message_id: envelope.message_id,
            topic_arn: envelope.topic_arn,
            body,
            record,
        };
        match attempt(&self.shared, &delivery, 1).await {
            Attempt::Done(status) => self.shared.update(record, 1, status),
            Attempt::Retry(last_error) => {
                if self.shared.config.retry.max_attempts <= 1 {
                    self.shared
                        .update(record, 1, DeliveryStatus::Failed { last_error });
                    return;
                }
                self.shared.update(record, 1, DeliveryStatus::InFlight);
                let guard = CountGuard::new(&self.shared.pending);
                tokio::spawn(retry(self.shared.clone(), delivery, guard));
            }
        }
    }
}

async fn retry(shared: Arc<Shared>, delivery: Delivery, _guard: CountGuard) {
    let policy = shared.config.retry.clone();
    let mut last_error = String::new();
    for n in 2..=policy.max_attempts {
        tokio::time::sleep(policy.delay_before(n)).await;
        match attempt(&shared, &delivery, n).await {
            Attempt::Done(status) => {
                shared.update(delivery.record, n, status);
                return;
            }
            Attempt::Retry(e) => {
                shared.update(delivery.record, n, DeliveryStatus::InFlight);
                last_error = e;
            }
        }
    }
    shared.update(
        delivery.record,
        policy.max_attempts,
        DeliveryStatus::Failed { last_error },
    );
}

/// One HTTP POST, classified the way SNS does (2xx ok, 4xx final, the rest retried).
async fn attempt(shared: &Shared, d: &Delivery, n: u32) -> Attempt {
    let mut request = shared
        .http
        .post(d.endpoint.clone())
        .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=UTF-8")
        .header(reqwest::header::USER_AGENT, SNS_USER_AGENT)
        .header("x-amz-sns-message-type", d.message_type.as_str())
        .header("x-amz-sns-message-id", &d.message_id)
        .header("x-amz-sns-topic-arn", &d.topic_arn);
    // SNS sends no subscription ARN with a SubscriptionConfirmation (it is still pending).
    if d.message_type != SnsMessageType::SubscriptionConfirmation {
        request = request.header("x-amz-sns-subscription-arn", &d.subscription_arn);
    }
    let outcome = match request.body(d.body.clone()).send().await {
        Ok(response) => {
            let status = response.status();
            if status.is_success() {
                Attempt::Done(DeliveryStatus::Delivered {
                    http_status: status.as_u16(),
                })
            } else if status.is_client_error() {
                Attempt::Done(DeliveryStatus::Rejected {
                    http_status: status.as_u16(),
                })
            } else {
                Attempt::Retry(format!("HTTP {}", status.as_u16()))
            }
        }
        Err(e) if e.is_timeout() => Attempt::Retry("timeout".into()),
        Err(e) if e.is_connect() => Attempt::Retry("connection failed".into()),
        Err(e) => Attempt::Retry(e.without_url().to_string()),
    };
    let result = match &outcome {
        Attempt::Done(s) => format!("{s:?}"),
        Attempt::Retry(e) => format!("retry: {e}"),
    };
    // The endpoint's query string may carry a merchant secret: log origin and path only.
    tracing::debug!(
        endpoint = %format_args!("{}{}", d.endpoint.origin().ascii_serialization(), d.endpoint.path()),
        message_type = %d.message_type,
        message_id = %d.message_id,
        attempt = n,
        result = %result,
        "SNS delivery attempt"
    );
    outcome
}

/// The delivery task needs a tokio runtime; fail early (before key generation) without one.
fn current_runtime() -> Result<tokio::runtime::Handle, IpnError> {
    tokio::runtime::Handle::try_current().map_err(|_| IpnError::NoRuntime)
}

/// `2024-06-01T12:34:56.789Z`.
fn sns_timestamp() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// 128 hex digits, like SNS confirmation tokens.
fn random_token() -> String {
    let mut bytes = [0u8; 64];
    rand::rng().fill(&mut bytes[..]);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender(base: &str) -> IpnSender {
        IpnSender::new(IpnConfig::new(Url::parse(base).unwrap())).unwrap()
    }

    #[tokio::test]
    async fn urls_keep_the_base_path_and_drop_its_query() {
        let ipn = sender("http://127.0.0.1:9/prefix/?x=1");
        assert_eq!(
            ipn.shared.sns_url("confirm").as_str(),
            "http://127.0.0.1:9/prefix/_sandbox/sns/confirm"
        );
        let ipn = sender("https://sandbox.example");
        let cert = ipn.signing_cert_url();
        assert_eq!(cert.scheme(), "https");
        assert!(cert
            .path()
            .starts_with("/_sandbox/sns/SimpleNotificationService-"));
    }

    #[test]
    fn delivery_status_serialises_camel_case() {
        let v = serde_json::to_value(DeliveryStatus::Delivered { http_status: 200 }).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"status": "delivered", "httpStatus": 200})
        );
    }

    #[test]
    fn creating_outside_a_runtime_is_an_error() {
        let cfg = IpnConfig::new(Url::parse("http://127.0.0.1:9").unwrap());
        assert!(matches!(IpnSender::new(cfg), Err(IpnError::NoRuntime)));
    }

    #[test]
    fn timestamps_have_milliseconds() {
        let ts = sns_timestamp();
        assert_eq!(ts.len(), 24);
        assert_eq!(&ts[19..20], ".");
        assert!(ts.ends_with('Z'));
        assert_eq!(random_token().len(), 128);
    }
}
