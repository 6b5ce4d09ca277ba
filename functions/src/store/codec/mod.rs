//! Records ⇄ items. Every field is its own attribute, so conditions and partial updates
//! can name exactly the fields they guard. Decoding never panics: a missing or malformed
//! attribute is a [`StoreError::Decode`].

mod records;

pub use records::*;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::str::FromStr;

use savedwallet_shared::money::{Currency, Price};

use super::item::{Item, Val};
use super::schema::{Key, PK, SK};
use savedwallet_app::store::{StoreError, StoreResult};

/// Attribute names (short, but readable in the console).
pub mod attr {
    /// Record type tag.
    pub const TYPE: &str = "type";
    /// Optimistic version.
    pub const VERSION: &str = "version";
    /// The record's own id.
    pub const ID: &str = "id";
    /// Owner customer id.
    pub const OWNER: &str = "owner";
    /// Wallet id.
    pub const WALLET: &str = "wallet_id";
    /// Amazon's / our state.
    pub const STATE: &str = "state";
    /// Status (subscriptions, payments, records).
    pub const STATUS: &str = "status";
    /// JSON list of reason codes.
    pub const REASONS: &str = "reasons";
    /// One reason code.
    pub const REASON: &str = "reason_code";
    /// Region.
    pub const REGION: &str = "region";
    /// Currency code.
    pub const CURRENCY: &str = "currency";
    /// Amount in minor units.
    pub const AMOUNT: &str = "amount_minor";
    /// Payment descriptor.
    pub const DESCRIPTOR: &str = "descriptor";
    /// Payment method update required.
    pub const UPDATE_REQUIRED: &str = "update_required";
    /// Since when.
    pub const UPDATE_SINCE: &str = "update_since";
    /// Monthly limit Amazon reports (minor units).
    pub const LIMIT: &str = "monthly_limit_minor";
    /// Created (epoch millis).
    pub const CREATED_AT: &str = "created_at";
    /// Updated (epoch millis).
    pub const UPDATED_AT: &str = "updated_at";
    /// Name.
    pub const NAME: &str = "name";
    /// Interval unit.
    pub const UNIT: &str = "interval_unit";
    /// Interval count.
    pub const COUNT: &str = "interval_count";
    /// Active flag.
    pub const ACTIVE: &str = "active";
    /// Plan id.
    pub const PLAN: &str = "plan_id";
    /// Period number.
    pub const PERIOD: &str = "period";
    /// Schedule anchor.
    pub const ANCHOR: &str = "anchor";
    /// Next billing.
    pub const NEXT_BILLING: &str = "next_billing_at";
    /// Due time (epoch millis).
    pub const DUE: &str = "due_at";
    /// Dunning (JSON).
    pub const DUNNING: &str = "dunning";
    /// Latest payment id.
    pub const LATEST_PAYMENT: &str = "latest_payment_id";
    /// Lease owner.
    pub const LEASE_OWNER: &str = "lease_owner";
    /// Lease end (epoch millis).
    pub const LEASE_UNTIL: &str = "lease_until";
    /// Canceled at.
    pub const CANCELED_AT: &str = "canceled_at";
    /// Cancel reason.
    pub const CANCEL_REASON: &str = "cancel_reason";
    /// Description.
    pub const DESCRIPTION: &str = "description";
    /// Capture now.
    pub const CAPTURE_NOW: &str = "capture_now";
    /// Soft descriptor.
    pub const SOFT_DESCRIPTOR: &str = "soft_descriptor";
    /// Payment id.
    pub const PAYMENT: &str = "payment_id";
    /// Payment kind (JSON).
    pub const KIND: &str = "kind";
    /// Charge initiator.
    pub const INITIATOR: &str = "initiator";
    /// canHandlePendingAuthorization.
    pub const CAN_PEND: &str = "can_pend";
    /// checkoutResultReturnUrl.
    pub const RETURN_URL: &str = "return_url";
    /// Attempt count.
    pub const ATTEMPT_COUNT: &str = "attempt_count";
    /// Open attempt number.
    pub const OPEN_ATTEMPT: &str = "open_attempt";
    /// Amazon charge id.
    pub const CHARGE_ID: &str = "charge_id";
    /// Decline code.
    pub const DECLINE: &str = "decline_code";
    /// Buyer action (JSON).
    pub const BUYER_ACTION: &str = "buyer_action";
    /// Message.
    pub const MESSAGE: &str = "message";
    /// Redirect URL.
    pub const REDIRECT_URL: &str = "redirect_url";
    /// Expires at (MFA).
    pub const EXPIRES: &str = "action_expires_at";
    /// Next attempt at.
    pub const NEXT_ATTEMPT: &str = "next_attempt_at";
    /// Captured amount.
    pub const CAPTURED: &str = "captured_minor";
    /// Refunded amount.
    pub const REFUNDED: &str = "refunded_minor";
    /// Wake time.
    pub const WAKE: &str = "wake_at";
    /// Attempt number.
    pub const ATTEMPT: &str = "attempt";
    /// Amazon idempotency key.
    pub const IDEM_KEY: &str = "idempotency_key";
    /// Exact request body.
    pub const BODY: &str = "request_body";
    /// Writer.
    pub const WRITER: &str = "writer";
    /// Usage month.
    pub const MONTH: &str = "month";
    /// HTTP status.
    pub const HTTP: &str = "http_status";
    /// Sends.
    pub const SENDS: &str = "sends";
    /// Usage released.
    pub const RELEASED: &str = "usage_released";
    /// Usage total.
    pub const TOTAL: &str = "total_minor";
    /// Amazon refund id.
    pub const AMAZON_REFUND: &str = "amazon_refund_id";
    /// Checkout purpose (JSON).
    pub const PURPOSE: &str = "purpose";
    /// Holder token (idempotency, notifications).
    pub const TOKEN: &str = "token";
    /// Payload hash.
    pub const PAYLOAD_HASH: &str = "payload_hash";
    /// In-progress expiry (epoch millis).
    pub const UNTIL: &str = "in_progress_until";
    /// Saved response status.
    pub const RESPONSE_STATUS: &str = "response_status";
    /// Saved response body.
    pub const RESPONSE_BODY: &str = "response_body";
    /// Event customer.
    pub const CUSTOMER: &str = "customer_id";
    /// Event data (JSON).
    pub const DATA: &str = "data";
    /// Deliveries made.
    pub const DELIVERIES: &str = "deliveries";
    /// Next delivery (epoch millis).
    pub const DELIVER_AT: &str = "deliver_at";
}

/// Epoch millis of a time.
pub fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// Epoch seconds (the TTL attribute's unit).
pub fn seconds(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// A version or counter as a stored number (they stay far below 2^63).
pub fn num(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Reads typed attributes of one item, naming the record kind in every error.
pub(crate) struct Reader<'a> {
    kind: &'static str,
    item: &'a Item,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(kind: &'static str, item: &'a Item) -> Self {
        Reader { kind, item }
    }

    pub(crate) fn err(&self, detail: String) -> StoreError {
        StoreError::Decode {
            kind: self.kind,
            detail,
        }
    }

    fn opt<T>(
        &self,
        a: &str,
        what: &str,
        get: impl Fn(&'a Val) -> Option<T>,
    ) -> StoreResult<Option<T>> {
        match self.item.get(a) {
            None => Ok(None),
            Some(v) => get(v)
                .map(Some)
                .ok_or_else(|| self.err(format!("{a} is not {what}"))),
        }
    }

    fn required<T>(&self, a: &str, v: Option<T>) -> StoreResult<T> {
        v.ok_or_else(|| self.err(format!("{a} is missing")))
    }

    pub(crate) fn opt_s(&self, a: &str) -> StoreResult<Option<&'a str>> {
        self.opt(a, "a string", |v| match v {
            Val::S(s) => Some(s.as_str()),
            _ => None,
        })
    }

    pub(crate) fn s(&self, a: &str) -> StoreResult<&'a str> {
        self.required(a, self.opt_s(a)?)
    }

    pub(crate) fn opt_n(&self, a: &str) -> StoreResult<Option<i64>> {
        self.opt(a, "a number", |v| match v {
            Val::N(n) => Some(*n),
            _ => None,
        })
    }

    pub(crate) fn n(&self, a: &str) -> StoreResult<i64> {
        self.required(a, self.opt_n(a)?)
    }

    pub(crate) fn u32(&self, a: &str) -> StoreResult<u32> {
        u32::try_from(self.n(a)?).map_err(|_| self.err(format!("{a} out of range")))
    }

    pub(crate) fn opt_u32(&self, a: &str) -> StoreResult<Option<u32>> {
        self.opt_n(a)?
            .map(|n| u32::try_from(n).map_err(|_| self.err(format!("{a} out of range"))))
            .transpose()
    }

    pub(crate) fn u64(&self, a: &str) -> StoreResult<u64> {
        u64::try_from(self.n(a)?).map_err(|_| self.err(format!("{a} out of range")))
    }

    pub(crate) fn opt_b(&self, a: &str) -> StoreResult<Option<bool>> {
        self.opt(a, "a boolean", |v| match v {
            Val::B(b) => Some(*b),
            _ => None,
        })
    }

    pub(crate) fn b(&self, a: &str) -> StoreResult<bool> {
        self.required(a, self.opt_b(a)?)
    }

    pub(crate) fn opt_time(&self, a: &str) -> StoreResult<Option<DateTime<Utc>>> {
        self.opt_n(a)?
            .map(|ms| {
                DateTime::from_timestamp_millis(ms)
                    .ok_or_else(|| self.err(format!("{a} out of range")))
            })
            .transpose()
    }

    pub(crate) fn time(&self, a: &str) -> StoreResult<DateTime<Utc>> {
        self.required(a, self.opt_time(a)?)
    }

    /// A string attribute parsed with `FromStr` (ids, codes).
    pub(crate) fn parse<T: FromStr>(&self, a: &str) -> StoreResult<T>
    where
        T::Err: std::fmt::Display,
    {
        self.s(a)?
            .parse()
            .map_err(|e| self.err(format!("{a}: {e}")))
    }

    /// An optional string attribute parsed with `FromStr`.
    pub(crate) fn opt_parse<T: FromStr>(&self, a: &str) -> StoreResult<Option<T>>
    where
        T::Err: std::fmt::Display,
    {
        self.opt_s(a)?
            .map(|s| s.parse().map_err(|e| self.err(format!("{a}: {e}"))))
            .transpose()
    }

    /// A string attribute mapped by a parser returning `Option`.
    pub(crate) fn parsed<T>(&self, a: &str, f: impl Fn(&str) -> Option<T>) -> StoreResult<T> {
        let s = self.s(a)?;
        f(s).ok_or_else(|| self.err(format!("{a} has unknown value {s:?}")))
    }

    /// A JSON attribute.
    pub(crate) fn json<T: DeserializeOwned>(&self, a: &str) -> StoreResult<T> {
        serde_json::from_str(self.s(a)?).map_err(|e| self.err(format!("{a}: {e}")))
    }

    /// An optional JSON attribute.
    pub(crate) fn opt_json<T: DeserializeOwned>(&self, a: &str) -> StoreResult<Option<T>> {
        self.opt_s(a)?
            .map(|s| serde_json::from_str(s).map_err(|e| self.err(format!("{a}: {e}"))))
            .transpose()
    }

    pub(crate) fn currency(&self) -> StoreResult<Currency> {
        self.parse(attr::CURRENCY)
    }

    /// An amount in the record's currency.
    pub(crate) fn price(&self, a: &str) -> StoreResult<Price> {
        Ok(Price::from_minor(self.n(a)?, self.currency()?))
    }

    /// An optional amount in the record's currency.
    pub(crate) fn opt_price(&self, a: &str) -> StoreResult<Option<Price>> {
        let c = self.currency()?;
        Ok(self.opt_n(a)?.map(|n| Price::from_minor(n, c)))
    }
}

/// Builds an item attribute by attribute.
pub(crate) struct Writer(Item);

impl Writer {
    pub(crate) fn new(key: &Key, kind: &str) -> Writer {
        let mut item = key.to_item();
        item.insert(attr::TYPE.to_string(), Val::s(kind));
        Writer(item)
    }

    pub(crate) fn s(mut self, a: &str, v: impl Into<String>) -> Self {
        self.0.insert(a.to_string(), Val::S(v.into()));
        self
    }

    pub(crate) fn opt_s(self, a: &str, v: Option<impl Into<String>>) -> Self {
        match v {
            Some(v) => self.s(a, v),
            None => self,
        }
    }

    pub(crate) fn n(mut self, a: &str, v: i64) -> Self {
        self.0.insert(a.to_string(), Val::N(v));
        self
    }

    pub(crate) fn opt_n(self, a: &str, v: Option<i64>) -> Self {
        match v {
            Some(v) => self.n(a, v),
            None => self,
        }
    }

    pub(crate) fn b(mut self, a: &str, v: bool) -> Self {
        self.0.insert(a.to_string(), Val::B(v));
        self
    }

    pub(crate) fn time(self, a: &str, t: DateTime<Utc>) -> Self {
        self.n(a, millis(t))
    }

    pub(crate) fn opt_time(self, a: &str, t: Option<DateTime<Utc>>) -> Self {
        self.opt_n(a, t.map(millis))
    }

    pub(crate) fn json<T: Serialize>(self, a: &str, v: &T) -> StoreResult<Self> {
        let text = serde_json::to_string(v).map_err(|e| StoreError::Invalid(e.to_string()))?;
        Ok(self.s(a, text))
    }

    pub(crate) fn opt_json<T: Serialize>(self, a: &str, v: Option<&T>) -> StoreResult<Self> {
        match v {
            Some(v) => self.json(a, v),
            None => Ok(self),
        }
    }

    pub(crate) fn done(self) -> Item {
        self.0
    }
}

/// The key attributes of an item (for page tokens).
pub fn item_key(item: &Item) -> StoreResult<Key> {
    let r = Reader::new("key", item);
    Ok(Key::new(r.s(PK)?, r.s(SK)?))
}
