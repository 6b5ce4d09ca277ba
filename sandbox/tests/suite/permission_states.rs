//! What declines do to a charge permission (HardDeclined per knob, AmazonRejected closes
//! it), and the control API that moves a permission into any state/reason with its IPN.

use crate::helpers::*;
use savedwallet_sandbox::{HardDeclineEffect, Knobs, Preset};
use savedwallet_shared::api::*;
use serde_json::json;

/// The permission's state and first reason.
async fn state_of(
    c: &savedwallet_amazon_pay::AmazonPayClient,
    cp: &str,
) -> (ChargePermissionState, Option<ReasonCode>) {
    let d = c
        .get_charge_permission(cp)
        .await
        .expect("get charge permission")
        .body
        .status_details;
    (d.state, d.reasons.first().map(|r| r.reason_code.clone()))
}

/// IPNs about `cp` as (ObjectType, NotificationType).
fn ipns_of(ipn: &IpnReceiver, cp: &str) -> Vec<(String, String)> {
    ipn.messages()
        .iter()
        .filter(|m| m["ObjectId"] == cp)
        .map(|m| {
            (
                m["ObjectType"].as_str().unwrap_or("").to_string(),
                m["NotificationType"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn amazon_rejected_closes_the_permission_sync_and_async() {
    let sb = start().await;
    let ipn = ipn_receiver(&sb).await;
    let c = client(&sb);
    let cp = wallet(&sb, "always-approve").await;
    let e = simulating(&c, "AmazonRejected")
        .create_charge(&charge_req(&cp, 1000), &key())
        .await;
    assert_eq!(api_err(e), (422, "AmazonRejected".into()));
    assert_eq!(
        state_of(&c, &cp).await,
        (
            ChargePermissionState::Closed,
            Some(ReasonCode::AmazonCanceled)
        )
    );
    let m = ipn
        .wait_for(|m| m["ObjectType"] == "CHARGE_PERMISSION" && m["ObjectId"] == cp.as_str())
        .await;
    assert_eq!(m["NotificationType"], "STATE_CHANGE");
    assert_eq!(
        charge_err(&c, &cp, 1000).await,
        (422, "InvalidChargePermissionStatus".into())
    );
    // The pending variant closes it when the authorization is declined.
    let cp = wallet(&sb, "always-approve").await;
    let ch = simulating(&c, "PendingAuthorizationAmazonRejected")
        .create_charge(&pending_req(&cp, 1000), &key())
        .await
        .expect("pending")
        .body;
    assert_eq!(state_of(&c, &cp).await.0, ChargePermissionState::Chargeable);
    assert_eq!(
        charge_status_after(&sb, &c, &ch.charge_id, 30).await,
        (ChargeState::Declined, Some(ReasonCode::AmazonRejected))
    );
    assert_eq!(
        state_of(&c, &cp).await,
        (
            ChargePermissionState::Closed,
            Some(ReasonCode::AmazonCanceled)
        )
    );
}

#[tokio::test]
async fn hard_decline_can_leave_the_permission_chargeable_until_the_buyer_updates() {
    let sb = start().await;
    let ipn = ipn_receiver(&sb).await;
    let c = client(&sb);
    // Per wallet.
    let cp = wallet_with(
        &sb,
        json!({"preset": "hard-decline-until-updated", "region": "eu", "hardDecline": "stays-chargeable"}),
    )
    .await;
    for _ in 0..2 {
        assert_eq!(
            charge_err(&c, &cp, 1000).await,
            (422, "HardDeclined".into())
        );
        assert_eq!(
            state_of(&c, &cp).await,
            (ChargePermissionState::Chargeable, None)
        );
    }
    // The buyer's update keeps the state, so Amazon tells it as ATTRIBUTE_CHANGE.
    let location = submit_page(
        &sb.payment_method_update_url(&cp),
        &[("action", "update"), ("preset", "always-approve")],
    )
    .await;
    assert!(location.contains("done=updated"));
    ipn.wait_for(|m| m["ObjectId"] == cp.as_str() && m["NotificationType"] == "ATTRIBUTE_CHANGE")
        .await;
    assert_eq!(
        ipns_of(&ipn, &cp),
        [(
            "CHARGE_PERMISSION".to_string(),
            "ATTRIBUTE_CHANGE".to_string()
        )]
    );
    let p = c.get_charge_permission(&cp).await.expect("cp").body;
    assert_eq!(p.status_details.state, ChargePermissionState::Chargeable);
    assert_eq!(
        p.payment_preferences
            .and_then(|v| v[0].payment_descriptor.clone())
            .as_deref(),
        Some("Visa ****1111")
    );
    charge(&c, &cp, 1000).await;

    // Sandbox-wide, for wallets without their own setting; per wallet still wins.
    sb.set_knobs(Knobs {
        hard_decline: HardDeclineEffect::StaysChargeable,
        ..Default::default()
    })
    .expect("knobs");
    let global = wallet(&sb, "hard-decline-until-updated").await;
    let strict = wallet_with(
        &sb,
        json!({"preset": "hard-decline-until-updated", "region": "eu", "hardDecline": "non-chargeable"}),
    )
    .await;
    for (id, want) in [
        (&global, (ChargePermissionState::Chargeable, None)),
        (
            &strict,
            (
                ChargePermissionState::NonChargeable,
                Some(ReasonCode::PaymentMethodInvalid),
            ),
        ),
    ] {
        assert_eq!(charge_err(&c, id, 1000).await, (422, "HardDeclined".into()));
        assert_eq!(state_of(&c, id).await, want, "{id}");
    }
}

#[tokio::test]
async fn control_api_moves_a_permission_into_any_state_with_its_ipn() {
    let sb = start().await;
    let ipn = ipn_receiver(&sb).await;
    let c = client(&sb);
    let cp = wallet(&sb, "always-approve").await;
    let path = format!("/charge-permissions/{cp}/state");
    let non_chargeable = [
        "PaymentMethodExpired",
        "PaymentMethodDeleted",
        "BillingAddressDeleted",
        "PaymentMethodNotAllowed",
        "PaymentMethodNotSet",
        "ChargeInProgress",
        "PaymentMethodInvalid",
        "MFAFailed",
    ];
    for (n, reason) in non_chargeable.iter().enumerate() {
        let (status, v) = control_post(
            &sb,
            &path,
            json!({"state": "NonChargeable", "reasonCode": reason}),
        )
        .await;
        assert_eq!(status, 200, "{reason}: {v}");
        assert_eq!(v["changed"], true);
        assert_eq!(v["statusDetails"]["reasons"][0]["reasonCode"], *reason);
        assert_eq!(
            state_of(&c, &cp).await,
            (
                ChargePermissionState::NonChargeable,
                Some(ReasonCode::parse(reason))
            )
        );
        assert_eq!(
            charge_err(&c, &cp, 100).await,
            (422, "InvalidChargePermissionStatus".into())
        );
        ipn.wait_count(|m| m["ObjectId"] == cp.as_str(), n + 1)
            .await;
    }
    // Back to Chargeable; the same state again changes nothing and sends nothing.
    let (status, v) = control_post(&sb, &path, json!({"state": "Chargeable"})).await;
    assert_eq!((status, &v["changed"]), (200, &json!(true)), "{v}");
    charge(&c, &cp, 100).await;
    let (_, v) = control_post(&sb, &path, json!({"state": "Chargeable"})).await;
    assert_eq!(v["changed"], false);
    ipn.wait_count(|m| m["ObjectId"] == cp.as_str(), non_chargeable.len() + 1)
        .await;
    let sent = ipns_of(&ipn, &cp).len();
    assert_eq!(sent, non_chargeable.len() + 1);
    assert!(ipns_of(&ipn, &cp)
        .iter()
        .all(|(t, n)| t == "CHARGE_PERMISSION" && n == "STATE_CHANGE"));
    // Pairs SPEC §5.2 does not list are refused, with nothing changed.
    for bad in [
        json!({"state": "NonChargeable"}),
        json!({"state": "NonChargeable", "reasonCode": "BuyerClosed"}),
        json!({"state": "Chargeable", "reasonCode": "PaymentMethodExpired"}),
        json!({"state": "Closed", "reasonCode": "PaymentMethodExpired"}),
        json!({"state": "Frozen"}),
    ] {
        let (status, v) = control_post(&sb, &path, bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {v}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
    }
    assert_eq!(state_of(&c, &cp).await.0, ChargePermissionState::Chargeable);
    // Every Closed reason, each on its own wallet (Closed is terminal).
    for reason in [
        "AmazonCanceled",
        "BuyerCanceled",
        "Expired",
        "BuyerClosed",
        "AmazonClosed",
        "MerchantClosed",
    ] {
        let id = wallet(&sb, "always-approve").await;
        let p = sb
            .set_permission_state(
                &id,
                ChargePermissionState::Closed,
                Some(ReasonCode::parse(reason)),
            )
            .expect("close");
        assert_closed(&p, ReasonCode::parse(reason));
        ipn.wait_for(|m| m["ObjectId"] == id.as_str()).await;
        let (status, v) = control_post(
            &sb,
            &format!("/charge-permissions/{id}/state"),
            json!({"state": "Chargeable"}),
        )
        .await;
        assert_eq!(status, 422, "{reason}: {v}");
    }
    assert_eq!(ipns_of(&ipn, &cp).len(), sent, "no IPN for refused moves");
}

#[tokio::test]
async fn buyer_close_and_payment_method_through_the_control_api() {
    let sb = start().await;
    let ipn = ipn_receiver(&sb).await;
    let c = client(&sb);
    let cp = wallet(&sb, "always-approve").await;
    // A method change on a Chargeable wallet: ATTRIBUTE_CHANGE; the new card's behaviour.
    let (status, v) = control_post(
        &sb,
        &format!("/charge-permissions/{cp}/payment-method"),
        json!({"preset": "soft-decline"}),
    )
    .await;
    assert_eq!((status, &v["state"]), (200, &json!("Chargeable")), "{v}");
    ipn.wait_for(|m| m["ObjectId"] == cp.as_str() && m["NotificationType"] == "ATTRIBUTE_CHANGE")
        .await;
    assert_eq!(charge_err(&c, &cp, 100).await, (422, "SoftDeclined".into()));
    // From NonChargeable the same call is a STATE_CHANGE back to Chargeable.
    sb.set_permission_state(
        &cp,
        ChargePermissionState::NonChargeable,
        Some(ReasonCode::PaymentMethodExpired),
    )
    .expect("expire");
    sb.buyer_update_payment_method(&cp, Preset::AlwaysApprove)
        .expect("update");
    assert_eq!(
        state_of(&c, &cp).await,
        (ChargePermissionState::Chargeable, None)
    );
    charge(&c, &cp, 100).await;
    // The buyer closes it: Closed / BuyerClosed + IPN; a second close is refused.
    let (status, v) = control_post(
        &sb,
        &format!("/charge-permissions/{cp}/buyer-close"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        state_of(&c, &cp).await,
        (ChargePermissionState::Closed, Some(ReasonCode::BuyerClosed))
    );
    let (status, v) = control_post(
        &sb,
        &format!("/charge-permissions/{cp}/buyer-close"),
        json!({}),
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert!(v["error"]
        .as_str()
        .is_some_and(|e| e.starts_with("InvalidChargePermissionStatus")));
    let (status, _) = control_post(
        &sb,
        "/charge-permissions/S01-0000000-0000000/payment-method",
        json!({}),
    )
    .await;
    assert_eq!(status, 404);
    let messages = ipn.wait_count(|m| m["ObjectId"] == cp.as_str(), 4).await;
    let types: Vec<&str> = messages
        .iter()
        .filter_map(|m| m["NotificationType"].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "ATTRIBUTE_CHANGE",
            "STATE_CHANGE",
            "STATE_CHANGE",
            "STATE_CHANGE"
        ]
    );
}
