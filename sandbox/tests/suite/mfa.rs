//! The MFA challenge of EU/UK customer-initiated charges (seed, SPEC §11.7).

use crate::helpers::*;
use savedwallet_sandbox::{Knobs, MfaFailureEffect, MfaRegions};
use savedwallet_shared::api::*;
use savedwallet_shared::money::{Currency, Price};
use serde_json::json;

/// An EU mfa-required wallet whose permission a failed challenge leaves Chargeable, so one
/// wallet can go through every outcome.
async fn resilient_mfa_wallet(sb: &savedwallet_sandbox::SandboxHandle) -> String {
    wallet_with(
        sb,
        json!({"preset": "mfa-required", "region": "eu", "mfaFailure": "stays-chargeable"}),
    )
    .await
}

#[tokio::test]
async fn mfa_challenge_approve_fail_abandon_expire() {
    let sb = start().await;
    let c = client(&sb);
    let cp = resilient_mfa_wallet(&sb).await;
    // MIT charges never get a challenge; CIT without a return URL cannot be challenged.
    charge(&c, &cp, 100).await;
    let mut no_url = mfa_charge(&cp);
    no_url.web_checkout_details = None;
    assert_eq!(
        api_err(c.create_charge(&no_url, &key()).await),
        (422, "MFANotCompleted".into())
    );

    for (outcome, ok) in [("approved", true), ("failed", false), ("abandoned", false)] {
        let r = c
            .create_charge(&mfa_charge(&cp), &key())
            .await
            .expect("mfa");
        assert_eq!(r.status, 202);
        let ch = r.body;
        assert_eq!(ch.status_details.state, ChargeState::ActionRequired);
        assert_eq!(
            ch.status_details.reason_code,
            Some(ReasonCode::BuyerActionRequired)
        );
        assert_eq!(
            ch.status_details.reason_description.as_deref(),
            Some("Charge requires buyer action to proceed.")
        );
        let wcd = ch.web_checkout_details.clone().expect("wcd");
        assert_eq!(
            wcd.checkout_result_return_url.as_deref(),
            Some("http://localhost:9/mfa-return?order=42")
        );
        let redirect = wcd.amazon_pay_redirect_url.expect("redirect");
        let location = submit_page(&redirect, &[("outcome", outcome)]).await;
        assert!(
            location.starts_with("http://localhost:9/mfa-return?order=42&amazonCheckoutSessionId="),
            "{location}"
        );
        let sid = session_id_from(&location);
        let done = c
            .complete_checkout_session(&sid, &complete(2500), &key())
            .await;
        let after = c.get_charge(&ch.charge_id).await.expect("get").body;
        if ok {
            let s = done.expect("complete").body;
            assert_eq!(s.status_details.state, CheckoutSessionState::Completed);
            assert_eq!(s.charge_id.as_deref(), Some(ch.charge_id.as_str()));
            assert_eq!(after.status_details.state, ChargeState::Authorized);
        } else {
            assert_eq!(api_err(done), (422, "CheckoutSessionCanceled".into()));
            let (want, session_reason) = if outcome == "failed" {
                (
                    (ChargeState::Declined, Some(ReasonCode::MFAFailed)),
                    ReasonCode::Declined,
                )
            } else {
                (
                    (ChargeState::Canceled, Some(ReasonCode::BuyerCanceled)),
                    ReasonCode::BuyerCanceled,
                )
            };
            let d = after.status_details;
            assert_eq!((d.state, d.reason_code), want, "{outcome}");
            // The challenge's checkout session says how it ended (SPEC §16).
            let s = c.get_checkout_session(&sid).await.expect("session").body;
            assert_eq!(s.status_details.state, CheckoutSessionState::Canceled);
            assert_eq!(s.status_details.reason_code, Some(session_reason));
        }
    }
    // Amount mismatch on completion.
    let (_, sid) = approved_challenge(&c, &cp).await;
    let e = c
        .complete_checkout_session(&sid, &complete(2499), &key())
        .await;
    assert_eq!(api_err(e), (409, "AmountMismatch".into()));
    // Not completed within 24 h: the authorization is voided.
    let (ch, sid) = approved_challenge(&c, &cp).await;
    assert_eq!(
        charge_status_after(&sb, &c, &ch.charge_id, 24 * 3600).await,
        (ChargeState::Canceled, Some(ReasonCode::Expired))
    );
    // Complete Checkout Session simulation codes end the waiting charge accordingly.
    for (code, want) in [
        (
            "Declined",
            (ChargeState::Declined, Some(ReasonCode::MFAFailed)),
        ),
        (
            "AmazonCanceled",
            (ChargeState::Canceled, Some(ReasonCode::AmazonCanceled)),
        ),
    ] {
        let (ch, sid) = approved_challenge(&c, &cp).await;
        let e = simulating(&c, code)
            .complete_checkout_session(&sid, &complete(2500), &key())
            .await;
        assert_eq!(
            api_err(e),
            (422, "CheckoutSessionCanceled".into()),
            "{code}"
        );
        assert_eq!(charge_status(&c, &ch.charge_id).await, want, "{code}");
    }
    let e = c
        .complete_checkout_session(&sid, &complete(2500), &key())
        .await;
    assert_eq!(api_err(e), (422, "InvalidCheckoutSessionStatus".into()));
}

/// A CIT charge of `cp` in `currency` with a return URL, through a client of `region`.
fn cit_charge(cp: &str, currency: Currency) -> CreateChargeRequest {
    let mut r = mfa_charge(cp);
    r.charge_amount = Price::from_minor(2500, currency);
    r
}

#[tokio::test]
async fn only_eu_uk_merchants_get_mfa_unless_the_knob_says_every_region() {
    use savedwallet_shared::region::Region;
    let sb = start().await;
    for (region, currency, name) in [
        (Region::Na, Currency::USD, "na"),
        (Region::Jp, Currency::JPY, "jp"),
    ] {
        let c = client_for(&sb, KEY_ID, region);
        let cp = wallet_with(&sb, json!({"preset": "mfa-required", "region": name})).await;
        // Amazon's page: MFA is for EU and UK merchants only, so NA/JP CIT is approved.
        let r = c
            .create_charge(&cit_charge(&cp, currency), &key())
            .await
            .expect("approved");
        assert_eq!(r.status, 201, "{name}");
        assert_eq!(
            r.body.status_details.state,
            ChargeState::Authorized,
            "{name}"
        );
        assert!(r.body.web_checkout_details.is_none(), "{name}");
        // The MFA simulation code does not fit a merchant without MFA.
        let e = simulating(&c, "BuyerActionRequired")
            .create_charge(&cit_charge(&cp, currency), &key())
            .await;
        assert_eq!(
            api_err(e),
            (400, "InvalidSandboxSimulationSpecified".into()),
            "{name}"
        );
    }
    // Other position: every region challenges.
    sb.set_knobs(Knobs {
        mfa_regions: MfaRegions::AllRegions,
        ..Default::default()
    })
    .expect("knobs");
    let c = client_for(&sb, KEY_ID, Region::Na);
    let cp = wallet_with(&sb, json!({"preset": "mfa-required", "region": "na"})).await;
    let r = c
        .create_charge(&cit_charge(&cp, Currency::USD), &key())
        .await
        .expect("challenged");
    assert_eq!(r.status, 202);
    assert_eq!(r.body.status_details.state, ChargeState::ActionRequired);
}

/// Creates an MFA charge on `cp`, fails the challenge and completes → the 422.
async fn fail_challenge(c: &savedwallet_amazon_pay::AmazonPayClient, cp: &str) -> Charge {
    let ch = c
        .create_charge(&mfa_charge(cp), &key())
        .await
        .expect("mfa")
        .body;
    let sid = session_id_from(&submit_page(&redirect_of(&ch), &[("outcome", "failed")]).await);
    let e = c
        .complete_checkout_session(&sid, &complete(2500), &key())
        .await;
    assert_eq!(api_err(e), (422, "CheckoutSessionCanceled".into()));
    ch
}

#[tokio::test]
async fn a_failed_challenge_makes_the_permission_non_chargeable_unless_the_knob_keeps_it() {
    let sb = start().await;
    let ipn = ipn_receiver(&sb).await;
    let c = client(&sb);
    // Default: NonChargeable / MFAFailed with its CHARGE_PERMISSION IPN (SPEC §5.2, §11.7).
    let cp = wallet(&sb, "mfa-required").await;
    fail_challenge(&c, &cp).await;
    let p = c.get_charge_permission(&cp).await.expect("cp").body;
    assert_eq!(p.status_details.state, ChargePermissionState::NonChargeable);
    assert_eq!(
        p.status_details.reasons[0].reason_code,
        ReasonCode::MFAFailed
    );
    let m = ipn
        .wait_for(|m| m["ObjectType"] == "CHARGE_PERMISSION" && m["ObjectId"] == cp.as_str())
        .await;
    assert_eq!(m["NotificationType"], "STATE_CHANGE");
    // The buyer picks another method: Chargeable again.
    sb.buyer_update_payment_method(&cp, savedwallet_sandbox::Preset::AlwaysApprove)
        .expect("update");
    assert_eq!(
        permission_state(&c, &cp).await,
        ChargePermissionState::Chargeable
    );

    // Per wallet: stays Chargeable.
    let kept = resilient_mfa_wallet(&sb).await;
    fail_challenge(&c, &kept).await;
    assert_eq!(
        permission_state(&c, &kept).await,
        ChargePermissionState::Chargeable
    );
    // Sandbox-wide: stays Chargeable for wallets without their own setting.
    sb.set_knobs(Knobs {
        mfa_failure: MfaFailureEffect::StaysChargeable,
        ..Default::default()
    })
    .expect("knobs");
    let cp = wallet(&sb, "mfa-required").await;
    fail_challenge(&c, &cp).await;
    assert_eq!(
        permission_state(&c, &cp).await,
        ChargePermissionState::Chargeable
    );
}
