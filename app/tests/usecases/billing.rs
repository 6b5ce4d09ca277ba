//! Subscriptions and billing through the shared engine: the first period as CITR, later
//! periods as MITR exactly once, dunning, waiting for a payment method (and billing at once
//! when the IPN shows the wallet Chargeable), the monthly limit, edits and crashes.

use crate::common::*;
use savedwallet_app::ids::*;
use savedwallet_app::store::*;
use savedwallet_app::usecases::*;
use savedwallet_sandbox::{HardDeclineEffect, Knobs, Preset};
use savedwallet_shared::region::Region;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periods_bill_exactly_once_and_in_order() {
    let s = stack(Region::Na).await;
    let w = s.wallet("alice", Preset::AlwaysApprove).await;
    let plan = plan(&s, "minutely", "1.00", "minute").await;
    let (sub, first) = subscribe(&s, &w, &plan, "k1").await;
    assert_eq!(first.status, PaymentStatus::Succeeded);
    assert_eq!(
        first.initiator,
        savedwallet_shared::api::ChargeInitiator::Citr
    );
    assert_eq!((sub.status, sub.period), (SubscriptionStatus::Active, 2));
    // The same subscribe request again is the same subscription.
    let (again, _, made) = s
        .service
        .subscribe(
            &cust("alice"),
            Subscribe {
                wallet_id: w.wallet.wallet_id.clone(),
                plan_id: plan.clone(),
                return_url: None,
                scope: b"k1".to_vec(),
            },
        )
        .await
        .unwrap();
    assert!(!made);
    assert_eq!(again.subscription_id, sub.subscription_id);
    // Nothing is due yet; a minute later period 2 is, once, however often billing runs.
    assert_eq!(
        s.service.bill_due(100).await.unwrap(),
        BillingRun::default()
    );
    s.advance(61);
    let (a, b) = tokio::join!(s.service.bill_due(100), s.service.bill_due(100));
    assert_eq!(a.unwrap().charged + b.unwrap().charged, 1);
    assert_eq!(s.service.bill_due(100).await.unwrap().charged, 0);
    let sub = s
        .store
        .get_subscription(&sub.subscription_id)
        .await
        .unwrap();
    assert_eq!(sub.period, 3);
    let p2 = s
        .store
        .get_payment(&PaymentId::for_period(&sub.subscription_id, 2))
        .await
        .unwrap();
    assert_eq!(p2.status, PaymentStatus::Succeeded);
    assert_eq!(p2.initiator, savedwallet_shared::api::ChargeInitiator::Mitr);
    assert_eq!(s.charges(&w.wallet.wallet_id).len(), 2);
    // Each payment's success is measured once; the period paid 61 s after its billing time.
    let m = s.measured();
    assert_eq!(
        m.iter().filter(|x| *x == "payment:succeeded").count(),
        2,
        "{m:?}"
    );
    assert_eq!(
        m.iter().filter(|x| x.starts_with("lag:")).count(),
        1,
        "{m:?}"
    );
    assert!(m.contains(&"lag:1".to_string()), "{m:?}");
    // Canceled: nothing more is billed.
    s.service
        .cancel_subscription(&Caller::Customer(cust("alice")), &sub.subscription_id)
        .await
        .unwrap();
    s.advance(600);
    assert_eq!(s.service.bill_due(100).await.unwrap().charged, 0);
    assert_eq!(s.charges(&w.wallet.wallet_id).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mit_charges_never_ask_for_mfa() {
    let s = stack(Region::Eu).await;
    let w = s.wallet("alice", Preset::MfaRequired).await;
    let plan = plan(&s, "daily", "2.00", "day").await;
    let (sub, first) = subscribe(&s, &w, &plan, "k1").await;
    // The first period is customer-initiated: the buyer may be challenged.
    assert_eq!(first.status, PaymentStatus::ActionRequired);
    let session = savedwallet_sandbox::buyer::returned_session(
        &s.buyer
            .challenge(
                first.redirect_url.as_deref().unwrap(),
                savedwallet_sandbox::MfaOutcome::Approved,
            )
            .await
            .unwrap(),
    )
    .unwrap();
    let done = s
        .service
        .complete_payment(
            &cust("alice"),
            &first.payment_id,
            &CheckoutSessionId::parse(&session).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(done.status, PaymentStatus::Succeeded);
    let sub = s
        .store
        .get_subscription(&sub.subscription_id)
        .await
        .unwrap();
    assert_eq!(sub.status, SubscriptionStatus::Active);
    s.advance(24 * 3600 + 1);
    s.service.bill_due(100).await.unwrap();
    let p2 = s
        .store
        .get_payment(&PaymentId::for_period(&sub.subscription_id, 2))
        .await
        .unwrap();
    assert_eq!(
        p2.status,
        PaymentStatus::Succeeded,
        "MITR is never challenged"
    );
}

async fn hard_decline_waits_for_the_update(effect: HardDeclineEffect) {
    let s = stack_with(
        Region::Na,
        Knobs {
            hard_decline: effect,
            ..Knobs::default()
        },
    )
    .await;
    let w = s.wallet("alice", Preset::AlwaysApprove).await;
    let plan = plan(&s, "minutely", "1.00", "minute").await;
    let (sub, _) = subscribe(&s, &w, &plan, "k1").await;
    // The buyer's card starts to hard-decline.
    s.sandbox
        .change_card_behaviour(w.wallet.wallet_id.as_str(), Preset::HardDeclineUntilUpdated)
        .unwrap();
    s.advance(61);
    s.deliver_ipns().await;
    s.service.bill_due(100).await.unwrap();
    let sub = s
        .store
        .get_subscription(&sub.subscription_id)
        .await
        .unwrap();
    assert_eq!(sub.status, SubscriptionStatus::PastDue, "{effect:?}");
    assert!(matches!(sub.dunning, Dunning::AwaitingPaymentMethod { .. }));
    let m = s.measured();
    assert!(m.contains(&"payment:declined".to_string()), "{m:?}");
    assert!(m.contains(&"decline:HardDeclined".to_string()), "{m:?}");
    assert_eq!(
        sub.due_at,
        Some(s.sandbox.now() + chrono::TimeDelta::days(1)),
        "waits for the buyer; looked at again in a day in case the IPN is lost"
    );
    s.advance(600);
    assert_eq!(
        s.service.bill_due(100).await.unwrap().charged,
        0,
        "nothing charged meanwhile"
    );
    // The buyer fixes it; the IPN makes the period due at once.
    s.buyer
        .update_payment_method(&w.update_url, Preset::AlwaysApprove)
        .await
        .unwrap();
    s.deliver_ipns().await;
    let sub = s
        .store
        .get_subscription(&sub.subscription_id)
        .await
        .unwrap();
    assert_eq!(
        sub.due_at,
        Some(s.sandbox.now()),
        "{effect:?}: billed at once, not at the next cycle"
    );
    assert_eq!(s.service.bill_due(100).await.unwrap().charged, 1);
    let sub = s
        .store
        .get_subscription(&sub.subscription_id)
        .await
        .unwrap();
    assert_eq!((sub.status, sub.period), (SubscriptionStatus::Active, 3));
}

/// The buyer fixes the wallet but the IPN never arrives: the daily re-read of a wallet to
/// update finds it Chargeable again when Amazon's state changed (non-chargeable knob); when
/// the permission stayed Chargeable through the decline, a re-read cannot tell a fix from
/// nothing, so the period keeps waiting for the notification.
async fn lost_ipn_after_the_update(effect: HardDeclineEffect) {
    let s = stack_with(
        Region::Na,
        Knobs {
            hard_decline: effect,
            ..Knobs::default()
        },
    )
    .await;
    let w = s.wallet("alice", Preset::AlwaysApprove).await;
    let plan = plan(&s, "minutely", "1.00", "minute").await;
    let (sub, _) = subscribe(&s, &w, &plan, "k1").await;
    s.sandbox
        .change_card_behaviour(w.wallet.wallet_id.as_str(), Preset::HardDeclineUntilUpdated)
        .unwrap();
    s.advance(61);
    s.deliver_ipns().await;
    s.service.bill_due(100).await.unwrap();
    // The decline's notifications arrive (NonChargeable under that knob)...
    s.deliver_ipns().await;
    s.buyer
        .update_payment_method(&w.update_url, Preset::AlwaysApprove)
        .await
        .unwrap();
    // ...the update's are lost: never delivered.
    s.skip_ipns();
    s.advance(24 * 3600 + 1);
    let gcp_before = s.calls("GetChargePermission");
    let run = s.service.bill_due(100).await.unwrap();
    assert_eq!(
        s.calls("GetChargePermission"),
        gcp_before + 1,
        "{effect:?}: one re-read of the wallet"
    );
    let after = s
        .store
        .get_subscription(&sub.subscription_id)
        .await
        .unwrap();
    match effect {
        HardDeclineEffect::NonChargeable => {
            assert_eq!(run.charged, 1, "the re-read saw it fixed");
            assert_eq!(after.status, SubscriptionStatus::Active);
        }
        HardDeclineEffect::StaysChargeable => {
            assert_eq!(run.charged, 0, "no fix seen: waits for the notification");
            assert_eq!(after.status, SubscriptionStatus::PastDue);
            assert!(matches!(
                after.dunning,
                Dunning::AwaitingPaymentMethod { .. }
            ));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_ipn_the_recheck_bills_a_fixed_wallet() {
    lost_ipn_after_the_update(HardDeclineEffect::NonChargeable).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_ipn_the_recheck_cannot_see_a_fix_on_a_chargeable_permission() {
    lost_ipn_after_the_update(HardDeclineEffect::StaysChargeable).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hard_decline_past_due_then_the_ipn_bills_at_once() {
    hard_decline_waits_for_the_update(HardDeclineEffect::NonChargeable).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hard_decline_past_due_when_the_permission_stays_chargeable() {
    hard_decline_waits_for_the_update(HardDeclineEffect::StaysChargeable).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_worker_is_replayed_with_the_same_key() {
    use savedwallet_app::ports::AmazonPay;
    let s = stack(Region::Na).await;
    let w = s.wallet("alice", Preset::AlwaysApprove).await;
    let plan = plan(&s, "minutely", "1.00", "minute").await;
    let (sub, _) = subscribe(&s, &w, &plan, "k1").await;
    s.advance(61);
    // A worker claims period 2, records its attempt, sends it — Amazon charges — and dies
    // before it records the answer.
    let now = s.sandbox.now();
    let claim = s
        .store
        .claim_period(&sub.subscription_id, 2, "dead-worker", now, BILLING_LEASE)
        .await
        .unwrap();
    let pid = PaymentId::for_period(&sub.subscription_id, 2);
    let kind = PaymentKind::Period {
        subscription_id: sub.subscription_id.clone(),
        period: 2,
    };
    let payment = Payment {
        payment_id: pid.clone(),
        owner: cust("alice"),
        kind,
        wallet_id: w.wallet.wallet_id.clone(),
        amount: sub.price,
        initiator: savedwallet_shared::api::ChargeInitiator::Mitr,
        capture_now: true,
        soft_descriptor: None,
        can_handle_pending: true,
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
        refunded: savedwallet_shared::money::Price::zero(sub.price.currency()),
        wake_at: Some(now + chrono::TimeDelta::minutes(1)),
        created_at: now,
        updated_at: now,
        version: 0,
    };
    let mut req = savedwallet_shared::api::CreateChargeRequest::new(
        w.wallet.wallet_id.to_string(),
        sub.price,
    );
    req.capture_now = Some(true);
    req.can_handle_pending_authorization = Some(true);
    req.charge_initiator = Some(savedwallet_shared::api::ChargeInitiator::Mitr);
    req.channel = Some(savedwallet_shared::api::Channel::Offline);
    let body = s.gateway.body_bytes(&req).unwrap();
    let key = s
        .service
        .config()
        .key_scope
        .derive(&payment.logical_charge(), 1);
    let attempt = ChargeAttempt {
        payment_id: pid.clone(),
        attempt: 1,
        wallet_id: w.wallet.wallet_id.clone(),
        amount: sub.price,
        idempotency_key: key.clone(),
        request_body: String::from_utf8(body.clone()).unwrap(),
        writer: "dead-worker".into(),
        usage_month: savedwallet_shared::limits::UsageMonth::of(now),
        state: AttemptState::Sending,
        charge_id: None,
        reason_code: None,
        http_status: None,
        sends: 1,
        usage_released: false,
        created_at: now,
        updated_at: now,
        version: 0,
    };
    s.store
        .begin_attempt(&BeginAttempt {
            payment: PaymentWrite::Create(payment),
            attempt,
            monthly_cap: savedwallet_shared::money::Price::from_minor(
                1_500_000,
                sub.price.currency(),
            ),
            billing: BillingLink::Lease {
                subscription_id: sub.subscription_id.clone(),
                lease_owner: "dead-worker".into(),
                period: 2,
            },
            order: None,
            events: vec![],
        })
        .await
        .unwrap();
    s.gateway.create_charge(&body, &key, None).await.unwrap();
    drop(claim);
    assert_eq!(
        s.charges(&w.wallet.wallet_id).len(),
        2,
        "period 1 and the dead worker's period 2"
    );
    // While its lease lives, nobody else bills the period.
    assert_eq!(
        s.service
            .bill_subscription(&sub.subscription_id, 2)
            .await
            .unwrap(),
        Billed::Skipped
    );
    // The lease lapses; the next run replays the same key and body: Amazon answers with the
    // charge it made, and no second one.
    s.advance(BILLING_LEASE.num_seconds() as u64 + 1);
    assert_eq!(s.service.bill_due(100).await.unwrap().charged, 1);
    assert_eq!(
        s.charges(&w.wallet.wallet_id).len(),
        2,
        "no second charge for period 2"
    );
    let (p, attempts) = s.store.payment_with_attempts(&pid).await.unwrap();
    assert_eq!(p.status, PaymentStatus::Succeeded);
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].sends, 2);
    let sub = s
        .store
        .get_subscription(&sub.subscription_id)
        .await
        .unwrap();
    assert_eq!(sub.period, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monthly_limit_makes_a_period_wait_for_the_next_month() {
    let s = stack(Region::Na).await;
    let w = s.wallet("alice", Preset::LowLimit).await; // 100 USD a month
    let plan = plan(&s, "pricey", "60.00", "minute").await;
    let (sub, first) = subscribe(&s, &w, &plan, "k1").await;
    assert_eq!(first.status, PaymentStatus::Succeeded);
    s.advance(61);
    let calls = s.calls("CreateCharge");
    s.service.bill_due(100).await.unwrap();
    assert_eq!(s.calls("CreateCharge"), calls, "not sent to Amazon");
    let sub = s
        .store
        .get_subscription(&sub.subscription_id)
        .await
        .unwrap();
    let next = savedwallet_shared::limits::next_month_start(s.sandbox.now());
    assert!(matches!(sub.dunning, Dunning::AwaitingNextMonth { until } if until == next));
    assert_eq!(sub.due_at, Some(next));
    s.advance((next - s.sandbox.now()).num_seconds() as u64 + 1);
    assert_eq!(s.service.bill_due(100).await.unwrap().charged, 1);
    let sub = s
        .store
        .get_subscription(&sub.subscription_id)
        .await
        .unwrap();
    assert_eq!(sub.status, SubscriptionStatus::Active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_plan_price_applies_from_the_next_period() {
    let s = stack(Region::Na).await;
    let w = s.wallet("alice", Preset::AlwaysApprove).await;
    let plan_id = plan(&s, "repriced", "5.00", "minute").await;
    let (sub, first) = subscribe(&s, &w, &plan_id, "k1").await;
    assert_eq!(first.amount.to_string(), "5.00 USD");
    // The merchant raises the price while period 1 runs: period 2 bills the new one.
    plan(&s, "repriced", "7.50", "minute").await;
    s.advance(61);
    assert_eq!(s.service.bill_due(100).await.unwrap().charged, 1);
    let p2 = s
        .store
        .get_payment(&PaymentId::for_period(&sub.subscription_id, 2))
        .await
        .unwrap();
    assert_eq!(p2.amount.to_string(), "7.50 USD");
    // What Amazon charged: 5.00 then 7.50.
    let ledger = s.sandbox.ledger();
    let amounts: Vec<&str> = ledger["charges"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["chargePermissionId"] == w.wallet.wallet_id.as_str())
        .filter_map(|c| c["chargeAmount"]["amount"].as_str())
        .collect();
    assert_eq!(amounts.len(), 2, "{amounts:?}");
    assert!(
        amounts.contains(&"5.00") && amounts.contains(&"7.50"),
        "{amounts:?}"
    );
    let sub = s
        .store
        .get_subscription(&sub.subscription_id)
        .await
        .unwrap();
    assert_eq!(sub.price.to_string(), "7.50 USD");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_past_due_period_is_retried_on_the_new_wallet() {
    let s = stack(Region::Na).await;
    let w1 = s.wallet("alice", Preset::AlwaysApprove).await;
    let w2 = s.wallet("alice", Preset::AlwaysApprove).await;
    let plan = plan(&s, "minutely", "1.00", "minute").await;
    let (sub, _) = subscribe(&s, &w1, &plan, "k1").await;
    s.sandbox
        .change_card_behaviour(
            w1.wallet.wallet_id.as_str(),
            Preset::HardDeclineUntilUpdated,
        )
        .unwrap();
    s.advance(61);
    s.service.bill_due(100).await.unwrap();
    assert_eq!(
        s.store
            .get_subscription(&sub.subscription_id)
            .await
            .unwrap()
            .status,
        SubscriptionStatus::PastDue
    );
    let moved = s
        .service
        .change_subscription_wallet(
            &Caller::Customer(cust("alice")),
            &sub.subscription_id,
            &w2.wallet.wallet_id,
        )
        .await
        .unwrap();
    assert_eq!(moved.due_at, Some(s.sandbox.now()));
    assert_eq!(s.service.bill_due(100).await.unwrap().charged, 1);
    let sub = s
        .store
        .get_subscription(&sub.subscription_id)
        .await
        .unwrap();
    assert_eq!(
        (sub.status, sub.wallet_id.clone()),
        (SubscriptionStatus::Active, w2.wallet.wallet_id.clone())
    );
    // Another customer cannot move it.
    assert!(s
        .service
        .change_subscription_wallet(
            &Caller::Customer(cust("bob")),
            &sub.subscription_id,
            &w1.wallet.wallet_id
        )
        .await
        .is_err());
}

/// A renewal that Amazon declines softly after AuthorizationInitiated: the IPN's Get Charge
/// shows SoftDeclined, the service reads the permission (the page: Get Charge Permission
/// before retrying), schedules the retry on the dunning schedule, and the retry succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_asynchronous_soft_decline_is_retried_on_schedule() {
    let s = stack(Region::Na).await;
    let w = s.wallet("alice", Preset::AlwaysApprove).await;
    let plan = plan(&s, "minutely", "1.00", "minute").await;
    let (sub, _) = subscribe(&s, &w, &plan, "k1").await;
    s.sandbox
        .change_async_outcome(
            w.wallet.wallet_id.as_str(),
            savedwallet_sandbox::PendingOutcome::SoftDecline,
        )
        .unwrap();
    s.advance(61);
    assert_eq!(
        s.service.bill_due(100).await.unwrap().charged,
        1,
        "sent: pending"
    );
    let gcp = s.calls("GetChargePermission");
    s.advance(31);
    s.deliver_ipns().await;
    assert_eq!(
        s.calls("GetChargePermission"),
        gcp + 1,
        "the permission is read before a retry"
    );
    let after = s
        .store
        .get_subscription(&sub.subscription_id)
        .await
        .unwrap();
    assert!(
        matches!(
            after.dunning,
            Dunning::Retrying {
                failed_attempts: 1,
                ..
            }
        ),
        "{:?}",
        after.dunning
    );
    assert_eq!(after.status, SubscriptionStatus::PastDue);
    let retry_at = after.due_at.expect("a retry is scheduled");
    let p = s
        .store
        .get_payment(&PaymentId::for_period(&sub.subscription_id, 2))
        .await
        .unwrap();
    assert_eq!(p.status, PaymentStatus::Declined);
    assert_eq!(p.next_attempt_at, Some(retry_at));
    // The card recovers; at the retry time the period bills.
    s.sandbox
        .change_card_behaviour(w.wallet.wallet_id.as_str(), Preset::AlwaysApprove)
        .unwrap();
    s.advance((retry_at - s.sandbox.now()).num_seconds().max(0) as u64 + 1);
    assert_eq!(s.service.bill_due(100).await.unwrap().charged, 1);
    let after = s
        .store
        .get_subscription(&sub.subscription_id)
        .await
        .unwrap();
    assert_eq!(
        (after.status, after.period),
        (SubscriptionStatus::Active, 3)
    );
}

/// A subscription whose first payment was declined stays `incomplete` for 24 h; then the
/// reconciler cancels it (`first_payment_not_completed`) without anyone reading it, and
/// its first payment does not wake the reconciler again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconciler_cancels_a_subscription_whose_first_payment_never_succeeded() {
    let s = stack(Region::Na).await;
    let w = s.wallet("alice", Preset::AlwaysApprove).await;
    let plan = plan(&s, "monthly", "5.00", "month").await;
    s.sandbox
        .change_card_behaviour(w.wallet.wallet_id.as_str(), Preset::HardDeclineUntilUpdated)
        .unwrap();
    let (sub, first) = subscribe(&s, &w, &plan, "k1").await;
    assert_eq!(first.status, PaymentStatus::Declined);
    assert_eq!(sub.status, SubscriptionStatus::Incomplete);
    s.advance(23 * 3600);
    let r = s.service.reconcile(100).await.unwrap();
    assert_eq!(r.expired, 0, "not yet: {r:?}");
    let stored = s
        .store
        .get_subscription(&sub.subscription_id)
        .await
        .unwrap();
    assert_eq!(stored.status, SubscriptionStatus::Incomplete);
    s.advance(3600);
    let r = s.service.reconcile(100).await.unwrap();
    assert_eq!(r.expired, 1, "{r:?}");
    // Read from the store: a read through the service would cancel it itself.
    let stored = s
        .store
        .get_subscription(&sub.subscription_id)
        .await
        .unwrap();
    assert_eq!(stored.status, SubscriptionStatus::Canceled);
    assert_eq!(
        stored.cancel_reason,
        Some(CancelReason::FirstPaymentNotCompleted)
    );
    let kinds: Vec<String> = s
        .service
        .events(100, None)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(
        kinds.contains(&"subscription.canceled".to_string()),
        "{kinds:?}"
    );
    let p = s.store.get_payment(&first.payment_id).await.unwrap();
    assert_eq!(p.wake_at, None, "nothing left to wait for");
    s.advance(3600);
    assert_eq!(
        s.service.reconcile(100).await.unwrap(),
        Reconciled::default(),
        "nothing twice"
    );
}

/// Bounded by the budget: two expired subscriptions, a budget of one, one per run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiring_incomplete_subscriptions_counts_against_the_budget() {
    let s = stack(Region::Na).await;
    let plan = plan(&s, "monthly", "5.00", "month").await;
    // Two wallets: a hard decline flags its wallet, which refuses the next subscribe.
    for key in ["k1", "k2"] {
        let w = s.wallet("alice", Preset::AlwaysApprove).await;
        s.sandbox
            .change_card_behaviour(w.wallet.wallet_id.as_str(), Preset::HardDeclineUntilUpdated)
            .unwrap();
        let (sub, _) = subscribe(&s, &w, &plan, key).await;
        assert_eq!(sub.status, SubscriptionStatus::Incomplete);
    }
    s.advance(24 * 3600);
    let r = s.service.reconcile(1).await.unwrap();
    assert_eq!((r.examined, r.expired), (1, 1), "{r:?}");
    let r = s.service.reconcile(1).await.unwrap();
    assert_eq!((r.examined, r.expired), (1, 1), "{r:?}");
    assert_eq!(s.service.reconcile(1).await.unwrap().examined, 0);
}

/// The IPN of a fixed wallet wakes the waiting period of every subscription billed from it,
/// also one behind a hundred newer subscriptions of the owner (her list is paged through).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_wallet_wakes_a_waiting_period_past_the_first_page() {
    let s = stack_with(
        Region::Na,
        Knobs {
            hard_decline: HardDeclineEffect::NonChargeable,
            ..Knobs::default()
        },
    )
    .await;
    let w = s.wallet("alice", Preset::AlwaysApprove).await;
    let plan = plan(&s, "minutely", "1.00", "minute").await;
    let (sub, _) = subscribe(&s, &w, &plan, "k1").await;
    newer_subscriptions(&s, 100).await;
    assert!(!on_first_page(&s, &sub.subscription_id).await);
    s.sandbox
        .change_card_behaviour(w.wallet.wallet_id.as_str(), Preset::HardDeclineUntilUpdated)
        .unwrap();
    s.advance(61);
    s.deliver_ipns().await;
    s.service.bill_due(100).await.unwrap();
    s.deliver_ipns().await;
    let waiting = s
        .store
        .get_subscription(&sub.subscription_id)
        .await
        .unwrap();
    assert!(matches!(
        waiting.dunning,
        Dunning::AwaitingPaymentMethod { .. }
    ));
    s.advance(600);
    s.buyer
        .update_payment_method(&w.update_url, Preset::AlwaysApprove)
        .await
        .unwrap();
    s.deliver_ipns().await;
    let woken = s
        .store
        .get_subscription(&sub.subscription_id)
        .await
        .unwrap();
    assert_eq!(woken.due_at, Some(s.sandbox.now()), "billed at once");
    assert_eq!(woken.dunning, Dunning::Current);
}
