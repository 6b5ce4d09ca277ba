//! Subscriptions: edits, billing's writes, the due index and exactly-once claims.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use savedwallet_app::ids::{CustomerId, SubscriptionId};
use savedwallet_app::store::*;

use super::{
    backend_err, check_limit, decode_cursor, encode_cursor, event_writes, not_found, query,
    version_error, version_is, with_version, TableStore,
};
use crate::store::codec::attr::*;
use crate::store::codec::{self, millis, subscription_from, subscription_item};
use crate::store::item::{
    apply_updates, Backend, BackendError, Cond, SortCond, Update, Val, Write, WriteOp,
};
use crate::store::schema::{keys, Index, GSI1PK, GSI1SK, GSI3PK};

/// The statuses billing claims periods of.
fn billable() -> Cond {
    Cond::Or(vec![
        Cond::Eq(STATUS, Val::s(SubscriptionStatus::Active.as_str())),
        Cond::Eq(STATUS, Val::s(SubscriptionStatus::PastDue.as_str())),
    ])
}

/// Not canceled (an edit of a canceled subscription is refused).
fn not_canceled() -> Cond {
    Cond::Or(vec![
        billable(),
        Cond::Eq(STATUS, Val::s(SubscriptionStatus::Incomplete.as_str())),
    ])
}

/// The record an edit produces from the record read (the store writes only its fields).
fn edited(current: &Subscription, edit: &SubscriptionEdit) -> Subscription {
    let mut s = current.clone();
    match edit {
        SubscriptionEdit::ChangeWallet {
            wallet_id,
            due_now,
            at,
        } => {
            s.wallet_id = wallet_id.clone();
            if let Some(due) = due_now {
                s.due_at = Some(*due);
                s.dunning = Dunning::Current;
            }
            s.updated_at = *at;
        }
        SubscriptionEdit::Cancel { at, reason } => {
            s.status = SubscriptionStatus::Canceled;
            s.canceled_at = Some(*at);
            s.cancel_reason = Some(*reason);
            s.due_at = None;
            s.updated_at = *at;
        }
    }
    s.version = current.version.saturating_add(1);
    s
}

/// The update actions of an edit: exactly the fields it changes.
fn edit_updates(new: &Subscription, edit: &SubscriptionEdit) -> StoreResult<Vec<Update>> {
    let mut u = vec![
        Update::Set(UPDATED_AT, Val::N(millis(new.updated_at))),
        Update::Add(VERSION, 1),
    ];
    match edit {
        SubscriptionEdit::ChangeWallet { due_now, .. } => {
            u.push(Update::Set(WALLET, Val::s(new.wallet_id.as_str())));
            if let Some(due) = due_now {
                let dunning = serde_json::to_string(&new.dunning)
                    .map_err(|e| StoreError::Invalid(e.to_string()))?;
                u.push(Update::Set(DUE, Val::N(millis(*due))));
                u.push(Update::Set(DUNNING, Val::S(dunning)));
                match codec::due_sort(new) {
                    Some(at) => {
                        u.push(Update::Set(
                            GSI1PK,
                            Val::S(keys::due_partition(keys::due_shard(
                                new.subscription_id.as_str(),
                            ))),
                        ));
                        u.push(Update::Set(GSI1SK, Val::N(at)));
                    }
                    None => {
                        u.push(Update::Remove(GSI1PK));
                        u.push(Update::Remove(GSI1SK));
                    }
                }
            }
        }
        SubscriptionEdit::Cancel { at, reason } => {
            let reason =
                serde_json::to_string(reason).map_err(|e| StoreError::Invalid(e.to_string()))?;
            u.push(Update::Set(
                STATUS,
                Val::s(SubscriptionStatus::Canceled.as_str()),
            ));
            u.push(Update::Set(CANCELED_AT, Val::N(millis(*at))));
            u.push(Update::Set(CANCEL_REASON, Val::S(reason)));
            u.push(Update::Remove(DUE));
            u.push(Update::Remove(GSI1PK));
            u.push(Update::Remove(GSI1SK));
            // The merchant view lists it under its new status.
            u.push(Update::Set(
                GSI3PK,
                Val::S(keys::subscriptions_in(
                    SubscriptionStatus::Canceled.as_str(),
                )),
            ));
        }
    }
    Ok(u)
}

fn sub_conflict(id: &str, expected: u64, current: Option<crate::store::item::Item>) -> StoreError {
    version_error(
        "subscription",
        id,
        expected,
        current,
        subscription_from,
        Record::Subscription,
    )
}

/// A billing write's conditions: the version read, and the lease when one is named.
pub(super) fn billing_cond(write: &SubscriptionWrite) -> Cond {
    if write.record.version == 0 {
        // Version 0: a subscription that does not exist yet (imports, tests).
        return Cond::ItemNotExists;
    }
    let mut c = vec![version_is(write.record.version)];
    if let Some(owner) = &write.lease_owner {
        c.push(Cond::Eq(LEASE_OWNER, Val::s(owner.as_str())));
    }
    Cond::And(c)
}

/// The refusal for a failed billing write: lease lost, or a plain version conflict.
pub(super) fn billing_error(
    write: &SubscriptionWrite,
    current: Option<crate::store::item::Item>,
) -> StoreError {
    let id = write.record.subscription_id.as_str();
    let Some(item) = current else {
        return not_found("subscription", id);
    };
    let stored = subscription_from(&item).ok();
    let lease_lost = write.lease_owner.as_ref().is_some_and(|owner| {
        stored
            .as_ref()
            .is_some_and(|s| s.lease.as_ref().is_none_or(|l| &l.owner != owner))
    });
    if lease_lost {
        StoreError::Refused {
            refusal: Refusal::LeaseLost,
            current: stored.map(|s| Box::new(Record::Subscription(s))),
        }
    } else {
        sub_conflict(id, write.record.version, Some(item))
    }
}

/// The stored item of a billing write (the record at its next version).
pub(super) fn billing_item(
    write: &SubscriptionWrite,
) -> StoreResult<(Subscription, crate::store::item::Item)> {
    let next = write.record.version.saturating_add(1);
    let stored = Subscription {
        version: next,
        ..write.record.clone()
    };
    let item = with_version(subscription_item(&stored)?, next);
    Ok((stored, item))
}

#[async_trait]
impl<B: Backend> SubscriptionStore for TableStore<B> {
    async fn get_subscription(&self, id: &SubscriptionId) -> StoreResult<Subscription> {
        self.get_record(
            "subscription",
            id.as_str(),
            keys::subscription(id.as_str()),
            subscription_from,
        )
        .await
    }

    async fn edit_subscription(
        &self,
        current: &Subscription,
        edit: &SubscriptionEdit,
        events: &[MerchantEvent],
    ) -> StoreResult<Subscription> {
        let id = current.subscription_id.as_str();
        let new = edited(current, edit);
        let updates = edit_updates(&new, edit)?;
        let cond = Cond::And(vec![version_is(current.version), not_canceled()]);
        let refusal = |item: Option<crate::store::item::Item>| {
            let stored = item.as_ref().and_then(|i| subscription_from(i).ok());
            match stored {
                Some(s) if s.version == current.version => StoreError::Refused {
                    refusal: Refusal::SubscriptionCanceled,
                    current: Some(Box::new(Record::Subscription(s))),
                },
                _ => sub_conflict(id, current.version, item),
            }
        };
        if events.is_empty() {
            return match self
                .write(keys::subscription(id), WriteOp::Update(updates), Some(cond))
                .await
            {
                Ok(_) => Ok(new),
                Err(BackendError::Condition { current, .. }) => Err(refusal(current)),
                Err(e) => Err(backend_err(e)),
            };
        }
        let mut writes = vec![Write {
            key: keys::subscription(id),
            op: WriteOp::Update(updates),
            cond: Some(cond),
        }];
        writes.extend(event_writes(events)?);
        match self.backend.transact(writes, None).await {
            Ok(()) => Ok(new),
            Err(BackendError::Condition { index: 0, current }) => Err(refusal(current)),
            Err(e) => Err(backend_err(e)),
        }
    }

    async fn write_subscription(
        &self,
        write: &SubscriptionWrite,
        events: &[MerchantEvent],
    ) -> StoreResult<Subscription> {
        let (stored, item) = billing_item(write)?;
        let key = codec::item_key(&item)?;
        let put = Write {
            key,
            op: WriteOp::Put(item),
            cond: Some(billing_cond(write)),
        };
        let result = if events.is_empty() {
            self.backend.write(put).await.map(|_| ())
        } else {
            let mut writes = vec![put];
            writes.extend(event_writes(events)?);
            self.backend.transact(writes, None).await
        };
        match result {
            Ok(()) => Ok(stored),
            Err(BackendError::Condition { index: 0, current }) => {
                Err(billing_error(write, current))
            }
            Err(e) => Err(backend_err(e)),
        }
    }

    async fn subscriptions_of(
        &self,
        owner: &CustomerId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Subscription>> {
        let mut q = query(
            Index::Lookup,
            keys::customer(owner.as_str()),
            SortCond::BeginsWith("S#".into()),
            limit,
        );
        q.descending = true;
        self.query_page(q, cursor, subscription_from).await
    }

    async fn subscriptions_in(
        &self,
        status: SubscriptionStatus,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Subscription>> {
        let mut q = query(
            Index::Merchant,
            keys::subscriptions_in(status.as_str()),
            SortCond::Any,
            limit,
        );
        q.descending = true;
        self.query_page(q, cursor, subscription_from).await
    }

    async fn due_subscriptions(
        &self,
        shard: u32,
        now: DateTime<Utc>,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> StoreResult<DuePage> {
        if shard >= DUE_SHARDS {
            return Err(StoreError::Invalid(format!("shard must be < {DUE_SHARDS}")));
        }
        let mut q = query(
            Index::Due,
            keys::due_partition(shard),
            SortCond::LeN(millis(now)),
            check_limit(limit)?,
        );
        q.start = cursor.map(|c| decode_cursor(c, &q)).transpose()?;
        let page = self.backend.query(q).await.map_err(backend_err)?;
        let mut subscriptions = Vec::with_capacity(page.items.len());
        let mut skipped = 0;
        for item in &page.items {
            match subscription_from(item) {
                Ok(s) => subscriptions.push(s),
                Err(e) => {
                    // One bad item must never stop its shard: skip it, say so, bill the rest.
                    skipped += 1;
                    tracing::warn!(shard, error = %e, "skipping an undecodable subscription in the due index");
                }
            }
        }
        Ok(DuePage {
            subscriptions,
            skipped,
            next: page.last_key.as_ref().map(encode_cursor).transpose()?,
        })
    }

    async fn claim_period(
        &self,
        id: &SubscriptionId,
        period: u32,
        lease_owner: &str,
        now: DateTime<Utc>,
        lease: TimeDelta,
    ) -> StoreResult<Claim> {
        if lease < MIN_LEASE {
            return Err(StoreError::Invalid(format!(
                "a lease must be at least {} s",
                MIN_LEASE.num_seconds()
            )));
        }
        if lease_owner.is_empty() || lease_owner.len() > 256 {
            return Err(StoreError::Invalid(
                "lease owner must be 1..=256 bytes".into(),
            ));
        }
        let until = now
            .checked_add_signed(lease)
            .ok_or_else(|| StoreError::Invalid("lease end out of range".into()))?;
        let key = keys::subscription(id.as_str());
        let cond = Cond::And(vec![
            billable(),
            Cond::Eq(PERIOD, Val::N(i64::from(period))),
            Cond::Le(DUE, Val::N(millis(now))),
            Cond::Or(vec![
                Cond::AttrNotExists(LEASE_UNTIL),
                Cond::Le(LEASE_UNTIL, Val::N(millis(now))),
            ]),
        ]);
        let updates = vec![
            Update::Set(LEASE_OWNER, Val::s(lease_owner)),
            Update::Set(LEASE_UNTIL, Val::N(millis(until))),
            // While claimed, the due index shows the lease end: the period drops out of
            // billing runs and comes back by itself if the worker never finishes.
            Update::Set(GSI1SK, Val::N(millis(until))),
            Update::Add(VERSION, 1),
        ];
        match self
            .write(key.clone(), WriteOp::Update(updates.clone()), Some(cond))
            .await
        {
            Ok(Some(old)) => {
                let previous = subscription_from(&old)?;
                let new = apply_updates(Some(&old), &key, &updates)
                    .map_err(|e| StoreError::Backend(e.to_string()))?;
                Ok(Claim {
                    subscription: subscription_from(&new)?,
                    recovered: previous.lease,
                })
            }
            Ok(None) => Err(StoreError::Backend(
                "claim succeeded without the previous item".into(),
            )),
            Err(BackendError::Condition { current, .. }) => {
                let Some(item) = current else {
                    return Err(not_found("subscription", id.as_str()));
                };
                let s = subscription_from(&item)?;
                match &s.lease {
                    // Our own claim whose answer was lost (the SDK or the caller resent it).
                    Some(l) if l.owner == lease_owner && l.until > now && s.period == period => {
                        Ok(Claim {
                            subscription: s.clone(),
                            recovered: None,
                        })
                    }
                    Some(l) if l.until > now && s.period == period => {
                        Err(StoreError::AlreadyClaimed {
                            until: l.until,
                            current: Box::new(s.clone()),
                        })
                    }
                    _ => Err(StoreError::Refused {
                        refusal: Refusal::NotDue,
                        current: Some(Box::new(Record::Subscription(s))),
                    }),
                }
            }
            Err(e) => Err(backend_err(e)),
        }
    }
}
