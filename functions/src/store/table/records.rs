//! Processed notifications, API idempotency records and merchant events.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use savedwallet_app::store::*;

use super::{backend_err, check_limit, event_writes, query, TableStore};
use crate::store::codec::attr::*;
use crate::store::codec::{event_from, expired, millis, seconds, Reader};
use crate::store::item::{Backend, BackendError, Cond, Item, SortCond, Update, Val, WriteOp};
use crate::store::schema::{keys, Index, Key, GSI1PK, GSI1SK, TTL_ATTRIBUTE};

const IN_PROGRESS: &str = "INPROGRESS";
const DONE: &str = "DONE";

fn check_token(token: &str) -> StoreResult<()> {
    if token.is_empty() || token.len() > 128 {
        return Err(StoreError::Invalid(
            "a holder token is 1..=128 bytes".into(),
        ));
    }
    Ok(())
}

fn check_id(what: &str, id: &str) -> StoreResult<()> {
    if id.is_empty() || id.len() > 512 || id.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "{what} must be 1..=512 bytes without control characters"
        )));
    }
    Ok(())
}

/// Absent, expired, or in progress by a holder whose time ran out: free to take.
fn free_at(now: DateTime<Utc>) -> Cond {
    Cond::Or(vec![
        Cond::ItemNotExists,
        Cond::Lt(TTL_ATTRIBUTE, Val::N(seconds(now))),
        Cond::And(vec![
            Cond::Eq(STATUS, Val::s(IN_PROGRESS)),
            Cond::Lt(UNTIL, Val::N(millis(now))),
        ]),
    ])
}

/// Still in progress by this holder.
fn held_by(token: &str) -> Cond {
    Cond::And(vec![
        Cond::Eq(STATUS, Val::s(IN_PROGRESS)),
        Cond::Eq(TOKEN, Val::s(token)),
    ])
}

fn not_owner() -> StoreError {
    StoreError::refused(Refusal::NotOwner)
}

fn in_progress_item(key: &Key, token: &str, until: DateTime<Utc>, ttl: DateTime<Utc>) -> Item {
    let mut item = key.to_item();
    item.insert(STATUS.into(), Val::s(IN_PROGRESS));
    item.insert(TOKEN.into(), Val::s(token));
    item.insert(UNTIL.into(), Val::N(millis(until)));
    // Round up so the record never expires before its in-progress window ends.
    let ttl_secs = seconds(ttl) + i64::from(ttl.timestamp_subsec_millis() > 0);
    item.insert(TTL_ATTRIBUTE.into(), Val::N(ttl_secs));
    item
}

impl<B: Backend> TableStore<B> {
    /// Writes `op` on a record held by `token` (or, with `done_ok`, already completed by
    /// it: a resent completion whose first answer was lost).
    async fn held_change(
        &self,
        key: Key,
        token: &str,
        op: WriteOp,
        done_ok: bool,
    ) -> StoreResult<()> {
        check_token(token)?;
        let cond = if done_ok {
            Cond::And(vec![
                Cond::Eq(TOKEN, Val::s(token)),
                Cond::Or(vec![
                    Cond::Eq(STATUS, Val::s(IN_PROGRESS)),
                    Cond::Eq(STATUS, Val::s(DONE)),
                ]),
            ])
        } else {
            held_by(token)
        };
        match self.write(key, op, Some(cond)).await {
            Ok(_) => Ok(()),
            Err(BackendError::Condition { .. }) => Err(not_owner()),
            Err(e) => Err(backend_err(e)),
        }
    }
}

#[async_trait]
impl<B: Backend> RecordStore for TableStore<B> {
    async fn begin_notification(
        &self,
        id: &str,
        token: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<NotificationBegin> {
        check_id("a notification id", id)?;
        check_token(token)?;
        if until <= now {
            return Err(StoreError::Invalid("until must be after now".into()));
        }
        let key = keys::notification(id);
        let item = in_progress_item(&key, token, until, until);
        match self
            .write(key, WriteOp::Put(item), Some(free_at(now)))
            .await
        {
            Ok(_) => Ok(NotificationBegin::Started),
            Err(BackendError::Condition {
                current: Some(item),
                ..
            }) => {
                let r = Reader::new("notification", &item);
                if r.s(STATUS)? == DONE {
                    Ok(NotificationBegin::Done)
                } else if r.s(TOKEN)? == token {
                    // Our own earlier begin whose answer was lost.
                    Ok(NotificationBegin::Started)
                } else {
                    Ok(NotificationBegin::InProgress {
                        until: r.time(UNTIL)?,
                    })
                }
            }
            Err(BackendError::Condition { current: None, .. }) => Err(StoreError::Backend(
                "notification condition failed without the record".into(),
            )),
            Err(e) => Err(backend_err(e)),
        }
    }

    async fn complete_notification(
        &self,
        id: &str,
        token: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        check_id("a notification id", id)?;
        let updates = vec![
            Update::Set(STATUS, Val::s(DONE)),
            Update::Set(TTL_ATTRIBUTE, Val::N(seconds(expires_at))),
        ];
        self.held_change(
            keys::notification(id),
            token,
            WriteOp::Update(updates),
            true,
        )
        .await
    }

    async fn release_notification(&self, id: &str, token: &str) -> StoreResult<()> {
        check_id("a notification id", id)?;
        self.held_change(keys::notification(id), token, WriteOp::Delete, false)
            .await
    }

    async fn start_idempotent(
        &self,
        key: &str,
        payload_hash: &str,
        token: &str,
        now: DateTime<Utc>,
        in_progress_until: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<IdempotencyStart> {
        check_id("an idempotency key", key)?;
        check_token(token)?;
        // The record must outlive its in-progress window: an expired record counts as
        // absent, so one expiring earlier would let a second caller start meanwhile.
        if in_progress_until <= now || expires_at < in_progress_until {
            return Err(StoreError::Invalid(
                "need now < in_progress_until <= expires_at".into(),
            ));
        }
        let k = keys::idempotency(key);
        let mut item = in_progress_item(&k, token, in_progress_until, expires_at);
        item.insert(PAYLOAD_HASH.into(), Val::s(payload_hash));
        match self.write(k, WriteOp::Put(item), Some(free_at(now))).await {
            Ok(_) => Ok(IdempotencyStart::Started),
            Err(BackendError::Condition {
                current: Some(item),
                ..
            }) => {
                let r = Reader::new("idempotency record", &item);
                if r.s(PAYLOAD_HASH)? != payload_hash {
                    return Ok(IdempotencyStart::PayloadMismatch);
                }
                if r.s(STATUS)? == IN_PROGRESS && r.s(TOKEN)? == token {
                    // Our own earlier start whose answer was lost.
                    return Ok(IdempotencyStart::Started);
                }
                if r.s(STATUS)? == DONE && !expired(&item, now) {
                    return Ok(IdempotencyStart::Completed(SavedResponse {
                        status: u16::try_from(r.n(RESPONSE_STATUS)?)
                            .map_err(|_| r.err("response status out of range".into()))?,
                        body: r.s(RESPONSE_BODY)?.to_string(),
                    }));
                }
                Ok(IdempotencyStart::InProgress {
                    until: r.time(UNTIL)?,
                })
            }
            Err(BackendError::Condition { current: None, .. }) => Err(StoreError::Backend(
                "idempotency condition failed without the record".into(),
            )),
            Err(e) => Err(backend_err(e)),
        }
    }

    async fn complete_idempotent(
        &self,
        key: &str,
        token: &str,
        response: &SavedResponse,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        check_id("an idempotency key", key)?;
        let updates = vec![
            Update::Set(STATUS, Val::s(DONE)),
            Update::Set(RESPONSE_STATUS, Val::N(i64::from(response.status))),
            Update::Set(RESPONSE_BODY, Val::s(response.body.as_str())),
            Update::Set(TTL_ATTRIBUTE, Val::N(seconds(expires_at))),
        ];
        self.held_change(
            keys::idempotency(key),
            token,
            WriteOp::Update(updates),
            true,
        )
        .await
    }

    async fn abandon_idempotent(&self, key: &str, token: &str) -> StoreResult<()> {
        check_id("an idempotency key", key)?;
        self.held_change(keys::idempotency(key), token, WriteOp::Delete, false)
            .await
    }

    async fn append_events(&self, events: &[MerchantEvent]) -> StoreResult<()> {
        let mut writes = event_writes(events)?;
        let result = match writes.len() {
            0 => return Ok(()),
            1 => self.backend.write(writes.remove(0)).await.map(|_| ()),
            _ => self.backend.transact(writes, None).await,
        };
        match result {
            Ok(()) => Ok(()),
            Err(BackendError::Condition { .. }) => Err(StoreError::AlreadyExists {
                kind: "event",
                id: "in this batch".into(),
                current: None,
            }),
            Err(e) => Err(backend_err(e)),
        }
    }

    async fn events_since(
        &self,
        cursor: Option<&Cursor>,
        limit: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Page<MerchantEvent>> {
        let q = query(
            Index::Table,
            keys::EVENTS.to_string(),
            SortCond::Any,
            check_limit(limit)?,
        );
        let page = self.query_page(q, cursor, |item| Ok(item.clone())).await?;
        // Past retention (TTL deletion is lazy): not listed.
        let items = page
            .items
            .iter()
            .filter(|item| !expired(item, now))
            .map(event_from)
            .collect::<StoreResult<_>>()?;
        Ok(Page {
            items,
            next: page.next,
        })
    }

    async fn due_deliveries(
        &self,
        shard: u32,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<MerchantEvent>> {
        if shard >= DELIVERY_SHARDS {
            return Err(StoreError::Invalid(format!(
                "shard must be < {DELIVERY_SHARDS}"
            )));
        }
        let q = query(
            Index::Due,
            keys::delivery_partition(shard),
            SortCond::LeN(millis(now)),
            check_limit(limit)?,
        );
        Ok(self.query_page(q, None, event_from).await?.items)
    }

    async fn set_delivery(
        &self,
        event: &MerchantEvent,
        deliver_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        let id = event.event_id.as_str();
        let mut updates = vec![Update::Add(DELIVERIES, 1)];
        match deliver_at {
            Some(at) => {
                updates.push(Update::Set(DELIVER_AT, Val::N(millis(at))));
                updates.push(Update::Set(
                    GSI1PK,
                    Val::S(keys::delivery_partition(keys::delivery_shard(id))),
                ));
                updates.push(Update::Set(GSI1SK, Val::N(millis(at))));
            }
            None => {
                updates.push(Update::Remove(DELIVER_AT));
                updates.push(Update::Remove(GSI1PK));
                updates.push(Update::Remove(GSI1SK));
            }
        }
        match self
            .write(
                keys::event(id, millis(event.created_at)),
                WriteOp::Update(updates),
                Some(Cond::ItemExists),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(BackendError::Condition { .. }) => Err(super::not_found("event", id)),
            Err(e) => Err(backend_err(e)),
        }
    }
}
