//! The MFA challenge of EU/UK customer-initiated charges, end to end: the buyer is sent to
//! the sandbox's challenge page, comes back to the frontend with the session id, and the
//! frontend completes the payment — approved, failed (the seed's message; under both
//! positions of the simulator's `mfaFailure` knob), abandoned, completed twice or at once
//! from several tabs (one Complete Checkout Session at Amazon), left for 24 h, and a
//! session id completed by someone else or for another payment.

use std::sync::Arc;

use reqwest::Method;
use savedwallet_tests::{
    returned_session, MfaFailureEffect, MfaOutcome, Preset, Reply, System, FAILED_MFA_MESSAGE,
};
use serde_json::{json, Value};

/// Pays a new order of `customer` that needs MFA; returns the payment id and the challenge URL.
async fn mfa_payment(sys: &System, customer: &str, token: &str, wallet: &str) -> (String, String) {
    let order = sys.order(customer, "20.00", true).await;
    let paid = sys.pay(token, &order, wallet).await;
    let p = paid.ok(201).clone();
    assert_eq!(p["status"], "action_required", "{p:#}");
    let url = p["redirectUrl"].as_str().expect("redirectUrl").to_string();
    assert!(
        url.starts_with(&sys.stack.info.sandbox_url),
        "Amazon's (the sandbox's) host: {url}"
    );
    let created = chrono::DateTime::parse_from_rfc3339(p["createdAt"].as_str().expect("at"))
        .expect("createdAt");
    let expires = chrono::DateTime::parse_from_rfc3339(p["expiresAt"].as_str().expect("at"))
        .expect("expiresAt");
    assert_eq!(expires - created, chrono::TimeDelta::hours(24));
    let pid = p["paymentId"].as_str().expect("id").to_string();
    (pid, url)
}

/// The buyer answers the challenge; returns the session id the frontend gets back.
async fn challenge(sys: &System, pid: &str, url: &str, outcome: MfaOutcome) -> String {
    let back = sys
        .buyer
        .challenge(url, outcome)
        .await
        .expect("the challenge page");
    assert!(
        back.contains(&format!("paymentId={pid}")),
        "the service appended its payment id: {back}"
    );
    returned_session(&back).expect("amazonCheckoutSessionId")
}

async fn complete(sys: &System, token: &str, pid: &str, session: &str) -> Reply {
    sys.buyer_call(
        token,
        Method::POST,
        &format!("/v1/payments/{pid}/complete"),
        Some(json!({ "amazonCheckoutSessionId": session })),
    )
    .await
}

async fn mfa_wallet(sys: &System, customer: &str) -> (String, String) {
    let token = sys.token(customer).await;
    let wallet = sys.wallet_id(&token, Preset::MfaRequired).await;
    (token, wallet)
}

#[tokio::test]
async fn an_approved_challenge_completes_once_however_often_it_is_called() {
    let sys = System::start().await;
    let (token, wallet) = mfa_wallet(&sys, "cust_mfa").await;
    let (pid, url) = mfa_payment(&sys, "cust_mfa", &token, &wallet).await;
    assert_eq!(
        sys.amazon_calls("CompleteCheckoutSession").await,
        1,
        "setup"
    );
    let session = challenge(&sys, &pid, &url, MfaOutcome::Approved).await;

    let done = complete(&sys, &token, &pid, &session).await;
    let first = done.ok(200).clone();
    assert_eq!(first["status"], "succeeded", "{first:#}");
    let again = complete(&sys, &token, &pid, &session).await;
    assert_eq!(again.ok(200)["status"], "succeeded");
    assert_eq!(again.body["chargeId"], first["chargeId"]);
    assert_eq!(
        sys.amazon_calls("CompleteCheckoutSession").await,
        2,
        "setup + exactly one completion"
    );
    let charges = sys.charges_of(&wallet).await;
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0]["statusDetails"]["state"], "Captured");
    assert_eq!(charges[0]["chargeInitiator"], "CITU");
    sys.jobs().await;
    assert_eq!(sys.payment(&token, &pid).await["status"], "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_from_several_tabs_at_once_call_amazon_once() {
    let sys = Arc::new(System::start().await);
    let (token, wallet) = mfa_wallet(&sys, "cust_tabs").await;
    let (pid, url) = mfa_payment(&sys, "cust_tabs", &token, &wallet).await;
    let session = challenge(&sys, &pid, &url, MfaOutcome::Approved).await;
    let mut tabs = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (sys, token, pid, session) = (sys.clone(), token.clone(), pid.clone(), session.clone());
        tabs.spawn(async move { complete(&sys, &token, &pid, &session).await });
    }
    let mut succeeded = 0;
    while let Some(r) = tabs.join_next().await {
        let r = r.expect("a tab");
        match r.status.as_u16() {
            200 => {
                assert_eq!(r.body["status"], "succeeded", "{:#}", r.body);
                succeeded += 1;
            }
            // A tab that found the completion running is told to look again.
            409 => {
                r.error(409, "payment_in_progress");
            }
            other => panic!("unexpected {other}: {:#}", r.body),
        }
    }
    assert!(succeeded >= 1);
    assert_eq!(sys.amazon_calls("CompleteCheckoutSession").await, 2);
    assert_eq!(sys.charges_of(&wallet).await.len(), 1);
    assert_eq!(sys.payment(&token, &pid).await["status"], "succeeded");
}

/// A failed challenge: declined with the seed's message and "use another method"; the
/// permission follows the knob; the buyer's update on Amazon's page (STATE_CHANGE, or
/// ATTRIBUTE_CHANGE where the permission stayed Chargeable) makes the next charge go through.
async fn failed_challenge(effect: MfaFailureEffect) {
    let sys = System::start_with(|o| o.knobs.mfa_failure = effect).await;
    let (token, wallet) = mfa_wallet(&sys, "cust_fail").await;
    let (pid, url) = mfa_payment(&sys, "cust_fail", &token, &wallet).await;
    let session = challenge(&sys, &pid, &url, MfaOutcome::Failed).await;

    let done = complete(&sys, &token, &pid, &session).await;
    let p = done.ok(200).clone();
    assert_eq!(p["status"], "declined", "{effect:?}: {p:#}");
    assert_eq!(p["message"], FAILED_MFA_MESSAGE);
    assert_eq!(p["buyerAction"]["kind"], "use_another_method");
    let charges = sys.charges_of(&wallet).await;
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0]["statusDetails"]["state"], "Declined");
    assert_eq!(charges[0]["statusDetails"]["reasonCode"], "MFAFailed");

    sys.jobs().await;
    let expected = match effect {
        MfaFailureEffect::NonChargeable => "NonChargeable",
        MfaFailureEffect::StaysChargeable => "Chargeable",
    };
    let w = sys.get_wallet(&token, &wallet).await;
    assert_eq!(w["state"], expected, "{effect:?}: {w:#}");
    assert_eq!(
        sys.amazon_permission(&wallet).await["statusDetails"]["state"],
        expected
    );
    assert_eq!(
        w["monthlyUsage"]["used"]["amount"], "0.00",
        "a declined charge gives its usage back"
    );

    // The buyer picks another method on Amazon's page; the IPN brings it in.
    let update = w["paymentMethodUpdateUrl"]
        .as_str()
        .expect("url")
        .to_string();
    // The buyer comes back a minute later (the frozen test clock moves only when told; on
    // Amazon the update's notification is always published after the failed challenge).
    sys.advance(60).await;
    sys.buyer
        .update_payment_method(&update, Preset::AlwaysApprove)
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
        MfaFailureEffect::NonChargeable => "STATE_CHANGE",
        MfaFailureEffect::StaysChargeable => "ATTRIBUTE_CHANGE",
    };
    assert_eq!(last["NotificationType"], kind, "{effect:?}");
    assert_eq!(sys.get_wallet(&token, &wallet).await["state"], "Chargeable");
    let order = sys.order("cust_fail", "20.00", true).await;
    let paid = sys.pay(&token, &order, &wallet).await;
    assert_eq!(paid.ok(201)["status"], "succeeded", "{:#}", paid.body);
    // The failed payment stays what it was.
    assert_eq!(sys.payment(&token, &pid).await["status"], "declined");
}

#[tokio::test]
async fn a_failed_challenge_with_a_permission_that_turns_non_chargeable() {
    failed_challenge(MfaFailureEffect::NonChargeable).await;
}

#[tokio::test]
async fn a_failed_challenge_with_a_permission_that_stays_chargeable() {
    failed_challenge(MfaFailureEffect::StaysChargeable).await;
}

#[tokio::test]
async fn an_abandoned_challenge_cancels_the_payment() {
    let sys = System::start().await;
    let (token, wallet) = mfa_wallet(&sys, "cust_leave").await;
    let (pid, url) = mfa_payment(&sys, "cust_leave", &token, &wallet).await;
    let session = challenge(&sys, &pid, &url, MfaOutcome::Abandoned).await;
    let done = complete(&sys, &token, &pid, &session).await;
    let p = done.ok(200).clone();
    assert_eq!(p["status"], "canceled", "{p:#}");
    assert_eq!(p["message"], FAILED_MFA_MESSAGE);
    let charge = &sys.charges_of(&wallet).await[0];
    assert_eq!(charge["statusDetails"]["state"], "Canceled");
    assert_eq!(charge["statusDetails"]["reasonCode"], "BuyerCanceled");
    sys.jobs().await;
    let w = sys.get_wallet(&token, &wallet).await;
    assert_eq!(w["state"], "Chargeable");
    assert_eq!(w["monthlyUsage"]["used"]["amount"], "0.00");
}

#[tokio::test]
async fn a_challenge_nobody_completes_is_void_after_24_hours() {
    let sys = System::start().await;
    let (token, wallet) = mfa_wallet(&sys, "cust_late").await;
    let (pid, _url) = mfa_payment(&sys, "cust_late", &token, &wallet).await;
    sys.advance(23 * 3600).await;
    sys.jobs().await;
    assert_eq!(sys.payment(&token, &pid).await["status"], "action_required");
    sys.advance(3600 + 1).await;
    sys.jobs().await;
    let p = sys.payment(&token, &pid).await;
    assert_eq!(p["status"], "canceled", "{p:#}");
    assert!(p["redirectUrl"].is_null() && p["expiresAt"].is_null());
    let attempts = p["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["status"], "canceled");
    let charge = &sys.charges_of(&wallet).await[0];
    assert_eq!(charge["statusDetails"]["state"], "Canceled");
    assert_eq!(charge["statusDetails"]["reasonCode"], "Expired");
    let w = sys.get_wallet(&token, &wallet).await;
    assert_eq!(w["monthlyUsage"]["used"]["amount"], "0.00");
    assert_eq!(
        sys.amazon_calls("CompleteCheckoutSession").await,
        1,
        "only the setup"
    );
}

#[tokio::test]
async fn a_challenge_session_completes_only_its_own_payment() {
    let sys = System::start().await;
    let (alice, alices_wallet) = mfa_wallet(&sys, "cust_alice").await;
    let (mallory, mallorys_wallet) = mfa_wallet(&sys, "cust_mallory").await;
    let (p1, url1) = mfa_payment(&sys, "cust_alice", &alice, &alices_wallet).await;
    let (p2, _) = mfa_payment(&sys, "cust_alice", &alice, &alices_wallet).await;
    let (pm, _) = mfa_payment(&sys, "cust_mallory", &mallory, &mallorys_wallet).await;
    let s1 = challenge(&sys, &p1, &url1, MfaOutcome::Approved).await;
    let completions = sys.amazon_calls("CompleteCheckoutSession").await;

    // Mallory got alice's session id: not on alice's payment (not hers), not on her own.
    complete(&sys, &mallory, &p1, &s1)
        .await
        .error(404, "not_found");
    complete(&sys, &mallory, &pm, &s1)
        .await
        .error(404, "not_found");
    // Alice's own session of another payment: 409, nothing completed.
    complete(&sys, &alice, &p2, &s1)
        .await
        .error(409, "checkout_session_mismatch");
    assert_eq!(
        sys.amazon_calls("CompleteCheckoutSession").await,
        completions
    );
    for (token, pid) in [(&alice, &p1), (&alice, &p2), (&mallory, &pm)] {
        assert_eq!(sys.payment(token, pid).await["status"], "action_required");
    }

    let done = complete(&sys, &alice, &p1, &s1).await;
    assert_eq!(done.ok(200)["status"], "succeeded");
    assert_eq!(
        sys.amazon_calls("CompleteCheckoutSession").await,
        completions + 1
    );
    assert_eq!(sys.payment(&alice, &p2).await["status"], "action_required");
    assert_eq!(
        sys.payment(&mallory, &pm).await["status"],
        "action_required"
    );
    let succeeded: Vec<Value> = sys
        .ledger()
        .await
        .get("charges")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c["statusDetails"]["state"] == "Captured")
        .collect();
    assert_eq!(succeeded.len(), 1);
    assert_eq!(
        succeeded[0]["merchantMetadata"]["merchantReferenceId"],
        p1.as_str()
    );
}
