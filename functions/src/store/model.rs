//! The records the store keeps, in Amazon Pay's terms.

use chrono::{DateTime, Months, TimeDelta, Utc};
use savedwallet_shared::api::{ChargePermissionState, ReasonCode};
use savedwallet_shared::limits::UsageMonth;
use savedwallet_shared::money::{Currency, Price};
use savedwallet_shared::region::Region;
use std::fmt;

/// A Saved Wallet charge permission (`PaymentMethodOnFile`) and who owns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wallet {
    /// Amazon's ChargePermissionId.
    pub charge_permission_id: String,
    /// The merchant's customer id that owns the permission.
    pub owner_customer_id: String,
    /// Amazon's state as last fetched.
    pub state: ChargePermissionState,
    /// Amazon's reason codes as last fetched.
    pub reason_codes: Vec<ReasonCode>,
    /// Amazon Pay region of the permission.
    pub region: Region,
    /// Presentment currency; every charge uses it.
    pub currency: Currency,
    /// Set after a HardDeclined until the buyer fixed the payment method.
    pub payment_method_update_required: bool,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Optimistic version: 0 before the first write, +1 on every write.
    pub version: u64,
}

impl Wallet {
    /// True when a charge may be sent: Chargeable and no pending payment-method update.
    pub fn is_chargeable(&self) -> bool {
        self.state == ChargePermissionState::Chargeable && !self.payment_method_update_required
    }
}

/// Unit of a billing interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalUnit {
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
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            IntervalUnit::Day => "Day",
            IntervalUnit::Week => "Week",
            IntervalUnit::Month => "Month",
            IntervalUnit::Year => "Year",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Day" => Some(IntervalUnit::Day),
            "Week" => Some(IntervalUnit::Week),
            "Month" => Some(IntervalUnit::Month),
            "Year" => Some(IntervalUnit::Year),
            _ => None,
        }
    }
}

/// How often a plan bills, like Amazon's `frequency` (unit + value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BillingInterval {
    /// Unit.
    pub unit: IntervalUnit,
    /// Number of units (≥ 1).
    pub count: u32,
}

impl BillingInterval {
    /// The due time one interval after `from`; `None` on calendar overflow.
    pub fn advance(&self, from: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let n = i64::from(self.count.max(1));
        match self.unit {
            IntervalUnit::Day => from.checked_add_signed(TimeDelta::try_days(n)?),
            IntervalUnit::Week => from.checked_add_signed(TimeDelta::try_weeks(n)?),
            IntervalUnit::Month => from.checked_add_months(Months::new(self.count.max(1))),
            IntervalUnit::Year => {
                from.checked_add_months(Months::new(self.count.max(1).checked_mul(12)?))
            }
        }
    }
}

/// A merchant's subscription plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Plan id.
    pub plan_id: String,
    /// Price per interval.
    pub price: Price,
    /// Billing interval.
    pub interval: BillingInterval,
    /// Optimistic version.
    pub version: u64,
}

/// Whether a subscription still bills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionStatus {
    /// Billed when due.
    Active,
    /// Never billed again.
    Canceled,
}

/// Where a subscription is in its dunning (failed-payment) cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DunningState {
    /// Last period paid (or first period not yet attempted).
    Current,
    /// The current period failed softly and is retried on the backoff schedule.
    Retrying,
    /// HardDeclined: waiting for the buyer to update the payment method.
    AwaitingPaymentMethod,
    /// Retries exhausted.
    Exhausted,
}

macro_rules! str_enum {
    ($t:ty { $($v:ident),+ }) => {
        impl $t {
            /// Stored spelling.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => stringify!($v),)+ }
            }
            /// Parses the stored spelling.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $(stringify!($v) => Some(Self::$v),)+ _ => None }
            }
        }
    };
}
str_enum!(SubscriptionStatus { Active, Canceled });
str_enum!(DunningState {
    Current,
    Retrying,
    AwaitingPaymentMethod,
    Exhausted
});

/// A worker's exclusive right to bill a subscription's current period until `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Who holds it (e.g. the Lambda request id).
    pub owner: String,
    /// When it lapses; after that another worker may claim the period.
    pub until: DateTime<Utc>,
}

/// A buyer's subscription to a plan, billed from a wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Subscription id.
    pub subscription_id: String,
    /// The wallet (charge permission) charged.
    pub charge_permission_id: String,
    /// Plan id.
    pub plan_id: String,
    /// The merchant's customer id.
    pub owner_customer_id: String,
    /// Price per period, copied from the plan when subscribing (so billing reads no plan).
    pub price: Price,
    /// Active or canceled.
    pub status: SubscriptionStatus,
    /// When the current period is due (or its next retry).
    pub next_due_at: DateTime<Utc>,
    /// The period being billed (1 = first).
    pub period: u32,
    /// Dunning state of the current period.
    pub dunning: DunningState,
    /// Claims made for the current period (= the latest attempt number).
    pub attempt_count: u32,
    /// Current lease, if a worker claimed the period.
    pub lease: Option<Lease>,
    /// Optimistic version.
    pub version: u64,
}

impl Subscription {
    /// The logical charge of the current period.
    pub fn charge_key(&self) -> ChargeKey {
        ChargeKey::Period {
            subscription_id: self.subscription_id.clone(),
            period: self.period,
        }
    }
}

/// State of a merchant-created order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderState {
    /// Created, not yet charged.
    Created,
    /// A charge attempt is in flight.
    Charging,
    /// Paid.
    Paid,
    /// The charge failed for good.
    Failed,
    /// Canceled by the merchant.
    Canceled,
}
str_enum!(OrderState {
    Created,
    Charging,
    Paid,
    Failed,
    Canceled
});

/// A one-off order the merchant created; its price is the amount charged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// Order id.
    pub order_id: String,
    /// The merchant's customer id.
    pub owner_customer_id: String,
    /// The wallet to charge.
    pub charge_permission_id: String,
    /// Amount.
    pub price: Price,
    /// State.
    pub state: OrderState,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Optimistic version.
    pub version: u64,
}

/// The logical charge an attempt belongs to: at most one successful charge per key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChargeKey {
    /// One billing period of a subscription.
    Period {
        /// Subscription id.
        subscription_id: String,
        /// Period number.
        period: u32,
    },
    /// An order.
    Order {
        /// Order id.
        order_id: String,
    },
}

impl fmt::Display for ChargeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChargeKey::Period {
                subscription_id,
                period,
            } => write!(f, "SUB#{subscription_id}#P#{period}"),
            ChargeKey::Order { order_id } => write!(f, "ORDER#{order_id}"),
        }
    }
}

impl ChargeKey {
    /// Parses the [`Display`](fmt::Display) form.
    pub fn parse(s: &str) -> Option<ChargeKey> {
        if let Some(order_id) = s.strip_prefix("ORDER#") {
            return Some(ChargeKey::Order {
                order_id: order_id.to_string(),
            });
        }
        let rest = s.strip_prefix("SUB#")?;
        let (id, period) = rest.rsplit_once("#P#")?;
        Some(ChargeKey::Period {
            subscription_id: id.to_string(),
            period: period.parse().ok()?,
        })
    }
}

/// Our state of one Create Charge attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptState {
    /// Recorded before the request is sent; the outcome is unknown until answered.
    Sending,
    /// AuthorizationInitiated: final state arrives by IPN.
    Pending,
    /// The buyer must complete MFA (EU/UK CIT).
    ActionRequired,
    /// Authorized or captured.
    Succeeded,
    /// Declined (soft or hard; see the reason code).
    Declined,
    /// Failed without a charge (e.g. a 4xx the retry policy will not repeat).
    Failed,
}
str_enum!(AttemptState {
    Sending,
    Pending,
    ActionRequired,
    Succeeded,
    Declined,
    Failed
});

/// One Create Charge attempt of a logical charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeAttempt {
    /// The logical charge.
    pub charge_key: ChargeKey,
    /// Attempt number within the logical charge (1-based).
    pub attempt: u32,
    /// The wallet charged.
    pub charge_permission_id: String,
    /// Amount (counted in the wallet's monthly usage).
    pub amount: Price,
    /// `x-amz-pay-idempotency-key` sent with every retry of this attempt.
    pub idempotency_key: String,
    /// The exact JSON body sent, so a retry after a crash re-sends byte-identical data.
    pub request_body: String,
    /// Amazon's ChargeId once known.
    pub charge_id: Option<String>,
    /// State.
    pub state: AttemptState,
    /// Amazon's reason code of a decline or failure.
    pub reason_code: Option<ReasonCode>,
    /// Monthly-usage month the amount was counted in (`YYYY-MM`, UTC).
    pub usage_month: String,
    /// The amount was given back to the monthly usage (`finish_attempt` with
    /// `release_usage`); the store allows that once per attempt.
    pub usage_released: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Optimistic version.
    pub version: u64,
}

/// The UTC calendar month key (`YYYY-MM`) monthly usage is counted under (the shared
/// monthly-limit arithmetic's [`UsageMonth`]).
pub fn usage_month(at: DateTime<Utc>) -> String {
    UsageMonth::of(at).to_string()
}

/// Charged amount of a wallet in one month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthlyUsage {
    /// Wallet.
    pub charge_permission_id: String,
    /// `YYYY-MM`.
    pub month: String,
    /// Sum of counted charges.
    pub total: Price,
}

/// Result of recording an IPN / SNS message id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationStatus {
    /// First time seen: process it.
    New,
    /// Already processed (and not expired): drop it.
    Duplicate,
}

/// Status of an API idempotency record (AWS Lambda Powertools' design).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdempotencyStatus {
    /// A caller is processing the request.
    InProgress,
    /// Done; the saved response is replayed.
    Completed,
}

/// A saved HTTP response.
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
    /// This caller owns the request: process it, then complete or abandon.
    Started,
    /// Another caller is processing it until `until`.
    InProgress {
        /// In-progress expiry of the other caller.
        until: DateTime<Utc>,
    },
    /// Already done: replay this response.
    Completed(SavedResponse),
    /// Same key, different payload: refuse (like Amazon's DuplicateIdempotencyKey).
    PayloadMismatch,
}

/// A merchant event waiting to be published (transactional outbox).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    /// Unique id (also the consumer's dedupe key).
    pub event_id: String,
    /// Event type, e.g. `wallet.payment_method_update_required`.
    pub kind: String,
    /// What it is about (wallet, subscription, order id).
    pub aggregate_id: String,
    /// JSON payload (no PII).
    pub payload: String,
    /// Creation time (orders events within a shard).
    pub created_at: DateTime<Utc>,
}

/// The right to bill a subscription's due period, returned by a successful claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The subscription after the claim (lease set, attempt count incremented).
    pub subscription: Subscription,
    /// The attempt number to use (= `subscription.attempt_count`).
    pub attempt: u32,
    /// The lapsed lease this claim took over: a worker crashed mid-period, so the caller
    /// must look at the period's earlier attempts and replay an unanswered one (same
    /// idempotency key, same body) instead of charging again.
    pub recovered: Option<Lease>,
}

/// What the subscription becomes when a claimed period's attempt ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodAdvance {
    /// Next due time (next period, or the retry time).
    pub next_due_at: DateTime<Utc>,
    /// Period number (current + 1 after success, unchanged for a retry).
    pub period: u32,
    /// Dunning state.
    pub dunning: DunningState,
    /// Attempt count (0 for a new period, unchanged for a retry).
    pub attempt_count: u32,
    /// New status (e.g. canceled when the permission is closed).
    pub status: SubscriptionStatus,
}

/// The record that changes together with an attempt's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishTarget {
    /// Nothing else (e.g. an IPN-driven update handled elsewhere).
    None,
    /// Advance the claimed subscription and release its lease.
    Subscription {
        /// Subscription id.
        subscription_id: String,
        /// The claim's lease owner (the update fails if the lease was taken over).
        lease_owner: String,
        /// The claimed period.
        claimed_period: u32,
        /// The subscription's version after the claim (`Claim::subscription.version`):
        /// an edit made while the period was charged (cancel, reschedule) is not
        /// overwritten by the advance.
        claimed_version: u64,
        /// New schedule.
        advance: PeriodAdvance,
    },
    /// Replace the order (versioned).
    Order(Order),
}

/// An attempt's outcome, written atomically with its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptResult {
    /// The attempt with its new state / charge id / reason; `version` = the stored version.
    pub attempt: ChargeAttempt,
    /// Give the amount back to the monthly usage (no charge was made).
    pub release_usage: bool,
    /// The record that changes with it.
    pub target: FinishTarget,
}
