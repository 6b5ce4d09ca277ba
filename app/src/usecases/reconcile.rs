//! The reconciler: a safety net for everything that waits on something that may never come —
//! an unanswered send (replayed with the same key and body), an authorization still pending
//! after its window (Get Charge), an MFA challenge never completed (void after 24 h), an
//! authorization left uncaptured past Amazon's 30 days, a refund whose answer was lost, a
//! subscription whose first payment never succeeded. Bounded work per run, idempotent:
//! running it twice, or beside the IPN handler, changes nothing twice.

use chrono::{DateTime, TimeDelta, Utc};

use super::charge::MAX_LIST;
use super::{store_retry, Service};
use crate::error::ServiceResult;
use crate::ids::*;
use crate::store::*;

/// What one reconciler run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Payments looked at.
    pub examined: u32,
    /// Open attempts resent with their own key and body.
    pub replayed: u32,
    /// Charges re-read with Get Charge (pending, expiring authorizations).
    pub refreshed: u32,
    /// MFA payments voided after 24 h.
    pub voided: u32,
}

/// The longest an unanswered attempt is replayed before its payment shows `failed` (the
/// attempt stays open: only its own key may ever be sent again).
const GIVE_UP_REPLAYING_AFTER: TimeDelta = TimeDelta::hours(24);

impl Service {
    /// One reconciler pass over the payments whose wake time has come, at most `budget`.
    pub async fn reconcile(&self, budget: u32) -> ServiceResult<Reconciled> {
        let now = self.clock.now();
        let mut out = Reconciled::default();
        'shards: for shard in 0..WAKE_SHARDS {
            let page = self
                .store
                .payments_to_wake(shard, now, MAX_LIST.min(budget.max(1)), None)
                .await?;
            for p in page.items {
                if out.examined >= budget {
                    break 'shards;
                }
                out.examined += 1;
                if let Err(e) = self.wake_payment(&p, now, &mut out).await {
                    tracing::warn!(payment_id = %p.payment_id, error = %e, "reconciling a payment failed; it comes back at its next wake");
                }
            }
        }
        Ok(out)
    }

    async fn wake_payment(
        &self,
        p: &Payment,
        now: DateTime<Utc>,
        out: &mut Reconciled,
    ) -> ServiceResult<()> {
        let (payment, attempts) = self.store.payment_with_attempts(&p.payment_id).await?;
        let open = payment
            .open_attempt
            .and_then(|n| attempts.iter().find(|a| a.attempt == n))
            .cloned();
        let Some(attempt) = open else {
            // Nothing open: nothing to wait for any more.
            return self.sleep(&payment, None).await;
        };
        match attempt.state {
            AttemptState::Sending | AttemptState::Unknown => {
                if now - attempt.created_at > GIVE_UP_REPLAYING_AFTER
                    && payment.status != PaymentStatus::Failed
                {
                    // Tell the buyer and the merchant; keep the attempt open, replay daily.
                    let failed = Payment {
                        status: PaymentStatus::Failed,
                        wake_at: Some(now + TimeDelta::days(1)),
                        updated_at: now,
                        ..payment.clone()
                    };
                    let ev = super::events::payment_event(
                        super::events::kind::PAYMENT_FAILED,
                        &failed,
                        now,
                    );
                    store_retry!(
                        self.store
                            .update_payment(&failed, std::slice::from_ref(&ev))
                            .await
                    )?;
                    return Ok(());
                }
                out.replayed += 1;
                self.replay_attempt(&payment, &attempt, None).await?;
            }
            AttemptState::ActionRequired => {
                if payment.expires_at.is_some_and(|e| e <= now) {
                    out.voided += 1;
                    self.void_expired(&payment, &attempts).await?;
                } else {
                    self.sleep(&payment, payment.expires_at).await?;
                }
            }
            AttemptState::Pending | AttemptState::Authorized => {
                let Some(charge_id) = attempt.charge_id.clone() else {
                    return self.sleep(&payment, Some(now + TimeDelta::hours(1))).await;
                };
                out.refreshed += 1;
                let charge = self
                    .amazon
                    .get_charge(&charge_id)
                    .await
                    .map_err(super::wallets::upstream)?;
                let after = self.apply_charge(&payment, &attempt, &charge, now).await?;
                if after.open_attempt.is_some() && after.wake_at.is_none_or(|w| w <= now) {
                    // Still pending at Amazon: look again later (the IPN usually wins).
                    let next = Some(
                        now + TimeDelta::from_std(self.config.pending_check_after)
                            .unwrap_or(TimeDelta::minutes(15)),
                    );
                    self.sleep(&after, next).await?;
                }
            }
            _ => self.sleep(&payment, None).await?,
        }
        Ok(())
    }

    /// Moves a payment's wake time (an annotation; retried through concurrent changes).
    async fn sleep(&self, p: &Payment, until: Option<DateTime<Utc>>) -> ServiceResult<()> {
        if p.wake_at == until {
            return Ok(());
        }
        let next = Payment {
            wake_at: until,
            ..p.clone()
        };
        match store_retry!(self.store.update_payment(&next, &[]).await) {
            Ok(_) | Err(StoreError::VersionConflict { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Cancels a customer's subscriptions whose first payment has not succeeded in 24 h.
    pub async fn expire_incomplete_subscriptions(&self, owner: &CustomerId) -> ServiceResult<u32> {
        let now = self.clock.now();
        let mut n = 0;
        let page = self.store.subscriptions_of(owner, MAX_LIST, None).await?;
        for s in page.items {
            if s.status == SubscriptionStatus::Incomplete
                && s.created_at + TimeDelta::hours(24) <= now
            {
                self.cancel_subscription_record(&s, CancelReason::FirstPaymentNotCompleted, now)
                    .await?;
                n += 1;
            }
        }
        Ok(n)
    }
}
