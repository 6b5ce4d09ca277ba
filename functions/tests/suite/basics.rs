//! Wallets, plans, orders, checkout bindings, lists and the limits every adapter enforces.

use super::*;
use crate::common::Raw;
use savedwallet_functions::store::item::{Item, Val};
use savedwallet_functions::store::schema::keys;

pub async fn wallets<S: Store + Raw>(s: &S) {
    let w = stored_wallet(s, "S01-1000000-0000001", "alice").await;
    assert_eq!(w.version, 1);
    assert_eq!(s.get_wallet(&w.wallet_id).await.unwrap(), w);
    match s
        .create_wallet(&wallet("S01-1000000-0000001", "mallory"), &[])
        .await
    {
        Err(StoreError::AlreadyExists {
            current: Some(c), ..
        }) => {
            // A wallet never changes owner: the stored one wins and is returned.
            assert!(matches!(*c, Record::Wallet(ref x) if x.owner == cust("alice")));
        }
        other => panic!("{other:?}"),
    }
    let mut changed = w.clone();
    changed.state = ChargePermissionState::NonChargeable;
    let v2 = s.update_wallet(&changed, &[]).await.unwrap();
    assert_eq!(v2.version, 2);
    // A writer holding the old version loses, and is told the current record.
    match s.update_wallet(&w, &[]).await {
        Err(StoreError::VersionConflict {
            current: Some(c), ..
        }) => {
            assert!(matches!(*c, Record::Wallet(ref x) if x.version == 2));
        }
        other => panic!("{other:?}"),
    }
    // An update with an event writes both or neither.
    let ev = event("evt_w1", "wallet.update_required", at(1));
    let v3 = s
        .update_wallet(
            &Wallet {
                updated_at: at(1),
                ..v2.clone()
            },
            std::slice::from_ref(&ev),
        )
        .await
        .unwrap();
    assert_eq!(v3.version, 3);
    let page = s.events_since(None, 10, at(2)).await.unwrap();
    assert_eq!(page.items, vec![ev.clone()]);
    assert!(matches!(
        s.update_wallet(&v2, &[event("evt_w2", "x", at(3))]).await,
        Err(StoreError::VersionConflict { .. })
    ));
    assert_eq!(
        s.events_since(None, 10, at(4)).await.unwrap().items.len(),
        1
    );
    assert!(matches!(
        s.get_wallet(&wid("S01-9999999-9999999")).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn lists_newest_first_with_cursors<S: Store + Raw>(s: &S) {
    for i in 0..5 {
        let mut w = wallet(&format!("S01-2000000-000000{i}"), "bob");
        w.created_at = at(i);
        s.create_wallet(&w, &[]).await.unwrap();
    }
    stored_wallet(s, "S01-2000000-0000099", "carol").await;
    let first = s.wallets_of(&cust("bob"), 2, None).await.unwrap();
    let ids: Vec<_> = first
        .items
        .iter()
        .map(|w| w.wallet_id.to_string())
        .collect();
    assert_eq!(ids, ["S01-2000000-0000004", "S01-2000000-0000003"]);
    let mut all = ids.clone();
    let mut cursor = first.next.clone();
    while let Some(c) = cursor {
        let page = s.wallets_of(&cust("bob"), 2, Some(&c)).await.unwrap();
        all.extend(page.items.iter().map(|w| w.wallet_id.to_string()));
        cursor = page.next;
    }
    assert_eq!(all.len(), 5, "{all:?}");
    assert!(all.windows(2).all(|p| p[0] > p[1]), "newest first: {all:?}");
    // A cursor of one customer's list never continues another's.
    let foreign = first.next.clone().unwrap();
    assert!(matches!(
        s.wallets_of(&cust("carol"), 2, Some(&foreign)).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.wallets_of(&cust("bob"), 2, Some(&Cursor("zz".into())))
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.wallets_of(&cust("bob"), 0, None).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(
        s.wallets_of(&cust("nobody"), 10, None).await.unwrap().items,
        vec![]
    );
}

pub async fn catalog<S: Store + Raw>(s: &S) {
    let plan = Plan {
        plan_id: PlanId::parse("gold").unwrap(),
        name: "Gold".into(),
        price: eur(999),
        interval: BillingInterval {
            unit: IntervalUnit::Month,
            count: 1,
        },
        active: true,
        created_at: t0(),
        updated_at: t0(),
        version: 0,
    };
    let p1 = s.put_plan(&plan).await.unwrap();
    assert_eq!(p1.version, 1);
    assert!(matches!(
        s.put_plan(&plan).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    let p2 = s
        .put_plan(&Plan {
            price: eur(1299),
            ..p1.clone()
        })
        .await
        .unwrap();
    assert_eq!(s.get_plan(&plan.plan_id).await.unwrap(), p2);
    assert_eq!(s.list_plans().await.unwrap(), vec![p2]);

    let order = Order {
        order_id: OrderId::parse("ord_1").unwrap(),
        owner: cust("alice"),
        amount: eur(2500),
        description: "Book".into(),
        capture_now: false,
        soft_descriptor: None,
        payment_id: None,
        created_at: t0(),
        version: 0,
    };
    let o = s.create_order(&order).await.unwrap();
    assert_eq!(s.get_order(&order.order_id).await.unwrap(), o);
    assert!(matches!(
        s.create_order(&order).await,
        Err(StoreError::AlreadyExists { .. })
    ));

    let binding = CheckoutBinding {
        checkout_session_id: CheckoutSessionId::parse("bd504926-f659-4ad7-a1a9-9a747aaf5275")
            .unwrap(),
        owner: cust("alice"),
        purpose: CheckoutPurpose::Setup,
        wallet_id: None,
        created_at: t0(),
        version: 0,
    };
    let b = s.bind_checkout(&binding).await.unwrap();
    // A session binds to one customer, once: a second binding (another customer replaying
    // a leaked id) is refused and shows the owner.
    match s
        .bind_checkout(&CheckoutBinding {
            owner: cust("mallory"),
            ..binding.clone()
        })
        .await
    {
        Err(StoreError::AlreadyExists {
            current: Some(c), ..
        }) => {
            assert!(matches!(*c, Record::Checkout(ref x) if x.owner == cust("alice")));
        }
        other => panic!("{other:?}"),
    }
    let done = s
        .complete_checkout(&CheckoutBinding {
            wallet_id: Some(wid("S01-1111111-1111111")),
            ..b.clone()
        })
        .await
        .unwrap();
    assert_eq!(
        s.get_checkout(&binding.checkout_session_id).await.unwrap(),
        done
    );
    assert!(matches!(
        s.complete_checkout(&b).await,
        Err(StoreError::VersionConflict { .. })
    ));
}

pub async fn bad_data_is_an_error<S: Store + Raw>(s: &S) {
    let w = stored_wallet(s, "S01-3000000-0000001", "alice").await;
    let key = keys::wallet(w.wallet_id.as_str());
    let mut item = s.raw_get(key.clone()).await.unwrap();
    item.insert("state".into(), Val::N(3));
    s.raw_put(key.clone(), item).await.unwrap();
    assert!(matches!(
        s.get_wallet(&w.wallet_id).await,
        Err(StoreError::Decode { .. })
    ));
    let mut item: Item = key.to_item();
    item.insert("type".into(), Val::s("wallet"));
    s.raw_put(key, item).await.unwrap();
    assert!(matches!(
        s.get_wallet(&w.wallet_id).await,
        Err(StoreError::Decode { .. })
    ));
}

pub async fn limits_are_dynamodbs<S: Store + Raw>(s: &S) {
    // An item over 400 KB fails on every adapter as it would on AWS, and nothing is written.
    let mut w = wallet("S01-4000000-0000001", "alice");
    w.payment_descriptor = Some("x".repeat(410 * 1024));
    match s.create_wallet(&w, &[]).await {
        Err(StoreError::Invalid(_)) | Err(StoreError::Backend(_)) => {}
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.get_wallet(&w.wallet_id).await,
        Err(StoreError::NotFound { .. })
    ));
    // A transaction of more than 100 items likewise.
    let events: Vec<_> = (0..101)
        .map(|i| event(&format!("evt_big{i}"), "x", at(i)))
        .collect();
    match s
        .create_wallet(&wallet("S01-4000000-0000002", "alice"), &events)
        .await
    {
        Err(StoreError::Invalid(_)) | Err(StoreError::Backend(_)) => {}
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.get_wallet(&wid("S01-4000000-0000002")).await,
        Err(StoreError::NotFound { .. })
    ));
}
