//! Charge permissions: hard declines and the update page, closing (buyer, merchant),
//! cancelPendingCharges.

use crate::helpers::*;
use savedwallet_shared::api::*;

#[tokio::test]
async fn hard_decline_update_page_ipn_then_chargeable() {
    let sb = start().await;
    let ipn = ipn_receiver(&sb).await;
    let c = client(&sb);
    let cp = wallet(&sb, "hard-decline-until-updated").await;
    assert_eq!(
        charge_err(&c, &cp, 1000).await,
        (422, "HardDeclined".into())
    );
    assert_eq!(
        permission_state(&c, &cp).await,
        ChargePermissionState::NonChargeable
    );
    assert_eq!(
        charge_err(&c, &cp, 1000).await,
        (422, "InvalidChargePermissionStatus".into())
    );
    let first = ipn
        .wait_for(|m| m["ObjectType"] == "CHARGE_PERMISSION" && m["ObjectId"] == cp.as_str())
        .await;
    assert_eq!(first["NotificationType"], "STATE_CHANGE");
    assert_eq!(first["ChargePermissionId"], cp.as_str());

    // The link the backend hands the buyer: the client maps Amazon's
    // payments.amazon.com link to the sandbox base when its endpoint is overridden.
    let url = c.payment_method_update_url(&cp).expect("update link");
    assert_eq!(url, sb.payment_method_update_url(&cp));
    let location = submit_page(&url, &[("action", "update"), ("preset", "always-approve")]).await;
    assert!(location.contains("done=updated"));
    let both = ipn.wait_count(|m| m["ObjectId"] == cp.as_str(), 2).await;
    assert!(both.iter().all(|m| m["ObjectType"] == "CHARGE_PERMISSION"));
    assert_eq!(
        permission_state(&c, &cp).await,
        ChargePermissionState::Chargeable
    );
    charge(&c, &cp, 1000).await;
    let charge_ipn = ipn.wait_for(|m| m["ObjectType"] == "CHARGE").await;
    assert_eq!(charge_ipn["NotificationVersion"], "V2");
    // Every envelope (confirmation and notifications) verifies independently, signed with
    // SignatureVersion 1 by default (what SPEC §16 says Amazon Pay's topics send).
    let versions = ipn.verify_all(&sb).await;
    assert!(versions.len() >= 4, "{versions:?}");
    assert!(versions.iter().all(|v| v == "1"), "{versions:?}");
}

#[tokio::test]
async fn buyer_and_merchant_close() {
    let sb = start().await;
    let ipn = ipn_receiver(&sb).await;
    let c = client(&sb);
    // Buyer closes on the account page.
    let cp = wallet(&sb, "always-approve").await;
    let location = submit_page(&sb.payment_method_update_url(&cp), &[("action", "close")]).await;
    assert!(location.contains("done=closed"));
    let perm = c.get_charge_permission(&cp).await.expect("cp").body;
    assert_closed(&perm, ReasonCode::BuyerClosed);
    ipn.wait_for(|m| m["ObjectId"] == cp.as_str()).await;
    assert_eq!(
        charge_err(&c, &cp, 1000).await,
        (422, "InvalidChargePermissionStatus".into())
    );
    let e = c
        .update_charge_permission(&cp, &UpdateChargePermissionRequest::default())
        .await;
    assert_eq!(api_err(e), (422, "ChargePermissionNotModifiable".into()));

    // Merchant close with cancelPendingCharges.
    let cp = wallet(&sb, "always-approve").await;
    let upd = c
        .update_charge_permission(
            &cp,
            &UpdateChargePermissionRequest {
                merchant_metadata: Some(MerchantMetadata {
                    merchant_reference_id: Some("sub-1".into()),
                    ..Default::default()
                }),
                recurring_metadata: None,
            },
        )
        .await
        .expect("update");
    assert_eq!(
        upd.body
            .merchant_metadata
            .and_then(|m| m.merchant_reference_id)
            .as_deref(),
        Some("sub-1")
    );
    let a = charge(&c, &cp, 1000).await;
    let cap = captured_req(&cp, 500);
    let b = c.create_charge(&cap, &key()).await.expect("b").body;
    let closed = c
        .close_charge_permission(&cp, &close_req("subscription canceled", Some(true)))
        .await
        .expect("close")
        .body;
    assert_closed(&closed, ReasonCode::MerchantClosed);
    let a2 = c.get_charge(&a.charge_id).await.expect("a").body;
    assert_eq!(
        a2.status_details.reason_code,
        Some(ReasonCode::ChargePermissionCanceled)
    );
    assert_eq!(
        charge_status(&c, &b.charge_id).await.0,
        ChargeState::Captured
    );
    let again = c
        .close_charge_permission(&cp, &close_req("again", None))
        .await;
    assert_eq!(
        api_err(again),
        (422, "InvalidChargePermissionStatus".into())
    );
}

#[tokio::test]
async fn close_cancels_pending_charges_only_when_asked() {
    let sb = start().await;
    let c = client(&sb);
    // Without cancelPendingCharges an Authorized charge survives the close.
    let cp = wallet(&sb, "always-approve").await;
    let kept = charge(&c, &cp, 1000).await;
    c.close_charge_permission(&cp, &close_req("no cancel", Some(false)))
        .await
        .expect("close");
    assert_eq!(
        charge_status(&c, &kept.charge_id).await,
        (ChargeState::Authorized, None)
    );
    assert_eq!(
        c.capture_charge(&kept.charge_id, &capture(1000), &key())
            .await
            .expect("capture after close")
            .body
            .status_details
            .state,
        ChargeState::Captured
    );
    // With it, AuthorizationInitiated and ActionRequired charges are canceled too.
    let cp = wallet(&sb, "mfa-required").await;
    let pending = pending_req(&cp, 1000);
    let pending = simulating(&c, "AuthorizationInitiated")
        .create_charge(&pending, &key())
        .await
        .expect("pending")
        .body;
    let mfa = c
        .create_charge(&mfa_charge(&cp), &key())
        .await
        .expect("mfa")
        .body;
    assert_eq!(mfa.status_details.state, ChargeState::ActionRequired);
    c.close_charge_permission(&cp, &close_req("cancel all", Some(true)))
        .await
        .expect("close");
    for id in [&pending.charge_id, &mfa.charge_id] {
        assert_eq!(
            charge_status(&c, id).await,
            (
                ChargeState::Canceled,
                Some(ReasonCode::ChargePermissionCanceled)
            ),
            "{id}"
        );
    }
    // The async timer of the canceled charge does not revive it.
    assert_eq!(
        charge_status_after(&sb, &c, &pending.charge_id, 31).await.0,
        ChargeState::Canceled
    );
}

#[tokio::test]
async fn ipn_endpoints_choose_their_signature_version() {
    let sb = start().await;
    let v1 = ipn_receiver(&sb).await;
    let v2 = ipn_receiver_with(&sb, Some("2")).await;
    let c = client(&sb);
    let cp = wallet(&sb, "always-approve").await;
    let ch = charge(&c, &cp, 1000).await;
    for r in [&v1, &v2] {
        r.wait_for(|m| m["ObjectId"] == ch.charge_id.as_str()).await;
    }
    // Independently verified: SHA1withRSA for 1 (the default), SHA256withRSA for 2.
    let versions = v1.verify_all(&sb).await;
    assert!(
        versions.len() >= 2 && versions.iter().all(|v| v == "1"),
        "{versions:?}"
    );
    let versions = v2.verify_all(&sb).await;
    assert!(
        versions.len() >= 2 && versions.iter().all(|v| v == "2"),
        "{versions:?}"
    );
    let listed: serde_json::Value = reqwest::get(format!("{}/ipn-endpoints", sb.control_url()))
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let listed: Vec<&str> = listed["subscriptions"]
        .as_array()
        .expect("subscriptions")
        .iter()
        .filter_map(|s| s["signatureVersion"].as_str())
        .collect();
    assert_eq!(listed, ["1", "2"]);
    let (status, v) = control_post(
        &sb,
        "/ipn-endpoints",
        serde_json::json!({"url": "http://127.0.0.1:9/ipn", "signatureVersion": "3"}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
}

#[tokio::test]
async fn an_ipn_carries_the_simulated_time_it_was_published_at() {
    // A service orders notifications against its own records by the SNS Timestamp (e.g.
    // "a CHARGE_PERMISSION IPN published after the decline"): with the simulated clock
    // weeks ahead, a wall-clock Timestamp would put every IPN before the objects it is about.
    let sb = start().await;
    let rx = ipn_receiver(&sb).await;
    sb.advance_clock(std::time::Duration::from_secs(40 * 86_400));
    let cp = wallet(&sb, "always-approve").await;
    let ch = charge(&client(&sb), &cp, 1000).await;
    rx.wait_for(|m| m["ObjectId"] == ch.charge_id.as_str())
        .await;
    let envelope = rx
        .envelopes()
        .into_iter()
        .find(|e| {
            e["Message"]
                .as_str()
                .is_some_and(|m| m.contains(ch.charge_id.as_str()))
        })
        .expect("the charge's envelope");
    let published: chrono::DateTime<chrono::Utc> = envelope["Timestamp"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("an RFC 3339 Timestamp");
    let now = sb.now();
    assert!(
        published <= now && now - published < chrono::TimeDelta::minutes(1),
        "published {published}, simulated now {now}"
    );
}
