//! Subscriptions: subscribe (the first period charged now as CITR), read, move to another
//! wallet, cancel. A subscription whose first payment has not succeeded within 24 h is
//! canceled (here on read; the reconciler does it in the background when the first
//! payment wakes 24 h after it was made).

use savedwallet_shared::api::ChargeInitiator;

use super::charge::ChargeRun;
use super::events::{self, kind};
use super::{store_retry, Caller, Service};
use crate::error::{ServiceError, ServiceResult};
use crate::ids::*;
use crate::store::*;

/// `POST /v1/subscriptions`.
#[derive(Debug, Clone)]
pub struct Subscribe {
    /// The wallet billed.
    pub wallet_id: WalletId,
    /// The plan.
    pub plan_id: PlanId,
    /// The MFA return URL of the first (customer-initiated) charge.
    pub return_url: Option<String>,
    /// The caller's idempotency scope: names the subscription.
    pub scope: Vec<u8>,
}

impl Service {
    /// Subscribes the caller to an active plan and charges the first period now (CITR).
    /// Returns the subscription, its first payment, and whether this call made it.
    pub async fn subscribe(
        &self,
        owner: &CustomerId,
        req: Subscribe,
    ) -> ServiceResult<(Subscription, Payment, bool)> {
        let now = self.clock.now();
        let caller = Caller::Customer(owner.clone());
        let sid =
            SubscriptionId::parse(&derived_id("sub", &[owner.as_str().as_bytes(), &req.scope]))
                .map_err(|_| ServiceError::Internal("subscription id".into()))?;
        if let Ok(existing) = self.store.get_subscription(&sid).await {
            let pid = PaymentId::for_period(&sid, 1);
            let payment = self.store.get_payment(&pid).await?;
            return Ok((existing, payment, false));
        }
        let plan = match self.store.get_plan(&req.plan_id).await {
            Ok(p) if p.active => p,
            Ok(_) | Err(StoreError::NotFound { .. }) => {
                return Err(ServiceError::NotFound { kind: "plan" })
            }
            Err(e) => return Err(e.into()),
        };
        let wallet = self.owned_wallet(&caller, &req.wallet_id).await?;
        let pid = PaymentId::for_period(&sid, 1);
        let return_url = self.mfa_return_url(&wallet, req.return_url.as_deref(), &pid)?;
        self.precheck(&wallet, plan.price, now).await?;
        let second = plan.interval.nth_after(now, 1).ok_or_else(|| {
            ServiceError::invalid("planId", "the plan's interval is out of range")
        })?;
        let sub = Subscription {
            subscription_id: sid.clone(),
            owner: owner.clone(),
            wallet_id: wallet.wallet_id.clone(),
            plan_id: plan.plan_id.clone(),
            price: plan.price,
            interval: plan.interval,
            status: SubscriptionStatus::Incomplete,
            period: 1,
            anchor: now,
            next_billing_at: second,
            due_at: None,
            dunning: Dunning::Current,
            latest_payment_id: Some(pid.clone()),
            lease: None,
            canceled_at: None,
            cancel_reason: None,
            created_at: now,
            updated_at: now,
            version: 0,
        };
        let payment = self.new_payment(
            pid,
            owner,
            PaymentKind::Period {
                subscription_id: sid.clone(),
                period: 1,
            },
            &wallet.wallet_id,
            plan.price,
            ChargeInitiator::Citr,
            true,
            None,
            return_url,
            now,
        );
        let run = ChargeRun {
            payment,
            create: true,
            wallet,
            billing: BillingLink::NewSubscription(Box::new(sub.clone())),
            order: None,
            subscription: None,
            begin_events: vec![events::subscription_event(
                kind::SUBSCRIPTION_CREATED,
                &sub,
                now,
            )],
            writer: self.new_id("req"),
            options: self.cit_options(),
        };
        let payment = self.charge(run).await?;
        let sub = self.store.get_subscription(&sid).await?;
        Ok((sub, payment, true))
    }

    /// `GET /v1/subscriptions/{id}`: the subscription and its latest payment.
    pub async fn get_subscription(
        &self,
        caller: &Caller,
        id: &SubscriptionId,
    ) -> ServiceResult<(Subscription, Option<Payment>)> {
        let mut sub = self.owned_subscription(caller, id).await?;
        let now = self.clock.now();
        if super::reconcile::incomplete_expired(&sub, now) {
            sub = self
                .cancel_subscription_record(&sub, CancelReason::FirstPaymentNotCompleted, now)
                .await?;
        }
        let latest = match &sub.latest_payment_id {
            Some(p) => match self.get_payment(caller, p).await {
                Ok(d) => Some(d.payment),
                // A period billing skipped without charging has no payment yet.
                Err(ServiceError::NotFound { .. }) => None,
                Err(e) => return Err(e),
            },
            None => None,
        };
        Ok((sub, latest))
    }

    /// `GET /v1/subscriptions`: a customer's subscriptions, newest first.
    pub async fn list_subscriptions(
        &self,
        owner: &CustomerId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> ServiceResult<Page<Subscription>> {
        Ok(self.store.subscriptions_of(owner, limit, cursor).await?)
    }

    /// The merchant view: every customer's subscriptions in `status`, newest first.
    pub async fn subscriptions_in(
        &self,
        status: SubscriptionStatus,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> ServiceResult<Page<Subscription>> {
        Ok(self.store.subscriptions_in(status, limit, cursor).await?)
    }

    /// `PATCH /v1/subscriptions/{id}`: bill another owned wallet from now on; a period
    /// waiting for a payment method is retried on it at once.
    pub async fn change_subscription_wallet(
        &self,
        caller: &Caller,
        id: &SubscriptionId,
        wallet_id: &WalletId,
    ) -> ServiceResult<Subscription> {
        let now = self.clock.now();
        let mut sub = self.owned_subscription(caller, id).await?;
        let wallet = self
            .owned_wallet(&Caller::Customer(sub.owner.clone()), wallet_id)
            .await?;
        if wallet.currency != sub.price.currency() {
            return Err(ServiceError::CurrencyMismatch(
                "the wallet charges another currency than the plan".into(),
            ));
        }
        for _ in 0..5 {
            if sub.status == SubscriptionStatus::Canceled {
                return Err(ServiceError::Conflict(
                    "the subscription is canceled".into(),
                ));
            }
            let waiting = matches!(sub.dunning, Dunning::AwaitingPaymentMethod { .. });
            let edit = SubscriptionEdit::ChangeWallet {
                wallet_id: wallet.wallet_id.clone(),
                due_now: (waiting && wallet.is_chargeable()).then_some(now),
                at: now,
            };
            match store_retry!(self.store.edit_subscription(&sub, &edit, &[]).await) {
                Ok(s) => return Ok(s),
                Err(StoreError::VersionConflict { .. }) | Err(StoreError::Refused { .. }) => {
                    sub = self.store.get_subscription(id).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Conflict(
            "the subscription kept changing".into(),
        ))
    }

    /// `DELETE /v1/subscriptions/{id}` (and the admin's): canceled at once; a repeat
    /// answers the canceled subscription.
    pub async fn cancel_subscription(
        &self,
        caller: &Caller,
        id: &SubscriptionId,
    ) -> ServiceResult<Subscription> {
        let sub = self.owned_subscription(caller, id).await?;
        let reason = match caller {
            Caller::Customer(_) => CancelReason::Buyer,
            Caller::Merchant => CancelReason::Merchant,
        };
        self.cancel_subscription_record(&sub, reason, self.clock.now())
            .await
    }
}
