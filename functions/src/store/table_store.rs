//! The domain operations, written once over [`Backend`]: both adapters run these exact
//! conditions, updates and transactions.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use savedwallet_shared::money::Price;

use super::codec::{self, attr::*, millis, seconds};
use super::error::{Record, StoreError, StoreResult};
use super::item::{
    apply_updates, Backend, Cond, Item, Key, Query, RequestCounts, SortCond, Update, Val, Write,
    WriteFailure, WriteOp,
};
use super::model::*;
use super::schema::{keys, Index, DUE_SHARDS, GSI1PK, GSI1SK, OUTBOX_SHARDS, TTL_ATTRIBUTE};
use super::{DuePage, Store};

/// Opaque continuation token of a paged query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageToken(String);

impl PageToken {
    /// Wraps a token received from a client (validated when used).
    pub fn new(token: impl Into<String>) -> PageToken {
        PageToken(token.into())
    }

    /// The token's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn encode(key: &Item) -> StoreResult<PageToken> {
        let json = serde_json::to_vec(key).map_err(|e| StoreError::Invalid(e.to_string()))?;
        Ok(PageToken(hex::encode(json)))
    }

    fn decode(&self) -> StoreResult<Item> {
        let bad = || StoreError::Invalid("malformed page token".into());
        let bytes = hex::decode(&self.0).map_err(|_| bad())?;
        serde_json::from_slice(&bytes).map_err(|_| bad())
    }
}

/// The store over any backend. Use [`super::DynamoStore`] or [`super::EmbeddedStore`].
#[derive(Debug)]
pub struct TableStore<B> {
    backend: B,
}

const PAGE: u32 = 100;

impl<B: Backend> TableStore<B> {
    /// Wraps a backend.
    pub fn new(backend: B) -> Self {
        TableStore { backend }
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    async fn get_item(&self, key: Key) -> StoreResult<Option<Item>> {
        self.backend
            .get(&key, true)
            .await
            .map_err(StoreError::Backend)
    }

    async fn write(&self, key: Key, op: WriteOp, cond: Option<Cond>) -> WriteResult {
        self.backend.write(Write { key, op, cond }).await
    }

    async fn query_all(&self, mut q: Query) -> StoreResult<Vec<Item>> {
        let mut out = Vec::new();
        loop {
            let page = self
                .backend
                .query(q.clone())
                .await
                .map_err(StoreError::Backend)?;
            out.extend(page.items);
            match page.last_key {
                Some(k) => q.start = Some(k),
                None => return Ok(out),
            }
        }
    }

    /// Reads one record by key (strongly consistent); `NotFound` if absent.
    async fn get_record<T>(
        &self,
        kind: &'static str,
        id: &str,
        key: Key,
        decode: fn(&Item) -> StoreResult<T>,
    ) -> StoreResult<T> {
        match self.get_item(key).await? {
            Some(item) => decode(&item),
            None => Err(not_found(kind, id)),
        }
    }

    /// Creates a versioned record if absent; returns it at version 1.
    async fn create<T: Versioned>(
        &self,
        kind: &'static str,
        id: &str,
        record: &T,
        mut item: Item,
    ) -> StoreResult<T> {
        check_key_part(id)?;
        item.insert(VERSION.into(), Val::N(1));
        let key = codec::item_key(&item)?;
        match self
            .write(key, WriteOp::Put(item), Some(Cond::ItemNotExists))
            .await
        {
            Ok(_) => Ok(record.with_version(1)),
            Err(WriteFailure::Condition { .. }) => Err(StoreError::AlreadyExists {
                kind,
                id: id.to_string(),
            }),
            Err(e) => Err(backend_err(e)),
        }
    }

    /// Replaces a versioned record if its stored version is the record's; returns it with
    /// the next version.
    async fn replace<T: Versioned>(
        &self,
        kind: &'static str,
        id: &str,
        record: &T,
        mut item: Item,
        decode: fn(&Item) -> StoreResult<T>,
        wrap: fn(T) -> Record,
    ) -> StoreResult<T> {
        check_key_part(id)?;
        let expected = record.version();
        let next = expected.saturating_add(1);
        item.insert(VERSION.into(), Val::N(version_val(next)?));
        let key = codec::item_key(&item)?;
        let cond = Cond::Eq(VERSION, Val::N(version_val(expected)?));
        match self.write(key, WriteOp::Put(item), Some(cond)).await {
            Ok(_) => Ok(record.with_version(next)),
            Err(WriteFailure::Condition { current, .. }) => {
                Err(version_error(kind, id, expected, current, decode, wrap))
            }
            Err(e) => Err(backend_err(e)),
        }
    }
}

/// A record with an optimistic version.
trait Versioned: Clone + Send + Sync {
    /// The version the caller read.
    fn version(&self) -> u64;
    /// The same record at another version.
    fn with_version(&self, version: u64) -> Self;
}

macro_rules! versioned {
    ($($t:ty),+) => {
        $(impl Versioned for $t {
            fn version(&self) -> u64 {
                self.version
            }
            fn with_version(&self, version: u64) -> Self {
                Self { version, ..self.clone() }
            }
        })+
    };
}
versioned!(Wallet, Plan, Subscription, Order, ChargeAttempt);

type WriteResult = Result<Option<Item>, WriteFailure>;

fn version_val(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Invalid("version out of range".into()))
}

fn backend_err(e: WriteFailure) -> StoreError {
    match e {
        WriteFailure::Contention => StoreError::Contention,
        WriteFailure::Backend(m) => StoreError::Backend(m),
        WriteFailure::Condition { index, .. } => {
            StoreError::Backend(format!("unexpected condition failure at write {index}"))
        }
    }
}

fn version_error<T>(
    kind: &'static str,
    id: &str,
    expected: u64,
    current: Option<Item>,
    decode: fn(&Item) -> StoreResult<T>,
    wrap: fn(T) -> Record,
) -> StoreError {
    match current {
        None => StoreError::NotFound {
            kind,
            id: id.to_string(),
        },
        Some(item) => StoreError::VersionConflict {
            kind,
            expected,
            current: decode(&item).ok().map(|r| Box::new(wrap(r))),
        },
    }
}

fn not_found(kind: &'static str, id: &str) -> StoreError {
    StoreError::NotFound {
        kind,
        id: id.to_string(),
    }
}

fn check_key_part(s: &str) -> StoreResult<()> {
    if s.is_empty() || s.len() > 512 || s.chars().any(char::is_control) {
        return Err(StoreError::Invalid(
            "ids must be 1..=512 bytes without control characters".into(),
        ));
    }
    Ok(())
}

/// The stored attempt is the one the caller read: same version, and the facts the monthly
/// usage depends on unchanged, so a release gives back exactly what was counted, once.
fn attempt_unchanged(a: &ChargeAttempt) -> StoreResult<Cond> {
    let released = if a.usage_released {
        Cond::Eq(USAGE_RELEASED, Val::B(true))
    } else {
        // Attempts stored before the flag existed count as not released.
        Cond::Or(vec![
            Cond::AttrNotExists(USAGE_RELEASED),
            Cond::Eq(USAGE_RELEASED, Val::B(false)),
        ])
    };
    Ok(Cond::And(vec![
        Cond::Eq(VERSION, Val::N(version_val(a.version)?)),
        Cond::Eq(CPID, Val::s(&a.charge_permission_id)),
        Cond::Eq(AMOUNT, Val::N(a.amount.minor_units())),
        Cond::Eq(CURRENCY, Val::s(a.amount.currency().code())),
        Cond::Eq(MONTH, Val::s(&a.usage_month)),
        released,
    ]))
}

fn decode_all<T>(items: &[Item], f: fn(&Item) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    items.iter().map(f).collect()
}

#[async_trait]
impl<B: Backend> Store for TableStore<B> {
    async fn create_wallet(&self, wallet: &Wallet) -> StoreResult<Wallet> {
        check_key_part(&wallet.owner_customer_id)?;
        let item = codec::wallet_item(wallet)?;
        self.create("wallet", &wallet.charge_permission_id, wallet, item)
            .await
    }

    async fn get_wallet(&self, charge_permission_id: &str) -> StoreResult<Wallet> {
        check_key_part(charge_permission_id)?;
        let key = keys::wallet(charge_permission_id);
        self.get_record("wallet", charge_permission_id, key, codec::wallet_from)
            .await
    }

    async fn update_wallet(
        &self,
        wallet: &Wallet,
        event: Option<&OutboxEvent>,
    ) -> StoreResult<Wallet> {
        let id = &wallet.charge_permission_id;
        let mut item = codec::wallet_item(wallet)?;
        let Some(event) = event else {
            return self
                .replace(
                    "wallet",
                    id,
                    wallet,
                    item,
                    codec::wallet_from,
                    Record::Wallet,
                )
                .await;
        };
        check_key_part(id)?;
        check_key_part(&event.event_id)?;
        let next = wallet.version.saturating_add(1);
        // Wallet change and its merchant event commit together or not at all.
        item.insert(VERSION.into(), Val::N(version_val(next)?));
        let writes = vec![
            Write {
                key: keys::wallet(id),
                op: WriteOp::Put(item),
                cond: Some(Cond::Eq(VERSION, Val::N(version_val(wallet.version)?))),
            },
            Write {
                key: keys::outbox_event(&event.event_id, millis(event.created_at)),
                op: WriteOp::Put(codec::event_item(event)),
                cond: Some(Cond::ItemNotExists),
            },
        ];
        match self.backend.transact(writes).await {
            Ok(()) => Ok(wallet.with_version(next)),
            Err(WriteFailure::Condition { index: 0, current }) => Err(version_error(
                "wallet",
                id,
                wallet.version,
                current,
                codec::wallet_from,
                Record::Wallet,
            )),
            Err(WriteFailure::Condition { .. }) => Err(StoreError::AlreadyExists {
                kind: "event",
                id: event.event_id.clone(),
            }),
            Err(e) => Err(backend_err(e)),
        }
    }

    async fn wallets_of_owner(&self, owner_customer_id: &str) -> StoreResult<Vec<Wallet>> {
        check_key_part(owner_customer_id)?;
        let items = self
            .query_all(Query {
                index: Index::Lookup,
                partition: keys::owner_wallets(owner_customer_id),
                sort: SortCond::BeginsWith("WALLET#".into()),
                limit: PAGE,
                start: None,
                consistent: false,
            })
            .await?;
        decode_all(&items, codec::wallet_from)
    }

    async fn create_plan(&self, plan: &Plan) -> StoreResult<Plan> {
        self.create("plan", &plan.plan_id, plan, codec::plan_item(plan))
            .await
    }

    async fn get_plan(&self, plan_id: &str) -> StoreResult<Plan> {
        check_key_part(plan_id)?;
        self.get_record("plan", plan_id, keys::plan(plan_id), codec::plan_from)
            .await
    }

    async fn create_subscription(&self, subscription: &Subscription) -> StoreResult<Subscription> {
        check_key_part(&subscription.charge_permission_id)?;
        let item = codec::subscription_item(subscription);
        self.create(
            "subscription",
            &subscription.subscription_id,
            subscription,
            item,
        )
        .await
    }

    async fn get_subscription(&self, subscription_id: &str) -> StoreResult<Subscription> {
        check_key_part(subscription_id)?;
        let key = keys::subscription(subscription_id);
        self.get_record(
            "subscription",
            subscription_id,
            key,
            codec::subscription_from,
        )
        .await
    }

    async fn update_subscription(&self, subscription: &Subscription) -> StoreResult<Subscription> {
        self.replace(
            "subscription",
            &subscription.subscription_id,
            subscription,
            codec::subscription_item(subscription),
            codec::subscription_from,
            Record::Subscription,
        )
        .await
    }

    async fn subscriptions_of_wallet(
        &self,
        charge_permission_id: &str,
    ) -> StoreResult<Vec<Subscription>> {
        check_key_part(charge_permission_id)?;
        let items = self
            .query_all(Query {
                index: Index::Lookup,
                partition: keys::wallet_subscriptions(charge_permission_id),
                sort: SortCond::BeginsWith("SUB#".into()),
                limit: PAGE,
                start: None,
                consistent: false,
            })
            .await?;
        decode_all(&items, codec::subscription_from)
    }

    async fn due_subscriptions(
        &self,
        shard: u32,
        now: DateTime<Utc>,
        limit: u32,
        page: Option<&PageToken>,
    ) -> StoreResult<DuePage> {
        if shard >= DUE_SHARDS || limit == 0 {
            return Err(StoreError::Invalid(format!(
                "shard must be < {DUE_SHARDS} and limit > 0"
            )));
        }
        let partition = keys::due_partition(shard);
        let start = page.map(PageToken::decode).transpose()?;
        if let Some(start) = &start {
            // DynamoDB refuses a start key outside the queried partition; refuse it the
            // same way on every adapter instead of silently restarting the shard.
            if start.get(GSI1PK) != Some(&Val::S(partition.clone())) {
                return Err(StoreError::Invalid(
                    "page token belongs to another shard".into(),
                ));
            }
        }
        let result = self
            .backend
            .query(Query {
                index: Index::Due,
                partition,
                sort: SortCond::LeN(millis(now)),
                limit,
                start,
                consistent: false,
            })
            .await
            .map_err(StoreError::Backend)?;
        Ok(DuePage {
            subscriptions: decode_all(&result.items, codec::subscription_from)?,
            next: result
                .last_key
                .as_ref()
                .map(PageToken::encode)
                .transpose()?,
        })
    }

    async fn claim_due_period(
        &self,
        subscription_id: &str,
        period: u32,
        lease_owner: &str,
        now: DateTime<Utc>,
        lease: TimeDelta,
    ) -> StoreResult<Claim> {
        check_key_part(subscription_id)?;
        check_key_part(lease_owner)?;
        let until = now
            .checked_add_signed(lease)
            .filter(|u| *u > now)
            .ok_or_else(|| StoreError::Invalid("lease must be positive".into()))?;
        let now_ms = millis(now);
        let key = keys::subscription(subscription_id);
        let updates = vec![
            Update::Set(LEASE_OWNER, Val::s(lease_owner)),
            Update::Set(LEASE_UNTIL, Val::N(millis(until))),
            // Claimed periods leave the due range until the lease lapses.
            Update::Set(GSI1SK, Val::N(millis(until))),
            Update::Add(ATTEMPT_COUNT, 1),
            Update::Add(VERSION, 1),
        ];
        let cond = Cond::And(vec![
            Cond::Eq(STATUS, Val::s(SubscriptionStatus::Active.as_str())),
            Cond::Eq(PERIOD, Val::N(i64::from(period))),
            Cond::Le(NEXT_DUE, Val::N(now_ms)),
            Cond::Or(vec![
                Cond::AttrNotExists(LEASE_UNTIL),
                Cond::Le(LEASE_UNTIL, Val::N(now_ms)),
            ]),
        ]);
        match self
            .write(key.clone(), WriteOp::Update(updates.clone()), Some(cond))
            .await
        {
            Ok(Some(old)) => {
                // ALL_OLD tells us about a lapsed lease; the new image is derived locally
                // from the same update actions the backend applied.
                let before = codec::subscription_from(&old)?;
                let new =
                    apply_updates(Some(&old), &key, &updates).map_err(|e| StoreError::Decode {
                        kind: "subscription",
                        detail: e,
                    })?;
                let subscription = codec::subscription_from(&new)?;
                Ok(Claim {
                    attempt: subscription.attempt_count,
                    subscription,
                    recovered: before.lease,
                })
            }
            Ok(None) => Err(StoreError::Backend(
                "claim succeeded without returning the old item".into(),
            )),
            Err(WriteFailure::Condition { current, .. }) => {
                let Some(item) = current else {
                    return Err(not_found("subscription", subscription_id));
                };
                let sub = codec::subscription_from(&item)?;
                match &sub.lease {
                    Some(l)
                        if l.until > now
                            && sub.period == period
                            && sub.status == SubscriptionStatus::Active =>
                    {
                        Err(StoreError::AlreadyClaimed {
                            until: l.until,
                            current: Box::new(sub),
                        })
                    }
                    _ => Err(StoreError::ConditionFailed {
                        reason: "period is not due (other period, not yet due, or canceled)",
                        current: Some(Box::new(Record::Subscription(sub))),
                    }),
                }
            }
            Err(e) => Err(backend_err(e)),
        }
    }

    async fn create_order(&self, order: &Order) -> StoreResult<Order> {
        self.create("order", &order.order_id, order, codec::order_item(order))
            .await
    }

    async fn get_order(&self, order_id: &str) -> StoreResult<Order> {
        check_key_part(order_id)?;
        self.get_record("order", order_id, keys::order(order_id), codec::order_from)
            .await
    }

    async fn update_order(&self, order: &Order) -> StoreResult<Order> {
        self.replace(
            "order",
            &order.order_id,
            order,
            codec::order_item(order),
            codec::order_from,
            Record::Order,
        )
        .await
    }

    async fn record_attempt(
        &self,
        attempt: &ChargeAttempt,
        monthly_cap: Price,
    ) -> StoreResult<ChargeAttempt> {
        check_key_part(&attempt.charge_key.to_string())?;
        check_key_part(&attempt.charge_permission_id)?;
        check_key_part(&attempt.usage_month)?;
        let amount = attempt.amount;
        if amount.currency() != monthly_cap.currency() || !amount.is_positive() {
            return Err(StoreError::Invalid(
                "amount must be positive and in the cap's currency".into(),
            ));
        }
        // Headroom is computed here so the condition is a plain comparison.
        let headroom = monthly_cap
            .minor_units()
            .checked_sub(amount.minor_units())
            .filter(|h| *h >= 0)
            .ok_or(StoreError::LimitExceeded {
                requested: amount,
                cap: monthly_cap,
                used: None,
            })?;
        let recorded = ChargeAttempt {
            version: 1,
            usage_released: false,
            ..attempt.clone()
        };
        let cpid = &attempt.charge_permission_id;
        let currency = Val::s(amount.currency().code());
        let writes = vec![
            Write {
                key: keys::attempt(&attempt.charge_key.to_string(), attempt.attempt),
                op: WriteOp::Put(codec::attempt_item(&recorded)),
                cond: Some(Cond::ItemNotExists),
            },
            Write {
                key: keys::usage(cpid, &attempt.usage_month),
                op: WriteOp::Update(vec![
                    Update::Set(TYPE, Val::s("MonthlyUsage")),
                    Update::Set(CPID, Val::s(cpid)),
                    Update::Set(MONTH, Val::s(&attempt.usage_month)),
                    Update::Set(CURRENCY, currency.clone()),
                    Update::Add(TOTAL, amount.minor_units()),
                    Update::Add(VERSION, 1),
                ]),
                cond: Some(Cond::And(vec![
                    Cond::Or(vec![
                        Cond::AttrNotExists(TOTAL),
                        Cond::Le(TOTAL, Val::N(headroom)),
                    ]),
                    Cond::Or(vec![
                        Cond::AttrNotExists(CURRENCY),
                        Cond::Eq(CURRENCY, currency.clone()),
                    ]),
                ])),
            },
            Write {
                key: keys::wallet(cpid),
                op: WriteOp::Check,
                cond: Some(Cond::And(vec![
                    Cond::Eq(STATE, Val::s("Chargeable")),
                    Cond::Eq(PMU, Val::B(false)),
                    Cond::Eq(CURRENCY, currency),
                ])),
            },
        ];
        match self.backend.transact(writes).await {
            Ok(()) => Ok(recorded),
            Err(WriteFailure::Condition { index: 0, .. }) => Err(StoreError::AlreadyExists {
                kind: "charge attempt",
                id: format!("{}#{}", attempt.charge_key, attempt.attempt),
            }),
            Err(WriteFailure::Condition { index: 1, current }) => {
                let usage = current.as_ref().map(codec::usage_from).transpose()?;
                match usage {
                    Some(u) if u.total.currency() != amount.currency() => {
                        Err(StoreError::ConditionFailed {
                            reason: "monthly usage is in another currency",
                            current: Some(Box::new(Record::Usage(u))),
                        })
                    }
                    u => Err(StoreError::LimitExceeded {
                        requested: amount,
                        cap: monthly_cap,
                        used: u.map(|u| u.total),
                    }),
                }
            }
            Err(WriteFailure::Condition { current, .. }) => match current {
                None => Err(not_found("wallet", cpid)),
                Some(item) => Err(StoreError::ConditionFailed {
                    reason: "wallet is not chargeable in this currency",
                    current: codec::wallet_from(&item)
                        .ok()
                        .map(|w| Box::new(Record::Wallet(w))),
                }),
            },
            Err(e) => Err(backend_err(e)),
        }
    }

    async fn get_attempt(
        &self,
        charge_key: &ChargeKey,
        attempt: u32,
    ) -> StoreResult<ChargeAttempt> {
        let key = charge_key.to_string();
        check_key_part(&key)?;
        let id = format!("{key}#{attempt}");
        self.get_record(
            "charge attempt",
            &id,
            keys::attempt(&key, attempt),
            codec::attempt_from,
        )
        .await
    }

    async fn attempts_of(&self, charge_key: &ChargeKey) -> StoreResult<Vec<ChargeAttempt>> {
        let key = charge_key.to_string();
        check_key_part(&key)?;
        let items = self
            .query_all(Query {
                index: Index::Table,
                partition: keys::attempt_partition(&key),
                sort: SortCond::BeginsWith("ATTEMPT#".into()),
                limit: PAGE,
                start: None,
                consistent: true,
            })
            .await?;
        decode_all(&items, codec::attempt_from)
    }

    async fn attempt_by_charge_id(&self, charge_id: &str) -> StoreResult<ChargeAttempt> {
        check_key_part(charge_id)?;
        let page = self
            .backend
            .query(Query {
                index: Index::Lookup,
                partition: keys::amazon_charge(charge_id),
                sort: SortCond::Any,
                limit: 1,
                start: None,
                consistent: false,
            })
            .await
            .map_err(StoreError::Backend)?;
        match page.items.first() {
            Some(item) => codec::attempt_from(item),
            None => Err(not_found("charge attempt", charge_id)),
        }
    }

    async fn finish_attempt(&self, result: &AttemptResult) -> StoreResult<ChargeAttempt> {
        let a = &result.attempt;
        let charge_key = a.charge_key.to_string();
        if result.release_usage && a.usage_released {
            return Err(StoreError::Invalid(
                "the attempt's usage was already released".into(),
            ));
        }
        let finished = ChargeAttempt {
            version: a.version.saturating_add(1),
            usage_released: a.usage_released || result.release_usage,
            ..a.clone()
        };
        let mut writes = vec![Write {
            key: keys::attempt(&charge_key, a.attempt),
            op: WriteOp::Put(codec::attempt_item(&finished)),
            cond: Some(attempt_unchanged(a)?),
        }];
        match &result.target {
            FinishTarget::None => {}
            FinishTarget::Subscription {
                subscription_id,
                lease_owner,
                claimed_period,
                claimed_version,
                advance,
            } => {
                let mut updates = vec![
                    Update::Set(NEXT_DUE, Val::N(millis(advance.next_due_at))),
                    Update::Set(PERIOD, Val::N(i64::from(advance.period))),
                    Update::Set(DUNNING, Val::s(advance.dunning.as_str())),
                    Update::Set(ATTEMPT_COUNT, Val::N(i64::from(advance.attempt_count))),
                    Update::Set(STATUS, Val::s(advance.status.as_str())),
                    Update::Remove(LEASE_OWNER),
                    Update::Remove(LEASE_UNTIL),
                    Update::Add(VERSION, 1),
                ];
                if advance.status == SubscriptionStatus::Active {
                    updates.push(Update::Set(GSI1SK, Val::N(millis(advance.next_due_at))));
                } else {
                    updates.push(Update::Remove(GSI1PK));
                    updates.push(Update::Remove(GSI1SK));
                }
                writes.push(Write {
                    key: keys::subscription(subscription_id),
                    op: WriteOp::Update(updates),
                    cond: Some(Cond::And(vec![
                        Cond::Eq(LEASE_OWNER, Val::s(lease_owner)),
                        Cond::Eq(PERIOD, Val::N(i64::from(*claimed_period))),
                        // An edit that landed while the period was being charged (a
                        // cancel, a reschedule) must not be undone by the advance.
                        Cond::Eq(VERSION, Val::N(version_val(*claimed_version)?)),
                    ])),
                });
            }
            FinishTarget::Order(order) => {
                let mut item = codec::order_item(order);
                item.insert(
                    VERSION.into(),
                    Val::N(version_val(order.version.saturating_add(1))?),
                );
                writes.push(Write {
                    key: keys::order(&order.order_id),
                    op: WriteOp::Put(item),
                    cond: Some(Cond::Eq(VERSION, Val::N(version_val(order.version)?))),
                });
            }
        }
        if result.release_usage {
            writes.push(Write {
                key: keys::usage(&a.charge_permission_id, &a.usage_month),
                op: WriteOp::Update(vec![
                    Update::Add(TOTAL, a.amount.minor_units().saturating_neg()),
                    Update::Add(VERSION, 1),
                ]),
                cond: Some(Cond::AttrExists(TOTAL)),
            });
        }
        let target_index = usize::from(!matches!(result.target, FinishTarget::None));
        match self.backend.transact(writes).await {
            Ok(()) => Ok(finished),
            Err(WriteFailure::Condition { index: 0, current }) => {
                let stored = current.as_ref().map(codec::attempt_from).transpose();
                match stored {
                    Ok(Some(s)) if s.version == a.version => Err(StoreError::ConditionFailed {
                        reason: "an attempt's wallet, amount, month and usage release are \
                                 fixed once recorded",
                        current: Some(Box::new(Record::Attempt(s))),
                    }),
                    _ => Err(version_error(
                        "charge attempt",
                        &format!("{charge_key}#{}", a.attempt),
                        a.version,
                        current,
                        codec::attempt_from,
                        Record::Attempt,
                    )),
                }
            }
            Err(WriteFailure::Condition { index, current }) if index == target_index => {
                match &result.target {
                    FinishTarget::Order(order) => Err(version_error(
                        "order",
                        &order.order_id,
                        order.version,
                        current,
                        codec::order_from,
                        Record::Order,
                    )),
                    FinishTarget::Subscription {
                        subscription_id,
                        lease_owner,
                        ..
                    } => match current {
                        None => Err(not_found("subscription", subscription_id)),
                        Some(item) => {
                            let sub = codec::subscription_from(&item).ok();
                            let still_mine = sub.as_ref().is_some_and(|s| {
                                s.lease.as_ref().is_some_and(|l| &l.owner == lease_owner)
                            });
                            Err(StoreError::ConditionFailed {
                                reason: if still_mine {
                                    "subscription changed while charging (canceled or \
                                     rescheduled): record the outcome with \
                                     FinishTarget::None, then re-read it"
                                } else {
                                    "lease lost: the period was claimed by another worker"
                                },
                                current: sub.map(|s| Box::new(Record::Subscription(s))),
                            })
                        }
                    },
                    FinishTarget::None => Err(StoreError::Backend("unreachable".into())),
                }
            }
            Err(WriteFailure::Condition { .. }) => Err(StoreError::ConditionFailed {
                reason: "monthly usage record missing",
                current: None,
            }),
            Err(e) => Err(backend_err(e)),
        }
    }

    async fn monthly_usage(
        &self,
        charge_permission_id: &str,
        month: &str,
    ) -> StoreResult<Option<MonthlyUsage>> {
        check_key_part(charge_permission_id)?;
        check_key_part(month)?;
        self.get_item(keys::usage(charge_permission_id, month))
            .await?
            .as_ref()
            .map(codec::usage_from)
            .transpose()
    }

    async fn record_notification(
        &self,
        notification_id: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<NotificationStatus> {
        check_key_part(notification_id)?;
        if expires_at <= now {
            // Already expired on arrival: every redelivery would count as new.
            return Err(StoreError::Invalid("expires_at must be after now".into()));
        }
        let item = codec::notification_item(notification_id, now, expires_at);
        // An expired record may still be present (TTL deletion is lazy): treat it as absent.
        let cond = Cond::Or(vec![
            Cond::ItemNotExists,
            Cond::Lt(TTL_ATTRIBUTE, Val::N(seconds(now))),
        ]);
        match self
            .write(
                keys::notification(notification_id),
                WriteOp::Put(item),
                Some(cond),
            )
            .await
        {
            Ok(_) => Ok(NotificationStatus::New),
            Err(WriteFailure::Condition { .. }) => Ok(NotificationStatus::Duplicate),
            Err(e) => Err(backend_err(e)),
        }
    }

    async fn start_idempotent(
        &self,
        key: &str,
        payload_hash: &str,
        now: DateTime<Utc>,
        in_progress_until: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<IdempotencyStart> {
        check_key_part(key)?;
        // The record must outlive its in-progress window: an expired record counts as
        // absent, so one expiring earlier would let a second caller start meanwhile.
        if in_progress_until <= now || expires_at < in_progress_until {
            return Err(StoreError::Invalid(
                "need now < in_progress_until <= expires_at".into(),
            ));
        }
        let item = codec::idempotency_item(key, payload_hash, in_progress_until, expires_at);
        let cond = Cond::Or(vec![
            Cond::ItemNotExists,
            Cond::Lt(TTL_ATTRIBUTE, Val::N(seconds(now))),
            Cond::And(vec![
                Cond::Eq(STATUS, Val::s("INPROGRESS")),
                Cond::Lt(IN_PROGRESS_UNTIL, Val::N(millis(now))),
            ]),
        ]);
        match self
            .write(keys::idempotency(key), WriteOp::Put(item), Some(cond))
            .await
        {
            Ok(_) => Ok(IdempotencyStart::Started),
            Err(WriteFailure::Condition {
                current: Some(item),
                ..
            }) => {
                let (status, hash, response, until) = codec::idempotency_from(&item)?;
                if hash != payload_hash {
                    return Ok(IdempotencyStart::PayloadMismatch);
                }
                match (status, response) {
                    (IdempotencyStatus::Completed, Some(r)) => Ok(IdempotencyStart::Completed(r)),
                    _ => Ok(IdempotencyStart::InProgress { until }),
                }
            }
            Err(WriteFailure::Condition { current: None, .. }) => Err(StoreError::Backend(
                "idempotency condition failed without the current record".into(),
            )),
            Err(e) => Err(backend_err(e)),
        }
    }

    async fn complete_idempotent(
        &self,
        key: &str,
        payload_hash: &str,
        response: &SavedResponse,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        check_key_part(key)?;
        let updates = vec![
            Update::Set(STATUS, Val::s("COMPLETED")),
            Update::Set(RESPONSE_STATUS, Val::N(i64::from(response.status))),
            Update::Set(RESPONSE_BODY, Val::s(&response.body)),
            Update::Set(TTL_ATTRIBUTE, Val::N(seconds(expires_at))),
        ];
        self.idempotency_change(key, payload_hash, WriteOp::Update(updates))
            .await
    }

    async fn abandon_idempotent(&self, key: &str, payload_hash: &str) -> StoreResult<()> {
        check_key_part(key)?;
        self.idempotency_change(key, payload_hash, WriteOp::Delete)
            .await
    }

    async fn append_event(&self, event: &OutboxEvent) -> StoreResult<()> {
        check_key_part(&event.event_id)?;
        let key = keys::outbox_event(&event.event_id, millis(event.created_at));
        match self
            .write(
                key,
                WriteOp::Put(codec::event_item(event)),
                Some(Cond::ItemNotExists),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(WriteFailure::Condition { .. }) => Err(StoreError::AlreadyExists {
                kind: "event",
                id: event.event_id.clone(),
            }),
            Err(e) => Err(backend_err(e)),
        }
    }

    async fn pending_events(&self, shard: u32, limit: u32) -> StoreResult<Vec<OutboxEvent>> {
        if shard >= OUTBOX_SHARDS || limit == 0 {
            return Err(StoreError::Invalid(format!(
                "outbox shard must be < {OUTBOX_SHARDS} and limit > 0"
            )));
        }
        let page = self
            .backend
            .query(Query {
                index: Index::Table,
                partition: keys::outbox_partition(shard),
                sort: SortCond::BeginsWith("EVT#".into()),
                limit,
                start: None,
                consistent: true,
            })
            .await
            .map_err(StoreError::Backend)?;
        decode_all(&page.items, codec::event_from)
    }

    async fn ack_event(&self, event: &OutboxEvent) -> StoreResult<()> {
        let key = keys::outbox_event(&event.event_id, millis(event.created_at));
        self.write(key, WriteOp::Delete, None)
            .await
            .map(|_| ())
            .map_err(backend_err)
    }

    fn request_counts(&self) -> RequestCounts {
        self.backend.counter().snapshot()
    }
}

impl<B: Backend> TableStore<B> {
    async fn idempotency_change(
        &self,
        key: &str,
        payload_hash: &str,
        op: WriteOp,
    ) -> StoreResult<()> {
        let cond = Cond::And(vec![
            Cond::Eq(STATUS, Val::s("INPROGRESS")),
            Cond::Eq(PAYLOAD_HASH, Val::s(payload_hash)),
        ]);
        match self.write(keys::idempotency(key), op, Some(cond)).await {
            Ok(_) => Ok(()),
            Err(WriteFailure::Condition { .. }) => Err(StoreError::ConditionFailed {
                reason: "idempotency record is not in progress with this payload",
                current: None,
            }),
            Err(e) => Err(backend_err(e)),
        }
    }
}
