//! Records ⇄ items. Decoding never panics: missing or malformed attributes are
//! [`StoreError::Decode`] errors.

use chrono::{DateTime, Utc};
use savedwallet_shared::api::{ChargePermissionState, ReasonCode};
use savedwallet_shared::money::{Currency, Price};
use savedwallet_shared::region::Region;

use super::error::{StoreError, StoreResult};
use super::item::{Item, Key, Val};
use super::model::*;
use super::schema::{keys, GSI1PK, GSI1SK, GSI2PK, GSI2SK, PK, SK, TTL_ATTRIBUTE};

/// Attribute names (short, but readable in the console).
pub mod attr {
    /// Record type tag.
    pub const TYPE: &str = "type";
    /// Optimistic version.
    pub const VERSION: &str = "version";
    /// Charge permission id.
    pub const CPID: &str = "charge_permission_id";
    /// Owner customer id.
    pub const OWNER: &str = "owner";
    /// Amazon state / our state.
    pub const STATE: &str = "state";
    /// JSON list of reason codes.
    pub const REASONS: &str = "reason_codes";
    /// Single reason code.
    pub const REASON: &str = "reason_code";
    /// Region.
    pub const REGION: &str = "region";
    /// Currency code.
    pub const CURRENCY: &str = "currency";
    /// Payment method update required.
    pub const PMU: &str = "pm_update_required";
    /// Updated at (epoch millis).
    pub const UPDATED_AT: &str = "updated_at";
    /// Created at (epoch millis).
    pub const CREATED_AT: &str = "created_at";
    /// Amount in minor units.
    pub const AMOUNT: &str = "amount_minor";
    /// Interval unit.
    pub const INTERVAL_UNIT: &str = "interval_unit";
    /// Interval count.
    pub const INTERVAL_COUNT: &str = "interval_count";
    /// Id attributes.
    pub const ID: &str = "id";
    /// Plan id.
    pub const PLAN: &str = "plan_id";
    /// Subscription status.
    pub const STATUS: &str = "status";
    /// Next due (epoch millis).
    pub const NEXT_DUE: &str = "next_due_at";
    /// Period number.
    pub const PERIOD: &str = "period";
    /// Dunning state.
    pub const DUNNING: &str = "dunning";
    /// Attempt count.
    pub const ATTEMPT_COUNT: &str = "attempt_count";
    /// Lease owner.
    pub const LEASE_OWNER: &str = "lease_owner";
    /// Lease end (epoch millis).
    pub const LEASE_UNTIL: &str = "lease_until";
    /// Charge key.
    pub const CHARGE_KEY: &str = "charge_key";
    /// Attempt number.
    pub const ATTEMPT: &str = "attempt";
    /// Amazon idempotency key.
    pub const IDEMPOTENCY_KEY: &str = "idempotency_key";
    /// Exact request body.
    pub const REQUEST_BODY: &str = "request_body";
    /// Amazon charge id.
    pub const CHARGE_ID: &str = "charge_id";
    /// Usage month.
    pub const MONTH: &str = "month";
    /// Usage total (minor units).
    pub const TOTAL: &str = "total_minor";
    /// The attempt's amount was released from the monthly usage.
    pub const USAGE_RELEASED: &str = "usage_released";
    /// Payload hash.
    pub const PAYLOAD_HASH: &str = "payload_hash";
    /// In-progress expiry (epoch millis).
    pub const IN_PROGRESS_UNTIL: &str = "in_progress_until";
    /// Saved response status.
    pub const RESPONSE_STATUS: &str = "response_status";
    /// Saved response body.
    pub const RESPONSE_BODY: &str = "response_body";
    /// Event kind.
    pub const KIND: &str = "kind";
    /// Event aggregate id.
    pub const AGGREGATE: &str = "aggregate_id";
    /// Event payload.
    pub const PAYLOAD: &str = "payload";
    /// Processed at (epoch millis).
    pub const PROCESSED_AT: &str = "processed_at";
}
use attr::*;

/// Epoch millis of a time.
pub fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// Epoch seconds (the TTL attribute's unit).
pub fn seconds(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

struct Reader<'a> {
    kind: &'static str,
    item: &'a Item,
}

impl<'a> Reader<'a> {
    fn new(kind: &'static str, item: &'a Item) -> Self {
        Reader { kind, item }
    }
    fn err(&self, detail: String) -> StoreError {
        StoreError::Decode {
            kind: self.kind,
            detail,
        }
    }
    /// An optional attribute of one type: absent is `None`, another type is an error.
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
    fn opt_s(&self, a: &str) -> StoreResult<Option<&'a str>> {
        self.opt(a, "a string", |v| match v {
            Val::S(s) => Some(s.as_str()),
            _ => None,
        })
    }
    fn s(&self, a: &str) -> StoreResult<&'a str> {
        self.required(a, self.opt_s(a)?)
    }
    fn opt_n(&self, a: &str) -> StoreResult<Option<i64>> {
        self.opt(a, "a number", |v| match v {
            Val::N(n) => Some(*n),
            _ => None,
        })
    }
    fn n(&self, a: &str) -> StoreResult<i64> {
        self.required(a, self.opt_n(a)?)
    }
    fn u32(&self, a: &str) -> StoreResult<u32> {
        u32::try_from(self.n(a)?).map_err(|_| self.err(format!("{a} out of range")))
    }
    fn u64(&self, a: &str) -> StoreResult<u64> {
        u64::try_from(self.n(a)?).map_err(|_| self.err(format!("{a} out of range")))
    }
    fn opt_b(&self, a: &str) -> StoreResult<Option<bool>> {
        self.opt(a, "a boolean", |v| match v {
            Val::B(b) => Some(*b),
            _ => None,
        })
    }
    fn b(&self, a: &str) -> StoreResult<bool> {
        self.required(a, self.opt_b(a)?)
    }
    fn time(&self, a: &str) -> StoreResult<DateTime<Utc>> {
        let ms = self.n(a)?;
        DateTime::from_timestamp_millis(ms).ok_or_else(|| self.err(format!("{a} out of range")))
    }
    fn currency(&self) -> StoreResult<Currency> {
        self.s(CURRENCY)?
            .parse()
            .map_err(|e| self.err(format!("{e}")))
    }
    fn price(&self, a: &str) -> StoreResult<Price> {
        Ok(Price::from_minor(self.n(a)?, self.currency()?))
    }
    fn parsed<T>(&self, a: &str, f: impl Fn(&str) -> Option<T>) -> StoreResult<T> {
        let s = self.s(a)?;
        f(s).ok_or_else(|| self.err(format!("{a} has unknown value {s:?}")))
    }
}

struct Writer(Item);

impl Writer {
    fn new(key: &Key, kind: &str) -> Writer {
        let mut item = key.to_item();
        item.insert(TYPE.to_string(), Val::s(kind));
        Writer(item)
    }
    fn s(mut self, a: &str, v: impl Into<String>) -> Self {
        self.0.insert(a.to_string(), Val::S(v.into()));
        self
    }
    fn opt_s(self, a: &str, v: Option<impl Into<String>>) -> Self {
        match v {
            Some(v) => self.s(a, v),
            None => self,
        }
    }
    fn n(mut self, a: &str, v: i64) -> Self {
        self.0.insert(a.to_string(), Val::N(v));
        self
    }
    fn b(mut self, a: &str, v: bool) -> Self {
        self.0.insert(a.to_string(), Val::B(v));
        self
    }
    fn time(self, a: &str, t: DateTime<Utc>) -> Self {
        self.n(a, millis(t))
    }
    fn done(self) -> Item {
        self.0
    }
}

fn to_i64(v: u64) -> i64 {
    // Versions and counters stay far below 2^63; saturate instead of wrapping.
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Wallet → item (with `version` as given).
pub fn wallet_item(w: &Wallet) -> StoreResult<Item> {
    let reasons: Vec<&str> = w.reason_codes.iter().map(|r| r.as_str()).collect();
    let reasons =
        serde_json::to_string(&reasons).map_err(|e| StoreError::Invalid(e.to_string()))?;
    Ok(
        Writer::new(&keys::wallet(&w.charge_permission_id), "Wallet")
            .s(CPID, &w.charge_permission_id)
            .s(OWNER, &w.owner_customer_id)
            .s(STATE, w.state.as_str())
            .s(REASONS, reasons)
            .s(REGION, w.region.header_value())
            .s(CURRENCY, w.currency.code())
            .b(PMU, w.payment_method_update_required)
            .time(UPDATED_AT, w.updated_at)
            .n(VERSION, to_i64(w.version))
            .s(GSI2PK, keys::owner_wallets(&w.owner_customer_id))
            .s(GSI2SK, format!("WALLET#{}", w.charge_permission_id))
            .done(),
    )
}

/// Item → wallet.
pub fn wallet_from(item: &Item) -> StoreResult<Wallet> {
    let r = Reader::new("wallet", item);
    let reasons: Vec<String> =
        serde_json::from_str(r.s(REASONS)?).map_err(|e| r.err(format!("reason_codes: {e}")))?;
    Ok(Wallet {
        charge_permission_id: r.s(CPID)?.to_string(),
        owner_customer_id: r.s(OWNER)?.to_string(),
        state: ChargePermissionState::parse(r.s(STATE)?),
        reason_codes: reasons.iter().map(|s| ReasonCode::parse(s)).collect(),
        region: r
            .s(REGION)?
            .parse::<Region>()
            .map_err(|e| r.err(e.to_string()))?,
        currency: r.currency()?,
        payment_method_update_required: r.b(PMU)?,
        updated_at: r.time(UPDATED_AT)?,
        version: r.u64(VERSION)?,
    })
}

/// Plan → item.
pub fn plan_item(p: &Plan) -> Item {
    Writer::new(&keys::plan(&p.plan_id), "Plan")
        .s(ID, &p.plan_id)
        .n(AMOUNT, p.price.minor_units())
        .s(CURRENCY, p.price.currency().code())
        .s(INTERVAL_UNIT, p.interval.unit.as_str())
        .n(INTERVAL_COUNT, i64::from(p.interval.count))
        .n(VERSION, to_i64(p.version))
        .done()
}

/// Item → plan.
pub fn plan_from(item: &Item) -> StoreResult<Plan> {
    let r = Reader::new("plan", item);
    Ok(Plan {
        plan_id: r.s(ID)?.to_string(),
        price: r.price(AMOUNT)?,
        interval: BillingInterval {
            unit: r.parsed(INTERVAL_UNIT, IntervalUnit::parse)?,
            count: r.u32(INTERVAL_COUNT)?,
        },
        version: r.u64(VERSION)?,
    })
}

/// When an active subscription next shows in the due index: its due time, or its lease's
/// end while a worker holds it (so claimed periods drop out of billing runs and lapsed
/// leases come back by themselves).
pub fn due_sort_key(s: &Subscription) -> i64 {
    let due = millis(s.next_due_at);
    match &s.lease {
        Some(l) => due.max(millis(l.until)),
        None => due,
    }
}

/// Subscription → item.
pub fn subscription_item(s: &Subscription) -> Item {
    let mut w = Writer::new(&keys::subscription(&s.subscription_id), "Subscription")
        .s(ID, &s.subscription_id)
        .s(CPID, &s.charge_permission_id)
        .s(PLAN, &s.plan_id)
        .s(OWNER, &s.owner_customer_id)
        .n(AMOUNT, s.price.minor_units())
        .s(CURRENCY, s.price.currency().code())
        .s(STATUS, s.status.as_str())
        .time(NEXT_DUE, s.next_due_at)
        .n(PERIOD, i64::from(s.period))
        .s(DUNNING, s.dunning.as_str())
        .n(ATTEMPT_COUNT, i64::from(s.attempt_count))
        .n(VERSION, to_i64(s.version))
        .s(GSI2PK, keys::wallet_subscriptions(&s.charge_permission_id))
        .s(GSI2SK, format!("SUB#{}", s.subscription_id));
    if let Some(l) = &s.lease {
        w = w.s(LEASE_OWNER, &l.owner).time(LEASE_UNTIL, l.until);
    }
    if s.status == SubscriptionStatus::Active {
        // Sparse index: canceled subscriptions never appear in billing runs.
        w = w
            .s(
                GSI1PK,
                keys::due_partition(keys::due_shard(&s.subscription_id)),
            )
            .n(GSI1SK, due_sort_key(s));
    }
    w.done()
}

/// Item → subscription.
pub fn subscription_from(item: &Item) -> StoreResult<Subscription> {
    let r = Reader::new("subscription", item);
    let lease = match r.opt_s(LEASE_OWNER)? {
        Some(owner) => Some(Lease {
            owner: owner.to_string(),
            until: r.time(LEASE_UNTIL)?,
        }),
        None => None,
    };
    Ok(Subscription {
        subscription_id: r.s(ID)?.to_string(),
        charge_permission_id: r.s(CPID)?.to_string(),
        plan_id: r.s(PLAN)?.to_string(),
        owner_customer_id: r.s(OWNER)?.to_string(),
        price: r.price(AMOUNT)?,
        status: r.parsed(STATUS, SubscriptionStatus::parse)?,
        next_due_at: r.time(NEXT_DUE)?,
        period: r.u32(PERIOD)?,
        dunning: r.parsed(DUNNING, DunningState::parse)?,
        attempt_count: r.u32(ATTEMPT_COUNT)?,
        lease,
        version: r.u64(VERSION)?,
    })
}

/// Order → item.
pub fn order_item(o: &Order) -> Item {
    Writer::new(&keys::order(&o.order_id), "Order")
        .s(ID, &o.order_id)
        .s(OWNER, &o.owner_customer_id)
        .s(CPID, &o.charge_permission_id)
        .n(AMOUNT, o.price.minor_units())
        .s(CURRENCY, o.price.currency().code())
        .s(STATE, o.state.as_str())
        .time(CREATED_AT, o.created_at)
        .n(VERSION, to_i64(o.version))
        .done()
}

/// Item → order.
pub fn order_from(item: &Item) -> StoreResult<Order> {
    let r = Reader::new("order", item);
    Ok(Order {
        order_id: r.s(ID)?.to_string(),
        owner_customer_id: r.s(OWNER)?.to_string(),
        charge_permission_id: r.s(CPID)?.to_string(),
        price: r.price(AMOUNT)?,
        state: r.parsed(STATE, OrderState::parse)?,
        created_at: r.time(CREATED_AT)?,
        version: r.u64(VERSION)?,
    })
}

/// Attempt → item.
pub fn attempt_item(a: &ChargeAttempt) -> Item {
    let key = keys::attempt(&a.charge_key.to_string(), a.attempt);
    let mut w = Writer::new(&key, "ChargeAttempt")
        .s(CHARGE_KEY, a.charge_key.to_string())
        .n(ATTEMPT, i64::from(a.attempt))
        .s(CPID, &a.charge_permission_id)
        .n(AMOUNT, a.amount.minor_units())
        .s(CURRENCY, a.amount.currency().code())
        .s(IDEMPOTENCY_KEY, &a.idempotency_key)
        .s(REQUEST_BODY, &a.request_body)
        .opt_s(CHARGE_ID, a.charge_id.as_deref())
        .s(STATE, a.state.as_str())
        .opt_s(REASON, a.reason_code.as_ref().map(|r| r.as_str()))
        .s(MONTH, &a.usage_month)
        .b(USAGE_RELEASED, a.usage_released)
        .time(CREATED_AT, a.created_at)
        .time(UPDATED_AT, a.updated_at)
        .n(VERSION, to_i64(a.version));
    if let Some(id) = &a.charge_id {
        w = w.s(GSI2PK, keys::amazon_charge(id)).s(GSI2SK, "ATTEMPT");
    }
    w.done()
}

/// Item → attempt.
pub fn attempt_from(item: &Item) -> StoreResult<ChargeAttempt> {
    let r = Reader::new("charge attempt", item);
    Ok(ChargeAttempt {
        charge_key: r.parsed(CHARGE_KEY, ChargeKey::parse)?,
        attempt: r.u32(ATTEMPT)?,
        charge_permission_id: r.s(CPID)?.to_string(),
        amount: r.price(AMOUNT)?,
        idempotency_key: r.s(IDEMPOTENCY_KEY)?.to_string(),
        request_body: r.s(REQUEST_BODY)?.to_string(),
        charge_id: r.opt_s(CHARGE_ID)?.map(str::to_string),
        state: r.parsed(STATE, AttemptState::parse)?,
        reason_code: r.opt_s(REASON)?.map(ReasonCode::parse),
        usage_month: r.s(MONTH)?.to_string(),
        usage_released: r.opt_b(USAGE_RELEASED)?.unwrap_or(false),
        created_at: r.time(CREATED_AT)?,
        updated_at: r.time(UPDATED_AT)?,
        version: r.u64(VERSION)?,
    })
}

/// Item → monthly usage.
pub fn usage_from(item: &Item) -> StoreResult<MonthlyUsage> {
    let r = Reader::new("monthly usage", item);
    Ok(MonthlyUsage {
        charge_permission_id: r.s(CPID)?.to_string(),
        month: r.s(MONTH)?.to_string(),
        total: r.price(TOTAL)?,
    })
}

/// Notification → item.
pub fn notification_item(id: &str, now: DateTime<Utc>, expires_at: DateTime<Utc>) -> Item {
    Writer::new(&keys::notification(id), "Notification")
        .s(ID, id)
        .time(PROCESSED_AT, now)
        .n(TTL_ATTRIBUTE, seconds(expires_at))
        .done()
}

/// Idempotency record (in progress) → item.
pub fn idempotency_item(
    key: &str,
    payload_hash: &str,
    in_progress_until: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Item {
    Writer::new(&keys::idempotency(key), "Idempotency")
        .s(ID, key)
        .s(STATUS, "INPROGRESS")
        .s(PAYLOAD_HASH, payload_hash)
        .time(IN_PROGRESS_UNTIL, in_progress_until)
        .n(TTL_ATTRIBUTE, seconds(expires_at))
        .done()
}

/// Reads an idempotency item: (status, payload hash, saved response, in-progress until).
pub fn idempotency_from(
    item: &Item,
) -> StoreResult<(
    IdempotencyStatus,
    String,
    Option<SavedResponse>,
    DateTime<Utc>,
)> {
    let r = Reader::new("idempotency record", item);
    let status = r.parsed(STATUS, |s| match s {
        "INPROGRESS" => Some(IdempotencyStatus::InProgress),
        "COMPLETED" => Some(IdempotencyStatus::Completed),
        _ => None,
    })?;
    let response = match r.opt_n(RESPONSE_STATUS)? {
        Some(code) => Some(SavedResponse {
            status: u16::try_from(code).map_err(|_| r.err("response_status".into()))?,
            body: r.s(RESPONSE_BODY)?.to_string(),
        }),
        None => None,
    };
    Ok((
        status,
        r.s(PAYLOAD_HASH)?.to_string(),
        response,
        r.time(IN_PROGRESS_UNTIL)?,
    ))
}

/// Outbox event → item.
pub fn event_item(e: &OutboxEvent) -> Item {
    Writer::new(
        &keys::outbox_event(&e.event_id, millis(e.created_at)),
        "Event",
    )
    .s(ID, &e.event_id)
    .s(KIND, &e.kind)
    .s(AGGREGATE, &e.aggregate_id)
    .s(PAYLOAD, &e.payload)
    .time(CREATED_AT, e.created_at)
    .done()
}

/// Item → outbox event.
pub fn event_from(item: &Item) -> StoreResult<OutboxEvent> {
    let r = Reader::new("outbox event", item);
    Ok(OutboxEvent {
        event_id: r.s(ID)?.to_string(),
        kind: r.s(KIND)?.to_string(),
        aggregate_id: r.s(AGGREGATE)?.to_string(),
        payload: r.s(PAYLOAD)?.to_string(),
        created_at: r.time(CREATED_AT)?,
    })
}

/// The key attributes of an item (for page tokens).
pub fn item_key(item: &Item) -> StoreResult<Key> {
    let r = Reader::new("key", item);
    Ok(Key::new(r.s(PK)?, r.s(SK)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_stored_data_is_a_decode_error_not_a_panic() {
        let mut item = plan_item(&Plan {
            plan_id: "p".into(),
            price: Price::from_minor(100, Currency::USD),
            interval: BillingInterval {
                unit: IntervalUnit::Month,
                count: 1,
            },
            version: 1,
        });
        assert!(plan_from(&item).is_ok());
        item.insert(CURRENCY.into(), Val::s("XXX"));
        assert!(matches!(plan_from(&item), Err(StoreError::Decode { .. })));
        item.insert(CURRENCY.into(), Val::N(1));
        assert!(matches!(plan_from(&item), Err(StoreError::Decode { .. })));
        item.remove(AMOUNT);
        assert!(matches!(plan_from(&item), Err(StoreError::Decode { .. })));
    }

    #[test]
    fn charge_keys_round_trip() {
        for k in [
            ChargeKey::Period {
                subscription_id: "s#1".into(),
                period: 7,
            },
            ChargeKey::Order {
                order_id: "o-1".into(),
            },
        ] {
            assert_eq!(ChargeKey::parse(&k.to_string()), Some(k));
        }
        assert_eq!(ChargeKey::parse("SUB#x#P#y"), None);
    }
}
