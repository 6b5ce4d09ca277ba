//! Recurring billing through the job functions: the scheduler (an EventBridge Scheduler
//! event) puts the due periods on the SQS billing queue; the worker (an SQS batch from the
//! event source mapping) bills them and reports only what must come back.
//!
//! The functions run on the wall clock, which a test cannot move; a period is made due by
//! subscribing 36 hours ago (a daily plan): the subscription is made by the same service
//! code over the same table with its clock turned back, exactly what the functions would
//! have written then. Its first period is charged at the sandbox then (CITR), the second
//! (MITR) is due 12 hours ago.

use chrono::TimeDelta;
use serde_json::json;

use savedwallet_app::ids::{PaymentId, SubscriptionId};
use savedwallet_app::ports::BillingJob;
use savedwallet_app::store::PaymentStatus;
use savedwallet_functions::queue::{job_body, parse_job};
use savedwallet_tests::Preset;

use savedwallet_tests::lambda::{
    buyer_get, daily_plan, run_job, save_wallet, scheduler_event, sqs_event, subscribe_in_the_past,
    Api, Deployment,
};

/// A wallet of Alice's, a daily plan at 4.00 EUR made through the admin function, and a
/// subscription to it made 36 hours ago: period 2 is due. Returns the wallet and the
/// subscription.
async fn a_due_period(d: &Deployment, api: &Api) -> (String, SubscriptionId) {
    let saved = save_wallet(d, api, "alice", Preset::AlwaysApprove).await;
    let wallet = saved["walletId"].as_str().expect("walletId").to_string();
    daily_plan(api, "daily-box", "4.00").await;
    let (sub, first, created) = subscribe_in_the_past(
        d,
        &wallet,
        "daily-box",
        TimeDelta::hours(36),
        b"subscribe-1",
    )
    .await;
    assert!(created);
    assert_eq!(first.status, PaymentStatus::Succeeded, "{first:?}");
    assert_eq!(sub.period, 2, "period 1 is paid: {sub:?}");
    assert!(
        sub.next_billing_at < chrono::Utc::now(),
        "period 2 is due: {sub:?}"
    );
    assert_eq!(d.charges_of(&wallet).await.len(), 1);
    (wallet, sub.subscription_id)
}

#[tokio::test]
async fn the_scheduler_puts_due_periods_on_the_billing_queue() {
    let d = Deployment::new().await;
    let (api, scheduler) = tokio::join!(Api::start(&d), d.start("billing-scheduler"));
    let (wallet, sid) = a_due_period(&d, &api).await;

    let answer = run_job(&scheduler, scheduler_event("savedwallet-billing-scheduler")).await;
    assert_eq!(answer, json!({ "found": 1, "enqueued": 1 }));
    let queued = d.receive_exactly(&d.billing_queue_url, 1).await;
    let job = parse_job(queued[0].body().expect("a body")).expect("a billing job");
    assert_eq!(
        job,
        BillingJob {
            subscription_id: sid,
            period: 2,
            delay_secs: 0,
        }
    );
    // Queued, not billed: the workers do that.
    assert_eq!(d.charges_of(&wallet).await.len(), 1);
    assert_eq!(d.amazon_calls("CreateCharge").await, 1);
}

#[tokio::test]
async fn the_worker_bills_a_batch_and_reports_only_the_poisoned_record() {
    let d = Deployment::new().await;
    let (api, worker) = tokio::join!(Api::start(&d), d.start("billing-worker"));
    let (wallet, sid) = a_due_period(&d, &api).await;

    // Through the queue, so the records carry SQS's own ids, receipt handles and
    // attributes, as the event source mapping delivers them.
    let job = BillingJob {
        subscription_id: sid.clone(),
        period: 2,
        delay_secs: 0,
    };
    let valid = d
        .send_message(&d.billing_queue_url, &job_body(&job).expect("a body"))
        .await;
    let poisoned = d
        .send_message(
            &d.billing_queue_url,
            r#"{"subscription":"sub_x","when":"now"}"#,
        )
        .await;
    let received = d.receive_exactly(&d.billing_queue_url, 2).await;
    let mut ids: Vec<&str> = received.iter().filter_map(|m| m.message_id()).collect();
    ids.sort_unstable();
    let mut sent = vec![valid.as_str(), poisoned.as_str()];
    sent.sort_unstable();
    assert_eq!(ids, sent);
    let batch = sqs_event(&d.billing_queue_arn, &received);

    let failures = json!({ "batchItemFailures": [{ "itemIdentifier": poisoned }] });
    assert_eq!(run_job(&worker, batch.clone()).await, failures);
    let charges = d.charges_of(&wallet).await;
    assert_eq!(charges.len(), 2, "period 1 and period 2: {charges:#?}");
    assert!(
        charges
            .iter()
            .all(|c| c["chargeAmount"] == json!({ "amount": "4.00", "currencyCode": "EUR" })),
        "{charges:#?}"
    );
    let pid = PaymentId::for_period(&sid, 2);
    let path = format!("/v1/payments/{pid}");
    let period2 = buyer_get(&api, "alice", "/v1/payments/{paymentId}", &path).await;
    assert_eq!(period2.ok(200)["status"], "succeeded", "{:#}", period2.raw);

    // SQS delivers the batch again (a lost answer, a redrive): billed once all the same.
    assert_eq!(run_job(&worker, batch).await, failures);
    assert_eq!(d.charges_of(&wallet).await.len(), 2);
    assert_eq!(d.amazon_calls("CreateCharge").await, 2);
}
