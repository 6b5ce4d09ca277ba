//! Billing one due subscription period (MITR): claim it exactly once, replay an open
//! attempt of the period instead of charging again, charge it through the shared engine,
//! and move the subscription on (advance, dunning, waiting for a payment method or the
//! next month).

use chrono::{DateTime, TimeDelta, Utc};

use savedwallet_shared::api::{ChargeInitiator, ChargePermissionState};
use savedwallet_shared::decline::DeclineAction;
use savedwallet_shared::limits::{next_month_start, UsageMonth};

use super::charge::{monthly_cap, next_attempt, ChargeOptions, ChargeRun};
use super::events;
use super::periods::{after_period, PeriodOutcome};
use super::{store_retry, Service};
use crate::error::{ServiceError, ServiceResult};
use crate::ids::*;
use crate::store::*;

/// A billing worker's lease on a period (≥ `MIN_LEASE`).
pub const BILLING_LEASE: TimeDelta = TimeDelta::minutes(5);

/// What billing one subscription did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Billed {
    /// Another worker holds the period, or it is not due: nothing done.
    Skipped,
    /// Charged (or replayed); the payment as stored.
    Charged(Box<Payment>),
    /// Not sent: the wallet cannot be charged now or the month's limit is reached; the
    /// subscription waits.
    Waiting,
}

/// One billing cycle's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BillingRun {
    /// Periods claimed.
    pub claimed: u32,
    /// Periods charged (attempts sent or replayed).
    pub charged: u32,
}

impl Service {
    /// One synchronous billing cycle over every due shard (the local stack's loop and
    /// `POST /admin/v1/billing/run`; in AWS the scheduler fans out to SQS workers).
    pub async fn bill_due(&self, page_size: u32) -> ServiceResult<BillingRun> {
        let now = self.clock.now();
        let mut run = BillingRun::default();
        for shard in 0..DUE_SHARDS {
            let mut cursor = None;
            loop {
                let page = self
                    .store
                    .due_subscriptions(shard, now, page_size, cursor.as_ref())
                    .await?;
                for s in &page.subscriptions {
                    match self.bill_subscription(&s.subscription_id, s.period).await {
                        Ok(Billed::Skipped) => {}
                        Ok(Billed::Charged(_)) => {
                            run.claimed += 1;
                            run.charged += 1;
                        }
                        Ok(Billed::Waiting) => run.claimed += 1,
                        Err(e) => {
                            tracing::warn!(subscription = %s.subscription_id, error = %e, "billing a period failed; it comes back when its lease lapses")
                        }
                    }
                }
                match page.next {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
        }
        Ok(run)
    }

    /// Bills one subscription's `period` if it is due and nobody else holds it.
    pub async fn bill_subscription(
        &self,
        id: &SubscriptionId,
        period: u32,
    ) -> ServiceResult<Billed> {
        let now = self.clock.now();
        let owner = self.new_id("lease");
        let claim = match store_retry!(
            self.store
                .claim_period(id, period, &owner, now, BILLING_LEASE)
                .await
        ) {
            Ok(c) => c,
            Err(StoreError::AlreadyClaimed { .. }) | Err(StoreError::Refused { .. }) => {
                return Ok(Billed::Skipped)
            }
            Err(StoreError::NotFound { .. }) => return Ok(Billed::Skipped),
            Err(e) => return Err(e.into()),
        };
        let sub = claim.subscription;
        let pid = PaymentId::for_period(&sub.subscription_id, sub.period);
        let existing = match self.store.payment_with_attempts(&pid).await {
            Ok(x) => Some(x),
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        if let Some((payment, attempts)) = &existing {
            if let Some(n) = payment.open_attempt {
                // A worker stopped mid-period (or an answer is unknown): replay that very
                // attempt, same key and body; never a new one beside it.
                if let Some(a) = attempts.iter().find(|a| a.attempt == n) {
                    if matches!(a.state, AttemptState::Sending | AttemptState::Unknown) {
                        let p = self.replay_attempt(payment, a, Some((sub, owner))).await?;
                        return Ok(Billed::Charged(Box::new(p)));
                    }
                }
                // Pending or waiting for the buyer: the IPN resolves it.
                self.release(&sub, &owner, PeriodOutcome::Open, &pid, now)
                    .await?;
                return Ok(Billed::Waiting);
            }
            if matches!(
                payment.status,
                PaymentStatus::Succeeded | PaymentStatus::Authorized
            ) {
                // Paid, but the advance was lost: advance now.
                self.release(&sub, &owner, PeriodOutcome::Paid, &pid, now)
                    .await?;
                return Ok(Billed::Waiting);
            }
        }
        let wallet = match self.store.get_wallet(&sub.wallet_id).await {
            Ok(w) => w,
            Err(StoreError::NotFound { .. }) => {
                self.release(
                    &sub,
                    &owner,
                    PeriodOutcome::Failed(DeclineAction::StopPermissionClosed),
                    &pid,
                    now,
                )
                .await?;
                return Ok(Billed::Waiting);
            }
            Err(e) => return Err(e.into()),
        };
        let wallet = if !wallet.is_chargeable() && wallet.state != ChargePermissionState::Closed {
            // Not chargeable as stored: look at Amazon once (the IPN that would have told us
            // may be lost). Only a real change clears an update flag (`Refresh::Poll`).
            match self.amazon.get_charge_permission(&wallet.wallet_id).await {
                Ok(p) => {
                    self.refresh_wallet(wallet, &p, now, super::wallets::Refresh::Poll)
                        .await?
                }
                Err(_) => wallet,
            }
        } else {
            wallet
        };
        if wallet.state == ChargePermissionState::Closed {
            // Closing ended the subscription meanwhile (refresh_wallet): nothing to bill.
            if let Ok(current) = self.store.get_subscription(&sub.subscription_id).await {
                if current.status == SubscriptionStatus::Canceled {
                    return Ok(Billed::Waiting);
                }
            }
        }
        if !wallet.is_chargeable() {
            let action = if wallet.state == ChargePermissionState::Closed {
                DeclineAction::StopPermissionClosed
            } else {
                DeclineAction::AskBuyerToUpdatePaymentMethod {
                    update_url: self.amazon.payment_method_update_url(&wallet.wallet_id),
                }
            };
            self.release(&sub, &owner, PeriodOutcome::Failed(action), &pid, now)
                .await?;
            return Ok(Billed::Waiting);
        }
        let mut sub = sub;
        if existing.is_none() {
            // A new period takes the plan's price now (the contract: a new price applies from
            // each subscription's next period); a retried period keeps its payment's amount.
            if let Some(price) = self.plan_price(&sub.plan_id).await? {
                if price.currency() == sub.price.currency() {
                    sub.price = price;
                }
            }
        }
        let cap = monthly_cap(&wallet);
        let used = self
            .store
            .monthly_usage(&wallet.wallet_id, UsageMonth::of(now))
            .await?
            .map(|u| u.total.minor_units())
            .unwrap_or(0);
        if used.saturating_add(sub.price.minor_units()) > cap.minor_units() {
            // Not sent: the period waits for the next UTC month.
            let action = DeclineAction::WaitUntilNextMonth {
                at: next_month_start(now),
            };
            self.release(&sub, &owner, PeriodOutcome::Failed(action), &pid, now)
                .await?;
            return Ok(Billed::Waiting);
        }
        let (payment, create) = match existing {
            Some((p, _)) => (
                next_attempt(&p, &wallet.wallet_id, now, self.crash_wake(now)),
                false,
            ),
            None => (
                self.new_payment(
                    pid.clone(),
                    &sub.owner,
                    PaymentKind::Period {
                        subscription_id: sub.subscription_id.clone(),
                        period: sub.period,
                    },
                    &wallet.wallet_id,
                    sub.price,
                    ChargeInitiator::Mitr,
                    true,
                    None,
                    None,
                    now,
                ),
                true,
            ),
        };
        let mut payment = payment;
        payment.initiator = ChargeInitiator::Mitr;
        payment.can_handle_pending = true;
        payment.return_url = None;
        let run = ChargeRun {
            payment,
            create,
            wallet,
            billing: BillingLink::Lease {
                subscription_id: sub.subscription_id.clone(),
                lease_owner: owner.clone(),
                period: sub.period,
            },
            order: None,
            subscription: Some((sub, Some(owner))),
            begin_events: vec![],
            writer: self.new_id("bill"),
            options: ChargeOptions {
                // Waiting for the fleet's quota share is normal under a backlog; failing
                // the period for it (the API's 25 s deadline) would push it into dunning.
                deadline: std::time::Instant::now() + self.config.billing_charge_deadline,
                immediate_retries: 0,
            },
        };
        match self.charge(run).await {
            Ok(p) => Ok(Billed::Charged(Box::new(p))),
            Err(ServiceError::MonthlyLimitExceeded(_))
            | Err(ServiceError::WalletNotChargeable { .. }) => {
                // Refused at the begin (a race with another charge or an IPN): the lease
                // lapses and the next run decides again.
                Ok(Billed::Waiting)
            }
            Err(e) => Err(e),
        }
    }

    async fn store_has_payment(&self, pid: &PaymentId) -> ServiceResult<bool> {
        match self.store.get_payment(pid).await {
            Ok(_) => Ok(true),
            Err(StoreError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Billing's write of a subscription whose period was not charged now (with the lease).
    async fn release(
        &self,
        sub: &Subscription,
        owner: &str,
        outcome: PeriodOutcome,
        pid: &PaymentId,
        now: DateTime<Utc>,
    ) -> ServiceResult<()> {
        let mut after = after_period(sub, pid, &outcome, &self.config.period_policy(), now);
        if !self.store_has_payment(pid).await? {
            // Not charged now and never before: the latest payment stays what it was.
            after.latest_payment_id = sub.latest_payment_id.clone();
        }
        let evs = events::subscription_changes(sub, &after, now);
        let w = SubscriptionWrite {
            record: after,
            lease_owner: Some(owner.to_string()),
        };
        match store_retry!(self.store.write_subscription(&w, &evs).await) {
            Ok(_) => Ok(()),
            // Edited or taken over meanwhile: the current holder decides.
            Err(StoreError::VersionConflict { .. }) | Err(StoreError::Refused { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
