//! Merchant events: built by the use cases, written in the same transaction as the change
//! they report. Ids are derived from what happened, so a resent write never duplicates one.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::ids::*;
use crate::store::*;

/// Event kinds (API.md `GET /admin/v1/events`).
pub mod kind {
    /// A payment succeeded (captured, or authorized with `captureNow: false`).
    pub const PAYMENT_SUCCEEDED: &str = "payment.succeeded";
    /// A payment was declined.
    pub const PAYMENT_DECLINED: &str = "payment.declined";
    /// A payment failed without a decline (no answer after all replays, our side).
    pub const PAYMENT_FAILED: &str = "payment.failed";
    /// A payment waits for the buyer's MFA challenge.
    pub const PAYMENT_ACTION_REQUIRED: &str = "payment.action_required";
    /// A payment was canceled (merchant, MFA abandoned or expired, authorization expired).
    pub const PAYMENT_CANCELED: &str = "payment.canceled";
    /// A chargeback was reported for a payment's charge.
    pub const PAYMENT_CHARGEBACK: &str = "payment.chargeback";
    /// A refund succeeded.
    pub const REFUND_SUCCEEDED: &str = "refund.succeeded";
    /// A refund failed.
    pub const REFUND_FAILED: &str = "refund.failed";
    /// A wallet was saved.
    pub const WALLET_CREATED: &str = "wallet.created";
    /// The buyer must update the wallet's payment method.
    pub const WALLET_UPDATE_REQUIRED: &str = "wallet.update_required";
    /// The wallet is Chargeable again.
    pub const WALLET_CHARGEABLE: &str = "wallet.chargeable";
    /// The wallet was closed (buyer, merchant or Amazon).
    pub const WALLET_CLOSED: &str = "wallet.closed";
    /// A subscription was created.
    pub const SUBSCRIPTION_CREATED: &str = "subscription.created";
    /// A subscription's first payment succeeded, or a past-due one was paid.
    pub const SUBSCRIPTION_ACTIVE: &str = "subscription.active";
    /// A subscription's period payment did not succeed.
    pub const SUBSCRIPTION_PAST_DUE: &str = "subscription.past_due";
    /// A subscription ended.
    pub const SUBSCRIPTION_CANCELED: &str = "subscription.canceled";
    /// A subscription bills soon and its wallet cannot be charged as stored (reach out).
    pub const SUBSCRIPTION_AT_RISK: &str = "subscription.at_risk";
}

/// An event named by `parts` (what it reports), so the same change always gives the same id.
pub fn event(
    kind: &str,
    customer: Option<&CustomerId>,
    data: Value,
    at: DateTime<Utc>,
    parts: &[&[u8]],
) -> MerchantEvent {
    let mut all: Vec<&[u8]> = vec![kind.as_bytes()];
    all.extend_from_slice(parts);
    // Derived ids are valid by construction (prefix + base32).
    let event_id = EventId::parse(&derived_id("evt", &all))
        .unwrap_or_else(|_| EventId::parse("evt_invalid").expect("literal id"));
    MerchantEvent {
        event_id,
        kind: kind.to_string(),
        customer_id: customer.cloned(),
        data,
        created_at: at,
        deliveries: 0,
        deliver_at: Some(at),
    }
}

/// A payment event: its id, status, amount, wallet and reason (no PII).
pub fn payment_event(kind: &str, p: &Payment, at: DateTime<Utc>) -> MerchantEvent {
    let data = json!({
        "paymentId": p.payment_id,
        "status": p.status.as_str(),
        "amount": p.amount,
        "walletId": p.wallet_id,
        "attempt": p.attempt_count,
        "chargeId": p.charge_id,
        "declineCode": p.decline_code.as_ref().map(|c| c.as_str()),
        "buyerAction": p.buyer_action.as_ref().map(|b| b.kind.as_str()),
        "kind": p.kind,
    });
    let n = p.attempt_count.to_be_bytes();
    event(
        kind,
        Some(&p.owner),
        data,
        at,
        &[
            p.payment_id.as_str().as_bytes(),
            &n,
            p.status.as_str().as_bytes(),
        ],
    )
}

/// A wallet event.
pub fn wallet_event(
    kind: &str,
    w: &Wallet,
    at: DateTime<Utc>,
    discriminator: &[u8],
) -> MerchantEvent {
    let data = json!({
        "walletId": w.wallet_id,
        "state": w.state.as_str(),
        "reasons": w.reasons.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "updateRequired": w.update_required,
    });
    event(
        kind,
        Some(&w.owner),
        data,
        at,
        &[w.wallet_id.as_str().as_bytes(), discriminator],
    )
}

/// A subscription event.
pub fn subscription_event(kind: &str, s: &Subscription, at: DateTime<Utc>) -> MerchantEvent {
    let data = json!({
        "subscriptionId": s.subscription_id,
        "status": s.status.as_str(),
        "walletId": s.wallet_id,
        "planId": s.plan_id,
        "period": s.period,
        "cancelReason": s.cancel_reason,
    });
    let n = s.period.to_be_bytes();
    event(
        kind,
        Some(&s.owner),
        data,
        at,
        &[
            s.subscription_id.as_str().as_bytes(),
            &n,
            s.status.as_str().as_bytes(),
        ],
    )
}

/// The subscription events a change from `before` to `after` reports.
pub fn subscription_changes(
    before: &Subscription,
    after: &Subscription,
    at: DateTime<Utc>,
) -> Vec<MerchantEvent> {
    if before.status == after.status {
        return vec![];
    }
    let k = match after.status {
        SubscriptionStatus::Active => kind::SUBSCRIPTION_ACTIVE,
        SubscriptionStatus::PastDue => kind::SUBSCRIPTION_PAST_DUE,
        SubscriptionStatus::Canceled => kind::SUBSCRIPTION_CANCELED,
        SubscriptionStatus::Incomplete => return vec![],
    };
    vec![subscription_event(k, after, at)]
}
