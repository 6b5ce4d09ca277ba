//! The storage port: small traits by capability, one record model, one error type. The
//! adapters (DynamoDB, embedded redb) live in `savedwallet-functions`; both enforce the
//! same conditions, so the invariants hold by construction whatever a use case does:
//!
//! - a payment (one logical charge) has at most one attempt open at a time, and a new
//!   attempt starts only from `declined`/`failed`/`canceled` — never beside a sending,
//!   pending or succeeded one;
//! - an attempt's idempotency key and request body never change once recorded, and no
//!   attempt leaves a final state (a captured charge is never "declined" later);
//! - a wallet's monthly usage never passes its cap, and a moneyless attempt gives its amount
//!   back exactly once;
//! - a billing worker records an attempt only while it holds the period's lease;
//! - merchant events are written in the same transaction as the change they report.

pub mod error;
pub mod model;
pub mod rules;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use savedwallet_shared::limits::UsageMonth;
use savedwallet_shared::money::Price;

pub use error::{Record, Refusal, StoreError, StoreResult};
pub use model::*;

use crate::ids::*;

/// Shards of the due-subscriptions index: a billing run queries each on its own.
pub const DUE_SHARDS: u32 = 16;
/// Shards of the payments-to-wake index (reconciler).
pub const WAKE_SHARDS: u32 = 4;
/// Shards of the undelivered-events index (dispatcher).
pub const DELIVERY_SHARDS: u32 = 4;
/// The shortest billing lease the store accepts. A lease must outlast one charge call
/// with all its replays plus the clock skew between workers (docs/storage.md: charge
/// deadline 25 s × (1 + replays) + skew); below this a slow worker could lose its lease
/// while its request is still in flight.
pub const MIN_LEASE: TimeDelta = TimeDelta::minutes(2);

/// An opaque continuation token of a paged list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor(pub String);

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// Items.
    pub items: Vec<T>,
    /// Where the next page starts; `None` at the end.
    pub next: Option<Cursor>,
}

/// One page of due subscriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuePage {
    /// Claimable subscriptions, oldest due first (from an eventually consistent index:
    /// the claim re-checks everything).
    pub subscriptions: Vec<Subscription>,
    /// Items of the page that could not be decoded: skipped (and logged) so one bad item
    /// never blocks its shard.
    pub skipped: u32,
    /// Next page of the same shard.
    pub next: Option<Cursor>,
}

/// The right to bill a subscription's due period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The subscription after the claim (lease set).
    pub subscription: Subscription,
    /// The lapsed lease this claim took over: a worker stopped mid-period, so the period's
    /// open attempt (if any) must be replayed with its stored key and body, never charged anew.
    pub recovered: Option<Lease>,
}

/// How the payment record changes when an attempt begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentWrite {
    /// The payment's first attempt: the payment is created with it.
    Create(Payment),
    /// A later attempt: the payment as it will be (its `version` = the version read).
    Update(Payment),
}

impl PaymentWrite {
    /// The payment record written.
    pub fn payment(&self) -> &Payment {
        match self {
            PaymentWrite::Create(p) | PaymentWrite::Update(p) => p,
        }
    }
}

/// What else an attempt's begin must check or write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BillingLink {
    /// Nothing (an order's, a retry's or a merchant's payment).
    None,
    /// Create this subscription with its first period's attempt (`POST /v1/subscriptions`).
    NewSubscription(Box<Subscription>),
    /// A billing worker's claim: the lease must still be the caller's for this period.
    Lease {
        /// The subscription.
        subscription_id: SubscriptionId,
        /// The claim's lease owner.
        lease_owner: String,
        /// The claimed period.
        period: u32,
    },
}

/// A new Create Charge attempt, recorded before its request is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeginAttempt {
    /// The payment with `open_attempt = attempt_count = attempt.attempt`, status pending.
    pub payment: PaymentWrite,
    /// The attempt (state `Sending`).
    pub attempt: ChargeAttempt,
    /// The wallet's monthly limit (the store refuses a total above it).
    pub monthly_cap: Price,
    /// A subscription to create or a lease to check.
    pub billing: BillingLink,
    /// An order whose first payment this is (its `payment_id` is set if absent).
    pub order: Option<OrderId>,
    /// Events written in the same transaction.
    pub events: Vec<MerchantEvent>,
}

/// What `begin_attempt` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begun {
    /// Recorded now.
    Recorded {
        /// The payment as stored.
        payment: Box<Payment>,
        /// The attempt as stored.
        attempt: Box<ChargeAttempt>,
    },
    /// The same writer had already recorded this attempt (a retry after a lost answer):
    /// continue with it (re-read the payment).
    AlreadyRecorded(Box<ChargeAttempt>),
}

/// A subscription written together with an attempt's result (billing-owned fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionWrite {
    /// The subscription as it will be (`version` = the version read).
    pub record: Subscription,
    /// The lease that must still be the caller's, for a billing worker's write.
    pub lease_owner: Option<String>,
}

/// An attempt's new state, written atomically with its payment (and a subscription, a
/// wallet, events). A moneyless final state releases the attempt's usage, once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishAttempt {
    /// The attempt as it will be (`version` = the version read).
    pub attempt: ChargeAttempt,
    /// Its state as read.
    pub from: AttemptState,
    /// The payment as it will be (`version` = the version read).
    pub payment: Payment,
    /// The subscription of a period payment, when it changes with the result.
    pub subscription: Option<SubscriptionWrite>,
    /// The wallet, when it changes with the result (e.g. flagged after HardDeclined).
    pub wallet: Option<Wallet>,
    /// Events written in the same transaction.
    pub events: Vec<MerchantEvent>,
}

/// What `finish_attempt` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// The payment as stored.
    pub payment: Payment,
    /// The attempt as stored.
    pub attempt: ChargeAttempt,
}

/// A buyer's or merchant's change to a subscription: only these fields, never the ones
/// billing owns (period, lease, dunning, due time), except where the edit says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionEdit {
    /// Bill another wallet from now on; `due_now` makes a period waiting for a payment
    /// method due at that instant (the API: "an open past-due period is retried on it").
    ChangeWallet {
        /// The new wallet.
        wallet_id: WalletId,
        /// Make the waiting period due at this time.
        due_now: Option<DateTime<Utc>>,
        /// Now.
        at: DateTime<Utc>,
    },
    /// End it: nothing more is billed. A worker charging the period finishes its attempt
    /// but cannot advance the subscription.
    Cancel {
        /// When.
        at: DateTime<Utc>,
        /// Why.
        reason: CancelReason,
    },
}

/// Wallets.
#[async_trait]
pub trait WalletStore: Send + Sync {
    /// Stores a new wallet with its events (`AlreadyExists` with the stored one).
    async fn create_wallet(&self, wallet: &Wallet, events: &[MerchantEvent])
        -> StoreResult<Wallet>;
    /// Reads a wallet (strongly consistent).
    async fn get_wallet(&self, id: &WalletId) -> StoreResult<Wallet>;
    /// Replaces a wallet if its version is unchanged, with its events.
    async fn update_wallet(&self, wallet: &Wallet, events: &[MerchantEvent])
        -> StoreResult<Wallet>;
    /// A customer's wallets, newest first (eventually consistent index).
    async fn wallets_of(
        &self,
        owner: &CustomerId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Wallet>>;
    /// Every customer's wallets waiting for a payment-method update, most recently flagged
    /// first (the merchant view; eventually consistent index).
    async fn wallets_to_update(
        &self,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Wallet>>;
}

/// Plans, orders and checkout-session bindings.
#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// Creates (version 0) or replaces (versioned) a plan.
    async fn put_plan(&self, plan: &Plan) -> StoreResult<Plan>;
    /// Reads a plan.
    async fn get_plan(&self, id: &PlanId) -> StoreResult<Plan>;
    /// Every plan.
    async fn list_plans(&self) -> StoreResult<Vec<Plan>>;
    /// Stores a new order.
    async fn create_order(&self, order: &Order) -> StoreResult<Order>;
    /// Reads an order.
    async fn get_order(&self, id: &OrderId) -> StoreResult<Order>;
    /// Binds a checkout session to its customer, once (`AlreadyExists` with the binding).
    async fn bind_checkout(&self, binding: &CheckoutBinding) -> StoreResult<CheckoutBinding>;
    /// Reads a binding.
    async fn get_checkout(&self, id: &CheckoutSessionId) -> StoreResult<CheckoutBinding>;
    /// Records the wallet a binding produced (versioned).
    async fn complete_checkout(&self, binding: &CheckoutBinding) -> StoreResult<CheckoutBinding>;
}

/// Subscriptions and billing claims.
#[async_trait]
pub trait SubscriptionStore: Send + Sync {
    /// Reads a subscription (strongly consistent).
    async fn get_subscription(&self, id: &SubscriptionId) -> StoreResult<Subscription>;
    /// Applies a buyer's or merchant's edit to `current` (as read) if its version is
    /// unchanged; only the edit's fields are written, so nothing billing owns is undone.
    async fn edit_subscription(
        &self,
        current: &Subscription,
        edit: &SubscriptionEdit,
        events: &[MerchantEvent],
    ) -> StoreResult<Subscription>;
    /// Billing's own write of a subscription (versioned; with `lease_owner`, only while the
    /// lease is the caller's), with its events. Version 0 creates it (imports, tests).
    async fn write_subscription(
        &self,
        write: &SubscriptionWrite,
        events: &[MerchantEvent],
    ) -> StoreResult<Subscription>;
    /// A customer's subscriptions, newest first.
    async fn subscriptions_of(
        &self,
        owner: &CustomerId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Subscription>>;
    /// Every customer's subscriptions in `status`, newest first (the merchant view;
    /// eventually consistent index).
    async fn subscriptions_in(
        &self,
        status: SubscriptionStatus,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Subscription>>;
    /// One page of one shard of the due index: billable subscriptions due at `now`.
    async fn due_subscriptions(
        &self,
        shard: u32,
        now: DateTime<Utc>,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> StoreResult<DuePage>;
    /// Claims the due `period` for `lease_owner` until `now + lease` (≥ [`MIN_LEASE`]).
    /// Exactly one of any number of concurrent callers wins; the others get
    /// `AlreadyClaimed` (live lease) or `Refused(NotDue)`.
    async fn claim_period(
        &self,
        id: &SubscriptionId,
        period: u32,
        lease_owner: &str,
        now: DateTime<Utc>,
        lease: TimeDelta,
    ) -> StoreResult<Claim>;
}

/// Payments, their attempts and refunds.
#[async_trait]
pub trait PaymentStore: Send + Sync {
    /// Records a new attempt before it is sent, in one transaction with: the payment (one
    /// open attempt at most), the monthly usage (refused above the cap), the wallet check
    /// (Chargeable as stored, the payer's, the charge's currency), the billing lease or the
    /// new subscription, the order link, and events.
    async fn begin_attempt(&self, begin: &BeginAttempt) -> StoreResult<Begun>;
    /// Writes an attempt's result with its payment (and subscription, wallet, events).
    async fn finish_attempt(&self, finish: &FinishAttempt) -> StoreResult<Finished>;
    /// Replaces a payment's annotations (wake time, retry time, texts) if its version is
    /// unchanged; its status, attempt count and open attempt must equal the stored ones.
    async fn update_payment(
        &self,
        payment: &Payment,
        events: &[MerchantEvent],
    ) -> StoreResult<Payment>;
    /// Reads a payment.
    async fn get_payment(&self, id: &PaymentId) -> StoreResult<Payment>;
    /// A payment with all its attempts (one query).
    async fn payment_with_attempts(
        &self,
        id: &PaymentId,
    ) -> StoreResult<(Payment, Vec<ChargeAttempt>)>;
    /// Reads one attempt.
    async fn get_attempt(&self, id: &PaymentId, attempt: u32) -> StoreResult<ChargeAttempt>;
    /// The attempt that created an Amazon charge (eventually consistent index).
    async fn attempt_by_charge(&self, charge_id: &ChargeId) -> StoreResult<ChargeAttempt>;
    /// A customer's payments, newest first.
    async fn payments_of(
        &self,
        owner: &CustomerId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Payment>>;
    /// Every customer's payments, newest first (the merchant view; eventually consistent
    /// index).
    async fn recent_payments(
        &self,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Payment>>;
    /// Payments whose wake time has come, one shard (reconciler).
    async fn payments_to_wake(
        &self,
        shard: u32,
        now: DateTime<Utc>,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Payment>>;
    /// Records a refund before it is sent and reserves its amount on the payment, refused
    /// unless the payment is succeeded with `captured` as stored and the total refunded
    /// stays within it. Concurrent refunds of one payment are safe: each adds its amount
    /// under the same condition.
    async fn begin_refund(
        &self,
        refund: &Refund,
        captured: Price,
        events: &[MerchantEvent],
    ) -> StoreResult<Refund>;
    /// Writes a refund's new state (versioned); a failed refund releases its amount once.
    async fn finish_refund(&self, refund: &Refund, events: &[MerchantEvent])
        -> StoreResult<Refund>;
    /// Reads a refund.
    async fn get_refund(&self, id: &RefundId) -> StoreResult<Refund>;
    /// The refund Amazon knows by this id (eventually consistent index).
    async fn refund_by_amazon_id(&self, amazon_refund_id: &str) -> StoreResult<Refund>;
    /// A wallet's counted usage in a month; `None` if nothing was charged.
    async fn monthly_usage(
        &self,
        wallet: &WalletId,
        month: UsageMonth,
    ) -> StoreResult<Option<MonthlyUsage>>;
}

/// Processed notifications, API idempotency records and merchant events.
#[async_trait]
pub trait RecordStore: Send + Sync {
    /// Starts processing a notification (IPN NotificationId or SNS MessageId) as `token`
    /// until `until`; a record whose holder crashed frees itself then.
    async fn begin_notification(
        &self,
        id: &str,
        token: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<NotificationBegin>;
    /// Marks it processed (kept until `expires_at`, after which a redelivery counts as new).
    async fn complete_notification(
        &self,
        id: &str,
        token: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Frees it after a failure so the redelivery processes it.
    async fn release_notification(&self, id: &str, token: &str) -> StoreResult<()>;

    /// Starts an idempotent API request as `token` (Powertools semantics): requires
    /// `now < in_progress_until <= expires_at`.
    async fn start_idempotent(
        &self,
        key: &str,
        payload_hash: &str,
        token: &str,
        now: DateTime<Utc>,
        in_progress_until: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<IdempotencyStart>;
    /// Saves the response (only the token that started it, while in progress).
    async fn complete_idempotent(
        &self,
        key: &str,
        token: &str,
        response: &SavedResponse,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Drops an in-progress record after a failure (only its token).
    async fn abandon_idempotent(&self, key: &str, token: &str) -> StoreResult<()>;

    /// Writes events that report no state change of ours (e.g. a chargeback).
    async fn append_events(&self, events: &[MerchantEvent]) -> StoreResult<()>;
    /// Events oldest first, from `cursor` (for `GET /admin/v1/events`).
    async fn events_since(
        &self,
        cursor: Option<&Cursor>,
        limit: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Page<MerchantEvent>>;
    /// Undelivered events whose delivery is due, one shard (dispatcher).
    async fn due_deliveries(
        &self,
        shard: u32,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<MerchantEvent>>;
    /// Marks an event delivered (`deliver_at = None`) or reschedules it (`Some(at)`).
    async fn set_delivery(
        &self,
        event: &MerchantEvent,
        deliver_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()>;
}

/// Backend requests made so far, per DynamoDB operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestCounts {
    /// GetItem.
    pub get_item: u64,
    /// PutItem.
    pub put_item: u64,
    /// UpdateItem.
    pub update_item: u64,
    /// DeleteItem.
    pub delete_item: u64,
    /// TransactWriteItems.
    pub transact_write_items: u64,
    /// Query.
    pub query: u64,
}

impl RequestCounts {
    /// All requests.
    pub fn total(&self) -> u64 {
        self.get_item
            + self.put_item
            + self.update_item
            + self.delete_item
            + self.transact_write_items
            + self.query
    }

    /// Requests made since `earlier` (saturating).
    pub fn since(&self, earlier: &RequestCounts) -> RequestCounts {
        RequestCounts {
            get_item: self.get_item.saturating_sub(earlier.get_item),
            put_item: self.put_item.saturating_sub(earlier.put_item),
            update_item: self.update_item.saturating_sub(earlier.update_item),
            delete_item: self.delete_item.saturating_sub(earlier.delete_item),
            transact_write_items: self
                .transact_write_items
                .saturating_sub(earlier.transact_write_items),
            query: self.query.saturating_sub(earlier.query),
        }
    }
}

/// The whole store, as the use cases take it (`Arc<dyn Store>`).
pub trait Store:
    WalletStore + CatalogStore + SubscriptionStore + PaymentStore + RecordStore
{
    /// Backend requests made so far.
    fn request_counts(&self) -> RequestCounts;
}
