//! Orders, plans, refunds, merchant events, billing runs, and the small answers of the
//! health and dev routes.

use serde::Serialize;
use utoipa::ToSchema;

use savedwallet_app::store::{MerchantEvent, Order, Payment, Plan, Refund, RefundState};
use savedwallet_app::usecases::BillingRun;

use super::{Money, PaymentResult, Timestamp};

/// A one-off amount the merchant created for a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderDto {
    /// Order id.
    pub order_id: String,
    /// The customer.
    pub customer_id: String,
    /// Amount.
    pub amount: Money,
    /// Description.
    pub description: String,
    /// Captured at once, or only authorized.
    pub capture_now: bool,
    /// Statement descriptor.
    pub soft_descriptor: Option<String>,
    /// Its payment, once paid.
    pub payment: Option<PaymentResult>,
    /// Created.
    pub created_at: Timestamp,
}

impl OrderDto {
    /// From an order and its payment.
    pub fn new(o: &Order, payment: Option<&Payment>) -> Self {
        OrderDto {
            order_id: o.order_id.to_string(),
            customer_id: o.owner.to_string(),
            amount: o.amount.into(),
            description: o.description.clone(),
            capture_now: o.capture_now,
            soft_descriptor: o.soft_descriptor.clone(),
            payment: payment.map(PaymentResult::from),
            created_at: o.created_at.into(),
        }
    }
}

/// A subscription plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanDto {
    /// Plan id.
    pub plan_id: String,
    /// Display name.
    pub name: String,
    /// Price per interval.
    pub price: Money,
    /// `day`, `week`, `month`, `year`.
    pub interval: String,
    /// Units per interval.
    pub interval_count: u32,
    /// Takes new subscriptions.
    pub active: bool,
    /// Created.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl From<&Plan> for PlanDto {
    fn from(p: &Plan) -> Self {
        PlanDto {
            plan_id: p.plan_id.to_string(),
            name: p.name.clone(),
            price: p.price.into(),
            interval: p.interval.unit.as_str().to_string(),
            interval_count: p.interval.count,
            active: p.active,
            created_at: p.created_at.into(),
            updated_at: p.updated_at.into(),
        }
    }
}

/// `GET /v1/plans`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanList {
    /// Active plans, by id.
    pub plans: Vec<PlanDto>,
    /// Null at the end.
    pub next_cursor: Option<String>,
}

/// A refund's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundStateDto {
    /// Sent, or RefundInitiated at Amazon.
    Pending,
    /// Refunded.
    Succeeded,
    /// Declined (its amount may be refunded again).
    Failed,
}

/// A refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefundDto {
    /// Refund id.
    pub refund_id: String,
    /// The refunded payment.
    pub payment_id: String,
    /// State.
    pub state: RefundStateDto,
    /// Amount.
    pub amount: Money,
    /// The merchant's reason.
    pub reason: Option<String>,
    /// Amazon's reason code of a declined refund.
    pub reason_code: Option<String>,
    /// Created.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl From<&Refund> for RefundDto {
    fn from(r: &Refund) -> Self {
        RefundDto {
            refund_id: r.refund_id.to_string(),
            payment_id: r.payment_id.to_string(),
            state: match r.state {
                RefundState::Pending => RefundStateDto::Pending,
                RefundState::Succeeded => RefundStateDto::Succeeded,
                RefundState::Failed => RefundStateDto::Failed,
            },
            amount: r.amount.into(),
            reason: r.reason.clone(),
            reason_code: r.reason_code.as_ref().map(|c| c.as_str().to_string()),
            created_at: r.created_at.into(),
            updated_at: r.updated_at.into(),
        }
    }
}

/// A merchant event.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventDto {
    /// Unique and stable (the consumer's dedupe key).
    pub event_id: String,
    /// `payment.succeeded`, `wallet.closed`, `subscription.canceled`, `refund.failed`, …
    #[serde(rename = "type")]
    #[schema(example = "payment.succeeded")]
    pub kind: String,
    /// The customer concerned.
    pub customer_id: Option<String>,
    /// Ids, statuses, amounts and reason codes (never personal data).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// When it happened.
    pub created_at: Timestamp,
    /// Delivered to the merchant's endpoint (or bus); false while a delivery is still due.
    pub delivered: bool,
    /// Delivery attempts made so far.
    pub deliveries: u32,
}

impl From<&MerchantEvent> for EventDto {
    fn from(e: &MerchantEvent) -> Self {
        EventDto {
            event_id: e.event_id.to_string(),
            kind: e.kind.clone(),
            customer_id: e.customer_id.as_ref().map(|c| c.to_string()),
            data: e.data.clone(),
            created_at: e.created_at.into(),
            delivered: e.deliver_at.is_none(),
            deliveries: e.deliveries,
        }
    }
}

/// `GET /admin/v1/events`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventList {
    /// Oldest first.
    pub events: Vec<EventDto>,
    /// Null at the end.
    pub next_cursor: Option<String>,
}

/// `POST /admin/v1/billing/run`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct BillingRunDto {
    /// Due periods claimed.
    pub claimed: u32,
    /// Periods charged (in AWS: enqueued to the workers).
    pub enqueued: u32,
}

impl From<BillingRun> for BillingRunDto {
    fn from(r: BillingRun) -> Self {
        BillingRunDto {
            claimed: r.claimed,
            enqueued: r.charged,
        }
    }
}

/// `GET /health`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// `POST /dev/token`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DevToken {
    /// A dev JWT (ES256, the per-install local key).
    pub token: String,
}

/// `POST /dev/clock/advance`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClockNow {
    /// The service's (and the simulator's) time now.
    pub now: Timestamp,
}
