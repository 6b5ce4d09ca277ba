//! Storage: one port ([`Store`]) shaped by the payment domain, one single-table design
//! ([`schema`]) and two adapters with identical semantics: DynamoDB ([`dynamo`]) for
//! production and an embedded redb database ([`embedded`]) for the local stack and tests.
//!
//! Both adapters implement the small [`item::Backend`] primitive set (conditional writes,
//! all-or-nothing transactions, key-range queries); [`TableStore`] implements the domain
//! operations once on top of it, so every condition is the same on both.
//! See `docs/storage.md` for the key design and the request budget of the hot path.

pub mod codec;
pub mod dynamo;
pub mod embedded;
pub mod error;
pub mod item;
pub mod model;
pub mod schema;
mod table_store;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use savedwallet_shared::money::Price;

pub use dynamo::{DynamoBackend, DynamoStore};
pub use embedded::{EmbeddedBackend, EmbeddedStore};
pub use error::{Record, StoreError, StoreResult};
pub use item::RequestCounts;
pub use model::*;
pub use table_store::{PageToken, TableStore};

/// One page of due subscriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuePage {
    /// Subscriptions whose period (or lapsed lease) is due, oldest first. Read from an
    /// eventually consistent index: the claim re-checks everything.
    pub subscriptions: Vec<Subscription>,
    /// Token for the next page of the same shard, `None` when done.
    pub next: Option<PageToken>,
}

/// The storage port used by the use cases (as `Arc<dyn Store>`). Every change is a
/// conditional write; versioned records take the caller's `version` as the expected one
/// and come back with the new version.
#[async_trait]
pub trait Store: Send + Sync {
    /// Stores a new wallet (fails with `AlreadyExists`).
    async fn create_wallet(&self, wallet: &Wallet) -> StoreResult<Wallet>;
    /// Reads a wallet (strongly consistent).
    async fn get_wallet(&self, charge_permission_id: &str) -> StoreResult<Wallet>;
    /// Replaces a wallet if its version is unchanged; `event` is written in the same
    /// transaction (outbox).
    async fn update_wallet(
        &self,
        wallet: &Wallet,
        event: Option<&OutboxEvent>,
    ) -> StoreResult<Wallet>;
    /// Wallets of an owner (eventually consistent index).
    async fn wallets_of_owner(&self, owner_customer_id: &str) -> StoreResult<Vec<Wallet>>;

    /// Stores a new plan.
    async fn create_plan(&self, plan: &Plan) -> StoreResult<Plan>;
    /// Reads a plan.
    async fn get_plan(&self, plan_id: &str) -> StoreResult<Plan>;

    /// Stores a new subscription.
    async fn create_subscription(&self, subscription: &Subscription) -> StoreResult<Subscription>;
    /// Reads a subscription (strongly consistent).
    async fn get_subscription(&self, subscription_id: &str) -> StoreResult<Subscription>;
    /// Replaces a subscription if its version is unchanged (cancel, reschedule).
    async fn update_subscription(&self, subscription: &Subscription) -> StoreResult<Subscription>;
    /// Subscriptions billed from a wallet (eventually consistent index).
    async fn subscriptions_of_wallet(
        &self,
        charge_permission_id: &str,
    ) -> StoreResult<Vec<Subscription>>;
    /// One page of one shard of the due index: active subscriptions claimable at `now`.
    /// A page token only continues the shard it came from.
    async fn due_subscriptions(
        &self,
        shard: u32,
        now: DateTime<Utc>,
        limit: u32,
        page: Option<&PageToken>,
    ) -> StoreResult<DuePage>;
    /// Claims the due `period` of a subscription for `lease_owner` until `now + lease`.
    /// Exactly one of any number of concurrent callers succeeds; the others get
    /// `AlreadyClaimed` (live lease) or `ConditionFailed` (not due / other period / canceled).
    async fn claim_due_period(
        &self,
        subscription_id: &str,
        period: u32,
        lease_owner: &str,
        now: DateTime<Utc>,
        lease: TimeDelta,
    ) -> StoreResult<Claim>;

    /// Stores a new order.
    async fn create_order(&self, order: &Order) -> StoreResult<Order>;
    /// Reads an order (strongly consistent).
    async fn get_order(&self, order_id: &str) -> StoreResult<Order>;
    /// Replaces an order if its version is unchanged.
    async fn update_order(&self, order: &Order) -> StoreResult<Order>;

    /// Records a new attempt before its request is sent, in one transaction with: adding
    /// its amount to the wallet's monthly usage (refused above `monthly_cap`), and checking
    /// that the wallet is chargeable. Fails with `AlreadyExists` for a duplicate attempt.
    async fn record_attempt(
        &self,
        attempt: &ChargeAttempt,
        monthly_cap: Price,
    ) -> StoreResult<ChargeAttempt>;
    /// Reads one attempt (strongly consistent).
    async fn get_attempt(&self, charge_key: &ChargeKey, attempt: u32)
        -> StoreResult<ChargeAttempt>;
    /// Every attempt of a logical charge, in attempt order (strongly consistent).
    async fn attempts_of(&self, charge_key: &ChargeKey) -> StoreResult<Vec<ChargeAttempt>>;
    /// The attempt that created an Amazon charge (eventually consistent index).
    async fn attempt_by_charge_id(&self, charge_id: &str) -> StoreResult<ChargeAttempt>;
    /// Writes an attempt's outcome together with its target (subscription advance and
    /// lease release, or order state) and an optional usage release, in one transaction.
    /// Returns the attempt with its new version. The subscription advance is refused
    /// (`ConditionFailed`) if the lease was taken over or the subscription was edited since
    /// the claim; the caller then records the outcome with `FinishTarget::None`. An
    /// attempt's wallet, amount and month never change, and its usage is released once.
    async fn finish_attempt(&self, result: &AttemptResult) -> StoreResult<ChargeAttempt>;

    /// A wallet's usage in a month (`YYYY-MM`); `None` if nothing was charged.
    async fn monthly_usage(
        &self,
        charge_permission_id: &str,
        month: &str,
    ) -> StoreResult<Option<MonthlyUsage>>;

    /// Records an IPN NotificationId / SNS MessageId; `Duplicate` if seen and not expired.
    /// `expires_at` must be after `now`.
    async fn record_notification(
        &self,
        notification_id: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<NotificationStatus>;

    /// Starts an idempotent API request. `in_progress_until` should be `now` plus the
    /// Lambda's remaining time, so a crashed invocation's record lapses when it would have.
    /// Requires `now < in_progress_until <= expires_at` (`Invalid` otherwise).
    async fn start_idempotent(
        &self,
        key: &str,
        payload_hash: &str,
        now: DateTime<Utc>,
        in_progress_until: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<IdempotencyStart>;
    /// Saves the response of a started request (fails unless it is still in progress with
    /// the same payload hash).
    async fn complete_idempotent(
        &self,
        key: &str,
        payload_hash: &str,
        response: &SavedResponse,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Drops an in-progress record after a failure so the client can retry.
    async fn abandon_idempotent(&self, key: &str, payload_hash: &str) -> StoreResult<()>;

    /// Appends a merchant event to the outbox.
    async fn append_event(&self, event: &OutboxEvent) -> StoreResult<()>;
    /// Oldest unpublished events of one outbox shard.
    async fn pending_events(&self, shard: u32, limit: u32) -> StoreResult<Vec<OutboxEvent>>;
    /// Removes a published event.
    async fn ack_event(&self, event: &OutboxEvent) -> StoreResult<()>;

    /// Backend requests made so far, per operation.
    fn request_counts(&self) -> RequestCounts;
}
