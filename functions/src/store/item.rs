//! The storage primitives both adapters implement: items of typed attributes, conditions,
//! update actions, single writes, transactions and key-range queries. The domain store
//! ([`super::TableStore`]) is written once on top of these, so DynamoDB and the embedded
//! database run the exact same conditions and updates.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use super::schema::Key;
use super::schema::{Index, PK, SK};

/// One attribute value. Only the three DynamoDB scalar types the schema uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Val {
    /// String.
    S(String),
    /// Number (integers only: money is minor units, times are epoch millis/seconds).
    N(i64),
    /// Boolean.
    B(bool),
}

impl Val {
    /// Shorthand for a string value.
    pub fn s(v: impl Into<String>) -> Val {
        Val::S(v.into())
    }
}

/// A stored item: attribute name → value.
pub type Item = BTreeMap<String, Val>;

impl Key {
    /// The key as an item holding only `pk` and `sk`.
    pub fn to_item(&self) -> Item {
        let mut item = Item::new();
        item.insert(PK.to_string(), Val::S(self.pk.clone()));
        item.insert(SK.to_string(), Val::S(self.sk.clone()));
        item
    }
}

/// A condition on the current version of an item (DynamoDB ConditionExpression subset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// The item exists.
    ItemExists,
    /// The item does not exist.
    ItemNotExists,
    /// The attribute is present.
    AttrExists(&'static str),
    /// The attribute is absent.
    AttrNotExists(&'static str),
    /// The attribute equals the value (same type).
    Eq(&'static str, Val),
    /// The attribute is less than the value (same type).
    Lt(&'static str, Val),
    /// The attribute is less than or equal to the value (same type).
    Le(&'static str, Val),
    /// The attribute is greater than the value (same type).
    Gt(&'static str, Val),
    /// All hold.
    And(Vec<Cond>),
    /// At least one holds.
    Or(Vec<Cond>),
}

impl Cond {
    /// Evaluates the condition against the current item (`None` = no item), with
    /// DynamoDB's rule that a comparison with a missing attribute is false.
    pub fn eval(&self, item: Option<&Item>) -> bool {
        let attr = |a: &str| item.and_then(|i| i.get(a));
        match self {
            Cond::ItemExists => item.is_some(),
            Cond::ItemNotExists => item.is_none(),
            Cond::AttrExists(a) => attr(a).is_some(),
            Cond::AttrNotExists(a) => attr(a).is_none(),
            Cond::Eq(a, v) => attr(a) == Some(v),
            Cond::Lt(a, v) => compare(attr(a), v).is_some_and(|o| o.is_lt()),
            Cond::Le(a, v) => compare(attr(a), v).is_some_and(|o| o.is_le()),
            Cond::Gt(a, v) => compare(attr(a), v).is_some_and(|o| o.is_gt()),
            Cond::And(cs) => cs.iter().all(|c| c.eval(item)),
            Cond::Or(cs) => cs.iter().any(|c| c.eval(item)),
        }
    }
}

fn compare(current: Option<&Val>, v: &Val) -> Option<std::cmp::Ordering> {
    match (current?, v) {
        (Val::N(a), Val::N(b)) => Some(a.cmp(b)),
        (Val::S(a), Val::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        _ => None,
    }
}

/// One update action (DynamoDB UpdateExpression subset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// `SET a = v`.
    Set(&'static str, Val),
    /// `REMOVE a`.
    Remove(&'static str),
    /// `ADD a n` on a number (a missing attribute counts as 0).
    Add(&'static str, i64),
}

/// Applies update actions to an item (or to a new item holding only the key), exactly as
/// DynamoDB does. Fails if ADD meets a non-number.
pub fn apply_updates(old: Option<&Item>, key: &Key, updates: &[Update]) -> Result<Item, String> {
    let mut item = old.cloned().unwrap_or_else(|| key.to_item());
    for u in updates {
        match u {
            Update::Set(a, v) => {
                item.insert((*a).to_string(), v.clone());
            }
            Update::Remove(a) => {
                item.remove(*a);
            }
            Update::Add(a, n) => {
                let cur = match item.get(*a) {
                    None => 0,
                    Some(Val::N(c)) => *c,
                    Some(_) => return Err(format!("ADD on non-number attribute {a}")),
                };
                let sum = cur
                    .checked_add(*n)
                    .ok_or_else(|| format!("ADD overflow on {a}"))?;
                item.insert((*a).to_string(), Val::N(sum));
            }
        }
    }
    Ok(item)
}

/// What a write does to its item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// Replace the whole item.
    Put(Item),
    /// Apply update actions (creates the item if absent, like DynamoDB).
    Update(Vec<Update>),
    /// Delete the item.
    Delete,
    /// Only check the condition (transactions only).
    Check,
}

/// One conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// The item's key.
    pub key: Key,
    /// The change.
    pub op: WriteOp,
    /// Condition on the current item; the write fails if it does not hold.
    pub cond: Option<Cond>,
}

/// Why a backend request failed. Typed, so the store can tell "not applied" from "maybe
/// applied" (a timeout or lost response) and retryable from permanent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendError {
    /// The condition of write `index` (0 for single writes) was false; `current` is the
    /// item at that moment when the backend returned it. Nothing was written.
    Condition {
        /// Which write of the transaction failed.
        index: usize,
        /// The current item, if any.
        current: Option<Item>,
    },
    /// A concurrent transaction touched the same items; nothing was written; retry.
    Contention,
    /// Throttled (also inside a cancelled transaction); nothing was written; back off.
    Throttled,
    /// The request may have been applied: timeout, connection lost after sending, or a
    /// response that could not be read.
    Unknown(String),
    /// An item or transaction over the backend's limits (400 KB, 100 items, 4 MB).
    TooLarge(String),
    /// Anything else (not applied).
    Other(String),
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackendError::Condition { index, .. } => write!(f, "condition {index} failed"),
            BackendError::Contention => f.write_str("transaction conflict"),
            BackendError::Throttled => f.write_str("throttled"),
            BackendError::Unknown(m) => write!(f, "outcome unknown: {m}"),
            BackendError::TooLarge(m) => write!(f, "too large: {m}"),
            BackendError::Other(m) => f.write_str(m),
        }
    }
}

/// The sort-key part of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortCond {
    /// Every sort key.
    Any,
    /// Numeric sort key `<=` the value.
    LeN(i64),
    /// String sort key starting with the prefix.
    BeginsWith(String),
}

/// A query over one partition of the table or of an index, ascending by sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Table or index.
    pub index: Index,
    /// Partition key value.
    pub partition: String,
    /// Sort-key condition.
    pub sort: SortCond,
    /// Page size.
    pub limit: u32,
    /// Exclusive start key (the previous page's `last_key`).
    pub start: Option<Item>,
    /// Strongly consistent (table only; GSIs are always eventually consistent).
    pub consistent: bool,
    /// Newest (highest sort key) first.
    pub descending: bool,
}

/// One page of query results.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// Items in sort-key order.
    pub items: Vec<Item>,
    /// Key to continue from; `None` when the query is exhausted.
    pub last_key: Option<Item>,
}

pub use savedwallet_app::store::RequestCounts;

/// The backend operation a request counter is kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendOp {
    /// GetItem.
    GetItem,
    /// PutItem.
    PutItem,
    /// UpdateItem.
    UpdateItem,
    /// DeleteItem.
    DeleteItem,
    /// TransactWriteItems.
    TransactWriteItems,
    /// Query.
    Query,
}

impl BackendOp {
    /// The single-item operation a write uses.
    pub fn of_write(op: &WriteOp) -> BackendOp {
        match op {
            WriteOp::Put(_) => BackendOp::PutItem,
            WriteOp::Update(_) => BackendOp::UpdateItem,
            WriteOp::Delete => BackendOp::DeleteItem,
            WriteOp::Check => BackendOp::TransactWriteItems,
        }
    }
}

/// Lock-free request counters (one per operation).
#[derive(Debug, Default)]
pub struct RequestCounter {
    counts: [AtomicU64; 6],
}

impl RequestCounter {
    /// Counts one request.
    pub fn record(&self, op: BackendOp) {
        let i = match op {
            BackendOp::GetItem => 0,
            BackendOp::PutItem => 1,
            BackendOp::UpdateItem => 2,
            BackendOp::DeleteItem => 3,
            BackendOp::TransactWriteItems => 4,
            BackendOp::Query => 5,
        };
        self.counts[i].fetch_add(1, Ordering::Relaxed);
    }

    /// The counts so far.
    pub fn snapshot(&self) -> RequestCounts {
        let c = |i: usize| self.counts[i].load(Ordering::Relaxed);
        RequestCounts {
            get_item: c(0),
            put_item: c(1),
            update_item: c(2),
            delete_item: c(3),
            transact_write_items: c(4),
            query: c(5),
        }
    }
}

/// The primitive operations an adapter provides. Every write is conditional and atomic;
/// a transaction applies all its writes or none.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Reads one item.
    async fn get(&self, key: &Key, consistent: bool) -> Result<Option<Item>, BackendError>;
    /// One conditional write; returns the item as it was before (ALL_OLD).
    async fn write(&self, write: Write) -> Result<Option<Item>, BackendError>;
    /// Several conditional writes on distinct items, all or nothing. `token` makes a
    /// resend of the same transaction idempotent where the backend supports it
    /// (DynamoDB's ClientRequestToken, 10 minutes).
    async fn transact(&self, writes: Vec<Write>, token: Option<String>)
        -> Result<(), BackendError>;
    /// One page of a query.
    async fn query(&self, query: Query) -> Result<Page, BackendError>;
    /// Requests made so far.
    fn counter(&self) -> &RequestCounter;
}

/// DynamoDB's limits, enforced by every adapter so a record that would fail on AWS fails
/// locally too.
pub mod limits {
    use super::{Item, Val};

    /// Maximum item size.
    pub const MAX_ITEM_BYTES: usize = 400 * 1024;
    /// Maximum items in one transaction.
    pub const MAX_TRANSACTION_ITEMS: usize = 100;
    /// Maximum total size of one transaction.
    pub const MAX_TRANSACTION_BYTES: usize = 4 * 1024 * 1024;

    /// An item's size as DynamoDB counts it: attribute name bytes plus value bytes
    /// (strings: UTF-8 length; numbers: about one byte per two digits plus one; booleans: 1).
    pub fn item_size(item: &Item) -> usize {
        item.iter()
            .map(|(k, v)| {
                k.len()
                    + match v {
                        Val::S(s) => s.len(),
                        Val::N(n) => n.to_string().len().div_ceil(2) + 1,
                        Val::B(_) => 1,
                    }
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, Val)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn conditions_follow_dynamodb_missing_attribute_rules() {
        let i = item(&[("n", Val::N(5)), ("s", Val::s("b"))]);
        assert!(Cond::Le("n", Val::N(5)).eval(Some(&i)));
        assert!(!Cond::Lt("n", Val::N(5)).eval(Some(&i)));
        assert!(!Cond::Lt("missing", Val::N(5)).eval(Some(&i)));
        assert!(!Cond::Lt("s", Val::N(5)).eval(Some(&i)));
        assert!(Cond::Lt("s", Val::s("c")).eval(Some(&i)));
        assert!(Cond::ItemNotExists.eval(None));
        assert!(!Cond::Eq("n", Val::N(5)).eval(None));
        assert!(Cond::Or(vec![Cond::AttrNotExists("x"), Cond::Eq("n", Val::N(1))]).eval(Some(&i)));
        assert!(!Cond::And(vec![Cond::AttrExists("x"), Cond::Eq("n", Val::N(5))]).eval(Some(&i)));
    }

    #[test]
    fn updates_apply_in_order_and_create_missing_items() {
        let key = Key::new("P", "S");
        let new = apply_updates(
            None,
            &key,
            &[
                Update::Add("c", 2),
                Update::Add("c", 3),
                Update::Set("x", Val::B(true)),
            ],
        )
        .unwrap();
        assert_eq!(new.get("c"), Some(&Val::N(5)));
        assert_eq!(new.get(PK), Some(&Val::s("P")));
        let removed = apply_updates(Some(&new), &key, &[Update::Remove("x")]).unwrap();
        assert!(!removed.contains_key("x"));
        assert!(apply_updates(Some(&new), &key, &[Update::Add("x", 1)]).is_err());
    }
}
