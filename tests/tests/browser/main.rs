//! The buyer helper in a real browser: each test starts the local stack (the code
//! `savedwallet local` runs, with the built helper package), then runs one scenario of
//! `tests/browser/e2e.mjs` — headless Chromium through playwright-core walking the demo shop and
//! the sandbox's consent, MFA and account pages — and checks what the browser saw and what the
//! backend and Amazon (the sandbox's ledger) hold afterwards. Screenshots of each final state:
//! `<target dir>/browser-artifacts/<scenario>.png`.
//!
//! Needs the package (`scripts/build-wasm`), Node with tests/browser's npm dev dependencies and
//! /usr/bin/chromium; `scripts/test` installs and builds all of them first.

use std::path::PathBuf;

use reqwest::Method;
use serde_json::Value;

use savedwallet_tests::lambda::{target_dir, workspace_root};
use savedwallet_tests::{System, FAILED_MFA_MESSAGE};

fn helper_dir() -> PathBuf {
    let dir = std::env::var_os("SAVEDWALLET_HELPER_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("wasm-pkg"));
    assert!(
        dir.join("savedwallet_wasm_bg.wasm").is_file(),
        "the browser helper is not built in {}: run scripts/build-wasm",
        dir.display()
    );
    dir
}

/// Runs one scenario against a fresh stack; returns the stack (to check the backend) and what
/// the browser reported.
async fn scenario(name: &str) -> (System, Value) {
    let root = workspace_root();
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "npm dev dependencies missing: run scripts/test (npm ci in tests/browser)"
    );
    let helper = helper_dir();
    let system = System::start_with(|o| o.helper_dir = Some(helper)).await;
    let artifacts = target_dir().join("browser-artifacts");
    let out = tokio::process::Command::new("node")
        .env("SAVEDWALLET_ADMIN_TOKEN", &system.stack.info.admin_token)
        .arg(root.join("tests/browser/e2e.mjs"))
        .arg(name)
        .arg(&system.stack.info.demo_url)
        .arg(&artifacts)
        .output()
        .await
        .expect("node runs (scripts/test installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!(
                "{name}: no report; stdout: {stdout}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert!(
        out.status.success() && report["ok"] == true,
        "{name} failed (screenshot in {}): {report:#}\nstderr: {}",
        artifacts.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let errors = report["consoleErrors"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        errors.is_empty(),
        "{name}: the console has errors: {errors:?}"
    );
    (system, report)
}

/// The customer's payments as the merchant sees them (newest first).
async fn payments_of(system: &System, customer: &str) -> Vec<Value> {
    let path = format!("/admin/v1/customers/{customer}/payments");
    let r = system.admin_call(Method::GET, &path, None, None).await;
    r.ok(200)["payments"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn wallets_of(system: &System, customer: &str) -> Vec<Value> {
    let path = format!("/admin/v1/customers/{customer}/wallets");
    let r = system.admin_call(Method::GET, &path, None, None).await;
    r.ok(200)["wallets"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_buyer_sets_up_a_saved_wallet_in_the_browser() {
    let (system, report) = scenario("wallet-setup").await;
    assert_eq!(report["consentPage"], "checkout", "{report:#}");
    assert_eq!(report["setupNotice"], "Your Saved Wallet was added.");
    assert_eq!(report["walletState"], "Chargeable");
    assert_eq!(
        report["addressAfterReturn"], "",
        "the ids left the address bar"
    );
    let wallets = wallets_of(&system, "buyer-setup").await;
    assert_eq!(wallets.len(), 1, "{wallets:#?}");
    assert_eq!(wallets[0]["state"], "Chargeable");
    assert_eq!(system.amazon_calls("CompleteCheckoutSession").await, 1);
}

#[tokio::test]
async fn an_approved_mfa_challenge_completes_the_payment_once() {
    let (system, report) = scenario("mfa-approve").await;
    assert_eq!(report["paymentStatus"], "succeeded", "{report:#}");
    assert_eq!(report["completeCalls"], 1);
    assert_eq!(report["helperCallsPerMfaRoundTrip"], 2, "{report:#}");
    assert_eq!(report["addressAfterReturn"], "");
    let payments = payments_of(&system, "buyer-mfa").await;
    assert_eq!(payments.len(), 1, "{payments:#?}");
    assert_eq!(payments[0]["status"], "succeeded");
    // Setup and the MFA return: two completions at Amazon, one charge.
    assert_eq!(system.amazon_calls("CompleteCheckoutSession").await, 2);
    assert_eq!(system.amazon_calls("CreateCharge").await, 1);
    eprintln!(
        "figures: helper ready {} ms after navigation start (init() {} ms); {} helper API calls and {} page API calls per MFA round trip",
        report["helperReadyMs"], report["helperInitMs"], report["helperCallsPerMfaRoundTrip"], report["pageCallsPerMfaRoundTrip"]
    );
}

#[tokio::test]
async fn a_failed_mfa_challenge_shows_the_message_back_at_checkout_start() {
    let (system, report) = scenario("mfa-fail").await;
    assert_eq!(report["notice"], FAILED_MFA_MESSAGE, "{report:#}");
    assert_eq!(report["view"], "checkout");
    assert_eq!(report["completeCalls"], 1);
    let payments = payments_of(&system, "buyer-fail").await;
    assert_eq!(payments.len(), 1);
    // The buyer saw the seed's message at the return; read later, the payment's advice
    // follows the wallet (NonChargeable after a failed challenge, by default: "update").
    assert_eq!(payments[0]["status"], "declined");
    assert_eq!(report["paymentStatus"], "declined");
}

#[tokio::test]
async fn an_abandoned_mfa_challenge_cancels_the_payment() {
    let (system, report) = scenario("mfa-abandon").await;
    assert_eq!(report["paymentStatus"], "canceled", "{report:#}");
    assert!(report["notice"].as_str().is_some_and(|n| !n.is_empty()));
    let payments = payments_of(&system, "buyer-abandon").await;
    assert_eq!(payments[0]["status"], "canceled");
}

#[tokio::test]
async fn reloading_the_return_page_does_not_complete_twice() {
    let (system, report) = scenario("reload-return").await;
    assert_eq!(report["completeCallsFirst"], 1, "{report:#}");
    assert_eq!(
        report["completeCalls"], 1,
        "the reload and the revisit only read"
    );
    assert_eq!(report["returnedAgain"], "succeeded");
    assert_eq!(report["paymentStatus"], "succeeded");
    // Setup + one MFA completion at Amazon.
    assert_eq!(system.amazon_calls("CompleteCheckoutSession").await, 2);
}

#[tokio::test]
async fn a_hard_decline_is_fixed_on_the_update_page_and_the_next_charge_succeeds() {
    let (system, report) = scenario("hard-decline-update").await;
    assert_eq!(report["declined"], "declined", "{report:#}");
    assert_eq!(report["updatePage"], true);
    assert_eq!(report["walletStateAfterUpdate"], "Chargeable");
    assert_eq!(report["paymentStatus"], "succeeded");
    let payments = payments_of(&system, "buyer-hard").await;
    assert_eq!(payments.len(), 1, "one payment, retried: {payments:#?}");
    assert_eq!(payments[0]["status"], "succeeded");
    assert_eq!(payments[0]["attemptCount"], 2);
}

#[tokio::test]
async fn a_subscription_is_canceled_and_the_wallet_closed() {
    let (system, report) = scenario("subscribe-cancel").await;
    assert_eq!(report["subscriptionStatus"], "canceled", "{report:#}");
    assert_eq!(report["walletState"], "Closed");
    let path = "/admin/v1/customers/buyer-sub/subscriptions";
    let r = system.admin_call(Method::GET, path, None, None).await;
    let subs = r.ok(200)["subscriptions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0]["status"], "canceled");
    assert_eq!(system.amazon_calls("CloseChargePermission").await, 1);
}

#[tokio::test]
async fn the_merchant_view_shows_payments_subscriptions_wallets_and_events() {
    let (system, report) = scenario("merchant-view").await;
    assert_eq!(report["addressHash"], "", "the token left the address bar");
    // Both payments (made at the same instant of the frozen test clock, so in either order).
    let mut statuses: Vec<&str> = report["paymentStatuses"]
        .as_array()
        .expect("statuses")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, ["declined", "succeeded"], "{report:#}");
    assert!(
        report["attempts"]
            .as_array()
            .expect("attempts")
            .iter()
            .any(|a| a.as_str().is_some_and(|a| a.contains("HardDeclined"))),
        "Amazon's reason code is shown: {report:#}"
    );
    assert_eq!(report["activeCount"], "1");
    assert_eq!(report["walletCustomers"], serde_json::json!(["buyer-ops"]));
    // The page shows what the admin API holds.
    let r = system
        .admin_call(Method::GET, "/admin/v1/wallets/update-required", None, None)
        .await;
    let flagged = r.ok(200)["wallets"][0]["walletId"].clone();
    assert_eq!(report["walletsToUpdate"][0], flagged);
    let types = report["eventTypes"].as_array().expect("events");
    for t in [
        "payment.succeeded",
        "payment.declined",
        "wallet.update_required",
        "subscription.active",
    ] {
        assert!(types.iter().any(|e| e == t), "{t} in {types:?}");
    }
    assert_eq!(report["eventsDelivered"], true, "{report:#}");
}
