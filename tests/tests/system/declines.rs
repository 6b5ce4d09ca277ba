//! Declines end to end, as Amazon's page prescribes: a soft decline is followed by Get
//! Charge Permission and a new attempt; a decline on a permission that turned
//! NonChargeable is not retried; a hard decline sends the buyer to the update page and
//! nothing is charged until the IPN says the wallet is Chargeable again (under both
//! positions of the simulator's `hardDecline` knob); pending authorizations are resolved
//! by their IPN; the monthly Saved Wallet limit holds charges back until the next UTC month
//! without anything being sent to Amazon.

use chrono::{Datelike, TimeZone, Utc};
use reqwest::Method;
use savedwallet_tests::{HardDeclineEffect, Preset, System, FRONTEND};
use serde_json::{json, Value};

fn eur(amount: &str) -> Value {
    json!({ "amount": amount, "currencyCode": "EUR" })
}

/// The sandbox's asynchronous authorization delay (`StackOptions::async_delay_secs`).
const ASYNC_DELAY_SECS: u64 = 30;

#[tokio::test]
async fn a_soft_decline_is_checked_with_get_charge_permission_then_charged_again() {
    let sys = System::start().await;
    let token = sys.token("cust_soft").await;
    // The sandbox soft-declines this card's next two charges.
    let wallet = sys.wallet_id(&token, Preset::SoftDecline).await;
    let order = sys.order("cust_soft", "12.00", true).await;
    let checks = sys.amazon_calls("GetChargePermission").await;

    // Attempt 1 soft-declined → Get Charge Permission (Chargeable) → attempt 2 at once,
    // soft-declined too → the buyer is told to try again later.
    let paid = sys.pay(&token, &order, &wallet).await;
    let p = paid.ok(201).clone();
    assert_eq!(p["status"], "declined", "{p:#}");
    assert_eq!(p["declineCode"], "SoftDeclined");
    assert_eq!(p["buyerAction"]["kind"], "retry_later");
    assert_eq!(p["attemptCount"], 2);
    assert_eq!(sys.amazon_calls("CreateCharge").await, 2);
    assert_eq!(
        sys.amazon_calls("GetChargePermission").await,
        checks + 2,
        "one permission check per soft decline"
    );
    assert!(
        sys.charges_of(&wallet).await.is_empty(),
        "a declined Create Charge makes no Charge"
    );

    // The buyer retries: a third attempt with a new key, approved.
    let pid = p["paymentId"].as_str().expect("id");
    let retried = sys
        .buyer_call(
            &token,
            Method::POST,
            &format!("/v1/payments/{pid}/retry"),
            Some(json!({ "checkoutResultReturnUrl": format!("{FRONTEND}/orders/{order}/done") })),
        )
        .await;
    assert_eq!(retried.ok(201)["status"], "succeeded", "{:#}", retried.body);
    assert_eq!(retried.body["attemptCount"], 3);
    assert_eq!(sys.amazon_calls("CreateCharge").await, 3);
    assert_eq!(
        sys.amazon_calls("GetChargePermission").await,
        checks + 2,
        "nothing declined, nothing checked"
    );
    let charges = sys.charges_of(&wallet).await;
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0]["statusDetails"]["state"], "Captured");
    let admin = sys.admin_payment(pid).await;
    let attempts = admin["attempts"].as_array().expect("attempts");
    let keys: std::collections::BTreeSet<_> = attempts
        .iter()
        .map(|a| a["idempotencyKey"].as_str().expect("key").to_string())
        .collect();
    assert_eq!(keys.len(), 3, "a new key per attempt: {attempts:#?}");
    let states: Vec<_> = attempts.iter().map(|a| a["state"].clone()).collect();
    assert_eq!(
        states,
        [json!("Declined"), json!("Declined"), json!("Captured")]
    );
}

#[tokio::test]
async fn a_decline_on_a_permission_that_turned_non_chargeable_is_not_retried() {
    let sys = System::start().await;
    let token = sys.token("cust_nc").await;
    let wallet = sys.wallet_id(&token, Preset::SoftDecline).await;
    let order = sys.order("cust_nc", "12.00", true).await;
    // Amazon's permission turns NonChargeable, and its IPN is late: the sandbox holds it
    // back until the next jobs pass (which waits for the IPN sender to be idle).
    let held = sys
        .control_call(
            Method::PUT,
            "/ipn-delivery",
            json!({ "reorderRate": 1.0, "reorderMaxHoldMs": 120_000 }),
        )
        .await;
    assert!(held.status.is_success(), "{:#}", held.body);
    let moved = sys
        .control_call(
            Method::POST,
            &format!("/charge-permissions/{wallet}/state"),
            json!({ "state": "NonChargeable", "reasonCode": "PaymentMethodExpired" }),
        )
        .await;
    assert!(moved.status.is_success(), "{:#}", moved.body);
    assert_eq!(sys.get_wallet(&token, &wallet).await["state"], "Chargeable");
    let checks = sys.amazon_calls("GetChargePermission").await;

    // The charge is sent (our record says Chargeable), declined, the permission checked:
    // NonChargeable → no second attempt; the buyer is sent to update the method.
    let paid = sys.pay(&token, &order, &wallet).await;
    let p = paid.ok(201).clone();
    assert_eq!(p["status"], "declined", "{p:#}");
    assert_eq!(p["attemptCount"], 1, "no retry");
    assert_eq!(sys.amazon_calls("CreateCharge").await, 1);
    assert_eq!(sys.amazon_calls("GetChargePermission").await, checks + 1);
    let w = sys.get_wallet(&token, &wallet).await;
    assert_eq!(p["buyerAction"]["kind"], "update_payment_method");
    assert_eq!(p["buyerAction"]["url"], w["paymentMethodUpdateUrl"]);
    assert_eq!(
        w["state"], "NonChargeable",
        "refreshed from the check: {w:#}"
    );
    assert_eq!(w["reasons"], json!(["PaymentMethodExpired"]));

    // The late IPN arrives: nothing changes and nothing more is charged.
    sys.control_call(Method::PUT, "/ipn-delivery", json!({ "reorderRate": 0.0 }))
        .await;
    let report = sys.jobs().await;
    assert_eq!(report["charged"], 0);
    assert_eq!(
        sys.get_wallet(&token, &wallet).await["state"],
        "NonChargeable"
    );
    assert_eq!(sys.amazon_calls("CreateCharge").await, 1);
    let again = sys
        .payment(&token, p["paymentId"].as_str().expect("id"))
        .await;
    assert_eq!(again["status"], "declined");
    assert_eq!(again["attemptCount"], 1);
}

/// HardDeclined → the update link → nothing charged until the buyer updates on Amazon's
/// page and the IPN brings Chargeable → the next charge succeeds.
async fn hard_decline_then_update(effect: HardDeclineEffect) {
    let sys = System::start_with(|o| o.knobs.hard_decline = effect).await;
    let token = sys.token("cust_hard").await;
    let wallet = sys.wallet_id(&token, Preset::HardDeclineUntilUpdated).await;
    let first = sys.order("cust_hard", "12.00", true).await;
    let second = sys.order("cust_hard", "8.00", true).await;

    let paid = sys.pay(&token, &first, &wallet).await;
    let p = paid.ok(201).clone();
    assert_eq!(p["status"], "declined", "{effect:?}: {p:#}");
    assert_eq!(p["declineCode"], "HardDeclined");
    assert_eq!(p["attemptCount"], 1);
    assert_eq!(p["buyerAction"]["kind"], "update_payment_method");
    let url = p["buyerAction"]["url"].as_str().expect("url").to_string();
    assert!(
        url.starts_with(&sys.stack.info.sandbox_url) && url.ends_with(&wallet),
        "the sandbox's update page in local mode: {url}"
    );

    // The IPNs published so far (the permission's, in the non-chargeable position) settle;
    // the wallet needs the buyer whatever Amazon's state is.
    sys.jobs().await;
    let w = sys.get_wallet(&token, &wallet).await;
    assert_eq!(w["updateRequired"], true, "{effect:?}: {w:#}");
    assert_eq!(w["paymentMethodUpdateUrl"], url.as_str());
    let amazon_state = match effect {
        HardDeclineEffect::NonChargeable => "NonChargeable",
        HardDeclineEffect::StaysChargeable => "Chargeable",
    };
    assert_eq!(w["state"], amazon_state);
    assert_eq!(
        sys.amazon_permission(&wallet).await["statusDetails"]["state"],
        amazon_state
    );

    // Nothing is charged meanwhile, and Amazon is not asked.
    let refused = sys.pay(&token, &second, &wallet).await;
    refused.error(422, "wallet_not_chargeable");
    assert_eq!(
        refused.body["error"]["buyerAction"]["kind"],
        "update_payment_method"
    );
    assert_eq!(sys.amazon_calls("CreateCharge").await, 1);

    // The buyer updates the payment method on Amazon's page; the IPN follows.
    // The buyer comes back a minute later (the frozen test clock moves only when told; on
    // Amazon the update's notification is always published after the decline).
    sys.advance(60).await;
    sys.buyer
        .update_payment_method(&url, Preset::AlwaysApprove)
        .await
        .expect("the update page");
    sys.jobs().await;
    let ledger = sys.ledger().await;
    let last = ledger["ipnPublished"]
        .as_array()
        .expect("published")
        .iter()
        .rev()
        .find(|m| m["ObjectType"] == "CHARGE_PERMISSION")
        .cloned()
        .expect("a CHARGE_PERMISSION IPN");
    let kind = match effect {
        HardDeclineEffect::NonChargeable => "STATE_CHANGE",
        HardDeclineEffect::StaysChargeable => "ATTRIBUTE_CHANGE",
    };
    assert_eq!(last["NotificationType"], kind, "{effect:?}: {last:#}");
    let w = sys.get_wallet(&token, &wallet).await;
    assert_eq!(w["state"], "Chargeable", "{effect:?}: {w:#}");
    assert_eq!(w["updateRequired"], false);

    let paid = sys.pay(&token, &second, &wallet).await;
    assert_eq!(paid.ok(201)["status"], "succeeded", "{:#}", paid.body);
    assert_eq!(sys.amazon_calls("CreateCharge").await, 2);
    let charges = sys.charges_of(&wallet).await;
    assert_eq!(charges.len(), 1, "the hard decline made no Charge");
    assert_eq!(charges[0]["chargeAmount"], eur("8.00"));
    sys.jobs().await;
    let kinds = sys.event_types().await;
    for k in ["wallet.update_required", "wallet.chargeable"] {
        assert!(kinds.iter().any(|e| e == k), "{effect:?}: {k} in {kinds:?}");
    }
}

#[tokio::test]
async fn a_hard_decline_with_a_permission_that_turns_non_chargeable() {
    hard_decline_then_update(HardDeclineEffect::NonChargeable).await;
}

#[tokio::test]
async fn a_hard_decline_with_a_permission_that_stays_chargeable() {
    hard_decline_then_update(HardDeclineEffect::StaysChargeable).await;
}

/// A pending authorization (`AuthorizationInitiated`) resolved by the charge's IPN. The
/// merchant's unscheduled charge (MITU) handles pending authorizations; a buyer-present
/// charge does not (API.md: `pending` is AuthorizationInitiated).
async fn pending_authorization(preset: Preset) -> (System, String, Value) {
    let sys = System::start().await;
    let token = sys.token("cust_async").await;
    let wallet = sys.wallet_id(&token, preset).await;
    let paid = sys
        .admin_call(
            Method::POST,
            "/admin/v1/payments",
            Some(json!({ "walletId": wallet, "amount": eur("25.00"), "reason": "renewal" })),
            Some("async-1"),
        )
        .await;
    assert_eq!(paid.ok(201)["status"], "pending", "{:#}", paid.body);
    let pid = paid.body["paymentId"].as_str().expect("id").to_string();
    let charges = sys.charges_of(&wallet).await;
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0]["canHandlePendingAuthorization"], true);
    assert_eq!(charges[0]["chargeInitiator"], "MITU");
    assert_eq!(
        charges[0]["statusDetails"]["state"],
        "AuthorizationInitiated"
    );
    // Not yet: the jobs find nothing to apply.
    sys.jobs().await;
    assert_eq!(sys.payment(&token, &pid).await["status"], "pending");
    // Past the delay the sandbox resolves it and publishes the IPN.
    sys.advance(ASYNC_DELAY_SECS + 1).await;
    sys.jobs().await;
    let p = sys.payment(&token, &pid).await;
    assert_eq!(sys.amazon_calls("CreateCharge").await, 1);
    (sys, token, p)
}

#[tokio::test]
async fn a_pending_authorization_approved_by_its_ipn() {
    let (sys, token, p) = pending_authorization(Preset::AsyncApprove).await;
    assert_eq!(p["status"], "succeeded", "{p:#}");
    assert_eq!(p["captured"], eur("25.00"));
    let wallet = p["walletId"].as_str().expect("wallet");
    let charge = &sys.charges_of(wallet).await[0];
    assert_eq!(charge["statusDetails"]["state"], "Captured");
    assert_eq!(
        sys.get_wallet(&token, wallet).await["monthlyUsage"]["used"],
        eur("25.00")
    );
}

#[tokio::test]
async fn a_pending_authorization_declined_by_its_ipn() {
    let (sys, token, p) = pending_authorization(Preset::AsyncDecline).await;
    assert_eq!(p["status"], "declined", "{p:#}");
    assert_eq!(p["declineCode"], "HardDeclined");
    assert_eq!(p["buyerAction"]["kind"], "update_payment_method");
    let wallet = p["walletId"].as_str().expect("wallet");
    let charge = &sys.charges_of(wallet).await[0];
    assert_eq!(charge["statusDetails"]["state"], "Declined");
    let w = sys.get_wallet(&token, wallet).await;
    assert_eq!(w["updateRequired"], true, "{w:#}");
    assert_eq!(
        w["monthlyUsage"]["used"],
        eur("0.00"),
        "a declined charge gives its usage back"
    );
}

#[tokio::test]
async fn the_monthly_limit_holds_a_charge_back_until_the_next_utc_month() {
    let sys = System::start().await;
    let token = sys.token("cust_limit").await;
    // The sandbox's low-limit card: 100.00 a month.
    let wallet = sys.wallet_id(&token, Preset::LowLimit).await;
    let w = sys.get_wallet(&token, &wallet).await;
    assert_eq!(w["monthlyUsage"]["limit"], eur("100.00"), "{w:#}");
    let first = sys.order("cust_limit", "60.00", true).await;
    let second = sys.order("cust_limit", "50.00", true).await;
    assert_eq!(
        sys.pay(&token, &first, &wallet).await.ok(201)["status"],
        "succeeded"
    );

    // 60 + 50 > 100: refused before any attempt, nothing sent to Amazon.
    let refused = sys.pay(&token, &second, &wallet).await;
    refused.error(422, "monthly_limit_exceeded");
    assert_eq!(refused.body["error"]["monthlyUsage"]["used"], eur("60.00"));
    assert_eq!(sys.amazon_calls("CreateCharge").await, 1);
    let order = sys
        .buyer_call(&token, Method::GET, &format!("/v1/orders/{second}"), None)
        .await;
    assert!(order.ok(200)["payment"].is_null(), "{:#}", order.body);

    // The first second of the next UTC month.
    let now = sys.now().await;
    let (y, m) = if now.month() == 12 {
        (now.year() + 1, 1)
    } else {
        (now.year(), now.month() + 1)
    };
    let next = Utc
        .with_ymd_and_hms(y, m, 1, 0, 0, 0)
        .single()
        .expect("a month start");
    let secs = u64::try_from((next - now).num_seconds()).expect("in the future");
    sys.advance(secs + 1).await;

    let paid = sys.pay(&token, &second, &wallet).await;
    assert_eq!(paid.ok(201)["status"], "succeeded", "{:#}", paid.body);
    assert_eq!(sys.amazon_calls("CreateCharge").await, 2);
    let w = sys.get_wallet(&token, &wallet).await;
    assert_eq!(
        w["monthlyUsage"]["month"],
        format!("{y:04}-{m:02}").as_str(),
        "{w:#}"
    );
    assert_eq!(w["monthlyUsage"]["used"], eur("50.00"));
    assert_eq!(sys.charges_of(&wallet).await.len(), 2);
}
