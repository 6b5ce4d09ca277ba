//! One encode/decode pair per record type, with the index attributes each record carries.

use chrono::{DateTime, TimeDelta, Utc};

use savedwallet_app::store::*;
use savedwallet_shared::api::ReasonCode;
use savedwallet_shared::money::Price;

use super::attr::*;
use super::{millis, num, seconds, Reader, Writer};
use crate::store::item::{Item, Val};
use crate::store::schema::{keys, GSI1PK, GSI1SK, GSI2PK, GSI2SK, GSI3PK, GSI3SK, TTL_ATTRIBUTE};

/// How long merchant events stay readable at `GET /admin/v1/events`.
pub const EVENT_RETENTION: TimeDelta = TimeDelta::days(30);
/// How long checkout bindings are kept (Amazon deletes sessions after 30 days).
pub const CHECKOUT_RETENTION: TimeDelta = TimeDelta::days(60);

fn index(w: Writer, pk: &str, sk: &str, pk_val: String, sk_val: Val) -> Writer {
    let w = w.s(pk, pk_val);
    let mut item = w.done();
    item.insert(sk.to_string(), sk_val);
    Writer(item)
}

fn price_attrs(w: Writer, amount: &Price) -> Writer {
    w.n(AMOUNT, amount.minor_units())
        .s(CURRENCY, amount.currency().code())
}

/// Wallet → item.
pub fn wallet_item(w: &Wallet) -> StoreResult<Item> {
    let reasons: Vec<&str> = w.reasons.iter().map(|r| r.as_str()).collect();
    let out = Writer::new(&keys::wallet(w.wallet_id.as_str()), "wallet")
        .s(ID, w.wallet_id.as_str())
        .s(OWNER, w.owner.as_str())
        .s(REGION, w.region.header_value())
        .s(CURRENCY, w.currency.code())
        .s(STATE, w.state.as_str())
        .json(REASONS, &reasons)?
        .opt_s(DESCRIPTOR, w.payment_descriptor.as_deref())
        .b(UPDATE_REQUIRED, w.update_required)
        .opt_time(UPDATE_SINCE, w.update_required_since)
        .opt_n(LIMIT, w.monthly_limit.map(|p| p.minor_units()))
        .time(CREATED_AT, w.created_at)
        .time(UPDATED_AT, w.updated_at)
        .n(VERSION, num(w.version));
    // Sparse: only a wallet waiting for the buyer's update is in the merchant view's list.
    let out = if w.update_required {
        let since = w.update_required_since.unwrap_or(w.updated_at);
        index(
            out,
            GSI3PK,
            GSI3SK,
            keys::WALLETS_TO_UPDATE.to_string(),
            Val::S(keys::merchant_sort(millis(since), w.wallet_id.as_str())),
        )
    } else {
        out
    };
    let sort = keys::customer_sort("W", millis(w.created_at), w.wallet_id.as_str());
    Ok(index(
        out,
        GSI2PK,
        GSI2SK,
        keys::customer(w.owner.as_str()),
        Val::S(sort),
    )
    .done())
}

/// Item → wallet.
pub fn wallet_from(item: &Item) -> StoreResult<Wallet> {
    let r = Reader::new("wallet", item);
    let reasons: Vec<String> = r.json(REASONS)?;
    Ok(Wallet {
        wallet_id: r.parse(ID)?,
        owner: r.parse(OWNER)?,
        region: r.parse(REGION)?,
        currency: r.currency()?,
        state: r.parse(STATE)?,
        reasons: reasons.iter().map(|s| ReasonCode::parse(s)).collect(),
        payment_descriptor: r.opt_s(DESCRIPTOR)?.map(str::to_string),
        update_required: r.b(UPDATE_REQUIRED)?,
        update_required_since: r.opt_time(UPDATE_SINCE)?,
        monthly_limit: r.opt_price(LIMIT)?,
        created_at: r.time(CREATED_AT)?,
        updated_at: r.time(UPDATED_AT)?,
        version: r.u64(VERSION)?,
    })
}

/// Plan → item.
pub fn plan_item(p: &Plan) -> Item {
    let w = Writer::new(&keys::plan(p.plan_id.as_str()), "plan")
        .s(ID, p.plan_id.as_str())
        .s(NAME, p.name.as_str());
    let w = price_attrs(w, &p.price)
        .s(UNIT, p.interval.unit.as_str())
        .n(COUNT, i64::from(p.interval.count))
        .b(ACTIVE, p.active)
        .time(CREATED_AT, p.created_at)
        .time(UPDATED_AT, p.updated_at)
        .n(VERSION, num(p.version));
    index(
        w,
        GSI2PK,
        GSI2SK,
        keys::PLANS.to_string(),
        Val::s(p.plan_id.as_str()),
    )
    .done()
}

/// Item → plan.
pub fn plan_from(item: &Item) -> StoreResult<Plan> {
    let r = Reader::new("plan", item);
    Ok(Plan {
        plan_id: r.parse(ID)?,
        name: r.s(NAME)?.to_string(),
        price: r.price(AMOUNT)?,
        interval: BillingInterval {
            unit: r.parsed(UNIT, IntervalUnit::parse)?,
            count: r.u32(COUNT)?,
        },
        active: r.b(ACTIVE)?,
        created_at: r.time(CREATED_AT)?,
        updated_at: r.time(UPDATED_AT)?,
        version: r.u64(VERSION)?,
    })
}

/// Order → item.
pub fn order_item(o: &Order) -> Item {
    let w = Writer::new(&keys::order(o.order_id.as_str()), "order")
        .s(ID, o.order_id.as_str())
        .s(OWNER, o.owner.as_str());
    price_attrs(w, &o.amount)
        .s(DESCRIPTION, o.description.as_str())
        .b(CAPTURE_NOW, o.capture_now)
        .opt_s(SOFT_DESCRIPTOR, o.soft_descriptor.as_deref())
        .opt_s(PAYMENT, o.payment_id.as_ref().map(|p| p.as_str()))
        .time(CREATED_AT, o.created_at)
        .n(VERSION, num(o.version))
        .done()
}

/// Item → order.
pub fn order_from(item: &Item) -> StoreResult<Order> {
    let r = Reader::new("order", item);
    Ok(Order {
        order_id: r.parse(ID)?,
        owner: r.parse(OWNER)?,
        amount: r.price(AMOUNT)?,
        description: r.s(DESCRIPTION)?.to_string(),
        capture_now: r.b(CAPTURE_NOW)?,
        soft_descriptor: r.opt_s(SOFT_DESCRIPTOR)?.map(str::to_string),
        payment_id: r.opt_parse(PAYMENT)?,
        created_at: r.time(CREATED_AT)?,
        version: r.u64(VERSION)?,
    })
}

/// Checkout binding → item (expires after [`CHECKOUT_RETENTION`]).
pub fn checkout_item(c: &CheckoutBinding) -> StoreResult<Item> {
    let expires = c.created_at + CHECKOUT_RETENTION;
    Ok(
        Writer::new(&keys::checkout(c.checkout_session_id.as_str()), "checkout")
            .s(ID, c.checkout_session_id.as_str())
            .s(OWNER, c.owner.as_str())
            .json(PURPOSE, &c.purpose)?
            .opt_s(WALLET, c.wallet_id.as_ref().map(|w| w.as_str()))
            .time(CREATED_AT, c.created_at)
            .n(TTL_ATTRIBUTE, seconds(expires))
            .n(VERSION, num(c.version))
            .done(),
    )
}

/// Item → checkout binding.
pub fn checkout_from(item: &Item) -> StoreResult<CheckoutBinding> {
    let r = Reader::new("checkout binding", item);
    Ok(CheckoutBinding {
        checkout_session_id: r.parse(ID)?,
        owner: r.parse(OWNER)?,
        purpose: r.json(PURPOSE)?,
        wallet_id: r.opt_parse(WALLET)?,
        created_at: r.time(CREATED_AT)?,
        version: r.u64(VERSION)?,
    })
}

/// Billing looks at active and past-due subscriptions only.
pub fn is_billable(status: SubscriptionStatus) -> bool {
    matches!(
        status,
        SubscriptionStatus::Active | SubscriptionStatus::PastDue
    )
}

/// The due-index sort key: when billing may next claim it (a live lease pushes it out).
pub fn due_sort(s: &Subscription) -> Option<i64> {
    let due = s.due_at.filter(|_| is_billable(s.status))?;
    Some(match &s.lease {
        Some(l) => millis(due).max(millis(l.until)),
        None => millis(due),
    })
}

/// Subscription → item.
pub fn subscription_item(s: &Subscription) -> StoreResult<Item> {
    let id = s.subscription_id.as_str();
    let w = Writer::new(&keys::subscription(id), "subscription")
        .s(ID, id)
        .s(OWNER, s.owner.as_str())
        .s(WALLET, s.wallet_id.as_str())
        .s(PLAN, s.plan_id.as_str());
    let w = price_attrs(w, &s.price)
        .s(UNIT, s.interval.unit.as_str())
        .n(COUNT, i64::from(s.interval.count))
        .s(STATUS, s.status.as_str())
        .n(PERIOD, i64::from(s.period))
        .time(ANCHOR, s.anchor)
        .time(NEXT_BILLING, s.next_billing_at)
        .opt_time(DUE, s.due_at)
        .json(DUNNING, &s.dunning)?
        .opt_s(
            LATEST_PAYMENT,
            s.latest_payment_id.as_ref().map(|p| p.as_str()),
        )
        .opt_s(LEASE_OWNER, s.lease.as_ref().map(|l| l.owner.as_str()))
        .opt_time(LEASE_UNTIL, s.lease.as_ref().map(|l| l.until))
        .opt_time(CANCELED_AT, s.canceled_at)
        .opt_json(CANCEL_REASON, s.cancel_reason.as_ref())?
        .time(CREATED_AT, s.created_at)
        .time(UPDATED_AT, s.updated_at)
        .n(VERSION, num(s.version));
    let w = match due_sort(s) {
        Some(at) => index(
            w,
            GSI1PK,
            GSI1SK,
            keys::due_partition(keys::due_shard(id)),
            Val::N(at),
        ),
        None => w,
    };
    let w = index(
        w,
        GSI3PK,
        GSI3SK,
        keys::subscriptions_in(s.status.as_str()),
        Val::S(keys::merchant_sort(millis(s.created_at), id)),
    );
    let sort = keys::customer_sort("S", millis(s.created_at), id);
    Ok(index(
        w,
        GSI2PK,
        GSI2SK,
        keys::customer(s.owner.as_str()),
        Val::S(sort),
    )
    .done())
}

/// Item → subscription.
pub fn subscription_from(item: &Item) -> StoreResult<Subscription> {
    let r = Reader::new("subscription", item);
    let lease = match (r.opt_s(LEASE_OWNER)?, r.opt_time(LEASE_UNTIL)?) {
        (Some(owner), Some(until)) => Some(Lease {
            owner: owner.to_string(),
            until,
        }),
        (None, None) => None,
        _ => return Err(r.err("lease owner and lease end must come together".into())),
    };
    Ok(Subscription {
        subscription_id: r.parse(ID)?,
        owner: r.parse(OWNER)?,
        wallet_id: r.parse(WALLET)?,
        plan_id: r.parse(PLAN)?,
        price: r.price(AMOUNT)?,
        interval: BillingInterval {
            unit: r.parsed(UNIT, IntervalUnit::parse)?,
            count: r.u32(COUNT)?,
        },
        status: r.parsed(STATUS, SubscriptionStatus::parse)?,
        period: r.u32(PERIOD)?,
        anchor: r.time(ANCHOR)?,
        next_billing_at: r.time(NEXT_BILLING)?,
        due_at: r.opt_time(DUE)?,
        dunning: r.json(DUNNING)?,
        latest_payment_id: r.opt_parse(LATEST_PAYMENT)?,
        lease,
        canceled_at: r.opt_time(CANCELED_AT)?,
        cancel_reason: r.opt_json(CANCEL_REASON)?,
        created_at: r.time(CREATED_AT)?,
        updated_at: r.time(UPDATED_AT)?,
        version: r.u64(VERSION)?,
    })
}

/// Payment → item.
pub fn payment_item(p: &Payment) -> StoreResult<Item> {
    let id = p.payment_id.as_str();
    let w = Writer::new(&keys::payment(id), "payment")
        .s(ID, id)
        .s(OWNER, p.owner.as_str())
        .json(KIND, &p.kind)?
        .s(WALLET, p.wallet_id.as_str());
    let w = price_attrs(w, &p.amount)
        .s(INITIATOR, p.initiator.as_str())
        .b(CAPTURE_NOW, p.capture_now)
        .opt_s(SOFT_DESCRIPTOR, p.soft_descriptor.as_deref())
        .b(CAN_PEND, p.can_handle_pending)
        .opt_s(RETURN_URL, p.return_url.as_deref())
        .s(STATUS, p.status.as_str())
        .n(ATTEMPT_COUNT, i64::from(p.attempt_count))
        .opt_n(OPEN_ATTEMPT, p.open_attempt.map(i64::from))
        .opt_s(CHARGE_ID, p.charge_id.as_ref().map(|c| c.as_str()))
        .opt_s(DECLINE, p.decline_code.as_ref().map(|c| c.as_str()))
        .opt_json(BUYER_ACTION, p.buyer_action.as_ref())?
        .opt_s(MESSAGE, p.message.as_deref())
        .opt_s(REDIRECT_URL, p.redirect_url.as_deref())
        .opt_time(EXPIRES, p.expires_at)
        .opt_time(NEXT_ATTEMPT, p.next_attempt_at)
        .opt_n(CAPTURED, p.captured.map(|c| c.minor_units()))
        .n(REFUNDED, p.refunded.minor_units())
        .opt_time(WAKE, p.wake_at)
        .time(CREATED_AT, p.created_at)
        .time(UPDATED_AT, p.updated_at)
        .n(VERSION, num(p.version));
    let w = match p.wake_at {
        Some(at) => index(
            w,
            GSI1PK,
            GSI1SK,
            keys::wake_partition(keys::wake_shard(id)),
            Val::N(millis(at)),
        ),
        None => w,
    };
    let w = index(
        w,
        GSI3PK,
        GSI3SK,
        keys::ALL_PAYMENTS.to_string(),
        Val::S(keys::merchant_sort(millis(p.created_at), id)),
    );
    let sort = keys::customer_sort("P", millis(p.created_at), id);
    Ok(index(
        w,
        GSI2PK,
        GSI2SK,
        keys::customer(p.owner.as_str()),
        Val::S(sort),
    )
    .done())
}

/// Item → payment.
pub fn payment_from(item: &Item) -> StoreResult<Payment> {
    let r = Reader::new("payment", item);
    Ok(Payment {
        payment_id: r.parse(ID)?,
        owner: r.parse(OWNER)?,
        kind: r.json(KIND)?,
        wallet_id: r.parse(WALLET)?,
        amount: r.price(AMOUNT)?,
        initiator: r.parse(INITIATOR)?,
        capture_now: r.b(CAPTURE_NOW)?,
        soft_descriptor: r.opt_s(SOFT_DESCRIPTOR)?.map(str::to_string),
        can_handle_pending: r.b(CAN_PEND)?,
        return_url: r.opt_s(RETURN_URL)?.map(str::to_string),
        status: r.parsed(STATUS, PaymentStatus::parse)?,
        attempt_count: r.u32(ATTEMPT_COUNT)?,
        open_attempt: r.opt_u32(OPEN_ATTEMPT)?,
        charge_id: r.opt_parse(CHARGE_ID)?,
        decline_code: r.opt_parse(DECLINE)?,
        buyer_action: r.opt_json(BUYER_ACTION)?,
        message: r.opt_s(MESSAGE)?.map(str::to_string),
        redirect_url: r.opt_s(REDIRECT_URL)?.map(str::to_string),
        expires_at: r.opt_time(EXPIRES)?,
        next_attempt_at: r.opt_time(NEXT_ATTEMPT)?,
        captured: r.opt_price(CAPTURED)?,
        refunded: r.price(REFUNDED)?,
        wake_at: r.opt_time(WAKE)?,
        created_at: r.time(CREATED_AT)?,
        updated_at: r.time(UPDATED_AT)?,
        version: r.u64(VERSION)?,
    })
}

/// Attempt → item (with its charge-id lookup once known).
pub fn attempt_item(a: &ChargeAttempt) -> Item {
    let w = Writer::new(&keys::attempt(a.payment_id.as_str(), a.attempt), "attempt")
        .s(PAYMENT, a.payment_id.as_str())
        .n(ATTEMPT, i64::from(a.attempt))
        .s(WALLET, a.wallet_id.as_str());
    let w = price_attrs(w, &a.amount)
        .s(IDEM_KEY, a.idempotency_key.as_str())
        .s(BODY, a.request_body.as_str())
        .s(WRITER, a.writer.as_str())
        .s(MONTH, a.usage_month.to_string());
    let w = attempt_mutable(w, a);
    match &a.charge_id {
        Some(c) => index(
            w,
            GSI2PK,
            GSI2SK,
            keys::amazon_charge(c.as_str()),
            Val::s("A"),
        )
        .done(),
        None => w.done(),
    }
}

/// The attributes a finish may change (everything else is fixed once recorded).
fn attempt_mutable(w: Writer, a: &ChargeAttempt) -> Writer {
    w.s(STATE, a.state.as_str())
        .opt_s(CHARGE_ID, a.charge_id.as_ref().map(|c| c.as_str()))
        .opt_s(REASON, a.reason_code.as_ref().map(|c| c.as_str()))
        .opt_n(HTTP, a.http_status.map(i64::from))
        .n(SENDS, i64::from(a.sends))
        .b(RELEASED, a.usage_released)
        .time(CREATED_AT, a.created_at)
        .time(UPDATED_AT, a.updated_at)
        .n(VERSION, num(a.version))
}

/// Item → attempt.
pub fn attempt_from(item: &Item) -> StoreResult<ChargeAttempt> {
    let r = Reader::new("charge attempt", item);
    Ok(ChargeAttempt {
        payment_id: r.parse(PAYMENT)?,
        attempt: r.u32(ATTEMPT)?,
        wallet_id: r.parse(WALLET)?,
        amount: r.price(AMOUNT)?,
        idempotency_key: r.parse(IDEM_KEY)?,
        request_body: r.s(BODY)?.to_string(),
        writer: r.s(WRITER)?.to_string(),
        usage_month: r.parse(MONTH)?,
        state: r.parsed(STATE, AttemptState::parse)?,
        charge_id: r.opt_parse(CHARGE_ID)?,
        reason_code: r.opt_parse(REASON)?,
        http_status: r
            .opt_n(HTTP)?
            .map(|n| u16::try_from(n).map_err(|_| r.err("http_status out of range".into())))
            .transpose()?,
        sends: r.u32(SENDS)?,
        usage_released: r.b(RELEASED)?,
        created_at: r.time(CREATED_AT)?,
        updated_at: r.time(UPDATED_AT)?,
        version: r.u64(VERSION)?,
    })
}

/// Refund → item.
pub fn refund_item(f: &Refund) -> StoreResult<Item> {
    let w = Writer::new(&keys::refund(f.refund_id.as_str()), "refund")
        .s(ID, f.refund_id.as_str())
        .s(PAYMENT, f.payment_id.as_str())
        .s(OWNER, f.owner.as_str())
        .s(CHARGE_ID, f.charge_id.as_str())
        .opt_s(AMAZON_REFUND, f.amazon_refund_id.as_deref());
    let w = price_attrs(w, &f.amount)
        .opt_s(DESCRIPTION, f.reason.as_deref())
        .s(STATE, f.state.as_str())
        .opt_s(REASON, f.reason_code.as_ref().map(|c| c.as_str()))
        .s(IDEM_KEY, f.idempotency_key.as_str())
        .s(BODY, f.request_body.as_str())
        .time(CREATED_AT, f.created_at)
        .time(UPDATED_AT, f.updated_at)
        .n(VERSION, num(f.version));
    Ok(match &f.amazon_refund_id {
        Some(a) => index(w, GSI2PK, GSI2SK, keys::amazon_refund(a), Val::s("R")).done(),
        None => w.done(),
    })
}

/// Item → refund.
pub fn refund_from(item: &Item) -> StoreResult<Refund> {
    let r = Reader::new("refund", item);
    Ok(Refund {
        refund_id: r.parse(ID)?,
        payment_id: r.parse(PAYMENT)?,
        owner: r.parse(OWNER)?,
        charge_id: r.parse(CHARGE_ID)?,
        amazon_refund_id: r.opt_s(AMAZON_REFUND)?.map(str::to_string),
        amount: r.price(AMOUNT)?,
        reason: r.opt_s(DESCRIPTION)?.map(str::to_string),
        state: r.parsed(STATE, |s| match s {
            "pending" => Some(RefundState::Pending),
            "succeeded" => Some(RefundState::Succeeded),
            "failed" => Some(RefundState::Failed),
            _ => None,
        })?,
        reason_code: r.opt_parse(REASON)?,
        idempotency_key: r.parse(IDEM_KEY)?,
        request_body: r.s(BODY)?.to_string(),
        created_at: r.time(CREATED_AT)?,
        updated_at: r.time(UPDATED_AT)?,
        version: r.u64(VERSION)?,
    })
}

/// Item → monthly usage.
pub fn usage_from(
    item: &Item,
    month: savedwallet_shared::limits::UsageMonth,
) -> StoreResult<MonthlyUsage> {
    let r = Reader::new("monthly usage", item);
    Ok(MonthlyUsage {
        month,
        total: r.price(TOTAL)?,
    })
}

/// Event → item (kept for [`EVENT_RETENTION`]; in the delivery index until delivered).
pub fn event_item(e: &MerchantEvent) -> StoreResult<Item> {
    let id = e.event_id.as_str();
    let w = Writer::new(&keys::event(id, millis(e.created_at)), "event")
        .s(ID, id)
        .s(KIND, e.kind.as_str())
        .opt_s(CUSTOMER, e.customer_id.as_ref().map(|c| c.as_str()))
        .json(DATA, &e.data)?
        .time(CREATED_AT, e.created_at)
        .n(DELIVERIES, i64::from(e.deliveries))
        .opt_time(DELIVER_AT, e.deliver_at)
        .n(TTL_ATTRIBUTE, seconds(e.created_at + EVENT_RETENTION));
    Ok(match e.deliver_at {
        Some(at) => index(
            w,
            GSI1PK,
            GSI1SK,
            keys::delivery_partition(keys::delivery_shard(id)),
            Val::N(millis(at)),
        )
        .done(),
        None => w.done(),
    })
}

/// Item → event.
pub fn event_from(item: &Item) -> StoreResult<MerchantEvent> {
    let r = Reader::new("event", item);
    Ok(MerchantEvent {
        event_id: r.parse(ID)?,
        kind: r.s(KIND)?.to_string(),
        customer_id: r.opt_parse(CUSTOMER)?,
        data: r.json(DATA)?,
        created_at: r.time(CREATED_AT)?,
        deliveries: r.u32(DELIVERIES)?,
        deliver_at: r.opt_time(DELIVER_AT)?,
    })
}

/// True when a TTL'd item has expired at `now` (TTL deletion is lazy: treat as absent).
pub fn expired(item: &Item, now: DateTime<Utc>) -> bool {
    matches!(item.get(TTL_ATTRIBUTE), Some(Val::N(t)) if *t < seconds(now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use savedwallet_app::ids::PlanId;
    use savedwallet_shared::money::Currency;

    fn plan() -> Plan {
        Plan {
            plan_id: PlanId::parse("gold").unwrap(),
            name: "Gold".into(),
            price: Price::from_minor(999, Currency::EUR),
            interval: BillingInterval {
                unit: IntervalUnit::Month,
                count: 1,
            },
            active: true,
            created_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            updated_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            version: 3,
        }
    }

    #[test]
    fn bad_stored_data_is_a_decode_error_not_a_panic() {
        let mut item = plan_item(&plan());
        assert_eq!(plan_from(&item).unwrap(), plan());
        item.insert(CURRENCY.into(), Val::s("XXX"));
        assert!(matches!(plan_from(&item), Err(StoreError::Decode { .. })));
        item.insert(CURRENCY.into(), Val::N(1));
        assert!(matches!(plan_from(&item), Err(StoreError::Decode { .. })));
        let mut item = plan_item(&plan());
        item.remove(AMOUNT);
        assert!(matches!(plan_from(&item), Err(StoreError::Decode { .. })));
        let mut item = plan_item(&plan());
        item.insert(ID.into(), Val::s("has space"));
        assert!(matches!(plan_from(&item), Err(StoreError::Decode { .. })));
    }
}
