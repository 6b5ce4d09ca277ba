//! The embedded adapter: one redb database (a file, or memory for tests) holding the same
//! single-table layout as DynamoDB. Items are stored under `pk \0 sk`; each GSI is a
//! second redb table keyed `gsipk \0 sortkey \0 pk \0 sk`, maintained in the same write
//! transaction. redb serialises write transactions, so every conditional write and every
//! multi-item transaction is atomic exactly like DynamoDB's.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::item::{
    apply_updates, limits, Backend, BackendError, BackendOp, Item, Key, Page, Query,
    RequestCounter, SortCond, Val, Write, WriteOp,
};
use super::schema::{Index, SCHEMA};
use super::table::TableStore;

const ITEMS: TableDefinition<&str, &[u8]> = TableDefinition::new("items");
const GSI_DUE: TableDefinition<&str, &str> = TableDefinition::new("gsi1");
const GSI_LOOKUP: TableDefinition<&str, &str> = TableDefinition::new("gsi2");
const GSI_MERCHANT: TableDefinition<&str, &str> = TableDefinition::new("gsi3");
/// Sorts after every key byte we write (ids never contain it).
const HIGH: char = '\u{10FFFF}';

/// The embedded store.
pub type EmbeddedStore = TableStore<EmbeddedBackend>;

impl EmbeddedStore {
    /// Opens (or creates) a database file.
    pub fn open(path: impl AsRef<Path>) -> Result<EmbeddedStore, String> {
        EmbeddedBackend::open(path).map(TableStore::new)
    }

    /// A fresh in-memory database (tests, benchmarks).
    pub fn in_memory() -> Result<EmbeddedStore, String> {
        EmbeddedBackend::in_memory().map(TableStore::new)
    }

    /// DynamoDB TTL for the embedded database: deletes items whose TTL attribute is
    /// before `now`. Returns how many were deleted. Correctness never depends on it
    /// (conditions treat expired records as absent); it only bounds the file's growth.
    pub async fn purge_expired(&self, now: chrono::DateTime<chrono::Utc>) -> Result<usize, String> {
        let cutoff = now.timestamp();
        self.backend().blocking(move |db| purge(db, cutoff)).await?
    }
}

fn purge(db: &Database, cutoff: i64) -> Result<usize, String> {
    let txn = db.begin_write().map_err(err)?;
    let mut expired = Vec::new();
    {
        let items = txn.open_table(ITEMS).map_err(err)?;
        for entry in items.iter().map_err(err)? {
            let (k, v) = entry.map_err(err)?;
            let item = decode(v.value())?;
            if matches!(item.get(SCHEMA.ttl_attribute), Some(Val::N(t)) if *t < cutoff) {
                expired.push((k.value().to_string(), item));
            }
        }
    }
    {
        let mut items = txn.open_table(ITEMS).map_err(err)?;
        let mut due = txn.open_table(GSI_DUE).map_err(err)?;
        let mut lookup = txn.open_table(GSI_LOOKUP).map_err(err)?;
        let mut merchant = txn.open_table(GSI_MERCHANT).map_err(err)?;
        for (main, item) in &expired {
            for (index, table) in [
                (Index::Due, &mut due),
                (Index::Lookup, &mut lookup),
                (Index::Merchant, &mut merchant),
            ] {
                if let Some(e) = index_entry(index, item, main) {
                    table.remove(e.as_str()).map_err(err)?;
                }
            }
            items.remove(main.as_str()).map_err(err)?;
        }
    }
    txn.commit().map_err(err)?;
    Ok(expired.len())
}

/// redb-backed [`Backend`].
#[derive(Clone)]
pub struct EmbeddedBackend {
    db: Arc<Database>,
    counter: Arc<RequestCounter>,
    /// In memory: work is microseconds and never touches a disk, so it runs on the
    /// calling task instead of paying a blocking-pool hop per request.
    inline: bool,
}

impl std::fmt::Debug for EmbeddedBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedBackend").finish_non_exhaustive()
    }
}

fn err(e: impl std::fmt::Display) -> String {
    format!("embedded store: {e}")
}

impl EmbeddedBackend {
    /// Opens (or creates) a database file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, String> {
        Self::init(Database::create(path).map_err(err)?)
    }

    /// A fresh in-memory database.
    pub fn in_memory() -> Result<Self, String> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(err)?;
        let mut b = Self::init(db)?;
        b.inline = true;
        Ok(b)
    }

    fn init(db: Database) -> Result<Self, String> {
        let txn = db.begin_write().map_err(err)?;
        {
            txn.open_table(ITEMS).map_err(err)?;
            txn.open_table(GSI_DUE).map_err(err)?;
            txn.open_table(GSI_LOOKUP).map_err(err)?;
            txn.open_table(GSI_MERCHANT).map_err(err)?;
        }
        txn.commit().map_err(err)?;
        Ok(EmbeddedBackend {
            db: Arc::new(db),
            counter: Arc::default(),
            inline: false,
        })
    }

    /// Runs blocking redb work off the async executor.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Database) -> T + Send + 'static,
    ) -> Result<T, String> {
        if self.inline {
            return Ok(f(&self.db));
        }
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(err)
    }
}

fn main_key(key: &Key) -> String {
    format!("{}\0{}", key.pk, key.sk)
}

/// Order-preserving text form of a sort-key value.
fn sort_text(v: &Val) -> Option<String> {
    match v {
        Val::S(s) => Some(s.clone()),
        // Flip the sign bit so unsigned hex order equals signed numeric order.
        Val::N(n) => Some(format!("{:016x}", (*n as u64) ^ (1 << 63))),
        Val::B(_) => None,
    }
}

fn index_entry(index: Index, item: &Item, main: &str) -> Option<String> {
    let (p, s) = index.key_attrs();
    let Some(Val::S(pv)) = item.get(p) else {
        return None;
    };
    let sv = sort_text(item.get(s)?)?;
    Some(format!("{pv}\0{sv}\0{main}"))
}

fn index_table(index: Index) -> TableDefinition<'static, &'static str, &'static str> {
    match index {
        Index::Due => GSI_DUE,
        Index::Merchant => GSI_MERCHANT,
        _ => GSI_LOOKUP,
    }
}

fn decode(bytes: &[u8]) -> Result<Item, String> {
    serde_json::from_slice(bytes).map_err(err)
}

fn has_nul(key: &Key) -> bool {
    key.pk.contains('\0') || key.sk.contains('\0')
}

/// Checks DynamoDB's limits so an item or transaction that AWS would refuse fails here
/// too: 400 KB per item, 100 items and 4 MB per transaction.
fn check_limits(writes: &[Write]) -> Result<(), BackendError> {
    if writes.len() > limits::MAX_TRANSACTION_ITEMS {
        return Err(BackendError::TooLarge(format!(
            "a transaction holds at most {} items, not {}",
            limits::MAX_TRANSACTION_ITEMS,
            writes.len()
        )));
    }
    let mut total = 0;
    for w in writes {
        if let WriteOp::Put(item) = &w.op {
            let size = limits::item_size(item);
            if size > limits::MAX_ITEM_BYTES {
                return Err(BackendError::TooLarge(format!(
                    "an item is at most {} bytes, not {size}",
                    limits::MAX_ITEM_BYTES
                )));
            }
            total += size;
        }
    }
    if total > limits::MAX_TRANSACTION_BYTES {
        return Err(BackendError::TooLarge(format!(
            "a transaction is at most {} bytes",
            limits::MAX_TRANSACTION_BYTES
        )));
    }
    Ok(())
}

/// Checks all conditions, then applies all writes, inside one redb write transaction.
fn run_transaction(db: &Database, writes: Vec<Write>) -> Result<Vec<Option<Item>>, BackendError> {
    let be = |e: String| BackendError::Other(e);
    check_limits(&writes)?;
    let mut mains: Vec<String> = Vec::with_capacity(writes.len());
    for w in &writes {
        if has_nul(&w.key) {
            return Err(be("key contains NUL".into()));
        }
        let m = main_key(&w.key);
        if mains.contains(&m) {
            // DynamoDB refuses two operations on one item in a transaction; so do we.
            return Err(be("transaction touches one item twice".into()));
        }
        mains.push(m);
    }
    let txn = db.begin_write().map_err(|e| be(err(e)))?;
    let mut olds = Vec::with_capacity(writes.len());
    {
        let mut items = txn.open_table(ITEMS).map_err(|e| be(err(e)))?;
        let mut gsis = [
            (Index::Due, txn.open_table(GSI_DUE).map_err(|e| be(err(e)))?),
            (
                Index::Lookup,
                txn.open_table(GSI_LOOKUP).map_err(|e| be(err(e)))?,
            ),
            (
                Index::Merchant,
                txn.open_table(GSI_MERCHANT).map_err(|e| be(err(e)))?,
            ),
        ];
        for (i, (w, m)) in writes.iter().zip(&mains).enumerate() {
            let old = match items.get(m.as_str()).map_err(|e| be(err(e)))? {
                Some(g) => Some(decode(g.value()).map_err(be)?),
                None => None,
            };
            if let Some(c) = &w.cond {
                if !c.eval(old.as_ref()) {
                    // Nothing was written yet: dropping the transaction aborts it.
                    return Err(BackendError::Condition {
                        index: i,
                        current: old,
                    });
                }
            }
            olds.push(old);
        }
        for ((w, m), old) in writes.iter().zip(&mains).zip(&olds) {
            let new = match &w.op {
                WriteOp::Check => continue,
                WriteOp::Delete => None,
                WriteOp::Put(item) => {
                    let mut item = item.clone();
                    item.extend(w.key.to_item());
                    Some(item)
                }
                WriteOp::Update(u) => {
                    let new = apply_updates(old.as_ref(), &w.key, u).map_err(be)?;
                    let size = limits::item_size(&new);
                    if size > limits::MAX_ITEM_BYTES {
                        return Err(BackendError::TooLarge(format!(
                            "an item is at most {} bytes, not {size}",
                            limits::MAX_ITEM_BYTES
                        )));
                    }
                    Some(new)
                }
            };
            for (index, table) in gsis.iter_mut() {
                if let Some(e) = old.as_ref().and_then(|o| index_entry(*index, o, m)) {
                    table.remove(e.as_str()).map_err(|e| be(err(e)))?;
                }
                if let Some(e) = new.as_ref().and_then(|n| index_entry(*index, n, m)) {
                    table
                        .insert(e.as_str(), m.as_str())
                        .map_err(|e| be(err(e)))?;
                }
            }
            match new {
                Some(item) => {
                    let bytes = serde_json::to_vec(&item).map_err(|e| be(err(e)))?;
                    items
                        .insert(m.as_str(), bytes.as_slice())
                        .map_err(|e| be(err(e)))?;
                }
                None => {
                    items.remove(m.as_str()).map_err(|e| be(err(e)))?;
                }
            }
        }
    }
    txn.commit().map_err(|e| be(err(e)))?;
    Ok(olds)
}

/// Takes up to `limit` values from an iterator, telling whether more were left.
fn take_page<T, E>(
    iter: impl Iterator<Item = Result<T, E>>,
    limit: usize,
    mut f: impl FnMut(T) -> Result<Item, String>,
) -> Result<(Vec<Item>, bool), String>
where
    E: std::fmt::Display,
{
    let mut out = Vec::new();
    for entry in iter {
        if out.len() == limit {
            return Ok((out, true));
        }
        out.push(f(entry.map_err(err)?)?);
    }
    Ok((out, false))
}

fn run_query(db: &Database, q: Query) -> Result<Page, String> {
    let txn = db.begin_read().map_err(err)?;
    let items = txn.open_table(ITEMS).map_err(err)?;
    let p = &q.partition;
    let (lower, upper) = match &q.sort {
        SortCond::Any => (format!("{p}\0"), format!("{p}\0{HIGH}")),
        SortCond::BeginsWith(prefix) => (format!("{p}\0{prefix}"), format!("{p}\0{prefix}{HIGH}")),
        SortCond::LeN(n) => (
            format!("{p}\0"),
            format!(
                "{p}\0{}\0{HIGH}",
                sort_text(&Val::N(*n)).unwrap_or_default()
            ),
        ),
    };
    let start = match &q.start {
        None => None,
        Some(k) => {
            let key = super::codec::item_key(k).map_err(err)?;
            let main = main_key(&key);
            Some(match q.index {
                Index::Table => main,
                idx => index_entry(idx, k, &main).ok_or("page token lacks index keys")?,
            })
        }
    };
    // The start key is exclusive: after it ascending, before it descending.
    let (lower_bound, upper_bound) = match (&start, q.descending) {
        (Some(s), false) if s.as_str() >= lower.as_str() => {
            (Bound::Excluded(s.as_str()), Bound::Included(upper.as_str()))
        }
        (Some(s), true) if s.as_str() <= upper.as_str() => {
            (Bound::Included(lower.as_str()), Bound::Excluded(s.as_str()))
        }
        _ => (
            Bound::Included(lower.as_str()),
            Bound::Included(upper.as_str()),
        ),
    };
    let range = (lower_bound, upper_bound);
    let limit = q.limit.max(1) as usize;
    let from_bytes = |v: redb::AccessGuard<'_, &[u8]>| decode(v.value());
    let (out, more) = match (q.index, q.descending) {
        (Index::Table, false) => {
            take_page(items.range::<&str>(range).map_err(err)?, limit, |(_, v)| {
                from_bytes(v)
            })?
        }
        (Index::Table, true) => take_page(
            items.range::<&str>(range).map_err(err)?.rev(),
            limit,
            |(_, v)| from_bytes(v),
        )?,
        (idx, descending) => {
            let gsi = txn.open_table(index_table(idx)).map_err(err)?;
            let lookup = |(_, main): (redb::AccessGuard<'_, &str>, redb::AccessGuard<'_, &str>)| {
                let stored = items
                    .get(main.value())
                    .map_err(err)?
                    .ok_or("index points to a missing item")?;
                decode(stored.value())
            };
            let iter = gsi.range::<&str>(range).map_err(err)?;
            if descending {
                take_page(iter.rev(), limit, lookup)?
            } else {
                take_page(iter, limit, lookup)?
            }
        }
    };
    let last_key = if more {
        out.last().map(|item| {
            // Like DynamoDB's LastEvaluatedKey: table keys plus the index keys.
            let mut key = Item::new();
            let (ip, is) = q.index.key_attrs();
            for a in [SCHEMA.partition.name, SCHEMA.sort.name, ip, is] {
                if let Some(v) = item.get(a) {
                    key.insert(a.to_string(), v.clone());
                }
            }
            key
        })
    } else {
        None
    };
    Ok(Page {
        items: out,
        last_key,
    })
}

#[async_trait]
impl Backend for EmbeddedBackend {
    async fn get(&self, key: &Key, _consistent: bool) -> Result<Option<Item>, BackendError> {
        self.counter.record(BackendOp::GetItem);
        let m = main_key(key);
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(err)?;
            let items = txn.open_table(ITEMS).map_err(err)?;
            let got = items.get(m.as_str()).map_err(err)?;
            got.map(|g| decode(g.value())).transpose()
        })
        .await
        .map_err(BackendError::Other)?
        .map_err(BackendError::Other)
    }

    async fn write(&self, write: Write) -> Result<Option<Item>, BackendError> {
        if write.op == WriteOp::Check {
            return Err(BackendError::Other(
                "a condition check is only valid in a transaction".into(),
            ));
        }
        self.counter.record(BackendOp::of_write(&write.op));
        let olds = self
            .blocking(move |db| run_transaction(db, vec![write]))
            .await
            .map_err(BackendError::Other)??;
        Ok(olds.into_iter().next().flatten())
    }

    async fn transact(
        &self,
        writes: Vec<Write>,
        _token: Option<String>,
    ) -> Result<(), BackendError> {
        // A redb commit never loses its answer, so there is nothing to deduplicate.
        self.counter.record(BackendOp::TransactWriteItems);
        self.blocking(move |db| run_transaction(db, writes))
            .await
            .map_err(BackendError::Other)??;
        Ok(())
    }

    async fn query(&self, query: Query) -> Result<Page, BackendError> {
        self.counter.record(BackendOp::Query);
        self.blocking(move |db| run_query(db, query))
            .await
            .map_err(BackendError::Other)?
            .map_err(BackendError::Other)
    }

    fn counter(&self) -> &RequestCounter {
        &self.counter
    }
}
