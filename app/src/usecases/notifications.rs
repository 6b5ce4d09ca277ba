//! Amazon Pay IPNs, after the HTTP layer verified the SNS signature: deduplicated by
//! NotificationId (a crashed handler's claim frees itself), then the object is **fetched**
//! and its real state applied — the message body is never trusted for state.

use chrono::{DateTime, TimeDelta, Utc};

use savedwallet_shared::api::{ChargePermissionState, IpnMessage, IpnObjectType};

use super::events::{self, kind};
use super::wallets::upstream;
use super::{store_retry, Service};
use crate::error::{ServiceError, ServiceResult};
use crate::ids::*;
use crate::store::*;

/// How long a processed notification id is remembered (SNS retries for far less).
const NOTIFICATION_RETENTION: TimeDelta = TimeDelta::days(14);
/// How long one handler may hold a notification before a redelivery may take it over.
const HANDLER_HOLD: TimeDelta = TimeDelta::seconds(60);

/// A notification whose SNS envelope was verified.
#[derive(Debug, Clone)]
pub struct VerifiedIpn {
    /// SNS `MessageId` (used when the message has no NotificationId).
    pub message_id: String,
    /// SNS `Timestamp`: when Amazon published it.
    pub published: DateTime<Utc>,
    /// The Amazon Pay message.
    pub message: IpnMessage,
}

/// What processing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpnOutcome {
    /// The object's state was fetched and applied.
    Applied,
    /// Seen before: nothing done.
    Duplicate,
    /// Nothing of ours to change (an unknown object, another merchant), logged.
    Ignored(&'static str),
}

impl Service {
    /// Processes one verified IPN exactly once (at least once delivered by SNS).
    pub async fn process_ipn(&self, ipn: &VerifiedIpn) -> ServiceResult<IpnOutcome> {
        let now = self.clock.now();
        let id = if ipn.message.notification_id.is_empty() {
            ipn.message_id.clone()
        } else {
            ipn.message.notification_id.clone()
        };
        if ipn.message.merchant_id != self.config.key_scope.merchant_id {
            tracing::warn!(notification_id = %id, "IPN for another merchant id ignored");
            return Ok(IpnOutcome::Ignored("another merchant"));
        }
        let token = self.new_token();
        match store_retry!(
            self.store
                .begin_notification(&id, &token, now, now + HANDLER_HOLD)
                .await
        )? {
            NotificationBegin::Done => return Ok(IpnOutcome::Duplicate),
            NotificationBegin::InProgress { .. } => {
                // Another handler has it: answer 5xx so SNS delivers it again later.
                return Err(ServiceError::Unavailable {
                    what: "the notification handler",
                    retry_after_secs: 30,
                });
            }
            NotificationBegin::Started => {}
        }
        let result = self.apply_ipn(ipn, now).await;
        match &result {
            Ok(_) => {
                self.metrics.record(crate::ports::Measure::Ipn {
                    object_type: ipn.message.object_type.as_str(),
                });
                store_retry!(
                    self.store
                        .complete_notification(&id, &token, now + NOTIFICATION_RETENTION)
                        .await
                )?;
            }
            Err(_) => {
                let _ = store_retry!(self.store.release_notification(&id, &token).await);
            }
        }
        result
    }

    async fn apply_ipn(&self, ipn: &VerifiedIpn, now: DateTime<Utc>) -> ServiceResult<IpnOutcome> {
        let m = &ipn.message;
        match &m.object_type {
            IpnObjectType::ChargePermission => {
                let Ok(wid) = WalletId::parse(&m.object_id) else {
                    return Ok(IpnOutcome::Ignored("malformed charge permission id"));
                };
                let wallet = match self.store.get_wallet(&wid).await {
                    Ok(w) => w,
                    Err(StoreError::NotFound { .. }) => {
                        return Ok(IpnOutcome::Ignored("unknown wallet"))
                    }
                    Err(e) => return Err(e.into()),
                };
                let permission = self
                    .amazon
                    .get_charge_permission(&wid)
                    .await
                    .map_err(upstream)?;
                let was = wallet.is_chargeable();
                let after = self
                    .refresh_wallet(
                        wallet,
                        &permission,
                        now,
                        super::wallets::Refresh::Notification(ipn.published),
                    )
                    .await?;
                if after.is_chargeable() && !was {
                    self.wake_waiting_subscriptions(&after, now).await?;
                }
                Ok(IpnOutcome::Applied)
            }
            IpnObjectType::Charge => {
                let Ok(cid) = ChargeId::parse(&m.object_id) else {
                    return Ok(IpnOutcome::Ignored("malformed charge id"));
                };
                // A charge our record already holds in a final state (from Create Charge's
                // own answer, or an earlier IPN) has no later state to learn: skip the Get
                // Charge. Under a billing backlog every charge's IPN would otherwise spend
                // the same Amazon quota as the charge itself. The record is ours, so this
                // believes nothing the IPN says; a missing or open record is read from Amazon.
                let recorded = match self.store.attempt_by_charge(&cid).await {
                    Ok(a) if a.state.is_final() => {
                        return Ok(IpnOutcome::Ignored("charge already final"))
                    }
                    Ok(a) => Some(a.payment_id),
                    Err(StoreError::NotFound { .. }) => None,
                    Err(e) => return Err(e.into()),
                };
                let charge = self.amazon.get_charge(&cid).await.map_err(upstream)?;
                // The payment id travels in the charge's merchantReferenceId; the index by
                // charge id, read above, is the fallback (eventually consistent).
                let pid = charge
                    .merchant_metadata
                    .as_ref()
                    .and_then(|mm| mm.merchant_reference_id.as_deref())
                    .and_then(|s| PaymentId::parse(s).ok())
                    .or(recorded);
                let Some(pid) = pid else {
                    return Ok(IpnOutcome::Ignored("unknown charge"));
                };
                let (payment, attempts) = match self.store.payment_with_attempts(&pid).await {
                    Ok(x) => x,
                    Err(StoreError::NotFound { .. }) => {
                        return Ok(IpnOutcome::Ignored("unknown payment"))
                    }
                    Err(e) => return Err(e.into()),
                };
                let attempt = attempts
                    .iter()
                    .find(|a| a.charge_id.as_ref() == Some(&cid))
                    .or_else(|| {
                        // A lost answer: the open attempt is the one that made this charge.
                        payment.open_attempt.and_then(|n| {
                            attempts
                                .iter()
                                .find(|a| a.attempt == n && a.charge_id.is_none())
                        })
                    });
                let Some(attempt) = attempt else {
                    return Ok(IpnOutcome::Ignored("charge of no attempt"));
                };
                self.apply_charge(&payment, attempt, &charge, now).await?;
                Ok(IpnOutcome::Applied)
            }
            IpnObjectType::Refund => {
                let amazon = self
                    .amazon
                    .get_refund(&m.object_id)
                    .await
                    .map_err(upstream)?;
                let refund = match self.store.refund_by_amazon_id(&amazon.refund_id).await {
                    Ok(r) => r,
                    Err(StoreError::NotFound { .. }) => {
                        tracing::warn!(refund = %amazon.refund_id, "IPN for a refund not recorded (yet)");
                        return Ok(IpnOutcome::Ignored("unknown refund"));
                    }
                    Err(e) => return Err(e.into()),
                };
                self.apply_amazon_refund(refund, &amazon).await?;
                Ok(IpnOutcome::Applied)
            }
            IpnObjectType::Chargeback => {
                // No state of ours changes: the merchant is told.
                let data = serde_json::json!({
                    "chargebackId": m.object_id,
                    "walletId": m.charge_permission_id,
                });
                let ev = events::event(
                    kind::PAYMENT_CHARGEBACK,
                    None,
                    data,
                    now,
                    &[m.object_id.as_bytes()],
                );
                match store_retry!(self.store.append_events(std::slice::from_ref(&ev)).await) {
                    Ok(()) | Err(StoreError::AlreadyExists { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
                tracing::warn!(chargeback = %m.object_id, "chargeback reported by Amazon Pay");
                Ok(IpnOutcome::Applied)
            }
            IpnObjectType::Unknown(_) => Ok(IpnOutcome::Ignored("unknown object type")),
        }
    }

    /// A wallet is Chargeable again: every period of its subscriptions (all of the owner's,
    /// page by page) that waits for a payment method becomes due now (billed at once, not at
    /// the next cycle).
    pub(crate) async fn wake_waiting_subscriptions(
        &self,
        wallet: &Wallet,
        now: DateTime<Utc>,
    ) -> ServiceResult<()> {
        if wallet.state != ChargePermissionState::Chargeable {
            return Ok(());
        }
        for s in self.wallet_subscriptions(wallet).await? {
            let mut current = s;
            for _ in 0..4 {
                if !matches!(current.dunning, Dunning::AwaitingPaymentMethod { .. })
                    || current.status == SubscriptionStatus::Canceled
                {
                    break;
                }
                let next = Subscription {
                    dunning: Dunning::Current,
                    due_at: Some(now),
                    updated_at: now,
                    ..current.clone()
                };
                let w = SubscriptionWrite {
                    record: next,
                    lease_owner: None,
                };
                match store_retry!(self.store.write_subscription(&w, &[]).await) {
                    Ok(_) => break,
                    Err(StoreError::VersionConflict { .. }) => {
                        current = self
                            .store
                            .get_subscription(&current.subscription_id)
                            .await?;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }
}
