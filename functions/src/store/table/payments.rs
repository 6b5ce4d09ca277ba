//! Payments and their attempts: the transactions that keep money safe.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use savedwallet_app::ids::{ChargeId, CustomerId, PaymentId};
use savedwallet_app::store::rules::{attempt_transition, payment_matches_attempt};
use savedwallet_app::store::*;
use savedwallet_shared::limits::UsageMonth;
use savedwallet_shared::money::Price;

use super::attempts::{
    begin_error, check_begin, decode_record, finish_updates, invalid, refused, request_token,
    usage_write,
};
use super::subscriptions::{billing_cond, billing_error, billing_item};
use super::{
    backend_err, event_writes, not_found, query, version_error, version_is, versioned_put,
    with_version, TableStore, MAX_PAGE,
};
use crate::store::codec::attr::*;
use crate::store::codec::*;
use crate::store::item::{Backend, BackendError, Cond, SortCond, Update, Val, Write, WriteOp};
use crate::store::schema::{keys, Index};

#[async_trait]
impl<B: Backend> PaymentStore for TableStore<B> {
    async fn begin_attempt(&self, b: &BeginAttempt) -> StoreResult<Begun> {
        check_begin(b)?;
        let (a, p) = (&b.attempt, b.payment.payment());
        let attempt = ChargeAttempt {
            version: 1,
            ..a.clone()
        };
        let payment = Payment {
            version: p.version.saturating_add(1),
            ..p.clone()
        };
        let n = i64::from(a.attempt);
        let attempt_put = Write {
            key: keys::attempt(a.payment_id.as_str(), a.attempt),
            op: WriteOp::Put(attempt_item(&attempt)),
            cond: Some(Cond::ItemNotExists),
        };
        let payment_item = with_version(payment_item(&payment)?, payment.version);
        let payment_cond = match &b.payment {
            PaymentWrite::Create(_) => Cond::ItemNotExists,
            PaymentWrite::Update(_) => {
                let retryable = [
                    PaymentStatus::Declined,
                    PaymentStatus::Failed,
                    PaymentStatus::Canceled,
                ];
                Cond::And(vec![
                    version_is(p.version),
                    Cond::AttrNotExists(OPEN_ATTEMPT),
                    Cond::Eq(ATTEMPT_COUNT, Val::N(n - 1)),
                    Cond::Or(
                        retryable
                            .iter()
                            .map(|s| Cond::Eq(STATUS, Val::s(s.as_str())))
                            .collect(),
                    ),
                ])
            }
        };
        let wallet_check = Write {
            key: keys::wallet(a.wallet_id.as_str()),
            op: WriteOp::Check,
            cond: Some(Cond::And(vec![
                Cond::Eq(STATE, Val::s("Chargeable")),
                Cond::Eq(UPDATE_REQUIRED, Val::B(false)),
                Cond::Eq(CURRENCY, Val::s(a.amount.currency().code())),
                Cond::Eq(OWNER, Val::s(p.owner.as_str())),
            ])),
        };
        let mut writes = vec![
            attempt_put,
            Write {
                key: keys::payment(p.payment_id.as_str()),
                op: WriteOp::Put(payment_item),
                cond: Some(payment_cond),
            },
            wallet_check,
            usage_write(a, b.monthly_cap),
        ];
        let billing_at = (b.billing != BillingLink::None).then_some(writes.len());
        match &b.billing {
            BillingLink::None => {}
            BillingLink::NewSubscription(s) => {
                let stored = Subscription {
                    version: 1,
                    ..(**s).clone()
                };
                writes.push(Write {
                    key: keys::subscription(s.subscription_id.as_str()),
                    op: WriteOp::Put(subscription_item(&stored)?),
                    cond: Some(Cond::ItemNotExists),
                });
            }
            BillingLink::Lease {
                subscription_id,
                lease_owner,
                period,
            } => writes.push(Write {
                key: keys::subscription(subscription_id.as_str()),
                op: WriteOp::Check,
                cond: Some(Cond::And(vec![
                    Cond::Eq(LEASE_OWNER, Val::s(lease_owner.as_str())),
                    Cond::Eq(PERIOD, Val::N(i64::from(*period))),
                    // The lease is live at the attempt's own time.
                    Cond::Gt(LEASE_UNTIL, Val::N(millis(a.created_at))),
                ])),
            }),
        }
        if let Some(order) = &b.order {
            writes.push(Write {
                key: keys::order(order.as_str()),
                op: WriteOp::Update(vec![
                    Update::Set(PAYMENT, Val::s(p.payment_id.as_str())),
                    Update::Add(VERSION, 1),
                ]),
                cond: Some(Cond::And(vec![
                    Cond::ItemExists,
                    Cond::AttrNotExists(PAYMENT),
                    Cond::Eq(OWNER, Val::s(p.owner.as_str())),
                ])),
            });
        }
        writes.extend(event_writes(&b.events)?);
        let token = request_token(&[
            b"begin",
            a.payment_id.as_str().as_bytes(),
            &a.attempt.to_be_bytes(),
            a.writer.as_bytes(),
        ]);
        match self.backend.transact(writes, Some(token)).await {
            Ok(()) => Ok(Begun::Recorded {
                payment: Box::new(payment),
                attempt: Box::new(attempt),
            }),
            Err(BackendError::Condition { index: 0, current }) => {
                // The attempt exists: a resend of this very begin (same writer, same key)
                // after a lost answer is ours; anything else is another writer's attempt.
                match current.as_ref().map(attempt_from) {
                    Some(Ok(existing))
                        if existing.writer == a.writer
                            && existing.idempotency_key == a.idempotency_key
                            && existing.request_body == a.request_body =>
                    {
                        Ok(Begun::AlreadyRecorded(Box::new(existing)))
                    }
                    _ => Err(begin_error(b, 0, current, billing_at)),
                }
            }
            Err(BackendError::Condition { index, current }) => {
                Err(begin_error(b, index, current, billing_at))
            }
            Err(e) => Err(backend_err(e)),
        }
    }

    async fn finish_attempt(&self, f: &FinishAttempt) -> StoreResult<Finished> {
        let a = &f.attempt;
        if !attempt_transition(f.from, a.state) {
            return Err(StoreError::Refused {
                refusal: Refusal::IllegalTransition {
                    from: f.from,
                    to: a.state,
                },
                current: None,
            });
        }
        if f.payment.payment_id != a.payment_id
            || !payment_matches_attempt(&f.payment, a.attempt, a.state)
        {
            return Err(invalid(
                "the payment must count this attempt, open unless its state is final",
            ));
        }
        let release = a.state.releases_usage();
        if release && a.usage_released {
            return Err(invalid("the attempt's usage was already released"));
        }
        let attempt = ChargeAttempt {
            version: a.version.saturating_add(1),
            usage_released: release,
            ..a.clone()
        };
        let payment = Payment {
            version: f.payment.version.saturating_add(1),
            ..f.payment.clone()
        };
        let mut attempt_cond = vec![
            version_is(a.version),
            Cond::Eq(STATE, Val::s(f.from.as_str())),
        ];
        if release {
            attempt_cond.push(Cond::Eq(RELEASED, Val::B(false)));
        }
        let mut writes = vec![
            Write {
                key: keys::attempt(a.payment_id.as_str(), a.attempt),
                op: WriteOp::Update(finish_updates(&attempt)),
                cond: Some(Cond::And(attempt_cond)),
            },
            versioned_put(
                with_version(payment_item(&payment)?, payment.version),
                f.payment.version,
            )?,
        ];
        let sub_at = writes.len();
        if let Some(w) = &f.subscription {
            let (_, item) = billing_item(w)?;
            writes.push(Write {
                key: crate::store::codec::item_key(&item)?,
                op: WriteOp::Put(item),
                cond: Some(billing_cond(w)),
            });
        }
        let wallet_at = writes.len();
        if let Some(w) = &f.wallet {
            let next = w.version.saturating_add(1);
            let stored = Wallet {
                version: next,
                ..w.clone()
            };
            writes.push(versioned_put(
                with_version(wallet_item(&stored)?, next),
                w.version,
            )?);
        }
        if release {
            writes.push(Write {
                key: keys::usage(a.wallet_id.as_str(), &a.usage_month.to_string()),
                op: WriteOp::Update(vec![Update::Add(
                    TOTAL,
                    a.amount.minor_units().saturating_neg(),
                )]),
                cond: Some(Cond::AttrExists(TOTAL)),
            });
        }
        writes.extend(event_writes(&f.events)?);
        let token = request_token(&[
            b"finish",
            a.payment_id.as_str().as_bytes(),
            &a.attempt.to_be_bytes(),
            &a.version.to_be_bytes(),
            a.state.as_str().as_bytes(),
        ]);
        match self.backend.transact(writes, Some(token)).await {
            Ok(()) => Ok(Finished { payment, attempt }),
            Err(BackendError::Condition { index: 0, current }) => {
                let stored = current.as_ref().map(attempt_from).transpose()?;
                match stored {
                    // A resend of this very finish after a lost answer: it was applied.
                    Some(s)
                        if s.version == attempt.version
                            && s.state == attempt.state
                            && s.charge_id == attempt.charge_id
                            && s.reason_code == attempt.reason_code =>
                    {
                        Ok(Finished {
                            payment,
                            attempt: s,
                        })
                    }
                    Some(s) if s.version == a.version => Err(refused(
                        Refusal::IllegalTransition {
                            from: s.state,
                            to: a.state,
                        },
                        Some(Box::new(Record::Attempt(s))),
                    )),
                    Some(s) => Err(StoreError::VersionConflict {
                        kind: "charge attempt",
                        expected: a.version,
                        current: Some(Box::new(Record::Attempt(s))),
                    }),
                    None => Err(not_found("charge attempt", a.payment_id.as_str())),
                }
            }
            Err(BackendError::Condition { index: 1, current }) => Err(version_error(
                "payment",
                f.payment.payment_id.as_str(),
                f.payment.version,
                current,
                payment_from,
                Record::Payment,
            )),
            Err(BackendError::Condition { index, current })
                if index == sub_at && f.subscription.is_some() =>
            {
                Err(billing_error(
                    f.subscription.as_ref().expect("checked"),
                    current,
                ))
            }
            Err(BackendError::Condition { index, current })
                if index == wallet_at && f.wallet.is_some() =>
            {
                let w = f.wallet.as_ref().expect("checked");
                Err(version_error(
                    "wallet",
                    w.wallet_id.as_str(),
                    w.version,
                    current,
                    wallet_from,
                    Record::Wallet,
                ))
            }
            Err(BackendError::Condition { index, .. }) => Err(StoreError::Backend(format!(
                "finish: unexpected condition failure at write {index}"
            ))),
            Err(e) => Err(backend_err(e)),
        }
    }

    async fn update_payment(
        &self,
        payment: &Payment,
        events: &[MerchantEvent],
    ) -> StoreResult<Payment> {
        let next = payment.version.saturating_add(1);
        let stored = Payment {
            version: next,
            ..payment.clone()
        };
        let open = match payment.open_attempt {
            Some(n) => Cond::Eq(OPEN_ATTEMPT, Val::N(i64::from(n))),
            None => Cond::AttrNotExists(OPEN_ATTEMPT),
        };
        // Annotations only: the fields the attempt rules guard must equal the stored ones.
        let cond = Cond::And(vec![
            version_is(payment.version),
            Cond::Eq(STATUS, Val::s(payment.status.as_str())),
            Cond::Eq(ATTEMPT_COUNT, Val::N(i64::from(payment.attempt_count))),
            open,
        ]);
        let item = with_version(payment_item(&stored)?, next);
        let mut writes = vec![Write {
            key: keys::payment(payment.payment_id.as_str()),
            op: WriteOp::Put(item),
            cond: Some(cond),
        }];
        writes.extend(event_writes(events)?);
        let result = if writes.len() == 1 {
            let w = writes.remove(0);
            self.backend.write(w).await.map(|_| ())
        } else {
            self.backend.transact(writes, None).await
        };
        match result {
            Ok(()) => Ok(stored),
            Err(BackendError::Condition { index: 0, current }) => Err(version_error(
                "payment",
                payment.payment_id.as_str(),
                payment.version,
                current,
                payment_from,
                Record::Payment,
            )),
            Err(e) => Err(backend_err(e)),
        }
    }

    async fn get_payment(&self, id: &PaymentId) -> StoreResult<Payment> {
        self.get_record(
            "payment",
            id.as_str(),
            keys::payment(id.as_str()),
            payment_from,
        )
        .await
    }

    async fn payment_with_attempts(
        &self,
        id: &PaymentId,
    ) -> StoreResult<(Payment, Vec<ChargeAttempt>)> {
        let q = query(
            Index::Table,
            keys::payment_partition(id.as_str()),
            SortCond::Any,
            MAX_PAGE,
        );
        let items = self.query_all(q).await?;
        let mut payment = None;
        let mut attempts = Vec::new();
        for item in &items {
            match item.get(TYPE) {
                Some(Val::S(t)) if t == "payment" => payment = Some(payment_from(item)?),
                Some(Val::S(t)) if t == "attempt" => attempts.push(attempt_from(item)?),
                _ => {}
            }
        }
        let payment = payment.ok_or_else(|| not_found("payment", id.as_str()))?;
        attempts.sort_by_key(|a| a.attempt);
        Ok((payment, attempts))
    }

    async fn get_attempt(&self, id: &PaymentId, attempt: u32) -> StoreResult<ChargeAttempt> {
        self.get_record(
            "charge attempt",
            id.as_str(),
            keys::attempt(id.as_str(), attempt),
            attempt_from,
        )
        .await
    }

    async fn attempt_by_charge(&self, charge_id: &ChargeId) -> StoreResult<ChargeAttempt> {
        let q = query(
            Index::Lookup,
            keys::amazon_charge(charge_id.as_str()),
            SortCond::Any,
            1,
        );
        let page = self.backend.query(q).await.map_err(backend_err)?;
        match page.items.first() {
            Some(item) => attempt_from(item),
            None => Err(not_found("charge attempt", charge_id.as_str())),
        }
    }

    async fn payments_of(
        &self,
        owner: &CustomerId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Payment>> {
        let mut q = query(
            Index::Lookup,
            keys::customer(owner.as_str()),
            SortCond::BeginsWith("P#".into()),
            limit,
        );
        q.descending = true;
        self.query_page(q, cursor, payment_from).await
    }

    async fn recent_payments(
        &self,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Payment>> {
        let mut q = query(
            Index::Merchant,
            keys::ALL_PAYMENTS.to_string(),
            SortCond::Any,
            limit,
        );
        q.descending = true;
        self.query_page(q, cursor, payment_from).await
    }

    async fn payments_to_wake(
        &self,
        shard: u32,
        now: DateTime<Utc>,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Payment>> {
        if shard >= WAKE_SHARDS {
            return Err(StoreError::Invalid(format!(
                "shard must be < {WAKE_SHARDS}"
            )));
        }
        let q = query(
            Index::Due,
            keys::wake_partition(shard),
            SortCond::LeN(millis(now)),
            limit,
        );
        self.query_page(q, cursor, payment_from).await
    }

    async fn begin_refund(
        &self,
        refund: &Refund,
        captured: Price,
        events: &[MerchantEvent],
    ) -> StoreResult<Refund> {
        if refund.state != RefundState::Pending
            || refund.version != 0
            || !refund.amount.is_positive()
            || refund.amount.currency() != captured.currency()
        {
            return Err(invalid(
                "a new refund is pending, positive, in the captured currency",
            ));
        }
        let stored = Refund {
            version: 1,
            ..refund.clone()
        };
        let amt = refund.amount.minor_units();
        let mut writes = vec![
            Write {
                key: keys::refund(refund.refund_id.as_str()),
                op: WriteOp::Put(refund_item(&stored)?),
                cond: Some(Cond::ItemNotExists),
            },
            Write {
                key: keys::payment(refund.payment_id.as_str()),
                op: WriteOp::Update(vec![Update::Add(REFUNDED, amt), Update::Add(VERSION, 1)]),
                cond: Some(Cond::And(vec![
                    Cond::Eq(STATUS, Val::s(PaymentStatus::Succeeded.as_str())),
                    Cond::Eq(OWNER, Val::s(refund.owner.as_str())),
                    Cond::Eq(CAPTURED, Val::N(captured.minor_units())),
                    Cond::Le(REFUNDED, Val::N(captured.minor_units().saturating_sub(amt))),
                ])),
            },
        ];
        writes.extend(event_writes(events)?);
        match self.backend.transact(writes, None).await {
            Ok(()) => Ok(stored),
            Err(BackendError::Condition { index: 0, current }) => Err(StoreError::AlreadyExists {
                kind: "refund",
                id: refund.refund_id.to_string(),
                current: decode_record(&current, refund_from, Record::Refund),
            }),
            Err(BackendError::Condition { index: 1, current }) => {
                let p = current.as_ref().map(payment_from).transpose()?;
                match p {
                    None => Err(not_found("payment", refund.payment_id.as_str())),
                    Some(p)
                        if p.status != PaymentStatus::Succeeded || p.captured != Some(captured) =>
                    {
                        Err(refused(
                            Refusal::NotCaptured,
                            Some(Box::new(Record::Payment(p))),
                        ))
                    }
                    Some(p) => Err(refused(
                        Refusal::RefundExceedsCaptured,
                        Some(Box::new(Record::Payment(p))),
                    )),
                }
            }
            Err(e) => Err(backend_err(e)),
        }
    }

    async fn finish_refund(
        &self,
        refund: &Refund,
        events: &[MerchantEvent],
    ) -> StoreResult<Refund> {
        let next = refund.version.saturating_add(1);
        let stored = Refund {
            version: next,
            ..refund.clone()
        };
        // A refund leaves `pending` once; a failed one gives its reservation back then.
        let mut writes = vec![Write {
            key: keys::refund(refund.refund_id.as_str()),
            op: WriteOp::Put(with_version(refund_item(&stored)?, next)),
            cond: Some(Cond::And(vec![
                version_is(refund.version),
                Cond::Eq(STATE, Val::s(RefundState::Pending.as_str())),
            ])),
        }];
        if refund.state == RefundState::Failed {
            writes.push(Write {
                key: keys::payment(refund.payment_id.as_str()),
                op: WriteOp::Update(vec![
                    Update::Add(REFUNDED, refund.amount.minor_units().saturating_neg()),
                    Update::Add(VERSION, 1),
                ]),
                cond: Some(Cond::ItemExists),
            });
        }
        writes.extend(event_writes(events)?);
        match self.backend.transact(writes, None).await {
            Ok(()) => Ok(stored),
            Err(BackendError::Condition { index: 0, current }) => Err(version_error(
                "refund",
                refund.refund_id.as_str(),
                refund.version,
                current,
                refund_from,
                Record::Refund,
            )),
            Err(e) => Err(backend_err(e)),
        }
    }

    async fn get_refund(&self, id: &savedwallet_app::ids::RefundId) -> StoreResult<Refund> {
        self.get_record(
            "refund",
            id.as_str(),
            keys::refund(id.as_str()),
            refund_from,
        )
        .await
    }

    async fn refund_by_amazon_id(&self, amazon_refund_id: &str) -> StoreResult<Refund> {
        if amazon_refund_id.is_empty() || amazon_refund_id.len() > 64 {
            return Err(invalid("an Amazon refund id is 1..=64 characters"));
        }
        let q = query(
            Index::Lookup,
            keys::amazon_refund(amazon_refund_id),
            SortCond::Any,
            1,
        );
        let page = self.backend.query(q).await.map_err(backend_err)?;
        match page.items.first() {
            Some(item) => refund_from(item),
            None => Err(not_found("refund", amazon_refund_id)),
        }
    }

    async fn monthly_usage(
        &self,
        wallet: &savedwallet_app::ids::WalletId,
        month: UsageMonth,
    ) -> StoreResult<Option<MonthlyUsage>> {
        self.get_item(keys::usage(wallet.as_str(), &month.to_string()))
            .await?
            .as_ref()
            .map(|i| usage_from(i, month))
            .transpose()
    }
}
