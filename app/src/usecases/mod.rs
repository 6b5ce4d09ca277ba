//! The use cases: every flow of Amazon's Saved Wallet page, over the ports. One
//! [`Service`] holds the ports; each capability is an `impl Service` block in its own file.

mod admin;
mod billing;
mod charge;
mod complete;
mod dispatch;
pub mod events;
mod imports;
mod interpret;
mod notifications;
mod outreach;
mod payments;
pub mod periods;
mod reconcile;
mod refunds;
mod subscriptions;
mod wallets;

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::config::ServiceConfig;
use crate::error::{ServiceError, ServiceResult};
use crate::ids::*;
use crate::ports::{AmazonPay, Clock, Entropy};
use crate::store::*;
use savedwallet_shared::money::Price;

pub use admin::{EventPage, NewOrder, PlanInput};
pub use billing::{Billed, BillingRun, BILLING_LEASE};
pub use charge::ChargeOptions;
pub use dispatch::{redelivery_delay, Dispatched, Scheduled};
pub use imports::ImportSubscription;
pub use notifications::{IpnOutcome, VerifiedIpn};
pub use outreach::Outreach;
pub use payments::{Charged, MerchantCharge, PayOrder, PaymentDetail, RetryPayment};
pub use reconcile::Reconciled;
pub use refunds::NewRefund;
pub use subscriptions::Subscribe;
pub use wallets::{ButtonConfig, SetupStarted, WalletView};

/// Who is calling: a buyer (the JWT `sub`) or the merchant's trusted side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A buyer, by the merchant's customer id.
    Customer(CustomerId),
    /// The merchant (admin routes).
    Merchant,
}

impl Caller {
    /// True when the caller may see records of `owner`.
    pub fn may_see(&self, owner: &CustomerId) -> bool {
        match self {
            Caller::Customer(c) => c == owner,
            Caller::Merchant => true,
        }
    }
}

/// The use cases over their ports.
pub struct Service {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) amazon: Arc<dyn AmazonPay>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) entropy: Arc<dyn Entropy>,
    pub(crate) config: ServiceConfig,
    pub(crate) metrics: Arc<dyn crate::ports::Metrics>,
    /// Plans' prices as last read, for billing (see [`Service::plan_price`]).
    plan_prices: std::sync::Mutex<std::collections::HashMap<PlanId, (Price, std::time::Instant)>>,
}

/// How long billing trusts a plan's price as read: a price change reaches a worker in
/// another process (Lambda) within this, without a store read per billed period.
pub const PLAN_PRICE_TTL: std::time::Duration = std::time::Duration::from_secs(60);

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service").finish_non_exhaustive()
    }
}

impl Service {
    /// The service over its ports.
    pub fn new(
        store: Arc<dyn Store>,
        amazon: Arc<dyn AmazonPay>,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
        config: ServiceConfig,
    ) -> Service {
        Service {
            store,
            amazon,
            clock,
            entropy,
            config,
            metrics: Arc::new(crate::ports::NoMetrics),
            plan_prices: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Where measurements go (adapters report theirs here too).
    pub fn metrics(&self) -> &dyn crate::ports::Metrics {
        self.metrics.as_ref()
    }

    /// The same service reporting its measurements to `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<dyn crate::ports::Metrics>) -> Service {
        self.metrics = metrics;
        self
    }

    /// A plan's current price (`None`: the plan is gone), cached for [`PLAN_PRICE_TTL`].
    pub(crate) async fn plan_price(&self, id: &PlanId) -> ServiceResult<Option<Price>> {
        let cached = self
            .plan_prices
            .lock()
            .ok()
            .and_then(|m| m.get(id).copied())
            .filter(|(_, at)| at.elapsed() < PLAN_PRICE_TTL);
        if let Some((price, _)) = cached {
            return Ok(Some(price));
        }
        match self.store.get_plan(id).await {
            Ok(plan) => {
                if let Ok(mut m) = self.plan_prices.lock() {
                    m.insert(id.clone(), (plan.price, std::time::Instant::now()));
                }
                Ok(Some(plan.price))
            }
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Forgets a cached plan price (after this process changed the plan).
    pub(crate) fn forget_plan_price(&self, id: &PlanId) {
        if let Ok(mut m) = self.plan_prices.lock() {
            m.remove(id);
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// The store (for the HTTP layer's idempotency records and the operators' tools).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Now, by the service's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// A fresh id with a type prefix.
    pub(crate) fn new_id(&self, prefix: &str) -> String {
        new_id(prefix, &self.entropy.bytes())
    }

    /// A fresh holder token (idempotency records, notifications).
    pub fn new_token(&self) -> String {
        self.new_id("tok")
    }

    /// The deadline of a charging request started now.
    pub(crate) fn charge_deadline(&self) -> Instant {
        Instant::now() + self.config.charge_deadline
    }

    /// Reads a wallet the caller may act on (404 for anyone else's, exactly as a missing one).
    pub(crate) async fn owned_wallet(
        &self,
        caller: &Caller,
        id: &WalletId,
    ) -> ServiceResult<Wallet> {
        match self.store.get_wallet(id).await {
            Ok(w) if caller.may_see(&w.owner) => Ok(w),
            Ok(_) | Err(StoreError::NotFound { .. }) => {
                Err(ServiceError::NotFound { kind: "wallet" })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Reads a payment the caller may see.
    pub(crate) async fn owned_payment(
        &self,
        caller: &Caller,
        id: &PaymentId,
    ) -> ServiceResult<Payment> {
        match self.store.get_payment(id).await {
            Ok(p) if caller.may_see(&p.owner) => Ok(p),
            Ok(_) | Err(StoreError::NotFound { .. }) => {
                Err(ServiceError::NotFound { kind: "payment" })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Reads a subscription the caller may see.
    pub(crate) async fn owned_subscription(
        &self,
        caller: &Caller,
        id: &SubscriptionId,
    ) -> ServiceResult<Subscription> {
        match self.store.get_subscription(id).await {
            Ok(s) if caller.may_see(&s.owner) => Ok(s),
            Ok(_) | Err(StoreError::NotFound { .. }) => Err(ServiceError::NotFound {
                kind: "subscription",
            }),
            Err(e) => Err(e.into()),
        }
    }
}

/// Retries a store call through contention and lost answers (every write here is
/// idempotent or recognises its own earlier write).
macro_rules! store_retry {
    ($e:expr) => {{
        let mut tries = 0u32;
        loop {
            match $e {
                Err(e) if e.is_transient() && tries < 4 => tries += 1,
                other => break other,
            }
        }
    }};
}
pub(crate) use store_retry;
