//! The domain operations, written once over [`Backend`]: both adapters run these exact
//! conditions, updates and transactions. One file per capability of the port.

mod attempts;
mod catalog;
mod payments;
mod records;
mod subscriptions;
mod wallets;

use savedwallet_app::store::{Cursor, Page, Record, RequestCounts, Store, StoreError, StoreResult};

use super::codec::{self, attr::VERSION};
use super::item::{Backend, BackendError, Cond, Item, Query, SortCond, Val, Write, WriteOp};
use super::schema::{Index, Key};

/// The store over any backend. Use [`super::DynamoStore`] or [`super::EmbeddedStore`].
#[derive(Debug)]
pub struct TableStore<B> {
    backend: B,
}

/// Largest page a list returns.
pub const MAX_PAGE: u32 = 100;

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
        self.backend.get(&key, true).await.map_err(backend_err)
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

    async fn write(&self, key: Key, op: WriteOp, cond: Option<Cond>) -> WriteResult {
        self.backend.write(Write { key, op, cond }).await
    }

    /// Creates a record (its item carries `version = 1`) if absent.
    async fn create<T>(
        &self,
        kind: &'static str,
        id: &str,
        item: Item,
        decode: fn(&Item) -> StoreResult<T>,
        wrap: fn(T) -> Record,
    ) -> StoreResult<()> {
        let key = codec::item_key(&item)?;
        match self
            .write(key, WriteOp::Put(item), Some(Cond::ItemNotExists))
            .await
        {
            Ok(_) => Ok(()),
            Err(BackendError::Condition { current, .. }) => Err(StoreError::AlreadyExists {
                kind,
                id: id.to_string(),
                current: current
                    .as_ref()
                    .and_then(|i| decode(i).ok())
                    .map(|r| Box::new(wrap(r))),
            }),
            Err(e) => Err(backend_err(e)),
        }
    }

    /// Replaces a record whose stored version is `expected` (its item carries the next).
    async fn replace<T>(
        &self,
        kind: &'static str,
        id: &str,
        expected: u64,
        item: Item,
        decode: fn(&Item) -> StoreResult<T>,
        wrap: fn(T) -> Record,
    ) -> StoreResult<()> {
        let key = codec::item_key(&item)?;
        match self
            .write(key, WriteOp::Put(item), Some(version_is(expected)))
            .await
        {
            Ok(_) => Ok(()),
            Err(BackendError::Condition { current, .. }) => {
                Err(version_error(kind, id, expected, current, decode, wrap))
            }
            Err(e) => Err(backend_err(e)),
        }
    }

    /// One page of a query, with a cursor that only continues the same partition.
    async fn query_page<T>(
        &self,
        mut query: Query,
        cursor: Option<&Cursor>,
        decode: fn(&Item) -> StoreResult<T>,
    ) -> StoreResult<Page<T>> {
        query.limit = check_limit(query.limit)?;
        query.start = cursor.map(|c| decode_cursor(c, &query)).transpose()?;
        let page = self.backend.query(query).await.map_err(backend_err)?;
        Ok(Page {
            items: page.items.iter().map(decode).collect::<StoreResult<_>>()?,
            next: page.last_key.as_ref().map(encode_cursor).transpose()?,
        })
    }

    /// Every item of a query (small partitions only: a payment's attempts, the plans).
    async fn query_all(&self, mut q: Query) -> StoreResult<Vec<Item>> {
        let mut out = Vec::new();
        loop {
            let page = self.backend.query(q.clone()).await.map_err(backend_err)?;
            out.extend(page.items);
            match page.last_key {
                Some(k) => q.start = Some(k),
                None => return Ok(out),
            }
        }
    }
}

impl<B: Backend> Store for TableStore<B> {
    fn request_counts(&self) -> RequestCounts {
        self.backend.counter().snapshot()
    }
}

type WriteResult = Result<Option<Item>, BackendError>;

/// A query on one partition, ascending unless changed.
fn query(index: Index, partition: String, sort: SortCond, limit: u32) -> Query {
    Query {
        index,
        partition,
        sort,
        limit,
        start: None,
        consistent: index == Index::Table,
        descending: false,
    }
}

fn check_limit(limit: u32) -> StoreResult<u32> {
    if limit == 0 || limit > MAX_PAGE {
        return Err(StoreError::Invalid(format!(
            "page size must be 1..={MAX_PAGE}"
        )));
    }
    Ok(limit)
}

fn encode_cursor(key: &Item) -> StoreResult<Cursor> {
    let json = serde_json::to_vec(key).map_err(|e| StoreError::Invalid(e.to_string()))?;
    Ok(Cursor(hex::encode(json)))
}

/// A cursor from a client: well formed and of the queried partition (DynamoDB refuses a
/// start key outside it; every adapter refuses it the same way).
fn decode_cursor(cursor: &Cursor, query: &Query) -> StoreResult<Item> {
    let bad = || StoreError::Invalid("malformed or foreign cursor".into());
    if cursor.0.len() > 4096 {
        return Err(bad());
    }
    let bytes = hex::decode(&cursor.0).map_err(|_| bad())?;
    let item: Item = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let (pk_attr, _) = query.index.key_attrs();
    if item.get(pk_attr) != Some(&Val::S(query.partition.clone())) {
        return Err(bad());
    }
    Ok(item)
}

fn version_is(v: u64) -> Cond {
    Cond::Eq(VERSION, Val::N(codec::num(v)))
}

/// Maps a backend failure that is not an expected condition.
fn backend_err(e: BackendError) -> StoreError {
    match e {
        BackendError::Contention => StoreError::Contention,
        BackendError::Throttled => StoreError::Throttled,
        BackendError::Unknown(m) => StoreError::OutcomeUnknown(m),
        BackendError::TooLarge(m) => StoreError::Invalid(m),
        BackendError::Other(m) => StoreError::Backend(m),
        BackendError::Condition { index, .. } => {
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
        None => not_found(kind, id),
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

/// Puts of new event items (each once: a resent transaction cannot duplicate an event).
fn event_writes(events: &[savedwallet_app::store::MerchantEvent]) -> StoreResult<Vec<Write>> {
    events
        .iter()
        .map(|e| {
            let item = codec::event_item(e)?;
            Ok(Write {
                key: codec::item_key(&item)?,
                op: WriteOp::Put(item),
                cond: Some(Cond::ItemNotExists),
            })
        })
        .collect()
}

/// A versioned replace inside a transaction: the item at `version + 1`.
fn versioned_put(item: Item, read_version: u64) -> StoreResult<Write> {
    Ok(Write {
        key: codec::item_key(&item)?,
        op: WriteOp::Put(item),
        cond: Some(version_is(read_version)),
    })
}

/// Sets `version` in an encoded item.
fn with_version(mut item: Item, version: u64) -> Item {
    item.insert(VERSION.into(), Val::N(codec::num(version)));
    item
}
