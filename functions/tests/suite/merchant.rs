//! The merchant view's lists across customers: every payment, subscriptions by status,
//! wallets waiting for a payment-method update — and that each follows the record as it
//! changes (a status change moves a subscription; clearing the flag drops a wallet).

use super::*;

fn ids<T>(items: &[T], id: impl Fn(&T) -> String) -> Vec<String> {
    items.iter().map(id).collect()
}

pub async fn merchant_view_lists<S: Store>(s: &S) {
    // Payments of three customers, newest first, paged with a cursor.
    for (i, owner) in ["ann", "ben", "cat"].iter().enumerate() {
        let w = stored_wallet(s, &format!("S01-3000000-000000{i}"), owner).await;
        let p = payment(
            order_kind(&format!("ord_m{i}")),
            owner,
            w.wallet_id.as_str(),
            eur(100),
            at(10 * i as i64),
        );
        recorded(s, &begin_new(&p, "w", at(10 * i as i64))).await;
    }
    let first = s.recent_payments(2, None).await.unwrap();
    let owners = ids(&first.items, |p| p.owner.to_string());
    assert_eq!(owners, ["cat", "ben"], "newest first, every customer");
    let rest = s.recent_payments(2, first.next.as_ref()).await.unwrap();
    assert_eq!(ids(&rest.items, |p| p.owner.to_string()), ["ann"]);
    assert!(rest.next.is_none());
    // The listed payment is the stored one, whole.
    let stored = s.get_payment(&first.items[0].payment_id).await.unwrap();
    assert_eq!(first.items[0], stored);

    // Subscriptions by status; a cancel moves one to `canceled`.
    let a = stored_subscription(
        s,
        subscription("sub_ma", "ann", "S01-3000000-0000000", at(5)),
    )
    .await;
    let mut past = subscription("sub_mb", "ben", "S01-3000000-0000001", at(5));
    past.status = SubscriptionStatus::PastDue;
    stored_subscription(s, past).await;
    let active = s
        .subscriptions_in(SubscriptionStatus::Active, 10, None)
        .await
        .unwrap();
    assert_eq!(
        ids(&active.items, |x| x.subscription_id.to_string()),
        ["sub_ma"]
    );
    let past_due = s
        .subscriptions_in(SubscriptionStatus::PastDue, 10, None)
        .await
        .unwrap();
    assert_eq!(
        ids(&past_due.items, |x| x.subscription_id.to_string()),
        ["sub_mb"]
    );
    s.edit_subscription(
        &a,
        &SubscriptionEdit::Cancel {
            at: at(20),
            reason: CancelReason::Merchant,
        },
        &[],
    )
    .await
    .unwrap();
    let active = s
        .subscriptions_in(SubscriptionStatus::Active, 10, None)
        .await
        .unwrap();
    assert!(active.items.is_empty(), "{:?}", active.items);
    let canceled = s
        .subscriptions_in(SubscriptionStatus::Canceled, 10, None)
        .await
        .unwrap();
    assert_eq!(
        ids(&canceled.items, |x| x.subscription_id.to_string()),
        ["sub_ma"]
    );
    assert_eq!(canceled.items[0].status, SubscriptionStatus::Canceled);

    // Wallets: only the flagged ones, and only while flagged.
    assert!(s
        .wallets_to_update(10, None)
        .await
        .unwrap()
        .items
        .is_empty());
    let w = s.get_wallet(&wid("S01-3000000-0000001")).await.unwrap();
    let flagged = s
        .update_wallet(
            &Wallet {
                update_required: true,
                update_required_since: Some(at(30)),
                state: ChargePermissionState::NonChargeable,
                updated_at: at(30),
                ..w
            },
            &[],
        )
        .await
        .unwrap();
    let to_update = s.wallets_to_update(10, None).await.unwrap();
    assert_eq!(ids(&to_update.items, |x| x.owner.to_string()), ["ben"]);
    s.update_wallet(
        &Wallet {
            update_required: false,
            update_required_since: None,
            state: ChargePermissionState::Chargeable,
            updated_at: at(40),
            ..flagged
        },
        &[],
    )
    .await
    .unwrap();
    assert!(s
        .wallets_to_update(10, None)
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(matches!(
        s.recent_payments(0, None).await,
        Err(StoreError::Invalid(_))
    ));
}
