//! The pieces of the attempt transactions (`begin_attempt`, `finish_attempt`) and the
//! refund writes: the checks before a begin, the usage reservation, the attempt's final
//! updates, the request token that makes a resend apply once, and how a cancelled
//! transaction's reasons become the port's errors.

use sha2::{Digest, Sha256};

use savedwallet_app::store::rules::payment_matches_attempt;
use savedwallet_app::store::*;
use savedwallet_shared::limits::UsageMonth;
use savedwallet_shared::money::Price;

use super::{not_found, version_error};
use crate::store::codec::attr::*;
use crate::store::codec::*;
use crate::store::item::{Cond, Item, Update, Val, Write, WriteOp};
use crate::store::schema::{keys, GSI2PK, GSI2SK};

/// A DynamoDB ClientRequestToken (≤ 36 characters) naming one logical write, so a resend of
/// the same transaction after a lost answer is applied once.
pub(super) fn request_token(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    hex::encode(&h.finalize()[..18])
}

pub(super) fn invalid(msg: &str) -> StoreError {
    StoreError::Invalid(msg.to_string())
}

/// The checks every begin makes before anything is sent to the backend.
pub(super) fn check_begin(b: &BeginAttempt) -> StoreResult<()> {
    let (a, p) = (&b.attempt, b.payment.payment());
    if a.state != AttemptState::Sending || a.version != 0 || a.usage_released {
        return Err(invalid("a new attempt is Sending, unreleased, version 0"));
    }
    if a.payment_id != p.payment_id || a.wallet_id != p.wallet_id || a.amount != p.amount {
        return Err(invalid("the attempt must match its payment"));
    }
    if p.status != PaymentStatus::Pending || !payment_matches_attempt(p, a.attempt, a.state) {
        return Err(invalid(
            "the payment must be pending with this attempt open and counted",
        ));
    }
    if matches!(b.payment, PaymentWrite::Create(_)) && (a.attempt != 1 || p.version != 0) {
        return Err(invalid("a new payment starts with attempt 1"));
    }
    if matches!(b.payment, PaymentWrite::Update(_)) && a.attempt < 2 {
        return Err(invalid("a later attempt is number 2 or more"));
    }
    if !a.amount.is_positive() || b.monthly_cap.currency() != a.amount.currency() {
        return Err(invalid("amount must be positive, cap in its currency"));
    }
    if a.usage_month != UsageMonth::of(a.created_at) {
        // The month comes from the attempt's own timestamp, so a release always gives the
        // amount back to the month that counted it.
        return Err(invalid("usage month must be the attempt's own month"));
    }
    if a.writer.is_empty() || a.writer.len() > 256 {
        return Err(invalid("writer must be 1..=256 bytes"));
    }
    Ok(())
}

/// Amazon's limit check is the backstop; ours never lets the counter pass the cap.
pub(super) fn usage_write(a: &ChargeAttempt, cap: Price) -> Write {
    let amt = a.amount.minor_units();
    Write {
        key: keys::usage(a.wallet_id.as_str(), &a.usage_month.to_string()),
        op: WriteOp::Update(vec![
            Update::Add(TOTAL, amt),
            Update::Set(CURRENCY, Val::s(a.amount.currency().code())),
        ]),
        cond: Some(Cond::And(vec![
            Cond::Or(vec![
                Cond::AttrNotExists(TOTAL),
                Cond::Le(TOTAL, Val::N(cap.minor_units().saturating_sub(amt))),
            ]),
            Cond::Or(vec![
                Cond::AttrNotExists(CURRENCY),
                Cond::Eq(CURRENCY, Val::s(a.amount.currency().code())),
            ]),
        ])),
    }
}

/// The attribute updates of a finish: only the attempt's mutable fields.
pub(super) fn finish_updates(a: &ChargeAttempt) -> Vec<Update> {
    let mut u = vec![
        Update::Set(STATE, Val::s(a.state.as_str())),
        Update::Set(SENDS, Val::N(i64::from(a.sends))),
        Update::Set(RELEASED, Val::B(a.usage_released)),
        Update::Set(UPDATED_AT, Val::N(millis(a.updated_at))),
        Update::Add(VERSION, 1),
    ];
    let opt = |u: &mut Vec<Update>, attr: &'static str, v: Option<Val>| match v {
        Some(v) => u.push(Update::Set(attr, v)),
        None => u.push(Update::Remove(attr)),
    };
    opt(
        &mut u,
        CHARGE_ID,
        a.charge_id.as_ref().map(|c| Val::s(c.as_str())),
    );
    opt(
        &mut u,
        REASON,
        a.reason_code.as_ref().map(|c| Val::s(c.as_str())),
    );
    opt(&mut u, HTTP, a.http_status.map(|h| Val::N(i64::from(h))));
    match &a.charge_id {
        Some(c) => {
            u.push(Update::Set(GSI2PK, Val::S(keys::amazon_charge(c.as_str()))));
            u.push(Update::Set(GSI2SK, Val::s("A")));
        }
        None => {
            u.push(Update::Remove(GSI2PK));
            u.push(Update::Remove(GSI2SK));
        }
    }
    u
}

pub(super) fn decode_record<T>(
    item: &Option<Item>,
    f: fn(&Item) -> StoreResult<T>,
    wrap: fn(T) -> Record,
) -> Option<Box<Record>> {
    item.as_ref()
        .and_then(|i| f(i).ok())
        .map(|r| Box::new(wrap(r)))
}

pub(super) fn refused(refusal: Refusal, current: Option<Box<Record>>) -> StoreError {
    StoreError::Refused { refusal, current }
}

/// What a failed begin means, by the write that refused.
pub(super) fn begin_error(
    b: &BeginAttempt,
    index: usize,
    current: Option<Item>,
    billing_at: Option<usize>,
) -> StoreError {
    let (a, p) = (&b.attempt, b.payment.payment());
    match index {
        0 => match current.as_ref().map(attempt_from) {
            Some(Ok(existing)) => refused(
                Refusal::AttemptOpen {
                    attempt: existing.attempt,
                },
                Some(Box::new(Record::Attempt(existing))),
            ),
            _ => StoreError::Backend("attempt condition failed without the attempt".into()),
        },
        1 => match (&b.payment, current.as_ref().map(payment_from)) {
            (_, None) => not_found("payment", p.payment_id.as_str()),
            (PaymentWrite::Create(_), Some(stored)) => StoreError::AlreadyExists {
                kind: "payment",
                id: p.payment_id.to_string(),
                current: stored.ok().map(|s| Box::new(Record::Payment(s))),
            },
            (PaymentWrite::Update(_), Some(Ok(s))) if s.version == p.version => {
                let refusal = match s.open_attempt {
                    Some(n) => Refusal::AttemptOpen { attempt: n },
                    None => Refusal::PaymentNotRetryable { status: s.status },
                };
                refused(refusal, Some(Box::new(Record::Payment(s))))
            }
            (PaymentWrite::Update(_), Some(_)) => version_error(
                "payment",
                p.payment_id.as_str(),
                p.version,
                current,
                payment_from,
                Record::Payment,
            ),
        },
        2 => match current.as_ref().map(wallet_from) {
            None => not_found("wallet", a.wallet_id.as_str()),
            Some(Ok(w)) if w.owner != p.owner || w.currency != a.amount.currency() => {
                refused(Refusal::WalletMismatch, Some(Box::new(Record::Wallet(w))))
            }
            Some(w) => refused(
                Refusal::WalletNotChargeable,
                w.ok().map(|w| Box::new(Record::Wallet(w))),
            ),
        },
        3 => {
            let used = current
                .as_ref()
                .and_then(|i| usage_from(i, a.usage_month).ok())
                .map(|u| u.total);
            match used {
                Some(u) if u.currency() != a.amount.currency() => {
                    refused(Refusal::WalletMismatch, None)
                }
                _ => StoreError::LimitExceeded {
                    requested: a.amount,
                    cap: b.monthly_cap,
                    used,
                },
            }
        }
        i if Some(i) == billing_at => match &b.billing {
            BillingLink::NewSubscription(s) => StoreError::AlreadyExists {
                kind: "subscription",
                id: s.subscription_id.to_string(),
                current: decode_record(&current, subscription_from, Record::Subscription),
            },
            _ => refused(
                Refusal::LeaseLost,
                decode_record(&current, subscription_from, Record::Subscription),
            ),
        },
        _ => match (&b.order, current.as_ref().map(order_from)) {
            (Some(order), None) => not_found("order", order.as_str()),
            (Some(_), Some(Ok(o))) if o.owner == p.owner => refused(
                Refusal::OrderHasPayment {
                    payment_id: o.payment_id.clone(),
                },
                Some(Box::new(Record::Order(o))),
            ),
            (Some(order), Some(_)) => not_found("order", order.as_str()),
            (None, _) => StoreError::Backend(format!("unexpected condition failure {index}")),
        },
    }
}
