//! The scheduled job functions other than billing: the reconciler and the event
//! dispatcher, invoked with EventBridge Scheduler events; the dispatcher's events are read
//! back from the queue the bus's rule delivers to.

use std::collections::BTreeMap;

use chrono::TimeDelta;
use serde_json::{json, Value};

use savedwallet_app::ids::PaymentId;
use savedwallet_app::store::{PaymentStatus, SubscriptionStatus};
use savedwallet_tests::Preset;

use savedwallet_tests::lambda::{
    admin_order, api_event, buyer_get, call, daily_plan, run_job, save_wallet, scheduler_event,
    subscribe_in_the_past, Api, Caller, Deployment, SHOP,
};

#[tokio::test]
async fn the_reconciler_ends_what_waited_too_long() {
    let d = Deployment::new().await;
    let (api, reconciler) = tokio::join!(Api::start(&d), d.start("reconciler"));
    // A subscription made 25 hours ago with a card that asks for MFA: its first payment
    // waits for a challenge the buyer never took.
    let saved = save_wallet(&d, &api, "alice", Preset::MfaRequired).await;
    let wallet = saved["walletId"].as_str().expect("walletId").to_string();
    daily_plan(&api, "daily-box", "4.00").await;
    let (sub, first, _) = subscribe_in_the_past(
        &d,
        &wallet,
        "daily-box",
        TimeDelta::hours(25),
        b"subscribe-mfa",
    )
    .await;
    assert_eq!(first.status, PaymentStatus::ActionRequired, "{first:?}");
    assert_eq!(sub.status, SubscriptionStatus::Incomplete, "{sub:?}");

    let answer = run_job(&reconciler, scheduler_event("savedwallet-reconciler")).await;
    assert_eq!(
        answer,
        json!({
            "examined": 1, "replayed": 0, "refreshed": 0, "voided": 1, "expired": 1,
            "upcoming": 0, "atRisk": 0, "rechecked": 0,
        })
    );
    let sid = sub.subscription_id.to_string();
    let path = format!("/v1/subscriptions/{sid}");
    let now = buyer_get(&api, "alice", "/v1/subscriptions/{subscriptionId}", &path).await;
    assert_eq!(now.ok(200)["status"], "canceled", "{:#}", now.raw);
    let pid = PaymentId::for_period(&sub.subscription_id, 1);
    let path = format!("/v1/payments/{pid}");
    let payment = buyer_get(&api, "alice", "/v1/payments/{paymentId}", &path).await;
    assert_ne!(
        payment.ok(200)["status"],
        "action_required",
        "{:#}",
        payment.raw
    );

    // Nothing is done twice.
    let again = run_job(&reconciler, scheduler_event("savedwallet-reconciler")).await;
    assert_eq!(again["voided"], 0, "{again:#}");
    assert_eq!(again["expired"], 0, "{again:#}");
}

/// Every merchant event the admin function lists, by id → type.
async fn listed_events(api: &Api) -> BTreeMap<String, String> {
    let r = call(
        &api.admin,
        api_event(
            "GET",
            "/admin/v1/events",
            "/admin/v1/events?limit=100",
            &Caller::Iam,
            None,
            None,
        ),
    )
    .await;
    let body = r.ok(200);
    assert!(body["nextCursor"].is_null(), "one page: {body:#}");
    body["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["eventId"].as_str().expect("eventId").to_string(),
                e["type"].as_str().expect("type").to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_dispatcher_puts_merchant_events_on_the_bus() {
    let d = Deployment::new().await;
    let (api, dispatcher) = tokio::join!(Api::start(&d), d.start("event-dispatcher"));
    // A wallet and a paid order make events.
    let saved = save_wallet(&d, &api, "alice", Preset::AlwaysApprove).await;
    let wallet = saved["walletId"].as_str().expect("walletId").to_string();
    let order_id = admin_order(&api, "alice", "12.00").await;
    let paid = call(
        &api.charge,
        api_event(
            "POST",
            "/v1/orders/{orderId}/pay",
            &format!("/v1/orders/{order_id}/pay"),
            &Caller::Buyer("alice".into()),
            Some(&json!({
                "walletId": wallet,
                "checkoutResultReturnUrl": format!("{SHOP}/orders/{order_id}/done"),
            })),
            Some("pay-1"),
        ),
    )
    .await;
    assert_eq!(paid.ok(201)["status"], "succeeded");
    let events = listed_events(&api).await;
    assert!(
        events.values().any(|t| t == "payment.succeeded"),
        "{events:#?}"
    );

    let answer = run_job(&dispatcher, scheduler_event("savedwallet-event-dispatcher")).await;
    assert_eq!(
        answer,
        json!({ "delivered": events.len(), "rescheduled": 0 })
    );
    let delivered = d.receive_exactly(&d.events_queue_url, events.len()).await;
    let mut seen = BTreeMap::new();
    for m in &delivered {
        let e: Value = serde_json::from_str(m.body().expect("a body")).expect("JSON");
        assert_eq!(e["source"], "savedwallet", "{e:#}");
        assert_eq!(e["detail-type"], e["detail"]["type"], "{e:#}");
        assert_eq!(e["detail"]["customerId"], "alice", "{e:#}");
        seen.insert(
            e["detail"]["id"].as_str().expect("detail.id").to_string(),
            e["detail-type"].as_str().expect("detail-type").to_string(),
        );
    }
    assert_eq!(seen, events, "every listed event, once");

    // Delivered events are not delivered again.
    let again = run_job(&dispatcher, scheduler_event("savedwallet-event-dispatcher")).await;
    assert_eq!(again, json!({ "delivered": 0, "rescheduled": 0 }));
    d.receive_exactly(&d.events_queue_url, 0).await;
}
