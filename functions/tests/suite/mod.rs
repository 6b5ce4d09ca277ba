//! The store conformance suite: every test runs on every adapter (see `conformance.rs`).
//! Fixtures build records the way the use cases do; the tests drive the port only.
#![allow(dead_code)]

pub mod basics;
pub mod billing;
pub mod faults;
pub mod merchant;
pub mod model;
pub mod payments;
pub mod records;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use savedwallet_app::ids::*;
use savedwallet_functions::store::*;
use savedwallet_shared::api::{ChargeInitiator, ChargePermissionState};
use savedwallet_shared::idempotency::KeyScope;
use savedwallet_shared::limits::UsageMonth;
use savedwallet_shared::money::{Currency, Price};
use savedwallet_shared::region::{Environment, Region};

/// A fixed instant (mid-month, so month boundaries are deliberate).
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 15, 12, 0, 0).unwrap()
}

/// `t0 + secs`.
pub fn at(secs: i64) -> DateTime<Utc> {
    t0() + TimeDelta::seconds(secs)
}

/// A customer id.
pub fn cust(s: &str) -> CustomerId {
    CustomerId::parse(s).unwrap()
}

/// A wallet id (made unique per test by the caller's naming).
pub fn wid(s: &str) -> WalletId {
    WalletId::parse(s).unwrap()
}

/// Euros.
pub fn eur(minor: i64) -> Price {
    Price::from_minor(minor, Currency::EUR)
}

/// Amazon's EUR monthly limit.
pub fn cap() -> Price {
    eur(1_500_000)
}

/// A Chargeable EUR wallet (version 0, not stored yet).
pub fn wallet(id: &str, owner: &str) -> Wallet {
    Wallet {
        wallet_id: wid(id),
        owner: cust(owner),
        region: Region::Eu,
        currency: Currency::EUR,
        state: ChargePermissionState::Chargeable,
        reasons: vec![],
        payment_descriptor: Some("Visa ****1111".into()),
        update_required: false,
        update_required_since: None,
        monthly_limit: None,
        created_at: t0(),
        updated_at: t0(),
        version: 0,
    }
}

/// Stores a wallet.
pub async fn stored_wallet<S: Store>(s: &S, id: &str, owner: &str) -> Wallet {
    s.create_wallet(&wallet(id, owner), &[]).await.unwrap()
}

/// A new payment (attempt 1 open), not stored.
pub fn payment(
    kind: PaymentKind,
    owner: &str,
    wallet: &str,
    amount: Price,
    now: DateTime<Utc>,
) -> Payment {
    let id = match &kind {
        PaymentKind::Order { order_id } => PaymentId::for_order(order_id),
        PaymentKind::Period {
            subscription_id,
            period,
        } => PaymentId::for_period(subscription_id, *period),
        PaymentKind::Unscheduled { reason } => PaymentId::for_unscheduled(reason.as_bytes()),
    };
    Payment {
        payment_id: id,
        owner: cust(owner),
        kind,
        wallet_id: wid(wallet),
        amount,
        initiator: ChargeInitiator::Citu,
        capture_now: true,
        soft_descriptor: None,
        can_handle_pending: false,
        return_url: None,
        status: PaymentStatus::Pending,
        attempt_count: 1,
        open_attempt: Some(1),
        charge_id: None,
        decline_code: None,
        buyer_action: None,
        message: None,
        redirect_url: None,
        expires_at: None,
        next_attempt_at: None,
        captured: None,
        refunded: Price::zero(amount.currency()),
        wake_at: Some(now + TimeDelta::seconds(60)),
        created_at: now,
        updated_at: now,
        version: 0,
    }
}

/// An order payment kind.
pub fn order_kind(id: &str) -> PaymentKind {
    PaymentKind::Order {
        order_id: OrderId::parse(id).unwrap(),
    }
}

/// An unscheduled payment kind (the reason makes it unique).
pub fn mitu_kind(reason: &str) -> PaymentKind {
    PaymentKind::Unscheduled {
        reason: reason.into(),
    }
}

/// A period payment kind.
pub fn period_kind(sub: &str, period: u32) -> PaymentKind {
    PaymentKind::Period {
        subscription_id: SubscriptionId::parse(sub).unwrap(),
        period,
    }
}

fn scope() -> KeyScope {
    KeyScope::new("A2SANDBOXMERCHANT", Environment::Sandbox, "test")
}

/// Attempt `n` of a payment as a use case records it (deterministic key, exact body).
pub fn attempt(p: &Payment, n: u32, writer: &str, now: DateTime<Utc>) -> ChargeAttempt {
    let key = scope().derive(&p.logical_charge(), n);
    let body = format!(
        r#"{{"chargePermissionId":"{}","chargeAmount":{{"amount":"{}","currencyCode":"{}"}},"captureNow":true}}"#,
        p.wallet_id,
        p.amount.amount_string(),
        p.amount.currency().code()
    );
    ChargeAttempt {
        payment_id: p.payment_id.clone(),
        attempt: n,
        wallet_id: p.wallet_id.clone(),
        amount: p.amount,
        idempotency_key: key,
        request_body: body,
        writer: writer.into(),
        usage_month: UsageMonth::of(now),
        state: AttemptState::Sending,
        charge_id: None,
        reason_code: None,
        http_status: None,
        sends: 1,
        usage_released: false,
        created_at: now,
        updated_at: now,
        version: 0,
    }
}

/// The begin of a new payment's first attempt.
pub fn begin_new(p: &Payment, writer: &str, now: DateTime<Utc>) -> BeginAttempt {
    BeginAttempt {
        payment: PaymentWrite::Create(p.clone()),
        attempt: attempt(p, 1, writer, now),
        monthly_cap: cap(),
        billing: BillingLink::None,
        order: None,
        events: vec![],
    }
}

/// The begin of attempt `stored.attempt_count + 1` of a stored payment.
pub fn begin_next(stored: &Payment, writer: &str, now: DateTime<Utc>) -> BeginAttempt {
    let n = stored.attempt_count + 1;
    let p = Payment {
        status: PaymentStatus::Pending,
        attempt_count: n,
        open_attempt: Some(n),
        updated_at: now,
        ..stored.clone()
    };
    BeginAttempt {
        payment: PaymentWrite::Update(p.clone()),
        attempt: attempt(&p, n, writer, now),
        monthly_cap: cap(),
        billing: BillingLink::None,
        order: None,
        events: vec![],
    }
}

/// Records a begin and returns the stored payment and attempt.
pub async fn recorded<S: Store>(s: &S, b: &BeginAttempt) -> (Payment, ChargeAttempt) {
    match s.begin_attempt(b).await.unwrap() {
        Begun::Recorded { payment, attempt } => (*payment, *attempt),
        other => panic!("expected Recorded, got {other:?}"),
    }
}

/// The payment status an attempt state gives.
pub fn status_for(state: AttemptState) -> PaymentStatus {
    match state {
        AttemptState::Sending | AttemptState::Pending => PaymentStatus::Pending,
        AttemptState::Unknown => PaymentStatus::Failed,
        AttemptState::ActionRequired => PaymentStatus::ActionRequired,
        AttemptState::Authorized => PaymentStatus::Authorized,
        AttemptState::Captured => PaymentStatus::Succeeded,
        AttemptState::Declined => PaymentStatus::Declined,
        AttemptState::Failed => PaymentStatus::Failed,
        AttemptState::Canceled => PaymentStatus::Canceled,
    }
}

/// A finish moving `a` (as stored) to `to`, with its payment (as stored) following.
pub fn finish(
    p: &Payment,
    a: &ChargeAttempt,
    to: AttemptState,
    now: DateTime<Utc>,
) -> FinishAttempt {
    let charge_id = ChargeId::parse(&format!("S01-0000001-0000001-C{:06}", a.attempt)).unwrap();
    let attempt = ChargeAttempt {
        state: to,
        charge_id: Some(charge_id.clone()),
        updated_at: now,
        ..a.clone()
    };
    let payment = Payment {
        status: status_for(to),
        open_attempt: if to.is_final() { None } else { Some(a.attempt) },
        charge_id: Some(charge_id),
        captured: (to == AttemptState::Captured).then_some(p.amount),
        wake_at: None,
        updated_at: now,
        ..p.clone()
    };
    FinishAttempt {
        attempt,
        from: a.state,
        payment,
        subscription: None,
        wallet: None,
        events: vec![],
    }
}

/// A subscription due at `due` (active, period 1), not stored.
pub fn subscription(id: &str, owner: &str, wallet: &str, due: DateTime<Utc>) -> Subscription {
    Subscription {
        subscription_id: SubscriptionId::parse(id).unwrap(),
        owner: cust(owner),
        wallet_id: wid(wallet),
        plan_id: PlanId::parse("gold").unwrap(),
        price: eur(999),
        interval: BillingInterval {
            unit: IntervalUnit::Month,
            count: 1,
        },
        status: SubscriptionStatus::Active,
        period: 1,
        anchor: due,
        next_billing_at: due,
        due_at: Some(due),
        dunning: Dunning::Current,
        latest_payment_id: None,
        lease: None,
        canceled_at: None,
        cancel_reason: None,
        created_at: t0(),
        updated_at: t0(),
        version: 0,
    }
}

/// Stores a subscription (billing's write at version 0 creates it).
pub async fn stored_subscription<S: Store>(s: &S, sub: Subscription) -> Subscription {
    let w = SubscriptionWrite {
        record: sub,
        lease_owner: None,
    };
    s.write_subscription(&w, &[]).await.unwrap()
}

/// A merchant event.
pub fn event(id: &str, kind: &str, at: DateTime<Utc>) -> MerchantEvent {
    MerchantEvent {
        event_id: EventId::parse(id).unwrap(),
        kind: kind.into(),
        customer_id: Some(cust("c1")),
        data: serde_json::json!({"id": id}),
        created_at: at,
        deliveries: 0,
        deliver_at: Some(at),
    }
}

/// Unwraps the refusal of a store error.
pub fn refusal(e: StoreError) -> Refusal {
    match e {
        StoreError::Refused { refusal, .. } => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}
