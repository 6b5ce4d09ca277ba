//! The storage primitives both adapters implement: items of typed attributes, conditions,
//! update actions, single writes, transactions and key-range queries. The domain store
//! ([`super::TableStore`]) is written once on top of these, so DynamoDB and the embedded
//! database run the exact same conditions and updates.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

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

/// The primary key of an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// Partition key value.
    pub pk: String,
    /// Sort key value.
    pub sk: String,
}

impl Key {
    /// A key from its two parts.
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Key {
        Key {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

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

/// Why a write or transaction was not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteFailure {
    /// The condition of write `index` (0 for single writes) was false; `current` is the
    /// item at that moment when the backend returned it.
    Condition {
        /// Which write of the transaction failed.
        index: usize,
        /// The current item, if any.
        current: Option<Item>,
    },
    /// A concurrent transaction touched the same items; retry.
    Contention,
    /// Anything else.
    Backend(String),
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
}

/// One page of query results.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// Items in sort-key order.
    pub items: Vec<Item>,
    /// Key to continue from; `None` when the query is exhausted.
    pub last_key: Option<Item>,
}

/// Requests sent to the backend, per DynamoDB operation.
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

/// The backend operation a request counter is kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
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

impl Op {
    /// The single-item operation a write uses.
    pub fn of_write(op: &WriteOp) -> Op {
        match op {
            WriteOp::Put(_) => Op::PutItem,
            WriteOp::Update(_) => Op::UpdateItem,
            WriteOp::Delete => Op::DeleteItem,
            WriteOp::Check => Op::TransactWriteItems,
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
    pub fn record(&self, op: Op) {
        let i = match op {
            Op::GetItem => 0,
            Op::PutItem => 1,
            Op::UpdateItem => 2,
            Op::DeleteItem => 3,
            Op::TransactWriteItems => 4,
            Op::Query => 5,
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
    async fn get(&self, key: &Key, consistent: bool) -> Result<Option<Item>, String>;
    /// One conditional write; returns the item as it was before (ALL_OLD).
    async fn write(&self, write: Write) -> Result<Option<Item>, WriteFailure>;
    /// Several conditional writes on distinct items, all or nothing.
    async fn transact(&self, writes: Vec<Write>) -> Result<(), WriteFailure>;
    /// One page of a query.
    async fn query(&self, query: Query) -> Result<Page, String>;
    /// Requests made so far.
    fn counter(&self) -> &RequestCounter;
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
