//! The merchant's side: plans, orders, customer lists and merchant events.

use savedwallet_shared::money::Price;

use super::{store_retry, Service};
use crate::error::{ServiceError, ServiceResult};
use crate::ids::*;
use crate::store::*;
use crate::validate::{self, MoneyInput};

/// `PUT /admin/v1/plans/{planId}`.
#[derive(Debug, Clone)]
pub struct PlanInput {
    /// Display name.
    pub name: String,
    /// Price per interval.
    pub price: MoneyInput,
    /// `month`, `week`, `day`, `year` (`minute` in local mode only).
    pub interval: String,
    /// Units per interval (1..=365).
    pub interval_count: u32,
    /// Takes new subscriptions (default true).
    pub active: Option<bool>,
}

/// `POST /admin/v1/orders`.
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// The customer.
    pub customer_id: String,
    /// Amount.
    pub amount: MoneyInput,
    /// Description.
    pub description: String,
    /// Capture at once (default true).
    pub capture_now: Option<bool>,
    /// Statement descriptor (only with capture).
    pub soft_descriptor: Option<String>,
    /// The caller's idempotency scope: names the order.
    pub scope: Vec<u8>,
}

/// A page of merchant events.
pub type EventPage = Page<MerchantEvent>;

impl Service {
    /// Creates or replaces a plan (a new price applies from each subscription's next period).
    pub async fn put_plan(&self, id: &PlanId, input: PlanInput) -> ServiceResult<Plan> {
        let now = self.clock.now();
        let name = validate::text("name", &input.name, 100)?;
        let price = validate::amount("price", &input.price)?;
        let unit = IntervalUnit::parse(&input.interval)
            .filter(|u| *u != IntervalUnit::Minute || self.config.allow_minute_plans)
            .ok_or_else(|| {
                ServiceError::invalid("interval", "interval must be month, week, day or year")
            })?;
        if !(1..=365).contains(&input.interval_count) {
            return Err(ServiceError::invalid(
                "intervalCount",
                "intervalCount must be 1 to 365",
            ));
        }
        let interval = BillingInterval {
            unit,
            count: input.interval_count,
        };
        let existing = match self.store.get_plan(id).await {
            Ok(p) => Some(p),
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        let plan = Plan {
            plan_id: id.clone(),
            name,
            price,
            interval,
            active: input.active.unwrap_or(true),
            created_at: existing.as_ref().map(|p| p.created_at).unwrap_or(now),
            updated_at: now,
            version: existing.map(|p| p.version).unwrap_or(0),
        };
        match store_retry!(self.store.put_plan(&plan).await) {
            Ok(p) => {
                self.forget_plan_price(id);
                Ok(p)
            }
            Err(StoreError::AlreadyExists { .. }) | Err(StoreError::VersionConflict { .. }) => Err(
                ServiceError::Conflict("the plan changed meanwhile; try again".into()),
            ),
            Err(e) => Err(e.into()),
        }
    }

    /// `GET /v1/plans`: the active plans.
    pub async fn active_plans(&self) -> ServiceResult<Vec<Plan>> {
        let mut plans: Vec<Plan> = self
            .store
            .list_plans()
            .await?
            .into_iter()
            .filter(|p| p.active)
            .collect();
        plans.sort_by(|a, b| a.plan_id.cmp(&b.plan_id));
        Ok(plans)
    }

    /// `POST /admin/v1/orders`: an amount the merchant will charge the customer.
    pub async fn create_order(&self, input: NewOrder) -> ServiceResult<Order> {
        let now = self.clock.now();
        let owner = CustomerId::parse(&input.customer_id)
            .map_err(|e| ServiceError::invalid("customerId", e.to_string()))?;
        let amount: Price = validate::amount("amount", &input.amount)?;
        let description = validate::text("description", &input.description, 255)?;
        let capture_now = input.capture_now.unwrap_or(true);
        let soft_descriptor =
            validate::soft_descriptor(input.soft_descriptor.as_deref(), capture_now)?;
        let id = OrderId::parse(&derived_id(
            "ord",
            &[owner.as_str().as_bytes(), &input.scope],
        ))
        .map_err(|_| ServiceError::Internal("order id".into()))?;
        let order = Order {
            order_id: id.clone(),
            owner,
            amount,
            description,
            capture_now,
            soft_descriptor,
            payment_id: None,
            created_at: now,
            version: 0,
        };
        match store_retry!(self.store.create_order(&order).await) {
            Ok(o) => Ok(o),
            Err(StoreError::AlreadyExists { .. }) => Ok(self.store.get_order(&id).await?),
            Err(e) => Err(e.into()),
        }
    }

    /// `GET /v1/orders/{id}` (a customer sees only theirs).
    pub async fn get_order(
        &self,
        caller: &super::Caller,
        id: &OrderId,
    ) -> ServiceResult<(Order, Option<Payment>)> {
        let order = match self.store.get_order(id).await {
            Ok(o) if caller.may_see(&o.owner) => o,
            Ok(_) | Err(StoreError::NotFound { .. }) => {
                return Err(ServiceError::NotFound { kind: "order" })
            }
            Err(e) => return Err(e.into()),
        };
        let payment = match &order.payment_id {
            Some(p) => Some(self.get_payment(caller, p).await?.payment),
            None => None,
        };
        Ok((order, payment))
    }

    /// `GET /admin/v1/events`: merchant events, oldest first from `cursor`.
    pub async fn events(&self, limit: u32, cursor: Option<&Cursor>) -> ServiceResult<EventPage> {
        Ok(self
            .store
            .events_since(cursor, limit, self.clock.now())
            .await?)
    }
}
