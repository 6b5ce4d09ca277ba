//! The delivery machinery: one dispatcher task takes jobs in publish order and decides
//! duplicates and reordering with its seeded RNG; one worker task per subscription makes
//! that endpoint's first attempts in order (so a hanging endpoint holds up only itself);
//! retries run in their own tasks.

use super::sender::{sns_timestamp, Shared, SnsSubscription};
use super::{IpnError, SNS_USER_AGENT};
use rand::rngs::StdRng;
use rand::Rng;
use savedwallet_shared::api::IpnMessage;
use savedwallet_shared::sns::{SignatureVersion, SnsEnvelope, SnsMessageType};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use url::Url;

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
    /// Order in which deliveries were queued (0-based, across all endpoints).
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
    /// `SignatureVersion` of the envelope.
    pub signature_version: SignatureVersion,
    /// HTTP attempts made so far.
    pub attempts: u32,
    /// Outcome.
    pub status: DeliveryStatus,
    /// True for the extra copy sent by the duplicate option.
    pub duplicate: bool,
}

/// A published notification, fixed at publish time so every subscriber, retry and
/// duplicate carries the same MessageId and Timestamp.
#[derive(Debug, Clone)]
pub(super) struct Publication {
    pub(super) message_id: String,
    pub(super) timestamp: String,
    pub(super) message_json: String,
    notification_id: String,
}

impl Publication {
    /// A publication of `msg` at `at`, with a fresh MessageId.
    pub(super) fn of(
        msg: &IpnMessage,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Publication, IpnError> {
        Ok(Publication {
            message_id: uuid::Uuid::new_v4().to_string(),
            timestamp: sns_timestamp(at),
            message_json: serde_json::to_string(msg)?,
            notification_id: msg.notification_id.clone(),
        })
    }
}

/// What the dispatcher is asked to do.
#[derive(Debug)]
pub(super) enum Job {
    Notify(Publication),
    Confirm {
        kind: SnsMessageType,
        subscription: SnsSubscription,
    },
}

/// Decrements a watch counter on drop, so a panicking task cannot leave `idle()` hanging.
#[derive(Debug)]
pub(super) struct CountGuard(watch::Sender<usize>);

impl CountGuard {
    pub(super) fn new(counter: &watch::Sender<usize>) -> Self {
        counter.send_modify(|n| *n += 1);
        CountGuard(counter.clone())
    }
}

impl Drop for CountGuard {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
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

type WorkerQueue = mpsc::UnboundedSender<(Delivery, CountGuard)>;

/// The single background task that orders, duplicates and holds back jobs.
pub(super) struct Dispatcher {
    shared: Arc<Shared>,
    rx: mpsc::UnboundedReceiver<(Job, CountGuard)>,
    rng: StdRng,
    held: Option<(Publication, CountGuard)>,
    workers: HashMap<String, WorkerQueue>,
}

impl Dispatcher {
    pub(super) fn new(
        shared: Arc<Shared>,
        rx: mpsc::UnboundedReceiver<(Job, CountGuard)>,
        rng: StdRng,
    ) -> Dispatcher {
        Dispatcher {
            shared,
            rx,
            rng,
            held: None,
            workers: HashMap::new(),
        }
    }

    pub(super) async fn run(mut self) {
        loop {
            let next = if self.held.is_some() {
                let mut waiters = self.shared.idle_waiters.subscribe();
                let max_hold = self.shared.faults.lock().reorder_max_hold;
                tokio::select! {
                    // A successor that is already queued always wins, so runs are deterministic.
                    biased;
                    job = self.rx.recv() => job,
                    _ = async { drop(waiters.wait_for(|n| *n > 0).await) } => {
                        self.release_held();
                        continue;
                    }
                    _ = tokio::time::sleep(max_hold) => {
                        self.release_held();
                        continue;
                    }
                }
            } else {
                self.rx.recv().await
            };
            let Some((job, guard)) = next else {
                self.release_held();
                return;
            };
            match job {
                Job::Notify(publication) => {
                    let reorder_rate = self.shared.faults.lock().reorder_rate;
                    let hold = self.rng.random::<f64>() < reorder_rate;
                    if hold && self.held.is_none() {
                        self.held = Some((publication, guard));
                        continue;
                    }
                    self.notify(&publication);
                }
                Job::Confirm { kind, subscription } => {
                    match self.shared.confirmation_envelope(kind, &subscription) {
                        Ok(envelope) => self.queue(envelope, &subscription, None, false),
                        Err(e) => tracing::error!(error = %e, "cannot build SNS confirmation"),
                    }
                }
            }
            drop(guard);
            self.release_held();
        }
    }

    fn release_held(&mut self) {
        if let Some((publication, _guard)) = self.held.take() {
            self.notify(&publication);
        }
    }

    /// Queues one publication for every current subscriber (confirmed or not: Amazon
    /// manages the subscription, so the sandbox does not gate on confirmation).
    fn notify(&mut self, p: &Publication) {
        let subscriptions = self.shared.subscriptions.lock().clone();
        for sub in &subscriptions {
            let envelope = match self.shared.notification_envelope(
                p,
                &sub.subscription_arn,
                sub.signature_version,
            ) {
                Ok(e) => e,
                Err(e) => {
                    tracing::error!(error = %e, "cannot build SNS notification");
                    continue;
                }
            };
            let duplicate_rate = self.shared.faults.lock().duplicate_rate;
            let duplicate = self.rng.random::<f64>() < duplicate_rate;
            let nid = Some(p.notification_id.clone());
            if duplicate {
                self.queue(envelope.clone(), sub, nid.clone(), false);
                self.queue(envelope, sub, nid, true);
            } else {
                self.queue(envelope, sub, nid, false);
            }
        }
    }

    /// Records a delivery and hands it to its endpoint's worker.
    fn queue(
        &mut self,
        envelope: SnsEnvelope,
        sub: &SnsSubscription,
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
            signature_version: envelope.signature_version,
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
        let guard = CountGuard::new(&self.shared.pending);
        let shared = &self.shared;
        let worker = self
            .workers
            .entry(sub.subscription_arn.clone())
            .or_insert_with(|| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(endpoint_worker(shared.clone(), rx));
                tx
            });
        if let Err(mpsc::error::SendError((d, _guard))) = worker.send((delivery, guard)) {
            // Workers live as long as the dispatcher; this only happens at shutdown.
            shared.update(
                d.record,
                0,
                DeliveryStatus::Failed {
                    last_error: "the delivery task stopped".into(),
                },
            );
        }
    }
}

impl Shared {
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

/// Makes one endpoint's first attempts in order; hands retries to separate tasks.
async fn endpoint_worker(
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<(Delivery, CountGuard)>,
) {
    while let Some((delivery, guard)) = rx.recv().await {
        match attempt(&shared, &delivery, 1).await {
            Attempt::Done(status) => shared.update(delivery.record, 1, status),
            Attempt::Retry(last_error) if shared.config.retry.max_attempts <= 1 => {
                shared.update(delivery.record, 1, DeliveryStatus::Failed { last_error });
            }
            Attempt::Retry(_) => {
                shared.update(delivery.record, 1, DeliveryStatus::InFlight);
                tokio::spawn(retry(shared.clone(), delivery, guard));
                continue;
            }
        }
        drop(guard);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_status_serialises_camel_case() {
        let v = serde_json::to_value(DeliveryStatus::Delivered { http_status: 200 }).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"status": "delivered", "httpStatus": 200})
        );
    }
}
