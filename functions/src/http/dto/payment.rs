//! The payment result (API.md "Payment result") and its attempts: buyers see attempts as
//! `{status, createdAt}`, the merchant sees them whole.

use serde::Serialize;
use utoipa::ToSchema;

use savedwallet_app::store::{
    AttemptState, BuyerAction, BuyerActionKind, ChargeAttempt, Payment, PaymentKind, PaymentStatus,
};

use super::{time, Money, Timestamp};

/// A payment's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatusDto {
    /// An attempt is in flight, an authorization is pending, or a retry is scheduled.
    Pending,
    /// The buyer must pass an MFA challenge at `redirectUrl` until `expiresAt`.
    ActionRequired,
    /// Authorized (`captureNow: false`) until captured or 30 days.
    Authorized,
    /// Captured.
    Succeeded,
    /// Declined (`declineCode`, `buyerAction`, `message`).
    Declined,
    /// No outcome from Amazon after all replays.
    Failed,
    /// Canceled.
    Canceled,
}

impl From<PaymentStatus> for PaymentStatusDto {
    fn from(s: PaymentStatus) -> Self {
        match s {
            PaymentStatus::Pending => PaymentStatusDto::Pending,
            PaymentStatus::ActionRequired => PaymentStatusDto::ActionRequired,
            PaymentStatus::Authorized => PaymentStatusDto::Authorized,
            PaymentStatus::Succeeded => PaymentStatusDto::Succeeded,
            PaymentStatus::Declined => PaymentStatusDto::Declined,
            PaymentStatus::Failed => PaymentStatusDto::Failed,
            PaymentStatus::Canceled => PaymentStatusDto::Canceled,
        }
    }
}

impl From<AttemptState> for PaymentStatusDto {
    fn from(s: AttemptState) -> Self {
        match s {
            AttemptState::Sending | AttemptState::Unknown | AttemptState::Pending => {
                PaymentStatusDto::Pending
            }
            AttemptState::ActionRequired => PaymentStatusDto::ActionRequired,
            AttemptState::Authorized => PaymentStatusDto::Authorized,
            AttemptState::Captured => PaymentStatusDto::Succeeded,
            AttemptState::Declined => PaymentStatusDto::Declined,
            AttemptState::Failed => PaymentStatusDto::Failed,
            AttemptState::Canceled => PaymentStatusDto::Canceled,
        }
    }
}

/// What the buyer should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BuyerActionKindDto {
    /// Fix the wallet's payment method at `url` (Amazon's link).
    UpdatePaymentMethod,
    /// Nothing to change; try again later.
    RetryLater,
    /// Pay with another payment method.
    UseAnotherMethod,
}

/// `buyerAction`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BuyerActionDto {
    /// The kind.
    pub kind: BuyerActionKindDto,
    /// Amazon's update link (`update_payment_method`).
    pub url: Option<String>,
}

impl From<&BuyerAction> for BuyerActionDto {
    fn from(a: &BuyerAction) -> Self {
        BuyerActionDto {
            kind: match a.kind {
                BuyerActionKind::UpdatePaymentMethod => BuyerActionKindDto::UpdatePaymentMethod,
                BuyerActionKind::RetryLater => BuyerActionKindDto::RetryLater,
                BuyerActionKind::UseAnotherMethod => BuyerActionKindDto::UseAnotherMethod,
            },
            url: a.url.clone(),
        }
    }
}

/// What a payment pays for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum PaymentPurpose {
    /// An order (CITU).
    Order {
        /// The order.
        #[serde(rename = "orderId")]
        order_id: String,
    },
    /// A subscription's period (CITR for the first, MITR after).
    SubscriptionPeriod {
        /// The subscription.
        #[serde(rename = "subscriptionId")]
        subscription_id: String,
        /// The period (1 = the first).
        period: u32,
    },
    /// A merchant's unscheduled charge (MITU).
    Unscheduled,
}

/// The body of every route that charges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentResult {
    /// The payment (one logical charge).
    pub payment_id: String,
    /// Status.
    pub status: PaymentStatusDto,
    /// Amount.
    pub amount: Money,
    /// Amazon's charge id of the latest attempt.
    pub charge_id: Option<String>,
    /// Amazon's reasonCode (declined only).
    pub decline_code: Option<String>,
    /// Amazon's MFA page (action_required only).
    pub redirect_url: Option<String>,
    /// Until when the MFA challenge may be completed (action_required only).
    pub expires_at: Option<Timestamp>,
    /// When a retry is scheduled.
    pub next_attempt_at: Option<Timestamp>,
    /// What the buyer should do (declined, or an abandoned MFA).
    pub buyer_action: Option<BuyerActionDto>,
    /// What to show the buyer (declined / failed).
    pub message: Option<String>,
    /// The wallet the latest attempt charges.
    pub wallet_id: String,
    /// What it pays for.
    pub purpose: PaymentPurpose,
    /// Amount captured.
    pub captured: Option<Money>,
    /// Amount refunded or being refunded.
    pub refunded: Money,
    /// Attempts made.
    pub attempt_count: u32,
    /// Created.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl From<&Payment> for PaymentResult {
    fn from(p: &Payment) -> Self {
        let mfa = p.status == PaymentStatus::ActionRequired;
        PaymentResult {
            payment_id: p.payment_id.to_string(),
            status: p.status.into(),
            amount: p.amount.into(),
            charge_id: p.charge_id.as_ref().map(|c| c.to_string()),
            decline_code: (p.status == PaymentStatus::Declined)
                .then(|| p.decline_code.as_ref().map(|c| c.as_str().to_string()))
                .flatten(),
            redirect_url: p.redirect_url.clone().filter(|_| mfa),
            expires_at: time(p.expires_at.filter(|_| mfa)),
            next_attempt_at: time(p.next_attempt_at),
            buyer_action: p.buyer_action.as_ref().map(BuyerActionDto::from),
            message: p.message.clone(),
            wallet_id: p.wallet_id.to_string(),
            purpose: match &p.kind {
                PaymentKind::Order { order_id } => PaymentPurpose::Order {
                    order_id: order_id.to_string(),
                },
                PaymentKind::Period {
                    subscription_id,
                    period,
                } => PaymentPurpose::SubscriptionPeriod {
                    subscription_id: subscription_id.to_string(),
                    period: *period,
                },
                PaymentKind::Unscheduled { .. } => PaymentPurpose::Unscheduled,
            },
            captured: p.captured.map(Money::from),
            refunded: p.refunded.into(),
            attempt_count: p.attempt_count,
            created_at: p.created_at.into(),
            updated_at: p.updated_at.into(),
        }
    }
}

/// An attempt as the buyer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BuyerAttempt {
    /// The attempt's status in the payment's words.
    pub status: PaymentStatusDto,
    /// When it was made.
    pub created_at: Timestamp,
}

/// A payment with its attempts, for its buyer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BuyerPayment {
    /// The payment result.
    #[serde(flatten)]
    pub payment: PaymentResult,
    /// Its attempts, oldest first.
    pub attempts: Vec<BuyerAttempt>,
}

impl BuyerPayment {
    /// From a payment and its attempts.
    pub fn new(p: &Payment, attempts: &[ChargeAttempt]) -> Self {
        BuyerPayment {
            payment: p.into(),
            attempts: attempts
                .iter()
                .map(|a| BuyerAttempt {
                    status: a.state.into(),
                    created_at: a.created_at.into(),
                })
                .collect(),
        }
    }
}

/// An attempt as the merchant sees it: whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminAttempt {
    /// Attempt number (1-based).
    pub attempt: u32,
    /// The wallet charged.
    pub wallet_id: String,
    /// Amount.
    pub amount: Money,
    /// The Amazon `x-amz-pay-idempotency-key` of every send of this attempt.
    pub idempotency_key: String,
    /// Amazon's charge id.
    pub charge_id: Option<String>,
    /// Our state of the attempt (`Sending`, `Unknown`, `Pending`, `ActionRequired`,
    /// `Authorized`, `Captured`, `Declined`, `Failed`, `Canceled`).
    pub state: String,
    /// Amazon's reason code of a decline or failure.
    pub reason_code: Option<String>,
    /// HTTP status of Amazon's last answer.
    pub http_status: Option<u16>,
    /// Sends of the request so far.
    pub sends: u32,
    /// Created.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl From<&ChargeAttempt> for AdminAttempt {
    fn from(a: &ChargeAttempt) -> Self {
        AdminAttempt {
            attempt: a.attempt,
            wallet_id: a.wallet_id.to_string(),
            amount: a.amount.into(),
            idempotency_key: a.idempotency_key.as_str().to_string(),
            charge_id: a.charge_id.as_ref().map(|c| c.to_string()),
            state: a.state.as_str().to_string(),
            reason_code: a.reason_code.as_ref().map(|r| r.as_str().to_string()),
            http_status: a.http_status,
            sends: a.sends,
            created_at: a.created_at.into(),
            updated_at: a.updated_at.into(),
        }
    }
}

/// A payment with its attempts, for the merchant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminPayment {
    /// The payment result.
    #[serde(flatten)]
    pub payment: PaymentResult,
    /// The customer.
    pub customer_id: String,
    /// The merchant's reason (unscheduled charges).
    pub reason: Option<String>,
    /// Its attempts, oldest first.
    pub attempts: Vec<AdminAttempt>,
}

impl AdminPayment {
    /// From a payment and its attempts.
    pub fn new(p: &Payment, attempts: &[ChargeAttempt]) -> Self {
        AdminPayment {
            payment: p.into(),
            customer_id: p.owner.to_string(),
            reason: match &p.kind {
                PaymentKind::Unscheduled { reason } => Some(reason.clone()),
                PaymentKind::Order { .. } | PaymentKind::Period { .. } => None,
            },
            attempts: attempts.iter().map(AdminAttempt::from).collect(),
        }
    }
}

/// `GET /v1/payments`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BuyerPaymentList {
    /// Newest first.
    pub payments: Vec<BuyerPayment>,
    /// Null at the end.
    pub next_cursor: Option<String>,
}

/// `GET /admin/v1/customers/{customerId}/payments`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminPaymentList {
    /// Newest first.
    pub payments: Vec<AdminPayment>,
    /// Null at the end.
    pub next_cursor: Option<String>,
}
