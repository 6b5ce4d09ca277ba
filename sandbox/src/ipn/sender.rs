//! `IpnSender`: subscriptions, envelope building and the handle to the delivery task.

use super::cert::SigningCertificate;
use super::dispatch::{CountGuard, DeliveryRecord, Dispatcher, Job, Publication};
use super::{DeliveryFaults, IpnConfig, IpnError, SNS_ROUTE_PREFIX};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use savedwallet_shared::api::IpnMessage;
use savedwallet_shared::sns::{SignatureVersion, SnsEnvelope, SnsMessageType};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use url::Url;

/// One HTTP/S subscription of the simulated topic (a merchant's IPN endpoint).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnsSubscription {
    /// `<topic arn>:<uuid>`.
    pub subscription_arn: String,
    /// Where envelopes are POSTed.
    pub endpoint: Url,
    /// Confirmation token carried by the SubscriptionConfirmation.
    pub token: String,
    /// Whether `SubscribeURL` has been visited.
    pub confirmed: bool,
    /// How this subscription's envelopes are signed (SNS sets it per topic; the sandbox
    /// lets each endpoint choose so one service can test both).
    #[serde(default)]
    pub signature_version: SignatureVersion,
}

impl fmt::Debug for SnsSubscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token confirms the subscription: keep it out of logs.
        f.debug_struct("SnsSubscription")
            .field("subscription_arn", &self.subscription_arn)
            .field("endpoint", &self.endpoint.as_str())
            .field("confirmed", &self.confirmed)
            .field("signature_version", &self.signature_version)
            .finish_non_exhaustive()
    }
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
    pub subscriptions: Vec<SnsSubscription>,
}

impl fmt::Debug for IpnState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IpnState")
            .field("subscriptions", &self.subscriptions)
            .finish_non_exhaustive()
    }
}

/// State shared by the handle, the router and the delivery tasks.
pub(super) struct Shared {
    pub(super) config: IpnConfig,
    pub(super) cert: SigningCertificate,
    pub(super) subscriptions: Mutex<Vec<SnsSubscription>>,
    pub(super) deliveries: Mutex<Vec<DeliveryRecord>>,
    /// Duplicate / reorder settings in force.
    pub(super) faults: Mutex<DeliveryFaults>,
    /// Jobs queued or in progress (including retry tasks); `idle()` waits for 0.
    pub(super) pending: watch::Sender<usize>,
    /// Callers currently inside `idle()`; a held-back message is released when > 0.
    pub(super) idle_waiters: watch::Sender<usize>,
    pub(super) http: reqwest::Client,
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
        subscriptions: Vec<SnsSubscription>,
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
            faults: Mutex::new(config.delivery_faults()),
            config,
            cert,
            subscriptions: Mutex::new(subscriptions),
            deliveries: Mutex::new(Vec::new()),
            pending: watch::Sender::new(0),
            idle_waiters: watch::Sender::new(0),
            http,
        });
        let (tx, rx) = mpsc::unbounded_channel();
        runtime.spawn(Dispatcher::new(shared.clone(), rx, rng).run());
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

    /// The duplicate / reorder settings in force.
    pub fn delivery_faults(&self) -> DeliveryFaults {
        *self.shared.faults.lock()
    }

    /// Switches duplicate / out-of-order delivery for the notifications published next.
    pub fn set_delivery_faults(&self, faults: DeliveryFaults) -> Result<(), IpnError> {
        faults.validate()?;
        *self.shared.faults.lock() = faults;
        Ok(())
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
    pub fn subscriptions(&self) -> Vec<SnsSubscription> {
        self.shared.subscriptions.lock().clone()
    }

    /// Every delivery so far (for the sandbox's ledger and for tests).
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.shared.deliveries.lock().clone()
    }

    /// [`IpnSender::register_endpoint_with`] the configured default signature version.
    pub async fn register_endpoint(&self, endpoint: Url) -> Result<SnsSubscription, IpnError> {
        self.register_endpoint_with(endpoint, self.shared.config.signature_version)
            .await
    }

    /// Subscribes `endpoint` (if not already) and sends it a SubscriptionConfirmation.
    /// Re-registering an unconfirmed endpoint re-sends the confirmation; re-registering
    /// with another signature version switches the subscription to it.
    pub async fn register_endpoint_with(
        &self,
        endpoint: Url,
        version: SignatureVersion,
    ) -> Result<SnsSubscription, IpnError> {
        if !matches!(endpoint.scheme(), "http" | "https") || endpoint.host_str().is_none() {
            return Err(IpnError::InvalidEndpoint(
                "an IPN endpoint must be an http(s) URL with a host".into(),
            ));
        }
        let (subscription, send_confirmation) = {
            let mut subs = self.shared.subscriptions.lock();
            match subs.iter_mut().find(|s| s.endpoint == endpoint) {
                Some(existing) => {
                    existing.signature_version = version;
                    (existing.clone(), !existing.confirmed)
                }
                None => {
                    let sub = SnsSubscription {
                        subscription_arn: format!(
                            "{}:{}",
                            self.shared.config.topic_arn,
                            uuid::Uuid::new_v4()
                        ),
                        endpoint,
                        token: random_token(),
                        confirmed: false,
                        signature_version: version,
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
    pub fn publish(&self, msg: IpnMessage) -> Result<String, IpnError> {
        self.publish_at(msg, chrono::Utc::now())
    }

    /// Publishes `msg` with SNS `Timestamp` `at` — the simulator's clock, so a notification
    /// carries the same time as the objects it is about (Amazon's real clock does both).
    pub fn publish_at(
        &self,
        mut msg: IpnMessage,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<String, IpnError> {
        if msg.notification_id.is_empty() {
            msg.notification_id = super::new_notification_id();
        }
        let publication = Publication::of(&msg, at)?;
        let id = publication.message_id.clone();
        self.enqueue(Job::Notify(publication))?;
        Ok(id)
    }

    /// Builds and signs the Notification envelope for `msg` and one subscription, without
    /// sending it (fresh MessageId, current Timestamp, the default signature version).
    pub fn envelope_for(
        &self,
        msg: &IpnMessage,
        subscription_arn: &str,
    ) -> Result<SnsEnvelope, IpnError> {
        self.shared.notification_envelope(
            &Publication::of(msg, chrono::Utc::now())?,
            subscription_arn,
            self.shared.config.signature_version,
        )
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

    pub(super) fn notification_envelope(
        &self,
        p: &Publication,
        subscription_arn: &str,
        version: SignatureVersion,
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
            signature_version: version,
            signature: String::new(),
            signing_cert_url: self.sns_url(self.cert.file_name()).into(),
            unsubscribe_url: Some(unsubscribe.into()),
        })
    }

    pub(super) fn confirmation_envelope(
        &self,
        kind: SnsMessageType,
        sub: &SnsSubscription,
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
            timestamp: sns_timestamp(chrono::Utc::now()),
            signature_version: sub.signature_version,
            signature: String::new(),
            signing_cert_url: self.sns_url(self.cert.file_name()).into(),
            unsubscribe_url: None,
        })
    }
}

/// The delivery task needs a tokio runtime; fail early (before key generation) without one.
fn current_runtime() -> Result<tokio::runtime::Handle, IpnError> {
    tokio::runtime::Handle::try_current().map_err(|_| IpnError::NoRuntime)
}

/// `2024-06-01T12:34:56.789Z`.
pub(super) fn sns_timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
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

    #[tokio::test]
    async fn delivery_faults_switch_at_run_time_and_validate() {
        let ipn = sender("http://127.0.0.1:9");
        assert_eq!(ipn.delivery_faults(), DeliveryFaults::default());
        let dup = DeliveryFaults {
            duplicate_rate: 1.0,
            ..Default::default()
        };
        ipn.set_delivery_faults(dup).unwrap();
        assert_eq!(ipn.delivery_faults(), dup);
        let bad = DeliveryFaults {
            reorder_rate: 2.0,
            ..Default::default()
        };
        assert!(matches!(
            ipn.set_delivery_faults(bad),
            Err(IpnError::InvalidConfig(_))
        ));
        assert_eq!(
            ipn.delivery_faults(),
            dup,
            "a refused change changes nothing"
        );
    }

    #[test]
    fn creating_outside_a_runtime_is_an_error() {
        let cfg = IpnConfig::new(Url::parse("http://127.0.0.1:9").unwrap());
        assert!(matches!(IpnSender::new(cfg), Err(IpnError::NoRuntime)));
    }

    #[test]
    fn timestamps_have_milliseconds() {
        let ts = sns_timestamp(chrono::Utc::now());
        assert_eq!(ts.len(), 24);
        assert_eq!(&ts[19..20], ".");
        assert!(ts.ends_with('Z'));
        assert_eq!(random_token().len(), 128);
    }
}
