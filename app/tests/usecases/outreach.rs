//! Outreach before a renewal: a subscription whose wallet cannot be charged gets one
//! `subscription.at_risk` event per period within the window; wallets billing within a
//! day are re-read (a few per pass), so a change Amazon never notified is seen in time.

use crate::common::*;
use savedwallet_app::store::*;
use savedwallet_shared::api::{ChargePermissionState, ReasonCode};
use savedwallet_shared::region::Region;

fn at_risk_events(page: &Page<MerchantEvent>) -> usize {
    page.items
        .iter()
        .filter(|e| e.kind == "subscription.at_risk")
        .count()
}

/// Alice's approving wallet on a monthly plan, and the subscription's next renewal.
async fn monthly_subscriber(
    s: &Stack,
) -> (
    savedwallet_app::usecases::WalletView,
    Subscription,
    chrono::DateTime<chrono::Utc>,
) {
    let w = s
        .wallet("alice", savedwallet_sandbox::Preset::AlwaysApprove)
        .await;
    let plan = plan(s, "monthly", "9.99", "month").await;
    let (sub, _) = subscribe(s, &w, &plan, "k1").await;
    let renewal = sub.due_at.expect("the next period is scheduled");
    (w, sub, renewal)
}

/// Moves the clock to `ahead` before `renewal`.
fn advance_to_before(s: &Stack, renewal: chrono::DateTime<chrono::Utc>, ahead: chrono::TimeDelta) {
    let before = renewal - s.sandbox.now() - ahead;
    s.advance(before.num_seconds() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchargeable_wallet_before_renewal_is_reported_once() {
    let s = stack(Region::Na).await;
    let (w, sub, renewal) = monthly_subscriber(&s).await;

    // Outside the window (3 days): nothing to say even for a broken wallet.
    s.sandbox
        .set_permission_state(
            w.wallet.wallet_id.as_str(),
            ChargePermissionState::NonChargeable,
            Some(ReasonCode::PaymentMethodExpired),
        )
        .unwrap();
    s.deliver_ipns().await;
    let out = s.service.watch_upcoming(100, 10).await.unwrap();
    assert_eq!((out.upcoming, out.at_risk), (0, 0));

    // Two days before the renewal: reported, once however often the pass runs.
    let two_days_before = (renewal - s.sandbox.now()) - chrono::TimeDelta::days(2);
    s.advance(two_days_before.num_seconds() as u64);
    let out = s.service.watch_upcoming(100, 10).await.unwrap();
    assert_eq!((out.upcoming, out.at_risk), (1, 1));
    let again = s.service.watch_upcoming(100, 10).await.unwrap();
    assert_eq!(
        (again.upcoming, again.at_risk),
        (1, 0),
        "one event per period"
    );
    let events = s.service.events(100, None).await.unwrap();
    assert_eq!(at_risk_events(&events), 1);
    let ev = events
        .items
        .iter()
        .find(|e| e.kind == "subscription.at_risk")
        .unwrap();
    assert_eq!(ev.data["subscriptionId"], sub.subscription_id.as_str());
    assert_eq!(ev.customer_id.as_ref().map(|c| c.as_str()), Some("alice"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_wallet_raises_nothing_and_a_stale_one_is_reread_the_day_before() {
    let s = stack(Region::Na).await;
    let (w, _, renewal) = monthly_subscriber(&s).await;
    advance_to_before(&s, renewal, chrono::TimeDelta::hours(12));
    // The buyer's permission broke on Amazon's side and the IPN was lost.
    s.sandbox
        .set_permission_state(
            w.wallet.wallet_id.as_str(),
            ChargePermissionState::NonChargeable,
            Some(ReasonCode::PaymentMethodExpired),
        )
        .unwrap();
    s.skip_ipns();
    let gcp = s.calls("GetChargePermission");
    let out = s.service.watch_upcoming(100, 10).await.unwrap();
    assert_eq!(
        out.rechecked, 1,
        "re-read: stored a month ago, billing within a day"
    );
    assert_eq!(s.calls("GetChargePermission"), gcp + 1);
    assert_eq!(out.at_risk, 1, "the re-read found it NonChargeable");
    let stored = s.store.get_wallet(&w.wallet.wallet_id).await.unwrap();
    assert_eq!(stored.state, ChargePermissionState::NonChargeable);
    // A zero budget re-reads nothing (the quota's share is the caller's choice).
    let out = s.service.watch_upcoming(100, 0).await.unwrap();
    assert_eq!(out.rechecked, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_wallet_is_reread_once_a_day_not_every_pass() {
    let s = stack(Region::Na).await;
    let (_, _, renewal) = monthly_subscriber(&s).await;
    advance_to_before(&s, renewal, chrono::TimeDelta::hours(20));
    let gcp = s.calls("GetChargePermission");
    assert_eq!(
        s.service.watch_upcoming(100, 10).await.unwrap().rechecked,
        1
    );
    // Later passes of the same day: the re-read is recorded, Amazon is not asked again.
    s.advance(3600);
    assert_eq!(
        s.service.watch_upcoming(100, 10).await.unwrap().rechecked,
        0
    );
    assert_eq!(
        s.service.watch_upcoming(100, 10).await.unwrap().rechecked,
        0
    );
    assert_eq!(s.calls("GetChargePermission"), gcp + 1);
}

/// Counts deliveries.
#[derive(Default)]
struct Counting(std::sync::atomic::AtomicU32);

#[async_trait::async_trait]
impl savedwallet_app::ports::EventSink for Counting {
    async fn deliver(
        &self,
        _: &MerchantEvent,
    ) -> Result<(), savedwallet_app::ports::DeliveryError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}

/// Writes one event per number in `ids` for the wallet (transactions of 100).
async fn append_events(s: &Stack, wallet: &Wallet, ids: std::ops::Range<u32>) {
    let now = s.sandbox.now();
    let events: Vec<MerchantEvent> = ids
        .map(|i| {
            savedwallet_app::usecases::events::wallet_event(
                savedwallet_app::usecases::events::kind::WALLET_CHARGEABLE,
                wallet,
                now,
                &i.to_be_bytes(),
            )
        })
        .collect();
    for chunk in events.chunks(100) {
        s.store.append_events(chunk).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_dispatcher_run_delivers_more_than_a_page_per_shard() {
    let s = stack(Region::Na).await;
    let w = s
        .wallet("alice", savedwallet_sandbox::Preset::AlwaysApprove)
        .await;
    let sink = Counting::default();
    s.service.dispatch_events(&sink, u32::MAX).await.unwrap();
    append_events(&s, &w.wallet, 0..1500).await;
    let out = s.service.dispatch_events(&sink, u32::MAX).await.unwrap();
    assert_eq!(out.delivered, 1500);
    assert_eq!(
        s.service
            .dispatch_events(&sink, u32::MAX)
            .await
            .unwrap()
            .delivered,
        0
    );
    // A budget still bounds a run.
    append_events(&s, &w.wallet, 1500..1800).await;
    assert_eq!(
        s.service
            .dispatch_events(&sink, 120)
            .await
            .unwrap()
            .delivered,
        120
    );
}
