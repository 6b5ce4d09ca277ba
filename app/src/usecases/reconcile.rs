//! The reconciler: a safety net for everything that waits on something that may never come —
//! an unanswered send (replayed with the same key and body), an authorization still pending
//! after its window (Get Charge), an MFA challenge never completed (void after 24 h), an
//! authorization left uncaptured past Amazon's 30 days, a subscription whose first payment
//! never succeeded (canceled after 24 h: its first payment wakes then). Bounded work per
//! run, idempotent: running it twice, or beside the IPN handler, changes nothing twice.
//!
//! A refund whose answer was lost is not found here: the store has no index of pending
//! refunds, so it is resent when it is read (`get_refund`, after `unknown_replay_after`) or
//! requested again (`refund_payment` → `resend_refund`).

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
    /// Subscriptions canceled because their first payment had not succeeded in 24 h.
    pub expired: u32,
}

/// How long a subscription may stay `incomplete` (its first payment not succeeded).
pub(crate) const INCOMPLETE_FOR_AT_MOST: TimeDelta = TimeDelta::hours(24);

/// True when `s` is still `incomplete` at `now`, 24 h or more after it was created: it is
/// canceled (`first_payment_not_completed`), on read or by the reconciler.
pub(crate) fn incomplete_expired(s: &Subscription, now: DateTime<Utc>) -> bool {
    s.status == SubscriptionStatus::Incomplete && s.created_at + INCOMPLETE_FOR_AT_MOST <= now
}

/// The longest an unanswered attempt is replayed before its payment shows `failed` (the
/// attempt stays open: only its own key may ever be sent again).
const GIVE_UP_REPLAYING_AFTER: TimeDelta = TimeDelta::hours(24);

impl Service {
    /// One reconciler pass over the payments whose wake time has come, at most `budget`
    /// (the first shard turns with the minute, [`super::dispatch::shards_from`], so a
    /// backlog larger than the budget does not starve the last shards). A woken first
    /// payment of a subscription still `incomplete` after 24 h cancels the subscription
    /// (counted in `expired`).
    pub async fn reconcile(&self, budget: u32) -> ServiceResult<Reconciled> {
        let now = self.clock.now();
        let mut out = Reconciled::default();
        'shards: for shard in super::dispatch::shards_from(now, WAKE_SHARDS) {
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
        let woken = self.wake_attempt(p, now, out).await;
        // After the attempt's own work (a replay may have paid it meanwhile).
        let expired = match &p.kind {
            PaymentKind::Period {
                subscription_id,
                period: 1,
            } => {
                self.expire_if_incomplete(&p.payment_id, subscription_id, now, out)
                    .await
            }
            _ => Ok(()),
        };
        woken.and(expired)
    }

    /// The first payment of `sid` woke: the subscription is canceled if it is still
    /// `incomplete` after 24 h; if it is not yet, a payment with nothing left to wait for
    /// wakes again then (and after the cancel, no more).
    async fn expire_if_incomplete(
        &self,
        payment_id: &PaymentId,
        sid: &SubscriptionId,
        now: DateTime<Utc>,
        out: &mut Reconciled,
    ) -> ServiceResult<()> {
        let sub = match self.store.get_subscription(sid).await {
            Ok(s) => s,
            Err(StoreError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if sub.status != SubscriptionStatus::Incomplete {
            return Ok(());
        }
        let expired = incomplete_expired(&sub, now);
        if expired {
            self.cancel_subscription_record(&sub, CancelReason::FirstPaymentNotCompleted, now)
                .await?;
            out.expired += 1;
        }
        let payment = self.store.get_payment(payment_id).await?;
        if payment.open_attempt.is_none() {
            // Nothing else to wait for: wake at the deadline, or never once it passed.
            let until = (!expired).then(|| sub.created_at + INCOMPLETE_FOR_AT_MOST);
            self.sleep(&payment, until).await?;
        }
        Ok(())
    }

    async fn wake_attempt(
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

    /// Cancels a customer's subscriptions whose first payment has not succeeded in 24 h
    /// (all of them, page by page).
    pub async fn expire_incomplete_subscriptions(&self, owner: &CustomerId) -> ServiceResult<u32> {
        let now = self.clock.now();
        let mut n = 0;
        let mut cursor = None;
        loop {
            let page = self
                .store
                .subscriptions_of(owner, MAX_LIST, cursor.as_ref())
                .await?;
            for s in page.items.iter().filter(|s| incomplete_expired(s, now)) {
                self.cancel_subscription_record(s, CancelReason::FirstPaymentNotCompleted, now)
                    .await?;
                n += 1;
            }
            match page.next {
                Some(c) => cursor = Some(c),
                None => return Ok(n),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usecases::charge::first_payment_deadline;
    use chrono::TimeZone;
    use savedwallet_shared::money::{Currency, Price};

    fn created() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
    }

    fn sub(status: SubscriptionStatus) -> Subscription {
        Subscription {
            subscription_id: SubscriptionId::parse("sub_1").unwrap(),
            owner: CustomerId::parse("c").unwrap(),
            wallet_id: WalletId::parse("S01-1").unwrap(),
            plan_id: PlanId::parse("p").unwrap(),
            price: Price::from_minor(100, Currency::EUR),
            interval: BillingInterval {
                unit: IntervalUnit::Month,
                count: 1,
            },
            status,
            period: 1,
            anchor: created(),
            next_billing_at: created(),
            due_at: None,
            dunning: Dunning::Current,
            latest_payment_id: None,
            lease: None,
            canceled_at: None,
            cancel_reason: None,
            created_at: created(),
            updated_at: created(),
            version: 1,
        }
    }

    #[test]
    fn an_incomplete_subscription_expires_24_hours_after_it_was_made() {
        use SubscriptionStatus::*;
        let h = TimeDelta::hours;
        for (status, age, want) in [
            (Incomplete, h(0), false),
            (Incomplete, h(23), false),
            (Incomplete, h(24) - TimeDelta::milliseconds(1), false),
            (Incomplete, h(24), true),
            (Incomplete, h(24 * 30), true),
            (Active, h(48), false),
            (PastDue, h(48), false),
            (Canceled, h(48), false),
        ] {
            assert_eq!(
                incomplete_expired(&sub(status), created() + age),
                want,
                "{status:?} after {age}"
            );
        }
    }

    #[test]
    fn an_unpaid_first_payment_wakes_the_reconciler_when_its_subscription_expires() {
        use PaymentStatus::*;
        let sid = SubscriptionId::parse("sub_1").unwrap();
        let period = |n| PaymentKind::Period {
            subscription_id: sid.clone(),
            period: n,
        };
        let order = PaymentKind::Order {
            order_id: OrderId::parse("ord_1").unwrap(),
        };
        let deadline = Some(created() + TimeDelta::hours(24));
        for (kind, status, want) in [
            (period(1), Declined, deadline),
            (period(1), Failed, deadline),
            (period(1), Canceled, deadline),
            (period(1), Pending, deadline),
            (period(1), Succeeded, None),
            (period(1), Authorized, None),
            (period(2), Declined, None),
            (order.clone(), Declined, None),
        ] {
            assert_eq!(
                first_payment_deadline(&kind, created(), status),
                want,
                "{kind:?} {status:?}"
            );
        }
    }
}
