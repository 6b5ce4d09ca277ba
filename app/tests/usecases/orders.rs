//! Orders (CITU), capture, refunds, monthly limits and lost responses, over the real
//! simulator.

use crate::common::*;
use savedwallet_app::error::ServiceError;
use savedwallet_app::ids::*;
use savedwallet_app::store::*;
use savedwallet_app::usecases::*;
use savedwallet_app::validate::MoneyInput;
use savedwallet_sandbox::{FaultConfig, Preset};
use savedwallet_shared::region::Region;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_paid_once() {
    let s = stack(Region::Na).await;
    let w = s.wallet("alice", Preset::AlwaysApprove).await;
    assert_eq!(w.wallet.owner, cust("alice"));
    let order = s.order("alice", 1400, true).await;
    let p = s
        .pay("alice", &order, &w.wallet.wallet_id)
        .await
        .expect("paid");
    assert_eq!(p.status, PaymentStatus::Succeeded);
    assert_eq!(p.captured, Some(order.amount));
    assert_eq!(s.charges(&w.wallet.wallet_id).len(), 1);
    // Once per order.
    match s.pay("alice", &order, &w.wallet.wallet_id).await {
        Err(ServiceError::OrderHasPayment { payment_id }) => {
            assert_eq!(payment_id, Some(p.payment_id.clone()))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.calls("CreateCharge"), 1);
    // Another customer sees nothing of it.
    let bob = Caller::Customer(cust("bob"));
    assert!(matches!(
        s.service.get_payment(&bob, &p.payment_id).await,
        Err(ServiceError::NotFound { .. })
    ));
    assert!(matches!(
        s.pay("bob", &order, &w.wallet.wallet_id).await,
        Err(ServiceError::NotFound { .. })
    ));
    let detail = s
        .service
        .get_payment(&Caller::Customer(cust("alice")), &p.payment_id)
        .await
        .unwrap();
    assert_eq!(detail.attempts.len(), 1);
    assert_eq!(detail.attempts[0].state, AttemptState::Captured);
    // Usage counted.
    let view = s
        .service
        .get_wallet(&Caller::Customer(cust("alice")), &w.wallet.wallet_id)
        .await
        .unwrap();
    assert_eq!(view.usage.used, order.amount);
    // The charge's IPN finds the record already final: no Get Charge spends the quota.
    let gets = s.calls("GetCharge");
    let outcomes = s.deliver_ipns().await;
    assert!(
        outcomes.contains(&IpnOutcome::Ignored("charge already final")),
        "{outcomes:?}"
    );
    assert_eq!(s.calls("GetCharge"), gets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorize_then_capture_and_refund() {
    let s = stack(Region::Na).await;
    let w = s.wallet("alice", Preset::AlwaysApprove).await;
    let order = s.order("alice", 5000, false).await;
    let p = s.pay("alice", &order, &w.wallet.wallet_id).await.unwrap();
    assert_eq!(p.status, PaymentStatus::Authorized);
    let captured = s
        .service
        .capture_payment(&p.payment_id, None)
        .await
        .unwrap();
    assert_eq!(captured.status, PaymentStatus::Succeeded);
    assert_eq!(captured.captured, Some(order.amount));
    // One capture: a repeat answers the same.
    let again = s
        .service
        .capture_payment(&p.payment_id, None)
        .await
        .unwrap();
    assert_eq!(again.status, PaymentStatus::Succeeded);
    assert_eq!(s.calls("CaptureCharge"), 1);
    let money = |a: &str| MoneyInput {
        amount: a.into(),
        currency_code: "USD".into(),
    };
    let r = s
        .service
        .refund_payment(NewRefund {
            payment_id: p.payment_id.clone(),
            amount: money("30.00"),
            reason: Some("damaged".into()),
            scope: b"refund-1".to_vec(),
        })
        .await
        .unwrap();
    assert_eq!(r.state, RefundState::Pending);
    // The same request again (idempotency scope) is the same refund.
    let same = s
        .service
        .refund_payment(NewRefund {
            payment_id: p.payment_id.clone(),
            amount: money("30.00"),
            reason: Some("damaged".into()),
            scope: b"refund-1".to_vec(),
        })
        .await
        .unwrap();
    assert_eq!(same.refund_id, r.refund_id);
    assert!(matches!(
        s.service
            .refund_payment(NewRefund {
                payment_id: p.payment_id.clone(),
                amount: money("20.01"),
                reason: None,
                scope: b"refund-2".to_vec(),
            })
            .await,
        Err(ServiceError::RefundExceedsCaptured)
    ));
    assert_eq!(s.calls("CreateRefund"), 1);
    // The simulator settles it; the IPN brings Refunded.
    s.advance(31);
    let outcomes = s.deliver_ipns().await;
    assert!(outcomes.contains(&IpnOutcome::Applied), "{outcomes:?}");
    let done = s.service.get_refund(&r.refund_id).await.unwrap();
    assert_eq!(done.state, RefundState::Succeeded);
    let events = s.service.events(100, None).await.unwrap();
    assert!(events.items.iter().any(|e| e.kind == "refund.succeeded"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monthly_limit_is_never_sent_past() {
    let s = stack(Region::Na).await;
    let w = s.wallet("alice", Preset::LowLimit).await;
    assert_eq!(w.usage.limit.minor_units(), 10_000, "low-limit: 100 USD");
    let o1 = s.order("alice", 6000, true).await;
    s.pay("alice", &o1, &w.wallet.wallet_id).await.unwrap();
    let before = s.calls("CreateCharge");
    let o2 = s.order("alice", 6000, true).await;
    match s.pay("alice", &o2, &w.wallet.wallet_id).await {
        Err(ServiceError::MonthlyLimitExceeded(u)) => {
            assert_eq!(u.used.minor_units(), 6000);
            assert_eq!(u.limit.minor_units(), 10_000);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.calls("CreateCharge"), before, "nothing sent to Amazon");
    assert!(s
        .service
        .store()
        .get_order(&o2.order_id)
        .await
        .unwrap()
        .payment_id
        .is_none());
    // The next UTC month has room again.
    let now = s.sandbox.now();
    let next = savedwallet_shared::limits::next_month_start(now);
    s.advance((next - now).num_seconds() as u64 + 1);
    let p = s.pay("alice", &o2, &w.wallet.wallet_id).await.unwrap();
    assert_eq!(p.status, PaymentStatus::Succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_response_is_one_charge() {
    let s = stack(Region::Na).await;
    let w = s.wallet("alice", Preset::AlwaysApprove).await;
    s.sandbox
        .set_faults(FaultConfig {
            drop_response_rate: 1.0,
            remaining: Some(1),
            operations: Some(vec!["CreateCharge".into()]),
            ..Default::default()
        })
        .unwrap();
    let order = s.order("alice", 2500, true).await;
    let p = s.pay("alice", &order, &w.wallet.wallet_id).await.unwrap();
    // The client resent the same key and body: Amazon's stored answer, no second charge.
    assert_eq!(p.status, PaymentStatus::Succeeded);
    assert_eq!(s.charges(&w.wallet.wallet_id).len(), 1);
    assert_eq!(s.calls("CreateCharge"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_charge_is_its_own_logical_charge() {
    let s = stack(Region::Na).await;
    let w = s.wallet("alice", Preset::AlwaysApprove).await;
    let req = || MerchantCharge {
        wallet_id: w.wallet.wallet_id.clone(),
        amount: MoneyInput {
            amount: "7.50".into(),
            currency_code: "USD".into(),
        },
        reason: "late fee".into(),
        scope: b"admin-key-1".to_vec(),
    };
    let (p, made) = s.service.merchant_charge(req()).await.unwrap();
    assert!(made);
    assert_eq!(p.status, PaymentStatus::Succeeded);
    let (again, made) = s.service.merchant_charge(req()).await.unwrap();
    assert!(!made);
    assert_eq!(again.payment_id, p.payment_id);
    assert_eq!(s.charges(&w.wallet.wallet_id).len(), 1);
    assert!(matches!(
        s.service
            .merchant_charge(MerchantCharge {
                amount: MoneyInput {
                    amount: "7.5".into(),
                    currency_code: "USD".into()
                },
                scope: b"admin-key-2".to_vec(),
                ..req()
            })
            .await,
        Err(ServiceError::InvalidRequest { .. })
    ));
    let _ = PaymentId::for_unscheduled(b"x");
}

/// Create Refund applied by Amazon but every answer lost: the refund stays pending with
/// its key and body; the merchant's retried request (or a later read) resends exactly
/// those, and Amazon's ledger holds one refund.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_whose_answers_were_lost_is_resent_not_repeated() {
    let s = stack(Region::Na).await;
    let w = s.wallet("alice", Preset::AlwaysApprove).await;
    let order = s.order("alice", 4000, true).await;
    let p = s.pay("alice", &order, &w.wallet.wallet_id).await.unwrap();
    s.sandbox
        .set_faults(FaultConfig {
            drop_response_rate: 1.0,
            remaining: Some(3),
            operations: Some(vec!["CreateRefund".into()]),
            ..Default::default()
        })
        .unwrap();
    let req = || NewRefund {
        payment_id: p.payment_id.clone(),
        amount: MoneyInput {
            amount: "10.00".into(),
            currency_code: "USD".into(),
        },
        reason: None,
        scope: b"refund-lost".to_vec(),
    };
    let first = s.service.refund_payment(req()).await.unwrap();
    assert_eq!(first.state, RefundState::Pending);
    assert_eq!(first.amazon_refund_id, None, "no answer came back");
    // The merchant retries the request (same Idempotency-Key → same refund).
    let again = s.service.refund_payment(req()).await.unwrap();
    assert_eq!(again.refund_id, first.refund_id);
    assert!(again.amazon_refund_id.is_some(), "Amazon's stored answer");
    let ledger = s.sandbox.ledger();
    assert_eq!(
        ledger["refunds"].as_array().map(|a| a.len()),
        Some(1),
        "one refund at Amazon"
    );
}

/// A stale pending refund is resent on read at most once per `unknown_replay_after`: a
/// resend that gets no answer either records its time, so the reads right after it answer
/// the stored refund without calling Create Refund again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_resent_on_read_is_not_resent_by_every_read() {
    let s = stack(Region::Na).await;
    let w = s.wallet("alice", Preset::AlwaysApprove).await;
    let order = s.order("alice", 4000, true).await;
    let p = s.pay("alice", &order, &w.wallet.wallet_id).await.unwrap();
    let lose_answers = || {
        s.sandbox
            .set_faults(FaultConfig {
                drop_response_rate: 1.0,
                remaining: Some(3),
                operations: Some(vec!["CreateRefund".into()]),
                ..Default::default()
            })
            .unwrap()
    };
    lose_answers();
    let first = s
        .service
        .refund_payment(NewRefund {
            payment_id: p.payment_id.clone(),
            amount: MoneyInput {
                amount: "10.00".into(),
                currency_code: "USD".into(),
            },
            reason: None,
            scope: b"refund-read".to_vec(),
        })
        .await
        .unwrap();
    assert_eq!(first.state, RefundState::Pending);
    assert_eq!(first.amazon_refund_id, None);
    // Within the window: no resend.
    let sends = s.calls("CreateRefund");
    s.advance(30);
    let r = s.service.get_refund(&first.refund_id).await.unwrap();
    assert_eq!(r.amazon_refund_id, None);
    assert_eq!(s.calls("CreateRefund"), sends, "fresh: not resent");
    // Stale: resent once, and again no answer.
    s.advance(31);
    lose_answers();
    let r = s.service.get_refund(&first.refund_id).await.unwrap();
    assert_eq!(r.state, RefundState::Pending);
    assert_eq!(r.amazon_refund_id, None);
    assert!(s.calls("CreateRefund") > sends, "stale: resent");
    assert_eq!(r.updated_at, s.sandbox.now(), "the resend is recorded");
    let sends = s.calls("CreateRefund");
    // Reads right after it do not call Amazon again (the answers would come back now).
    for _ in 0..3 {
        s.advance(10);
        let again = s.service.get_refund(&first.refund_id).await.unwrap();
        assert_eq!(again.amazon_refund_id, None);
    }
    assert_eq!(s.calls("CreateRefund"), sends, "one resend per window");
    // A window after the last send: resent, answered, still one refund at Amazon.
    s.advance(31);
    let done = s.service.get_refund(&first.refund_id).await.unwrap();
    assert!(done.amazon_refund_id.is_some(), "{done:?}");
    assert_eq!(s.calls("CreateRefund"), sends + 1);
    assert_eq!(
        s.sandbox.ledger()["refunds"].as_array().map(|a| a.len()),
        Some(1),
        "one refund at Amazon"
    );
}
