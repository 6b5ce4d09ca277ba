//! IPNs delivered twice and out of order (the sandbox's SNS sender with duplicateRate and
//! reorderRate 1.0): the same flows end in the same states as with a clean delivery, and
//! every notification is processed once — the service reads each object from Amazon as
//! often as it does when nothing is duplicated, and the merchant hears of each change once.

use std::collections::BTreeMap;

use reqwest::Method;
use savedwallet_tests::{Preset, System};
use serde_json::{json, Value};

fn eur(amount: &str) -> Value {
    json!({ "amount": amount, "currencyCode": "EUR" })
}

/// What a run of [`flow`] ends with.
#[derive(Debug, PartialEq)]
struct Outcome {
    /// Final states: payment, refund, wallets.
    states: Vec<(String, Value)>,
    /// Amazon reads of objects (Get Charge, Get Charge Permission, Get Refund).
    reads: BTreeMap<String, u64>,
    /// Merchant event types with their counts.
    events: BTreeMap<String, usize>,
}

/// An authorization captured and partly refunded, a hard decline fixed on Amazon's page,
/// a wallet the buyer closes — mostly without a jobs pass in between, so held-back IPNs
/// overtake each other.
async fn flow(sys: &System) -> Outcome {
    let token = sys.token("cust_ipn").await;
    let paying = sys.wallet_id(&token, Preset::AlwaysApprove).await;
    let fixed = sys.wallet_id(&token, Preset::HardDeclineUntilUpdated).await;
    let closing = sys.wallet_id(&token, Preset::AlwaysApprove).await;

    let order = sys.order("cust_ipn", "30.00", false).await;
    let paid = sys.pay(&token, &order, &paying).await;
    assert_eq!(paid.ok(201)["status"], "authorized");
    let pid = paid.body["paymentId"].as_str().expect("id").to_string();
    let captured = sys
        .admin_call(
            Method::POST,
            &format!("/admin/v1/payments/{pid}/capture"),
            None,
            None,
        )
        .await;
    assert_eq!(captured.ok(200)["status"], "succeeded");
    let refund = sys
        .admin_call(
            Method::POST,
            &format!("/admin/v1/payments/{pid}/refunds"),
            Some(json!({ "amount": eur("10.00") })),
            Some("refund-ipn"),
        )
        .await;
    let rid = refund.ok(201)["refundId"].as_str().expect("id").to_string();

    let order2 = sys.order("cust_ipn", "12.00", true).await;
    let declined = sys.pay(&token, &order2, &fixed).await;
    assert_eq!(declined.ok(201)["declineCode"], "HardDeclined");
    let update = declined.body["buyerAction"]["url"]
        .as_str()
        .expect("url")
        .to_string();
    // The decline's NonChargeable IPN is applied before the buyer fixes the method (a
    // clean delivery would otherwise race the buyer, and the merchant events with it).
    sys.jobs().await;
    // The buyer comes back a minute later (the frozen test clock moves only when told; on
    // Amazon the update's notification is always published after the decline).
    sys.advance(60).await;
    sys.buyer
        .update_payment_method(&update, Preset::AlwaysApprove)
        .await
        .expect("update page");

    let page = sys.get_wallet(&token, &closing).await["paymentMethodUpdateUrl"]
        .as_str()
        .expect("url")
        .to_string();
    sys.buyer.close_wallet(&page).await.expect("account page");

    sys.advance(31).await; // past the refund delay
    sys.jobs().await;
    let order3 = sys.order("cust_ipn", "5.00", true).await;
    let after_fix = sys.pay(&token, &order3, &fixed).await;
    assert_eq!(
        after_fix.ok(201)["status"],
        "succeeded",
        "{:#}",
        after_fix.body
    );
    sys.jobs().await;

    let p = sys.admin_payment(&pid).await;
    let r = sys
        .admin_call(Method::GET, &format!("/admin/v1/refunds/{rid}"), None, None)
        .await
        .ok(200)
        .clone();
    let mut states = vec![
        (
            "payment".to_string(),
            json!([p["status"], p["captured"], p["refunded"]]),
        ),
        ("refund".to_string(), r["state"].clone()),
    ];
    for (name, id) in [
        ("fixed", &fixed),
        ("closing", &closing),
        ("paying", &paying),
    ] {
        let w = sys.get_wallet(&token, id).await;
        states.push((
            name.to_string(),
            json!([w["state"], w["reasons"], w["updateRequired"]]),
        ));
    }
    let ledger = sys.ledger().await;
    let reads = ["GetCharge", "GetChargePermission", "GetRefund"]
        .iter()
        .map(|op| (op.to_string(), ledger["apiCalls"][op].as_u64().unwrap_or(0)))
        .collect();
    let mut events = BTreeMap::new();
    for t in sys.event_types().await {
        *events.entry(t).or_insert(0) += 1;
    }
    Outcome {
        states,
        reads,
        events,
    }
}

/// The delivery records of the API's `/ipn` (notifications only), in delivery order.
async fn deliveries(sys: &System) -> Vec<Value> {
    let mut d: Vec<Value> = sys.ledger().await["ipnDeliveries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|d| d["endpoint"] == sys.stack.info.ipn_url.as_str())
        .filter(|d| d["messageType"] == "Notification")
        .collect();
    d.sort_by_key(|d| d["sequence"].as_u64());
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_and_reordered_ipns_are_processed_once() {
    let (clean, faulty) = tokio::join!(
        System::start(),
        System::start_with(|o| {
            o.ipn_duplicate_rate = 1.0;
            o.ipn_reorder_rate = 1.0;
        })
    );
    let (expected, got) = tokio::join!(flow(&clean), flow(&faulty));

    // The faults did happen: every notification twice, and some overtaken.
    let published: Vec<Value> = faulty.ledger().await["ipnPublished"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let delivered = deliveries(&faulty).await;
    assert_eq!(delivered.len(), 2 * published.len(), "{delivered:#?}");
    assert_eq!(
        delivered.iter().filter(|d| d["duplicate"] == true).count(),
        published.len()
    );
    assert!(
        delivered
            .iter()
            .all(|d| d["status"]["status"] == "delivered" && d["status"]["httpStatus"] == 200),
        "every copy answered 200: {delivered:#?}"
    );
    let order_published: Vec<&Value> = published.iter().map(|m| &m["NotificationId"]).collect();
    let mut order_delivered: Vec<&Value> = Vec::new();
    for d in &delivered {
        if !order_delivered.contains(&&d["notificationId"]) {
            order_delivered.push(&d["notificationId"]);
        }
    }
    assert_ne!(
        order_published, order_delivered,
        "some IPNs overtook others"
    );
    assert_eq!(
        deliveries(&clean).await.len(),
        clean.ledger().await["ipnPublished"]
            .as_array()
            .map(Vec::len)
            .unwrap_or(0)
    );

    // Same end states, same events, the same reads of permissions and refunds: processed
    // once. Get Charge depends on timing: an IPN for a charge the record already holds as
    // final (Create Charge's answer, or a later notification that came first) needs no
    // read. Each distinct charge notification reads at most once, so duplicates add none.
    assert_eq!(got.states, expected.states);
    for op in ["GetChargePermission", "GetRefund"] {
        assert_eq!(got.reads.get(op), expected.reads.get(op), "{op}");
    }
    let charge_ipns = published
        .iter()
        .filter(|m| m["ObjectType"] == "CHARGE")
        .count() as u64;
    assert!(charge_ipns > 0, "{published:#?}");
    assert!(
        got.reads.get("GetCharge").copied().unwrap_or(0) <= charge_ipns,
        "{:?}: at most one Get Charge per charge notification ({charge_ipns})",
        got.reads
    );
    assert_eq!(got.events, expected.events);
    let states: BTreeMap<_, _> = got.states.into_iter().collect();
    assert_eq!(
        states["payment"],
        json!(["succeeded", eur("30.00"), eur("10.00")])
    );
    assert_eq!(states["refund"], "succeeded");
    assert_eq!(states["fixed"], json!(["Chargeable", [], false]));
    assert_eq!(states["closing"], json!(["Closed", ["BuyerClosed"], false]));
    assert_eq!(got.events.get("refund.succeeded"), Some(&1));
    assert_eq!(got.events.get("wallet.closed"), Some(&1));
}
