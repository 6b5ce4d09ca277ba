//! The MFA return (EU/UK customer-initiated charges): approve, fail (the seed's message),
//! abandon, complete twice (one Complete call to Amazon), 24 h expiry, and sessions that
//! belong to someone or something else — under both positions of the failed-MFA knob.

use crate::common::*;
use savedwallet_app::error::ServiceError;
use savedwallet_app::ids::*;
use savedwallet_app::store::*;
use savedwallet_app::usecases::*;
use savedwallet_sandbox::buyer::returned_session;
use savedwallet_sandbox::{Knobs, MfaFailureEffect, MfaOutcome, Preset};
use savedwallet_shared::api::ChargePermissionState;
use savedwallet_shared::decline::FAILED_MFA_MESSAGE;
use savedwallet_shared::region::Region;

/// Pays a new order that needs MFA; returns the payment and its redirect URL.
async fn mfa_payment(s: &Stack, w: &WalletView) -> (Payment, String) {
    let order = s.order("alice", 2000, true).await;
    let p = s.pay("alice", &order, &w.wallet.wallet_id).await.unwrap();
    assert_eq!(p.status, PaymentStatus::ActionRequired);
    assert!(p.expires_at.is_some());
    let url = p.redirect_url.clone().expect("redirect URL");
    assert!(
        url.starts_with(s.sandbox.base_url()),
        "Amazon's (the sandbox's) host: {url}"
    );
    (p, url)
}

fn sid(return_url: &str) -> CheckoutSessionId {
    assert!(
        return_url.contains("paymentId="),
        "the service appended paymentId: {return_url}"
    );
    CheckoutSessionId::parse(&returned_session(return_url).expect("session")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_challenge_completes_once() {
    let s = stack(Region::Eu).await;
    let w = s.wallet("alice", Preset::MfaRequired).await;
    let (p, url) = mfa_payment(&s, &w).await;
    let back = s.buyer.challenge(&url, MfaOutcome::Approved).await.unwrap();
    let session = sid(&back);
    let done = s
        .service
        .complete_payment(&cust("alice"), &p.payment_id, &session)
        .await
        .unwrap();
    assert_eq!(done.status, PaymentStatus::Succeeded);
    let again = s
        .service
        .complete_payment(&cust("alice"), &p.payment_id, &session)
        .await
        .unwrap();
    assert_eq!(again.status, PaymentStatus::Succeeded);
    assert_eq!(
        s.calls("CompleteCheckoutSession"),
        2,
        "setup + one MFA completion"
    );
    assert_eq!(s.charges(&w.wallet.wallet_id).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_completions_call_amazon_once() {
    let s = std::sync::Arc::new(stack(Region::Eu).await);
    let w = s.wallet("alice", Preset::MfaRequired).await;
    let (p, url) = mfa_payment(&s, &w).await;
    let session = sid(&s.buyer.challenge(&url, MfaOutcome::Approved).await.unwrap());
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (s, pid, session) = (s.clone(), p.payment_id.clone(), session.clone());
        tasks.push(tokio::spawn(async move {
            s.service
                .complete_payment(&cust("alice"), &pid, &session)
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(p) => {
                assert_eq!(p.status, PaymentStatus::Succeeded);
                ok += 1;
            }
            Err(ServiceError::PaymentInProgress(_)) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert!(ok >= 1);
    assert_eq!(
        s.calls("CompleteCheckoutSession"),
        2,
        "setup + exactly one completion"
    );
}

async fn failed_challenge(effect: MfaFailureEffect) {
    let knobs = Knobs {
        mfa_failure: effect,
        ..Knobs::default()
    };
    let s = stack_with(Region::Eu, knobs).await;
    let w = s.wallet("alice", Preset::MfaRequired).await;
    let (p, url) = mfa_payment(&s, &w).await;
    let session = sid(&s.buyer.challenge(&url, MfaOutcome::Failed).await.unwrap());
    let done = s
        .service
        .complete_payment(&cust("alice"), &p.payment_id, &session)
        .await
        .unwrap();
    assert_eq!(done.status, PaymentStatus::Declined, "{effect:?}");
    assert_eq!(done.message.as_deref(), Some(FAILED_MFA_MESSAGE));
    assert_eq!(
        done.buyer_action.as_ref().map(|b| b.kind),
        Some(BuyerActionKind::UseAnotherMethod)
    );
    let view = s
        .service
        .get_wallet(&Caller::Customer(cust("alice")), &w.wallet.wallet_id)
        .await
        .unwrap();
    let expected = match effect {
        MfaFailureEffect::NonChargeable => ChargePermissionState::NonChargeable,
        MfaFailureEffect::StaysChargeable => ChargePermissionState::Chargeable,
    };
    assert_eq!(view.wallet.state, expected);
    assert_eq!(
        s.charges(&w.wallet.wallet_id).len(),
        1,
        "the declined challenge's charge only"
    );
    let usage = view.usage.used.minor_units();
    assert_eq!(usage, 0, "a declined charge gives its usage back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_challenge_leaves_the_permission_non_chargeable() {
    failed_challenge(MfaFailureEffect::NonChargeable).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_challenge_leaves_the_permission_chargeable() {
    failed_challenge(MfaFailureEffect::StaysChargeable).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_or_expired_challenge_cancels_the_payment() {
    let s = stack(Region::Eu).await;
    let w = s.wallet("alice", Preset::MfaRequired).await;
    let (p, url) = mfa_payment(&s, &w).await;
    let session = sid(&s
        .buyer
        .challenge(&url, MfaOutcome::Abandoned)
        .await
        .unwrap());
    let done = s
        .service
        .complete_payment(&cust("alice"), &p.payment_id, &session)
        .await
        .unwrap();
    assert_eq!(done.status, PaymentStatus::Canceled);
    assert_eq!(done.message.as_deref(), Some(FAILED_MFA_MESSAGE));
    // Not completed within 24 h: void.
    let (p2, _) = mfa_payment(&s, &w).await;
    s.advance(24 * 3600 + 1);
    let read = s
        .service
        .get_payment(&Caller::Customer(cust("alice")), &p2.payment_id)
        .await
        .unwrap();
    assert_eq!(read.payment.status, PaymentStatus::Canceled);
    assert_eq!(read.attempts[0].state, AttemptState::Canceled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_of_someone_else_completes_nothing() {
    let s = stack(Region::Eu).await;
    let w = s.wallet("alice", Preset::MfaRequired).await;
    let (p1, url1) = mfa_payment(&s, &w).await;
    let (p2, url2) = mfa_payment(&s, &w).await;
    let s1 = sid(&s
        .buyer
        .challenge(&url1, MfaOutcome::Approved)
        .await
        .unwrap());
    let _ = sid(&s
        .buyer
        .challenge(&url2, MfaOutcome::Approved)
        .await
        .unwrap());
    // Another customer replaying a leaked session id: 404, nothing completed.
    assert!(matches!(
        s.service
            .complete_payment(&cust("mallory"), &p1.payment_id, &s1)
            .await,
        Err(ServiceError::NotFound { .. })
    ));
    // The buyer's own session of another payment: 409.
    assert!(matches!(
        s.service
            .complete_payment(&cust("alice"), &p2.payment_id, &s1)
            .await,
        Err(ServiceError::CheckoutSessionMismatch)
    ));
    assert_eq!(s.calls("CompleteCheckoutSession"), 1, "only the setup");
    let done = s
        .service
        .complete_payment(&cust("alice"), &p1.payment_id, &s1)
        .await
        .unwrap();
    assert_eq!(done.status, PaymentStatus::Succeeded);
    // A leaked wallet-setup session cannot attach anyone's wallet to another customer.
    let started = s
        .service
        .start_wallet_setup(&cust("alice"), &format!("{FRONTEND}/w"))
        .await
        .unwrap();
    let back = s
        .buyer
        .consent(&started.redirect_url, Preset::AlwaysApprove)
        .await
        .unwrap();
    let leaked = CheckoutSessionId::parse(&returned_session(&back).unwrap()).unwrap();
    assert!(matches!(
        s.service
            .complete_wallet_setup(&cust("mallory"), &leaked)
            .await,
        Err(ServiceError::NotFound { .. })
    ));
    assert!(s
        .service
        .list_wallets(&cust("mallory"), 10, None)
        .await
        .unwrap()
        .items
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eu_charges_need_a_return_url() {
    let s = stack(Region::Eu).await;
    let w = s.wallet("alice", Preset::MfaRequired).await;
    let order = s.order("alice", 100, true).await;
    let r = s
        .service
        .pay_order(
            &cust("alice"),
            PayOrder {
                order_id: order.order_id.clone(),
                wallet_id: w.wallet.wallet_id.clone(),
                return_url: None,
            },
        )
        .await;
    assert!(
        matches!(r, Err(ServiceError::InvalidRequest { param: Some(ref p), .. }) if p == "checkoutResultReturnUrl"),
        "{r:?}"
    );
    let r = s
        .service
        .pay_order(
            &cust("alice"),
            PayOrder {
                order_id: order.order_id.clone(),
                wallet_id: w.wallet.wallet_id.clone(),
                return_url: Some("https://evil.example/r".into()),
            },
        )
        .await;
    assert!(
        matches!(r, Err(ServiceError::ReturnUrlNotAllowed { .. })),
        "{r:?}"
    );
    assert_eq!(s.calls("CreateCharge"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconciler_voids_challenges_nobody_completed() {
    let s = stack(Region::Eu).await;
    let w = s.wallet("alice", Preset::MfaRequired).await;
    let (p, _) = mfa_payment(&s, &w).await;
    s.advance(3600);
    assert_eq!(s.service.reconcile(100).await.unwrap().voided, 0, "not yet");
    s.advance(23 * 3600 + 1);
    assert_eq!(s.service.reconcile(100).await.unwrap().voided, 1);
    let stored = s.store.get_payment(&p.payment_id).await.unwrap();
    assert_eq!(stored.status, PaymentStatus::Canceled);
    let usage = s
        .service
        .get_wallet(&Caller::Customer(cust("alice")), &w.wallet.wallet_id)
        .await
        .unwrap()
        .usage;
    assert_eq!(
        usage.used.minor_units(),
        0,
        "a voided payment gives its usage back"
    );
}

/// A first payment whose challenge nobody took: 24 h later one reconciler pass voids it and
/// cancels its `incomplete` subscription.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_first_challenge_ends_its_subscription() {
    let s = stack(Region::Eu).await;
    let w = s.wallet("alice", Preset::MfaRequired).await;
    let plan = plan(&s, "monthly", "5.00", "month").await;
    let (sub, first) = subscribe(&s, &w, &plan, "k1").await;
    assert_eq!(first.status, PaymentStatus::ActionRequired);
    assert_eq!(sub.status, SubscriptionStatus::Incomplete);
    s.advance(24 * 3600 + 1);
    let r = s.service.reconcile(100).await.unwrap();
    assert_eq!((r.voided, r.expired), (1, 1), "{r:?}");
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
    let p = s.store.get_payment(&first.payment_id).await.unwrap();
    assert_eq!(p.status, PaymentStatus::Canceled);
    assert_eq!(
        s.service.reconcile(100).await.unwrap(),
        Reconciled::default(),
        "nothing twice"
    );
}
