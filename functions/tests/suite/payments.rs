//! Payments and attempts: one open attempt per logical charge, fixed keys and bodies,
//! final states stay final, usage counted and released exactly once, refunds within the
//! captured amount.

use super::*;
use crate::common::Raw;
use savedwallet_functions::store::schema::keys;

async fn usage<S: Store>(s: &S, wallet: &str, month: UsageMonth) -> i64 {
    s.monthly_usage(&wid(wallet), month)
        .await
        .unwrap()
        .map(|u| u.total.minor_units())
        .unwrap_or(0)
}

pub async fn begin_checks_wallet_and_cap<S: Store + Raw>(s: &S) {
    let month = UsageMonth::of(t0());
    stored_wallet(s, "S01-5000000-0000001", "alice").await;
    // Another customer's wallet: refused, nothing written.
    let p = payment(
        order_kind("o1"),
        "mallory",
        "S01-5000000-0000001",
        eur(100),
        t0(),
    );
    assert_eq!(
        refusal(
            s.begin_attempt(&begin_new(&p, "w", t0()))
                .await
                .unwrap_err()
        ),
        Refusal::WalletMismatch
    );
    assert!(matches!(
        s.get_payment(&p.payment_id).await,
        Err(StoreError::NotFound { .. })
    ));
    // Another currency: refused.
    let p = payment(
        order_kind("o2"),
        "alice",
        "S01-5000000-0000001",
        Price::from_minor(100, Currency::USD),
        t0(),
    );
    let mut b = begin_new(&p, "w", t0());
    b.monthly_cap = Price::from_minor(1_500_000, Currency::USD);
    assert_eq!(
        refusal(s.begin_attempt(&b).await.unwrap_err()),
        Refusal::WalletMismatch
    );
    // Over the cap: refused with the month's usage; nothing counted.
    let p = payment(
        order_kind("o3"),
        "alice",
        "S01-5000000-0000001",
        eur(600),
        t0(),
    );
    recorded(s, &begin_new(&p, "w", t0())).await;
    assert_eq!(usage(s, "S01-5000000-0000001", month).await, 600);
    let p = payment(
        order_kind("o4"),
        "alice",
        "S01-5000000-0000001",
        eur(500),
        t0(),
    );
    let mut b = begin_new(&p, "w", t0());
    b.monthly_cap = eur(1000);
    match s.begin_attempt(&b).await {
        Err(StoreError::LimitExceeded { used, cap, .. }) => {
            assert_eq!(used, Some(eur(600)));
            assert_eq!(cap, eur(1000));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(usage(s, "S01-5000000-0000001", month).await, 600);
    assert!(matches!(
        s.get_payment(&p.payment_id).await,
        Err(StoreError::NotFound { .. })
    ));
    // Exactly up to the cap is fine.
    b.monthly_cap = eur(1100);
    recorded(s, &b).await;
    assert_eq!(usage(s, "S01-5000000-0000001", month).await, 1100);
    // A wallet that is not Chargeable as stored, or flagged for an update: refused.
    let mut w = s.get_wallet(&wid("S01-5000000-0000001")).await.unwrap();
    w.update_required = true;
    s.update_wallet(&w, &[]).await.unwrap();
    let p = payment(
        order_kind("o5"),
        "alice",
        "S01-5000000-0000001",
        eur(1),
        t0(),
    );
    assert_eq!(
        refusal(
            s.begin_attempt(&begin_new(&p, "w", t0()))
                .await
                .unwrap_err()
        ),
        Refusal::WalletNotChargeable
    );
    // The usage month must be the attempt's own.
    let p = payment(
        order_kind("o6"),
        "alice",
        "S01-5000000-0000001",
        eur(1),
        t0(),
    );
    let mut b = begin_new(&p, "w", t0());
    b.attempt.usage_month = UsageMonth::of(t0()).next();
    assert!(matches!(
        s.begin_attempt(&b).await,
        Err(StoreError::Invalid(_))
    ));
}

pub async fn one_open_attempt_per_payment<S: Store + Raw>(s: &S) {
    stored_wallet(s, "S01-5100000-0000001", "alice").await;
    let p = payment(
        mitu_kind("r1"),
        "alice",
        "S01-5100000-0000001",
        eur(100),
        t0(),
    );
    let (p1, a1) = recorded(s, &begin_new(&p, "w1", t0())).await;
    // The same payment again (another worker, another request): refused.
    match s.begin_attempt(&begin_new(&p, "w2", t0())).await {
        Err(StoreError::Refused {
            refusal: Refusal::AttemptOpen { attempt: 1 },
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // A next attempt while attempt 1 is open: refused.
    assert_eq!(
        refusal(
            s.begin_attempt(&begin_next(&p1, "w2", at(1)))
                .await
                .unwrap_err()
        ),
        Refusal::AttemptOpen { attempt: 1 }
    );
    // Pending (AuthorizationInitiated) is still open.
    let fin = s
        .finish_attempt(&finish(&p1, &a1, AttemptState::Pending, at(2)))
        .await
        .unwrap();
    assert_eq!(
        refusal(
            s.begin_attempt(&begin_next(&fin.payment, "w2", at(3)))
                .await
                .unwrap_err()
        ),
        Refusal::AttemptOpen { attempt: 1 }
    );
    // Declined closes it: attempt 2 may start, with its own key.
    let fin = s
        .finish_attempt(&finish(
            &fin.payment,
            &fin.attempt,
            AttemptState::Declined,
            at(4),
        ))
        .await
        .unwrap();
    let (p2, a2) = recorded(s, &begin_next(&fin.payment, "w2", at(5))).await;
    assert_eq!(a2.attempt, 2);
    assert_ne!(a2.idempotency_key, a1.idempotency_key);
    // Captured: no attempt ever again.
    let fin = s
        .finish_attempt(&finish(&p2, &a2, AttemptState::Captured, at(6)))
        .await
        .unwrap();
    assert_eq!(
        refusal(
            s.begin_attempt(&begin_next(&fin.payment, "w3", at(7)))
                .await
                .unwrap_err()
        ),
        Refusal::PaymentNotRetryable {
            status: PaymentStatus::Succeeded
        }
    );
    let (payment, attempts) = s.payment_with_attempts(&p.payment_id).await.unwrap();
    assert_eq!(payment.status, PaymentStatus::Succeeded);
    assert_eq!(
        attempts.iter().map(|a| a.state).collect::<Vec<_>>(),
        [AttemptState::Declined, AttemptState::Captured]
    );
    assert_eq!(
        s.attempt_by_charge(&fin.attempt.charge_id.clone().unwrap())
            .await
            .unwrap()
            .attempt,
        2
    );
}

pub async fn an_order_has_one_payment<S: Store + Raw>(s: &S) {
    stored_wallet(s, "S01-5200000-0000001", "alice").await;
    let order = s
        .create_order(&Order {
            order_id: OrderId::parse("ord_once").unwrap(),
            owner: cust("alice"),
            amount: eur(700),
            description: "x".into(),
            capture_now: true,
            soft_descriptor: None,
            payment_id: None,
            created_at: t0(),
            version: 0,
        })
        .await
        .unwrap();
    let p = payment(
        order_kind("ord_once"),
        "alice",
        "S01-5200000-0000001",
        eur(700),
        t0(),
    );
    let mut b = begin_new(&p, "req-1", t0());
    b.order = Some(order.order_id.clone());
    recorded(s, &b).await;
    let stored = s.get_order(&order.order_id).await.unwrap();
    assert_eq!(stored.payment_id, Some(p.payment_id.clone()));
    // Another customer cannot pay it (order owner checked in the same transaction).
    stored_wallet(s, "S01-5200000-0000002", "mallory").await;
    let mut other = payment(
        order_kind("ord_once"),
        "mallory",
        "S01-5200000-0000002",
        eur(700),
        t0(),
    );
    other.payment_id = PaymentId::parse("pay_other").unwrap();
    let mut b = begin_new(&other, "req-2", t0());
    b.order = Some(order.order_id.clone());
    assert!(matches!(
        s.begin_attempt(&b).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn finish_keeps_keys_and_final_states<S: Store + Raw>(s: &S) {
    let month = UsageMonth::of(t0());
    stored_wallet(s, "S01-5300000-0000001", "alice").await;
    let p = payment(
        mitu_kind("r2"),
        "alice",
        "S01-5300000-0000001",
        eur(300),
        t0(),
    );
    let (p1, a1) = recorded(s, &begin_new(&p, "w", t0())).await;
    // A finish cannot change the key or the body: they are not among the written fields.
    let mut f = finish(&p1, &a1, AttemptState::Captured, at(1));
    f.attempt.idempotency_key =
        savedwallet_shared::idempotency::IdempotencyKey::parse("other").unwrap();
    f.attempt.request_body = "{}".into();
    let done = s.finish_attempt(&f).await.unwrap();
    let stored = s.get_attempt(&p.payment_id, 1).await.unwrap();
    assert_eq!(stored.idempotency_key, a1.idempotency_key);
    assert_eq!(stored.request_body, a1.request_body);
    assert_eq!(stored.state, AttemptState::Captured);
    // Captured → Declined is refused: it would release the usage of real money.
    let f = finish(&done.payment, &stored, AttemptState::Declined, at(2));
    assert_eq!(
        refusal(s.finish_attempt(&f).await.unwrap_err()),
        Refusal::IllegalTransition {
            from: AttemptState::Captured,
            to: AttemptState::Declined
        }
    );
    assert_eq!(usage(s, "S01-5300000-0000001", month).await, 300);
    // A payment that disagrees with its attempt is refused before anything is sent.
    let p = payment(
        mitu_kind("r3"),
        "alice",
        "S01-5300000-0000001",
        eur(50),
        t0(),
    );
    let (p1, a1) = recorded(s, &begin_new(&p, "w", t0())).await;
    let mut f = finish(&p1, &a1, AttemptState::Declined, at(1));
    f.payment.open_attempt = Some(1);
    assert!(matches!(
        s.finish_attempt(&f).await,
        Err(StoreError::Invalid(_))
    ));
    // Declined releases once; the attempt says so; a stale second finish loses.
    let f = finish(&p1, &a1, AttemptState::Declined, at(1));
    s.finish_attempt(&f).await.unwrap();
    assert_eq!(usage(s, "S01-5300000-0000001", month).await, 300);
    assert!(
        s.get_attempt(&p.payment_id, 1)
            .await
            .unwrap()
            .usage_released
    );
    assert!(matches!(
        s.finish_attempt(&finish(&p1, &a1, AttemptState::Canceled, at(2)))
            .await,
        Err(StoreError::VersionConflict { .. })
    ));
    assert_eq!(usage(s, "S01-5300000-0000001", month).await, 300);
    // Authorized then canceled (a voided authorization): released too.
    let p = payment(
        mitu_kind("r4"),
        "alice",
        "S01-5300000-0000001",
        eur(40),
        t0(),
    );
    let (p1, a1) = recorded(s, &begin_new(&p, "w", t0())).await;
    let f1 = s
        .finish_attempt(&finish(&p1, &a1, AttemptState::Authorized, at(1)))
        .await
        .unwrap();
    assert_eq!(usage(s, "S01-5300000-0000001", month).await, 340);
    s.finish_attempt(&finish(
        &f1.payment,
        &f1.attempt,
        AttemptState::Canceled,
        at(2),
    ))
    .await
    .unwrap();
    assert_eq!(usage(s, "S01-5300000-0000001", month).await, 300);
}

pub async fn usage_month_is_the_attempts_own<S: Store + Raw>(s: &S) {
    // Counted in November by its own timestamp; declined in December, it is given back
    // to November — never taken from December's fresh counter.
    let nov = Utc.with_ymd_and_hms(2026, 11, 30, 23, 59, 59).unwrap();
    let dec = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 1).unwrap();
    stored_wallet(s, "S01-5400000-0000001", "alice").await;
    let p = payment(
        mitu_kind("r5"),
        "alice",
        "S01-5400000-0000001",
        eur(100),
        nov,
    );
    let (p1, a1) = recorded(s, &begin_new(&p, "w", nov)).await;
    let other = payment(
        mitu_kind("r6"),
        "alice",
        "S01-5400000-0000001",
        eur(70),
        dec,
    );
    recorded(s, &begin_new(&other, "w", dec)).await;
    assert_eq!(
        usage(s, "S01-5400000-0000001", UsageMonth::of(nov)).await,
        100
    );
    assert_eq!(
        usage(s, "S01-5400000-0000001", UsageMonth::of(dec)).await,
        70
    );
    s.finish_attempt(&finish(&p1, &a1, AttemptState::Declined, dec))
        .await
        .unwrap();
    assert_eq!(
        usage(s, "S01-5400000-0000001", UsageMonth::of(nov)).await,
        0
    );
    assert_eq!(
        usage(s, "S01-5400000-0000001", UsageMonth::of(dec)).await,
        70
    );
}

pub async fn update_payment_is_annotation_only<S: Store + Raw>(s: &S) {
    stored_wallet(s, "S01-5500000-0000001", "alice").await;
    let p = payment(
        mitu_kind("r7"),
        "alice",
        "S01-5500000-0000001",
        eur(100),
        t0(),
    );
    let (p1, _) = recorded(s, &begin_new(&p, "w", t0())).await;
    let later = s
        .update_payment(
            &Payment {
                wake_at: Some(at(600)),
                ..p1.clone()
            },
            &[],
        )
        .await
        .unwrap();
    assert_eq!(s.get_payment(&p.payment_id).await.unwrap(), later);
    // Changing what the attempt rules guard is refused.
    let sneaky = Payment {
        status: PaymentStatus::Declined,
        open_attempt: None,
        ..later.clone()
    };
    assert!(matches!(
        s.update_payment(&sneaky, &[]).await,
        Err(StoreError::VersionConflict { .. })
    ));
    assert_eq!(
        s.get_payment(&p.payment_id).await.unwrap().open_attempt,
        Some(1)
    );
}

pub async fn refunds_stay_within_captured<S: Store + Raw>(s: &S) {
    stored_wallet(s, "S01-5600000-0000001", "alice").await;
    let p = payment(
        mitu_kind("r8"),
        "alice",
        "S01-5600000-0000001",
        eur(1000),
        t0(),
    );
    let (p1, a1) = recorded(s, &begin_new(&p, "w", t0())).await;
    let captured = s
        .finish_attempt(&finish(&p1, &a1, AttemptState::Captured, at(1)))
        .await
        .unwrap()
        .payment;
    let refund = |id: &str, amount: i64| Refund {
        refund_id: RefundId::parse(id).unwrap(),
        payment_id: p.payment_id.clone(),
        owner: cust("alice"),
        charge_id: captured.charge_id.clone().unwrap(),
        amazon_refund_id: None,
        amount: eur(amount),
        reason: None,
        state: RefundState::Pending,
        reason_code: None,
        idempotency_key: savedwallet_shared::idempotency::IdempotencyKey::parse(id).unwrap(),
        request_body: "{}".into(),
        created_at: at(2),
        updated_at: at(2),
        version: 0,
    };
    let r1 = s
        .begin_refund(&refund("rf_1", 600), eur(1000), &[])
        .await
        .unwrap();
    assert_eq!(
        refusal(
            s.begin_refund(&refund("rf_2", 401), eur(1000), &[])
                .await
                .unwrap_err()
        ),
        Refusal::RefundExceedsCaptured
    );
    let r3 = s
        .begin_refund(&refund("rf_3", 400), eur(1000), &[])
        .await
        .unwrap();
    assert_eq!(
        s.get_payment(&p.payment_id).await.unwrap().refunded,
        eur(1000)
    );
    // A failed refund gives its reservation back, once.
    let failed = s
        .finish_refund(
            &Refund {
                state: RefundState::Failed,
                amazon_refund_id: Some("S01-5600000-0000001-R000001".into()),
                ..r3.clone()
            },
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        s.get_payment(&p.payment_id).await.unwrap().refunded,
        eur(600)
    );
    assert!(matches!(
        s.finish_refund(
            &Refund {
                state: RefundState::Failed,
                ..failed.clone()
            },
            &[]
        )
        .await,
        Err(StoreError::VersionConflict { .. })
    ));
    assert_eq!(
        s.get_payment(&p.payment_id).await.unwrap().refunded,
        eur(600)
    );
    assert_eq!(
        s.refund_by_amazon_id("S01-5600000-0000001-R000001")
            .await
            .unwrap(),
        failed
    );
    s.finish_refund(
        &Refund {
            state: RefundState::Succeeded,
            ..r1
        },
        &[],
    )
    .await
    .unwrap();
    // Not captured: nothing to refund.
    let p = payment(
        mitu_kind("r9"),
        "alice",
        "S01-5600000-0000001",
        eur(10),
        t0(),
    );
    recorded(s, &begin_new(&p, "w", t0())).await;
    let mut r = refund("rf_4", 5);
    r.payment_id = p.payment_id.clone();
    assert_eq!(
        refusal(s.begin_refund(&r, eur(10), &[]).await.unwrap_err()),
        Refusal::NotCaptured
    );
    assert!(s.raw_get(keys::refund("rf_4")).await.is_none());
}
