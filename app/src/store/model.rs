//! The records the store keeps: wallets, plans, subscriptions, orders, payments and their
//! attempts and refunds, in Amazon Pay's terms. Plain data; the rules that move them live in
//! [`super::rules`] and in the use cases, the conditions that keep them safe in the store.

use chrono::{DateTime, Months, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use savedwallet_shared::api::{ChargeInitiator, ChargePermissionState, ReasonCode};
use savedwallet_shared::idempotency::{IdempotencyKey, LogicalChargeKey};
use savedwallet_shared::limits::UsageMonth;
use savedwallet_shared::money::{Currency, Price};
use savedwallet_shared::region::Region;

use crate::ids::*;

/// A Saved Wallet (Amazon charge permission of type `PaymentMethodOnFile`) and its owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Wallet {
    /// Amazon's chargePermissionId.
    pub wallet_id: WalletId,
    /// The merchant's customer who owns it, forever.
    pub owner: CustomerId,
    /// Amazon Pay region of the permission.
    pub region: Region,
    /// Presentment currency; every charge uses it.
    pub currency: Currency,
    /// Amazon's state as last fetched.
    pub state: ChargePermissionState,
    /// Amazon's reason codes as last fetched.
    pub reasons: Vec<ReasonCode>,
    /// Amazon's `paymentDescriptor` (e.g. "Visa ****1111"), as last fetched.
    pub payment_descriptor: Option<String>,
    /// Set by a HardDeclined (or a NonChargeable answer) on a charge; only a
    /// CHARGE_PERMISSION notification published after `update_required_since` whose fetch
    /// shows `Chargeable` clears it (the seed's rule).
    pub update_required: bool,
    /// When the flag was set.
    pub update_required_since: Option<DateTime<Utc>>,
    /// The monthly Saved Wallet limit Amazon reports for this permission
    /// (`limits.amountLimit`), when it does; else Amazon's table for the region applies.
    pub monthly_limit: Option<Price>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Optimistic version: 0 before the first write, +1 on every write.
    pub version: u64,
}

impl Wallet {
    /// True when a charge may be sent: `Chargeable` as stored and no update pending.
    pub fn is_chargeable(&self) -> bool {
        self.state == ChargePermissionState::Chargeable && !self.update_required
    }
}

/// Unit of a billing interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntervalUnit {
    /// Minutes: local mode's demo plan only (production configuration refuses it).
    Minute,
    /// Days.
    Day,
    /// Weeks.
    Week,
    /// Calendar months (end-of-month clamps, e.g. Jan 31 → Feb 28).
    Month,
    /// Calendar years.
    Year,
}

impl IntervalUnit {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            IntervalUnit::Minute => "minute",
            IntervalUnit::Day => "day",
            IntervalUnit::Week => "week",
            IntervalUnit::Month => "month",
            IntervalUnit::Year => "year",
        }
    }

    /// Parses the API's spelling.
    pub fn parse(s: &str) -> Option<IntervalUnit> {
        [
            IntervalUnit::Minute,
            IntervalUnit::Day,
            IntervalUnit::Week,
            IntervalUnit::Month,
            IntervalUnit::Year,
        ]
        .into_iter()
        .find(|u| u.as_str() == s)
    }
}

/// How often a plan bills (unit × count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BillingInterval {
    /// Unit.
    pub unit: IntervalUnit,
    /// Number of units (≥ 1).
    pub count: u32,
}

impl BillingInterval {
    /// The instant `periods` intervals after `anchor`, computed from the anchor (not by
    /// repeated addition) so month-end anchors do not drift: Jan 31 → Feb 28 → Mar 31.
    /// `None` on calendar overflow.
    pub fn nth_after(&self, anchor: DateTime<Utc>, periods: u32) -> Option<DateTime<Utc>> {
        let n = self.count.max(1).checked_mul(periods)?;
        match self.unit {
            IntervalUnit::Minute => anchor.checked_add_signed(TimeDelta::try_minutes(n.into())?),
            IntervalUnit::Day => anchor.checked_add_signed(TimeDelta::try_days(n.into())?),
            IntervalUnit::Week => anchor.checked_add_signed(TimeDelta::try_weeks(n.into())?),
            IntervalUnit::Month => anchor.checked_add_months(Months::new(n)),
            IntervalUnit::Year => anchor.checked_add_months(Months::new(n.checked_mul(12)?)),
        }
    }
}

/// A merchant's subscription plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Plan id.
    pub plan_id: PlanId,
    /// Display name.
    pub name: String,
    /// Price per interval; a change applies from each subscription's next period.
    pub price: Price,
    /// Billing interval.
    pub interval: BillingInterval,
    /// Only active plans take new subscriptions.
    pub active: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Optimistic version.
    pub version: u64,
}

/// Status of a subscription (API.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// The first payment has not succeeded yet.
    Incomplete,
    /// Paid up.
    Active,
    /// A period's payment has not succeeded.
    PastDue,
    /// Ended: nothing more is billed.
    Canceled,
}

impl SubscriptionStatus {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Incomplete => "incomplete",
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::PastDue => "past_due",
            SubscriptionStatus::Canceled => "canceled",
        }
    }

    /// Parses the API's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        use SubscriptionStatus::*;
        [Incomplete, Active, PastDue, Canceled]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// Why a subscription ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// The buyer canceled it.
    Buyer,
    /// The merchant canceled it.
    Merchant,
    /// Its wallet was closed (by the buyer on Amazon, by Amazon, or by the merchant).
    WalletClosed,
    /// Dunning ended without a successful payment.
    DunningExhausted,
    /// The first payment never succeeded within 24 h.
    FirstPaymentNotCompleted,
}

/// Where the current period is in its failed-payment cycle. Owned by billing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum Dunning {
    /// Nothing failed.
    Current,
    /// Soft declines: new attempts on the dunning schedule.
    Retrying {
        /// When the period's first attempt failed.
        first_failure_at: DateTime<Utc>,
        /// Attempts of the period that ended in a decline.
        failed_attempts: u32,
    },
    /// Waiting for the buyer to fix the payment method (HardDeclined, NonChargeable); the
    /// period bills as soon as the wallet is Chargeable again.
    AwaitingPaymentMethod {
        /// Since when.
        since: DateTime<Utc>,
    },
    /// Waiting for the next UTC month (monthly Saved Wallet limit reached).
    AwaitingNextMonth {
        /// First instant of that month.
        until: DateTime<Utc>,
    },
    /// Retries exhausted: the final state left the subscription past due.
    Exhausted,
}

/// A worker's exclusive right to bill a subscription's current period until `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    /// Who holds it (e.g. the Lambda request id).
    pub owner: String,
    /// When it lapses; after that another worker may claim the period.
    pub until: DateTime<Utc>,
}

/// A buyer's subscription to a plan, billed from a wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// Subscription id.
    pub subscription_id: SubscriptionId,
    /// The customer.
    pub owner: CustomerId,
    /// The wallet billed (editable: `PATCH /v1/subscriptions/{id}`).
    pub wallet_id: WalletId,
    /// The plan.
    pub plan_id: PlanId,
    /// Price of the current period (the plan's price when the period began).
    pub price: Price,
    /// The plan's interval.
    pub interval: BillingInterval,
    /// Status.
    pub status: SubscriptionStatus,
    /// The period being billed (1 = the first, charged at subscribe time as CITR).
    pub period: u32,
    /// When the schedule started (period n starts at `anchor + (n-1) intervals`).
    pub anchor: DateTime<Utc>,
    /// When the next period begins (the API's `nextBillingAt`).
    pub next_billing_at: DateTime<Utc>,
    /// When billing should next look at it (the period's start, a retry time, the next
    /// month); `None` while nothing is due (waiting for an IPN, canceled, incomplete).
    pub due_at: Option<DateTime<Utc>>,
    /// Dunning state of the current period.
    pub dunning: Dunning,
    /// The current period's payment, once made.
    pub latest_payment_id: Option<PaymentId>,
    /// A worker's lease on the current period.
    pub lease: Option<Lease>,
    /// When it was canceled.
    pub canceled_at: Option<DateTime<Utc>>,
    /// Why it was canceled.
    pub cancel_reason: Option<CancelReason>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Optimistic version.
    pub version: u64,
}

/// A one-off amount the merchant created for a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// Order id.
    pub order_id: OrderId,
    /// The customer.
    pub owner: CustomerId,
    /// Amount (never from the browser).
    pub amount: Price,
    /// Merchant's description.
    pub description: String,
    /// Capture at once (default) or only authorize.
    pub capture_now: bool,
    /// Statement descriptor (only with `capture_now`).
    pub soft_descriptor: Option<String>,
    /// The order's payment, once paid (set in the same transaction as its first attempt).
    pub payment_id: Option<PaymentId>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Optimistic version.
    pub version: u64,
}

/// What a payment pays for: its logical charge.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum PaymentKind {
    /// An order (CITU).
    Order {
        /// The order.
        order_id: OrderId,
    },
    /// One period of a subscription (CITR for the first, MITR after).
    Period {
        /// The subscription.
        subscription_id: SubscriptionId,
        /// The period.
        period: u32,
    },
    /// A merchant's unscheduled charge (MITU).
    Unscheduled {
        /// The merchant's reason.
        reason: String,
    },
}

/// Status of a payment, exactly the API's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// An attempt is in flight, an authorization is pending, or a retry is scheduled.
    Pending,
    /// The buyer must pass an MFA challenge until `expires_at`.
    ActionRequired,
    /// Authorized (`captureNow: false`) until captured or 30 days.
    Authorized,
    /// Captured.
    Succeeded,
    /// Declined.
    Declined,
    /// No outcome from Amazon after all replays, or a permanent failure.
    Failed,
    /// Canceled (merchant cancel, MFA abandoned or expired, authorization expired).
    Canceled,
}

impl PaymentStatus {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "pending",
            PaymentStatus::ActionRequired => "action_required",
            PaymentStatus::Authorized => "authorized",
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::Declined => "declined",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Canceled => "canceled",
        }
    }

    /// Parses the API's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        use PaymentStatus::*;
        [
            Pending,
            ActionRequired,
            Authorized,
            Succeeded,
            Declined,
            Failed,
            Canceled,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// A new attempt may start only from these (and only with no attempt open).
    pub fn accepts_new_attempt(self) -> bool {
        matches!(
            self,
            PaymentStatus::Declined | PaymentStatus::Failed | PaymentStatus::Canceled
        )
    }
}

pub use savedwallet_shared::decline::{BuyerAction, BuyerActionKind};

/// One logical charge: an order, a subscription period or a merchant's unscheduled charge.
/// It succeeds at most once; its attempts are Create Charge calls, at most one open at a
/// time (the store refuses a second).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    /// Payment id (derived from the logical charge).
    pub payment_id: PaymentId,
    /// The customer.
    pub owner: CustomerId,
    /// What it pays for.
    pub kind: PaymentKind,
    /// The wallet the latest attempt charges.
    pub wallet_id: WalletId,
    /// Amount.
    pub amount: Price,
    /// Who initiates its charges.
    pub initiator: ChargeInitiator,
    /// Capture at once.
    pub capture_now: bool,
    /// Statement descriptor (only with `capture_now`).
    pub soft_descriptor: Option<String>,
    /// Whether Amazon may answer AuthorizationInitiated.
    pub can_handle_pending: bool,
    /// `checkoutResultReturnUrl` sent to Amazon (with `paymentId` appended), for MFA.
    pub return_url: Option<String>,
    /// Status.
    pub status: PaymentStatus,
    /// Attempts made so far (= the latest attempt's number).
    pub attempt_count: u32,
    /// The attempt whose outcome is not final yet, if any.
    pub open_attempt: Option<u32>,
    /// Amazon's charge id of the latest attempt.
    pub charge_id: Option<ChargeId>,
    /// Amazon's reasonCode of the latest decline.
    pub decline_code: Option<ReasonCode>,
    /// What the buyer should do (declined only).
    pub buyer_action: Option<BuyerAction>,
    /// Text for the buyer (declined / failed).
    pub message: Option<String>,
    /// Amazon's MFA page (action_required only).
    pub redirect_url: Option<String>,
    /// Until when the MFA challenge may be completed (action_required only).
    pub expires_at: Option<DateTime<Utc>>,
    /// When a retry is scheduled.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Amount captured.
    pub captured: Option<Price>,
    /// Amount refunded or being refunded (a refund reserves its amount when created).
    pub refunded: Price,
    /// When the reconciler should look at it (unknown outcome, pending authorization, MFA
    /// expiry, authorization expiry); `None` when nothing is waiting.
    pub wake_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Optimistic version.
    pub version: u64,
}

impl Payment {
    /// The logical charge Amazon idempotency keys are derived from.
    pub fn logical_charge(&self) -> LogicalChargeKey {
        match &self.kind {
            PaymentKind::Order { order_id } => LogicalChargeKey::Order {
                order_id: order_id.to_string(),
            },
            PaymentKind::Period {
                subscription_id,
                period,
            } => LogicalChargeKey::SubscriptionPeriod {
                subscription_id: subscription_id.to_string(),
                period: *period,
            },
            PaymentKind::Unscheduled { .. } => LogicalChargeKey::Unscheduled {
                payment_id: self.payment_id.to_string(),
            },
        }
    }
}

/// Our state of one Create Charge attempt. See [`super::rules::attempt_transition`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AttemptState {
    /// Recorded before the request is sent; no answer yet.
    Sending,
    /// Replays exhausted without an answer: the charge may exist, so the attempt stays
    /// open (no new attempt may start) and the reconciler keeps replaying the same key.
    Unknown,
    /// AuthorizationInitiated: the final state arrives by IPN.
    Pending,
    /// The buyer must complete MFA (EU/UK CIT).
    ActionRequired,
    /// Authorized (not captured).
    Authorized,
    /// Captured.
    Captured,
    /// Declined (soft or hard; see the reason code).
    Declined,
    /// Failed for sure without a charge (a request Amazon refused outright).
    Failed,
    /// Canceled (merchant, MFA abandoned/expired, authorization expired).
    Canceled,
}

impl AttemptState {
    /// Every state.
    pub const ALL: [AttemptState; 9] = [
        AttemptState::Sending,
        AttemptState::Unknown,
        AttemptState::Pending,
        AttemptState::ActionRequired,
        AttemptState::Authorized,
        AttemptState::Captured,
        AttemptState::Declined,
        AttemptState::Failed,
        AttemptState::Canceled,
    ];

    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptState::Sending => "Sending",
            AttemptState::Unknown => "Unknown",
            AttemptState::Pending => "Pending",
            AttemptState::ActionRequired => "ActionRequired",
            AttemptState::Authorized => "Authorized",
            AttemptState::Captured => "Captured",
            AttemptState::Declined => "Declined",
            AttemptState::Failed => "Failed",
            AttemptState::Canceled => "Canceled",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        AttemptState::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Final: the attempt is closed and its payment may take a new one (unless captured).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            AttemptState::Captured
                | AttemptState::Declined
                | AttemptState::Failed
                | AttemptState::Canceled
        )
    }

    /// No money moves for this attempt: its amount leaves the monthly usage.
    pub fn releases_usage(self) -> bool {
        matches!(
            self,
            AttemptState::Declined | AttemptState::Failed | AttemptState::Canceled
        )
    }
}

/// One Create Charge attempt of a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeAttempt {
    /// The payment.
    pub payment_id: PaymentId,
    /// Attempt number within the payment (1-based).
    pub attempt: u32,
    /// The wallet charged.
    pub wallet_id: WalletId,
    /// Amount (counted in the wallet's monthly usage of `usage_month`).
    pub amount: Price,
    /// `x-amz-pay-idempotency-key` of every send of this attempt (fixed once recorded).
    pub idempotency_key: IdempotencyKey,
    /// The exact JSON body sent, so every resend is byte-identical (fixed once recorded).
    pub request_body: String,
    /// Who recorded it (a claim's lease owner, a request id): a retried record by the same
    /// writer is recognised as its own.
    pub writer: String,
    /// The UTC month its amount counts in, from its own creation time.
    pub usage_month: UsageMonth,
    /// State.
    pub state: AttemptState,
    /// Amazon's ChargeId once known.
    pub charge_id: Option<ChargeId>,
    /// Amazon's reason code of a decline or failure.
    pub reason_code: Option<ReasonCode>,
    /// HTTP status of Amazon's last answer.
    pub http_status: Option<u16>,
    /// Sends of this request so far (1 = sent once).
    pub sends: u32,
    /// The amount was given back to the monthly usage (once, on a final state without money).
    pub usage_released: bool,
    /// Created (also the usage month's instant).
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Optimistic version.
    pub version: u64,
}

/// Our state of a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundState {
    /// Recorded, sent or RefundInitiated.
    Pending,
    /// Refunded.
    Succeeded,
    /// Declined or refused: its amount is released from the payment's refunded total.
    Failed,
}

impl RefundState {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundState::Pending => "pending",
            RefundState::Succeeded => "succeeded",
            RefundState::Failed => "failed",
        }
    }
}

/// A refund of a captured payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    /// Our refund id.
    pub refund_id: RefundId,
    /// The refunded payment.
    pub payment_id: PaymentId,
    /// The payment's customer.
    pub owner: CustomerId,
    /// The captured charge.
    pub charge_id: ChargeId,
    /// Amazon's refund id once known.
    pub amazon_refund_id: Option<String>,
    /// Amount.
    pub amount: Price,
    /// Merchant's reason.
    pub reason: Option<String>,
    /// State.
    pub state: RefundState,
    /// Amazon's reason code of a decline.
    pub reason_code: Option<ReasonCode>,
    /// Create Refund idempotency key (fixed).
    pub idempotency_key: IdempotencyKey,
    /// The exact body sent (fixed).
    pub request_body: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Optimistic version.
    pub version: u64,
}

/// A wallet's counted charges in one UTC month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthlyUsage {
    /// The month.
    pub month: UsageMonth,
    /// Sum of counted attempts.
    pub total: Price,
}

/// What a checkout session was started for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum CheckoutPurpose {
    /// Saved Wallet setup.
    Setup,
    /// Amazon's hosted Update page for an owned wallet.
    UpdateWallet {
        /// The wallet.
        wallet_id: WalletId,
    },
}

/// The customer an Amazon checkout session belongs to: nobody else can complete it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutBinding {
    /// Amazon's checkout session id.
    pub checkout_session_id: CheckoutSessionId,
    /// The customer who started it.
    pub owner: CustomerId,
    /// Why.
    pub purpose: CheckoutPurpose,
    /// The wallet it produced once completed (a repeat answers with it).
    pub wallet_id: Option<WalletId>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Optimistic version.
    pub version: u64,
}

/// A merchant event (transactional outbox): written in the same transaction as the state
/// change it reports, delivered at least once with a stable id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MerchantEvent {
    /// Unique, stable id (the consumer's dedupe key).
    pub event_id: EventId,
    /// `payment.succeeded`, `wallet.closed`, …
    pub kind: String,
    /// The customer concerned.
    pub customer_id: Option<CustomerId>,
    /// JSON payload (ids, statuses, amounts, reason codes; never PII).
    pub data: serde_json::Value,
    /// When it happened.
    pub created_at: DateTime<Utc>,
    /// Delivery attempts made.
    pub deliveries: u32,
    /// When the next delivery is due; `None` once delivered.
    pub deliver_at: Option<DateTime<Utc>>,
}

/// Status of a processed notification (IPN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationBegin {
    /// This caller processes it; finish with `complete_notification(token)` or release it.
    Started,
    /// Another caller is processing it until `until` (answer 5xx so SNS retries later).
    InProgress {
        /// When that caller's claim lapses.
        until: DateTime<Utc>,
    },
    /// Processed already: a duplicate.
    Done,
}

/// A saved HTTP response (API idempotency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedResponse {
    /// HTTP status.
    pub status: u16,
    /// Body.
    pub body: String,
}

/// What `start_idempotent` decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyStart {
    /// This caller owns the request (with its token): process, then complete or abandon.
    Started,
    /// Another caller is processing it until `until`.
    InProgress {
        /// Its in-progress expiry.
        until: DateTime<Utc>,
    },
    /// Done: replay this response.
    Completed(SavedResponse),
    /// Same key, different payload.
    PayloadMismatch,
}
