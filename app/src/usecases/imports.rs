//! Imports: a merchant moving existing Saved Wallets and subscriptions onto the service
//! (charge permissions set up elsewhere, periods already paid there), and `simulate`, which
//! seeds thousands of them without spending Amazon's quota on setups and first charges.

use chrono::{DateTime, Utc};

use savedwallet_shared::api::ChargePermission;

use super::{store_retry, Service};
use crate::error::{ServiceError, ServiceResult};
use crate::ids::*;
use crate::store::*;

/// A subscription whose earlier periods were paid before the import.
#[derive(Debug, Clone)]
pub struct ImportSubscription {
    /// The owner (the wallet's owner too).
    pub owner: CustomerId,
    /// The wallet billed.
    pub wallet_id: WalletId,
    /// The plan (its price and interval apply).
    pub plan_id: PlanId,
    /// When period 1 began; period n begins `n - 1` intervals later.
    pub anchor: DateTime<Utc>,
    /// The first period this service bills (≥ 2: period 1 was paid elsewhere).
    pub next_period: u32,
}

impl Service {
    /// Stores a Saved Wallet from a charge permission the caller fetched (Get Charge
    /// Permission) as `owner`'s; a wallet already stored for `owner` is returned as it is.
    pub async fn adopt_wallet(
        &self,
        owner: &CustomerId,
        permission: &ChargePermission,
    ) -> ServiceResult<Wallet> {
        let id = WalletId::parse(&permission.charge_permission_id).map_err(|_| {
            ServiceError::invalid("chargePermissionId", "not a charge permission id")
        })?;
        self.save_wallet(owner, &id, permission, self.clock.now())
            .await
    }

    /// Creates an active subscription whose next period bills on schedule (MITR) like any
    /// other; nothing is charged now.
    pub async fn import_subscription(
        &self,
        sid: &SubscriptionId,
        req: &ImportSubscription,
    ) -> ServiceResult<Subscription> {
        if req.next_period < 2 {
            return Err(ServiceError::invalid(
                "nextPeriod",
                "period 1 is charged by subscribing (CITR), not imported",
            ));
        }
        let now = self.clock.now();
        let plan = self.store.get_plan(&req.plan_id).await?;
        let wallet = self.store.get_wallet(&req.wallet_id).await?;
        if wallet.owner != req.owner {
            return Err(ServiceError::NotFound { kind: "wallet" });
        }
        let start = plan
            .interval
            .nth_after(req.anchor, req.next_period - 1)
            .ok_or_else(|| ServiceError::invalid("anchor", "out of range"))?;
        let sub = Subscription {
            subscription_id: sid.clone(),
            owner: req.owner.clone(),
            wallet_id: wallet.wallet_id,
            plan_id: plan.plan_id,
            price: plan.price,
            interval: plan.interval,
            status: SubscriptionStatus::Active,
            period: req.next_period,
            anchor: req.anchor,
            next_billing_at: start,
            due_at: Some(start),
            dunning: Dunning::Current,
            latest_payment_id: None,
            lease: None,
            canceled_at: None,
            cancel_reason: None,
            created_at: now,
            updated_at: now,
            version: 0,
        };
        let write = SubscriptionWrite {
            record: sub,
            lease_owner: None,
        };
        Ok(store_retry!(
            self.store.write_subscription(&write, &[]).await
        )?)
    }
}
