//! Declines as Amazon's page prescribes: soft declines (Get Charge Permission, then a new
//! attempt), hard declines (the update link, nothing charged until the IPN), pending
//! authorizations resolved by IPN, and closed wallets — under every position of the
//! simulator's hard-decline knob.

use crate::common::*;
use savedwallet_app::error::ServiceError;
use savedwallet_app::store::*;
use savedwallet_app::usecases::*;
use savedwallet_app::validate::MoneyInput;
use savedwallet_sandbox::{HardDeclineEffect, Knobs, Preset};
use savedwallet_shared::api::{ChargePermissionState, ReasonCode};
use savedwallet_shared::region::Region;

fn alice() -> Caller {
    Caller::Customer(cust("alice"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soft_decline_is_retried_after_the_permission_check() {
    let s = stack(Region::Na).await;
    let w = s.wallet("alice", Preset::SoftDecline).await; // two soft declines, then approves
    let order = s.order("alice", 1000, true).await;
    let p = s.pay("alice", &order, &w.wallet.wallet_id).await.unwrap();
    // Attempt 1 soft-declined → Get Charge Permission (Chargeable) → attempt 2, also soft.
    assert_eq!(p.status, PaymentStatus::Declined);
    assert_eq!(p.decline_code, Some(ReasonCode::SoftDeclined));
    assert_eq!(
        p.buyer_action.as_ref().map(|b| b.kind),
        Some(BuyerActionKind::RetryLater)
    );
    assert_eq!(p.attempt_count, 2);
    assert_eq!(
        s.calls("GetChargePermission"),
        3,
        "setup + one per soft decline"
    );
    // The buyer tries again: attempt 3, a new key, succeeds.
    let (p, made) = s
        .service
        .retry_payment(
            &alice(),
            RetryPayment {
                payment_id: p.payment_id.clone(),
                wallet_id: None,
                return_url: None,
            },
        )
        .await
        .unwrap();
    assert!(made);
    assert_eq!(p.status, PaymentStatus::Succeeded);
    let detail = s
        .service
        .get_payment(&alice(), &p.payment_id)
        .await
        .unwrap();
    let keys: std::collections::HashSet<_> = detail
        .attempts
        .iter()
        .map(|a| a.idempotency_key.clone())
        .collect();
    assert_eq!(keys.len(), 3, "one key per attempt");
    assert_eq!(s.charges(&w.wallet.wallet_id).len(), 1, "one charge");
    // A succeeded payment takes no further attempt.
    assert!(matches!(
        s.service
            .retry_payment(
                &alice(),
                RetryPayment {
                    payment_id: p.payment_id.clone(),
                    wallet_id: None,
                    return_url: None
                }
            )
            .await,
        Err(ServiceError::PaymentInProgress(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_chargeable_permission_is_not_retried() {
    let s = stack(Region::Na).await;
    let w = s.wallet("alice", Preset::AlwaysApprove).await;
    // Amazon's permission changed and no IPN reached us yet: our record still says Chargeable.
    s.sandbox
        .set_permission_state(
            w.wallet.wallet_id.as_str(),
            ChargePermissionState::NonChargeable,
            Some(ReasonCode::PaymentMethodExpired),
        )
        .unwrap();
    let order = s.order("alice", 1000, true).await;
    let p = s.pay("alice", &order, &w.wallet.wallet_id).await.unwrap();
    assert_eq!(p.status, PaymentStatus::Declined);
    assert_eq!(p.attempt_count, 1, "no retry");
    assert_eq!(s.calls("CreateCharge"), 1);
    assert_eq!(
        p.buyer_action.as_ref().map(|b| b.kind),
        Some(BuyerActionKind::UpdatePaymentMethod)
    );
    let view = s
        .service
        .get_wallet(&alice(), &w.wallet.wallet_id)
        .await
        .unwrap();
    assert_eq!(view.wallet.state, ChargePermissionState::NonChargeable);
}

async fn hard_decline_then_update(effect: HardDeclineEffect) {
    let knobs = Knobs {
        hard_decline: effect,
        ..Knobs::default()
    };
    let s = stack_with(Region::Na, knobs).await;
    let w = s.wallet("alice", Preset::HardDeclineUntilUpdated).await;
    let wid = w.wallet.wallet_id.clone();
    let o1 = s.order("alice", 1200, true).await;
    let p = s.pay("alice", &o1, &wid).await.unwrap();
    assert_eq!(p.status, PaymentStatus::Declined, "{effect:?}");
    assert_eq!(p.decline_code, Some(ReasonCode::HardDeclined));
    let action = p.buyer_action.clone().expect("buyer action");
    assert_eq!(action.kind, BuyerActionKind::UpdatePaymentMethod);
    let url = action.url.expect("update link");
    assert_eq!(
        url,
        s.sandbox.payment_method_update_url(wid.as_str()),
        "the sandbox's link in local mode"
    );
    let view = s.service.get_wallet(&alice(), &wid).await.unwrap();
    assert!(view.wallet.update_required);
    // IPNs published before the buyer acted change nothing.
    s.deliver_ipns().await;
    assert!(
        s.service
            .get_wallet(&alice(), &wid)
            .await
            .unwrap()
            .wallet
            .update_required
    );
    // Nothing is charged meanwhile.
    let o2 = s.order("alice", 800, true).await;
    let before = s.calls("CreateCharge");
    assert!(matches!(
        s.pay("alice", &o2, &wid).await,
        Err(ServiceError::WalletNotChargeable {
            buyer_action: Some(_)
        })
    ));
    assert_eq!(s.calls("CreateCharge"), before);
    // Later, the buyer updates the method on Amazon's page; the IPN brings Chargeable.
    s.advance(60);
    s.buyer
        .update_payment_method(&url, Preset::AlwaysApprove)
        .await
        .unwrap();
    let outcomes = s.deliver_ipns().await;
    assert!(outcomes.contains(&IpnOutcome::Applied), "{outcomes:?}");
    let view = s.service.get_wallet(&alice(), &wid).await.unwrap();
    assert!(view.wallet.is_chargeable(), "{effect:?}: {:?}", view.wallet);
    let p2 = s.pay("alice", &o2, &wid).await.unwrap();
    assert_eq!(p2.status, PaymentStatus::Succeeded);
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
        kinds.contains(&"wallet.update_required".to_string()),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"wallet.chargeable".to_string()),
        "{kinds:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hard_decline_with_a_non_chargeable_permission() {
    hard_decline_then_update(HardDeclineEffect::NonChargeable).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hard_decline_with_a_permission_that_stays_chargeable() {
    hard_decline_then_update(HardDeclineEffect::StaysChargeable).await;
}

fn mitu(w: &WalletView, amount: &str, key: &[u8]) -> MerchantCharge {
    MerchantCharge {
        wallet_id: w.wallet.wallet_id.clone(),
        amount: MoneyInput {
            amount: amount.into(),
            currency_code: "USD".into(),
        },
        reason: "usage".into(),
        scope: key.to_vec(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_authorizations_are_resolved_by_the_ipn() {
    let s = stack(Region::Na).await;
    let ok = s.wallet("alice", Preset::AsyncApprove).await;
    let bad = s.wallet("alice", Preset::AsyncDecline).await;
    let (p1, _) = s
        .service
        .merchant_charge(mitu(&ok, "9.99", b"k1"))
        .await
        .unwrap();
    let (p2, _) = s
        .service
        .merchant_charge(mitu(&bad, "9.99", b"k2"))
        .await
        .unwrap();
    assert_eq!(p1.status, PaymentStatus::Pending);
    assert_eq!(p2.status, PaymentStatus::Pending);
    assert!(
        p1.wake_at.is_some(),
        "the reconciler looks again if no IPN comes"
    );
    s.advance(31);
    s.deliver_ipns().await;
    let p1 = s
        .service
        .get_payment(&Caller::Merchant, &p1.payment_id)
        .await
        .unwrap()
        .payment;
    let p2 = s
        .service
        .get_payment(&Caller::Merchant, &p2.payment_id)
        .await
        .unwrap()
        .payment;
    assert_eq!(p1.status, PaymentStatus::Succeeded);
    assert_eq!(p2.status, PaymentStatus::Declined);
    assert_eq!(p2.decline_code, Some(ReasonCode::HardDeclined));
    // A duplicate delivery changes nothing and is reported as such.
    let ledger = s.sandbox.ledger();
    let m: savedwallet_shared::api::IpnMessage =
        serde_json::from_value(ledger["ipnPublished"][0].clone()).unwrap();
    let again = s
        .service
        .process_ipn(&VerifiedIpn {
            message_id: "x".into(),
            published: s.sandbox.now(),
            message: m,
        })
        .await
        .unwrap();
    assert_eq!(again, IpnOutcome::Duplicate);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_buyer_closes_the_wallet_on_amazon() {
    let s = stack(Region::Na).await;
    let w = s.wallet("alice", Preset::AlwaysApprove).await;
    let plan = savedwallet_app::ids::PlanId::parse("gold").unwrap();
    s.service
        .put_plan(
            &plan,
            PlanInput {
                name: "Gold".into(),
                price: MoneyInput {
                    amount: "9.99".into(),
                    currency_code: "USD".into(),
                },
                interval: "month".into(),
                interval_count: 1,
                active: None,
            },
        )
        .await
        .unwrap();
    let (sub, p, _) = s
        .service
        .subscribe(
            &cust("alice"),
            Subscribe {
                wallet_id: w.wallet.wallet_id.clone(),
                plan_id: plan,
                return_url: None,
                scope: b"s1".to_vec(),
            },
        )
        .await
        .unwrap();
    assert_eq!(p.status, PaymentStatus::Succeeded);
    let sub = s
        .store
        .get_subscription(&sub.subscription_id)
        .await
        .unwrap();
    assert_eq!(sub.status, SubscriptionStatus::Active);
    s.buyer.close_wallet(&w.update_url).await.unwrap();
    s.deliver_ipns().await;
    let view = s
        .service
        .get_wallet(&alice(), &w.wallet.wallet_id)
        .await
        .unwrap();
    assert_eq!(view.wallet.state, ChargePermissionState::Closed);
    let sub = s
        .store
        .get_subscription(&sub.subscription_id)
        .await
        .unwrap();
    assert_eq!(sub.status, SubscriptionStatus::Canceled);
    assert_eq!(sub.cancel_reason, Some(CancelReason::WalletClosed));
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
        kinds.contains(&"wallet.closed".to_string())
            && kinds.contains(&"subscription.canceled".to_string()),
        "{kinds:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_merchant_closes_a_wallet() {
    let s = stack(Region::Na).await;
    let w = s.wallet("alice", Preset::AlwaysApprove).await;
    let closed = s
        .service
        .close_wallet(&alice(), &w.wallet.wallet_id)
        .await
        .unwrap();
    assert_eq!(closed.wallet.state, ChargePermissionState::Closed);
    // A repeat answers the closed wallet; another customer gets 404.
    let again = s
        .service
        .close_wallet(&alice(), &w.wallet.wallet_id)
        .await
        .unwrap();
    assert_eq!(again.wallet.state, ChargePermissionState::Closed);
    assert_eq!(s.calls("CloseChargePermission"), 1);
    assert!(matches!(
        s.service
            .close_wallet(&Caller::Customer(cust("bob")), &w.wallet.wallet_id)
            .await,
        Err(ServiceError::NotFound { .. })
    ));
    let order = s.order("alice", 100, true).await;
    assert!(matches!(
        s.pay("alice", &order, &w.wallet.wallet_id).await,
        Err(ServiceError::WalletNotChargeable { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconciler_resolves_what_never_got_an_answer() {
    use savedwallet_sandbox::FaultConfig;
    let s = stack(Region::Na).await;
    let w = s.wallet("alice", Preset::AlwaysApprove).await;
    // Amazon charges, but every answer is lost (the client's resends too).
    s.sandbox
        .set_faults(FaultConfig {
            drop_response_rate: 1.0,
            remaining: Some(3),
            operations: Some(vec!["CreateCharge".into()]),
            ..Default::default()
        })
        .unwrap();
    let order = s.order("alice", 1500, true).await;
    let p = s.pay("alice", &order, &w.wallet.wallet_id).await.unwrap();
    assert_eq!(
        p.status,
        PaymentStatus::Pending,
        "no timeout for the buyer: pending"
    );
    assert_eq!(p.open_attempt, Some(1));
    assert_eq!(
        s.charges(&w.wallet.wallet_id).len(),
        1,
        "Amazon made the charge"
    );
    s.advance(61);
    let r = s.service.reconcile(100).await.unwrap();
    assert_eq!(r.replayed, 1);
    let done = s
        .service
        .get_payment(&alice(), &p.payment_id)
        .await
        .unwrap();
    assert_eq!(done.payment.status, PaymentStatus::Succeeded);
    assert_eq!(done.attempts.len(), 1);
    assert_eq!(
        s.charges(&w.wallet.wallet_id).len(),
        1,
        "the replay found the charge: still one"
    );
    // A second run has nothing left to do.
    assert_eq!(s.service.reconcile(100).await.unwrap().replayed, 0);
    // The buyer's retry of an unanswered payment replays that very attempt (same key,
    // same body), never a new attempt beside it.
    s.sandbox
        .set_faults(FaultConfig {
            drop_response_rate: 1.0,
            remaining: Some(3),
            operations: Some(vec!["CreateCharge".into()]),
            ..Default::default()
        })
        .unwrap();
    let o2 = s.order("alice", 900, true).await;
    let p2 = s.pay("alice", &o2, &w.wallet.wallet_id).await.unwrap();
    assert_eq!(p2.status, PaymentStatus::Pending);
    let (p2, _) = s
        .service
        .retry_payment(
            &alice(),
            RetryPayment {
                payment_id: p2.payment_id.clone(),
                wallet_id: None,
                return_url: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(p2.status, PaymentStatus::Succeeded);
    assert_eq!(p2.attempt_count, 1);
    assert_eq!(
        s.charges(&w.wallet.wallet_id).len(),
        2,
        "one charge per order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconciler_reads_pending_charges_whose_ipn_never_came() {
    let s = stack(Region::Na).await;
    let w = s.wallet("alice", Preset::AsyncApprove).await;
    let (p, _) = s
        .service
        .merchant_charge(mitu(&w, "3.00", b"k"))
        .await
        .unwrap();
    assert_eq!(p.status, PaymentStatus::Pending);
    s.advance(15 * 60 + 1);
    // The IPN is lost (never delivered); the reconciler asks Get Charge instead.
    let r = s.service.reconcile(100).await.unwrap();
    assert_eq!(r.refreshed, 1);
    let done = s
        .service
        .get_payment(&Caller::Merchant, &p.payment_id)
        .await
        .unwrap()
        .payment;
    assert_eq!(done.status, PaymentStatus::Succeeded);
}

/// Closing a wallet cancels the pending charge of each of its subscriptions, also of one
/// behind a hundred newer subscriptions of the owner (her list is paged through).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_wallet_cancels_pending_charges_past_the_first_page() {
    let s = stack(Region::Na).await;
    let w = s.wallet("alice", Preset::AlwaysApprove).await;
    let plan = plan(&s, "minutely", "1.00", "minute").await;
    let (sub, _) = subscribe(&s, &w, &plan, "k1").await;
    // Period 2 (MITR) is authorized asynchronously: pending at Amazon.
    s.sandbox
        .change_card_behaviour(w.wallet.wallet_id.as_str(), Preset::AsyncApprove)
        .unwrap();
    s.advance(61);
    assert_eq!(s.service.bill_due(100).await.unwrap().charged, 1);
    let p2 = savedwallet_app::ids::PaymentId::for_period(&sub.subscription_id, 2);
    assert_eq!(
        s.store.get_payment(&p2).await.unwrap().status,
        PaymentStatus::Pending
    );
    newer_subscriptions(&s, 100).await;
    assert!(!on_first_page(&s, &sub.subscription_id).await);
    s.service
        .close_wallet(&alice(), &w.wallet.wallet_id)
        .await
        .unwrap();
    assert_eq!(s.calls("CancelCharge"), 1);
    assert_eq!(
        s.store.get_payment(&p2).await.unwrap().status,
        PaymentStatus::Canceled
    );
    let ended = s
        .store
        .get_subscription(&sub.subscription_id)
        .await
        .unwrap();
    // (Its reason is the canceled charge's, `dunning_exhausted`: the charge is canceled
    // before the wallet closes.)
    assert_eq!(ended.status, SubscriptionStatus::Canceled);
}
