//! Checkout sessions: Saved Wallet setup through the consent page, checkout with a payment,
//! the hosted Update flow, the buyer pages' forms and the pending test cards.

use crate::helpers::*;
use savedwallet_shared::api::*;
use serde_json::{json, Value};

#[tokio::test]
async fn saved_wallet_setup_through_the_consent_page() {
    let sb = start().await;
    let c = client(&sb);
    let s = c
        .create_checkout_session(&setup_request(), &key())
        .await
        .expect("create");
    assert_eq!(s.status, 201);
    assert_eq!(s.body.status_details.state, CheckoutSessionState::Open);
    let redirect = s
        .body
        .web_checkout_details
        .as_ref()
        .and_then(|w| w.amazon_pay_redirect_url.clone())
        .expect("redirect url");
    assert!(redirect.starts_with(sb.base_url()));
    // Completing before the buyer acted is refused.
    let early = c
        .complete_checkout_session(
            &s.body.checkout_session_id,
            &CompleteCheckoutSessionRequest::default(),
            &key(),
        )
        .await;
    assert_eq!(api_err(early), (422, "InvalidCheckoutSessionStatus".into()));
    let location = submit_page(
        &redirect,
        &[("action", "consent"), ("preset", "mfa-required")],
    )
    .await;
    assert!(location.starts_with("http://localhost:9/setup-done?"));
    let sid = session_id_from(&location);
    assert_eq!(sid, s.body.checkout_session_id);
    let done = c
        .complete_checkout_session(&sid, &CompleteCheckoutSessionRequest::default(), &key())
        .await
        .expect("complete");
    assert_eq!(done.status, 200);
    assert_eq!(
        done.body.status_details.state,
        CheckoutSessionState::Completed
    );
    assert_eq!(
        done.body.charge_permission_type,
        Some(ChargePermissionType::PaymentMethodOnFile)
    );
    let cp = done.body.charge_permission_id.expect("cp id");
    let perm = c.get_charge_permission(&cp).await.expect("cp").body;
    assert_eq!(perm.status_details.state, ChargePermissionState::Chargeable);
    assert_eq!(perm.presentment_currency.as_deref(), Some("EUR"));
    let twice = c
        .complete_checkout_session(&sid, &CompleteCheckoutSessionRequest::default(), &key())
        .await;
    assert_eq!(api_err(twice), (422, "InvalidCheckoutSessionStatus".into()));

    // Test card 3064: the buyer cancels; 3434: declined.
    for (preset, reason) in [
        ("setup-buyer-canceled", "BuyerCanceled"),
        ("setup-declined", "Declined"),
    ] {
        let sid = setup_session(&sb).await;
        let page = format!("{}/checkout/{sid}", sb.base_url());
        submit_page(&page, &[("action", "consent"), ("preset", preset)]).await;
        let e = c
            .complete_checkout_session(&sid, &CompleteCheckoutSessionRequest::default(), &key())
            .await;
        assert_eq!(api_err(e), (422, "CheckoutSessionCanceled".into()));
        let s = c.get_checkout_session(&sid).await.expect("get").body;
        assert_eq!(
            s.status_details.reason_code.as_ref().map(|r| r.as_str()),
            Some(reason)
        );
    }
    // An open session expires after 24 h.
    let sid = setup_session(&sb).await;
    advance(&sb, 24 * 3600 - 1).await;
    let s = c.get_checkout_session(&sid).await.expect("get").body;
    assert_eq!(s.status_details.state, CheckoutSessionState::Open);
    advance(&sb, 1).await;
    let s = c.get_checkout_session(&sid).await.expect("get").body;
    assert_eq!(s.status_details.state, CheckoutSessionState::Canceled);
    assert_eq!(s.status_details.reason_code, Some(ReasonCode::Expired));
    // A GET never changes state: the consent page of a fresh session stays Open.
    let sid = setup_session(&sb).await;
    let html = reqwest::get(format!("{}/checkout/{sid}", sb.base_url()))
        .await
        .expect("get")
        .text()
        .await
        .expect("t");
    assert!(html.contains("<label for=\"pm0\">"));
    let s = c.get_checkout_session(&sid).await.expect("get").body;
    assert_eq!(s.status_details.state, CheckoutSessionState::Open);
    assert!(s.buyer.is_none());
}

#[tokio::test]
async fn checkout_with_payment_update_flow_and_ipn_ledger() {
    let sb = start().await;
    let c = client(&sb);
    let mut req = setup_request();
    req.payment_method_on_file_metadata = None;
    req.payment_details = Some(PaymentDetails {
        payment_intent: Some(PaymentIntent::AuthorizeWithCapture),
        charge_amount: Some(eur(1999)),
        ..Default::default()
    });
    // Buyer choice through the control API instead of the HTML page.
    let sid = new_session(&c, &req).await;
    let (status, v) = control_post(
        &sb,
        &format!("/checkout-sessions/{sid}/buyer"),
        json!({"preset": "always-approve"}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(v["redirectUrl"]
        .as_str()
        .expect("url")
        .ends_with(&format!("amazonCheckoutSessionId={sid}")));
    let mismatch = c
        .complete_checkout_session(&sid, &complete(1998), &key())
        .await;
    assert_eq!(api_err(mismatch), (409, "AmountMismatch".into()));
    let done = c
        .complete_checkout_session(&sid, &complete(1999), &key())
        .await
        .expect("complete");
    assert_eq!(done.status, 200);
    let charge_id = done.body.charge_id.clone().expect("chargeId");
    let cp = done.body.charge_permission_id.clone().expect("cp");
    assert_eq!(charge_status(&c, &charge_id).await.0, ChargeState::Captured);

    // Pending authorization at completion → 202, resolved later.
    let mut pending = req.clone();
    pending.payment_details = Some(PaymentDetails {
        payment_intent: Some(PaymentIntent::Authorize),
        charge_amount: Some(eur(500)),
        can_handle_pending_authorization: Some(true),
        ..Default::default()
    });
    let sid2 = new_session(&c, &pending).await;
    control_post(&sb, &format!("/checkout-sessions/{sid2}/buyer"), json!({})).await;
    let p = simulating(&c, "AuthorizationInitiated")
        .complete_checkout_session(&sid2, &complete(500), &key())
        .await
        .expect("complete pending");
    assert_eq!(p.status, 202);
    let pending_charge = p.body.charge_id.expect("charge id");
    assert_eq!(
        charge_status_after(&sb, &c, &pending_charge, 31).await.0,
        ChargeState::Authorized
    );

    // Hosted Update flow (SPEC §11.6): a session carrying the permission id re-enables it.
    let sb_close = simulating(&c, "HardDeclined")
        .create_charge(&charge_req(&cp, 100), &key())
        .await;
    assert_eq!(api_err(sb_close).1, "HardDeclined");
    let mut upd = setup_request();
    upd.charge_permission_id = Some(cp.clone());
    let usid = new_session(&c, &upd).await;
    let location = submit_page(
        &format!("{}/checkout/{usid}", sb.base_url()),
        &[("action", "consent"), ("preset", "always-approve")],
    )
    .await;
    assert_eq!(session_id_from(&location), usid);
    let done = c
        .complete_checkout_session(&usid, &CompleteCheckoutSessionRequest::default(), &key())
        .await
        .expect("complete update");
    assert_eq!(done.body.charge_permission_id.as_deref(), Some(cp.as_str()));
    assert_eq!(
        permission_state(&c, &cp).await,
        ChargePermissionState::Chargeable
    );

    // MFA outcome through the control API.
    let mfa_cp = wallet(&sb, "mfa-required").await;
    let ch = c
        .create_charge(&mfa_charge(&mfa_cp), &key())
        .await
        .expect("mfa")
        .body;
    let redirect = redirect_of(&ch);
    let msid = redirect.rsplit('/').next().expect("sid").to_string();
    let (status, _) = control_post(
        &sb,
        &format!("/checkout-sessions/{msid}/mfa"),
        json!({"outcome": "approved"}),
    )
    .await;
    assert_eq!(status, 200);
    c.complete_checkout_session(&msid, &complete(2500), &key())
        .await
        .expect("mfa complete");

    // Every state change was published as an IPN (ledger view).
    let ledger = sb.ledger();
    let published = ledger["ipnPublished"].as_array().expect("ipns");
    let for_obj = |id: &str| published.iter().filter(|m| m["ObjectId"] == id).count();
    assert!(
        for_obj(&pending_charge) >= 2,
        "AuthorizationInitiated and Authorized"
    );
    assert!(for_obj(&cp) >= 2, "NonChargeable and Chargeable again");
    assert!(published
        .iter()
        .all(|m| m["MerchantID"] == "A2SANDBOXMERCHANT" && m["NotificationVersion"] == "V2"));
    // Buyers from the control API.
    let (status, b) = control_post(
        &sb,
        "/buyers",
        json!({"name": "Test Buyer", "email": "t@example.com"}),
    )
    .await;
    assert_eq!(status, 201);
    let w = control_wallet(&sb, json!({"buyerId": b["buyerId"], "region": "na"})).await;
    assert_eq!(w["buyer"]["name"], "Test Buyer");
    assert_eq!(w["presentmentCurrency"], "USD");
    assert_eq!(
        w["limits"]["amountLimit"],
        json!({"amount": "15000.00", "currencyCode": "USD"})
    );
}

#[tokio::test]
async fn buyer_pages_need_the_form_token_and_escape_merchant_text() {
    let sb = start().await;
    let c = client(&sb);
    let mut req = setup_request();
    req.merchant_metadata = Some(MerchantMetadata {
        merchant_store_name: Some("<script>alert(1)</script> & Co".into()),
        ..Default::default()
    });
    let sid = new_session(&c, &req).await;
    let url = format!("{}/checkout/{sid}", sb.base_url());
    let html = reqwest::get(&url)
        .await
        .expect("get")
        .text()
        .await
        .expect("t");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"),
        "{html}"
    );
    assert!(!html.contains("<script>"));
    assert!(html.contains("<legend>") && html.contains("<button type=\"submit\""));
    // A forged or missing token changes nothing.
    let http = no_redirect_client();
    for (form, want) in [
        ("token=forged&action=consent&preset=always-approve", 403),
        ("action=consent&preset=always-approve", 422),
    ] {
        let resp = http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .expect("post");
        assert_eq!(resp.status().as_u16(), want, "{form}");
        let s = c.get_checkout_session(&sid).await.expect("get").body;
        assert!(s.buyer.is_none(), "{form}");
        assert_eq!(s.status_details.state, CheckoutSessionState::Open);
    }
    // The account page refuses a forged close, then a real close leaves no forms.
    let cp = wallet(&sb, "always-approve").await;
    let account = sb.payment_method_update_url(&cp);
    let resp = http
        .post(&account)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=forged&action=close")
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 403);
    assert_eq!(
        permission_state(&c, &cp).await,
        ChargePermissionState::Chargeable
    );
    submit_page(&account, &[("action", "close")]).await;
    let html = reqwest::get(&account)
        .await
        .expect("get")
        .text()
        .await
        .expect("t");
    assert!(html.contains("is closed") && !html.contains("<form"));
    // A canceled checkout's consent page is gone.
    let location = submit_page(&url, &[("action", "cancel")]).await;
    assert_eq!(session_id_from(&location), sid);
    let gone = reqwest::get(&url).await.expect("get");
    assert_eq!(gone.status().as_u16(), 410);
}

#[tokio::test]
async fn test_cards_0701_and_4354_resolve_after_30_seconds_at_checkout() {
    let sb = start().await;
    let c = client(&sb);
    let checkout = |can_pend: bool| {
        let mut req = setup_request();
        req.payment_method_on_file_metadata = None;
        req.payment_details = Some(PaymentDetails {
            payment_intent: Some(PaymentIntent::Authorize),
            charge_amount: Some(eur(3000)),
            can_handle_pending_authorization: Some(can_pend),
            ..Default::default()
        });
        req
    };
    for (preset, end) in [
        ("async-approve", (ChargeState::Authorized, None)),
        (
            "async-decline",
            (ChargeState::Declined, Some(ReasonCode::HardDeclined)),
        ),
    ] {
        let sid = new_session(&c, &checkout(true)).await;
        let page = format!("{}/checkout/{sid}", sb.base_url());
        let html = reqwest::get(&page)
            .await
            .expect("get")
            .text()
            .await
            .expect("t");
        assert!(html.contains(if preset == "async-approve" {
            "****0701"
        } else {
            "****4354"
        }));
        submit_page(&page, &[("action", "consent"), ("preset", preset)]).await;
        let done = c
            .complete_checkout_session(&sid, &complete(3000), &key())
            .await
            .expect("complete");
        assert_eq!(done.status, 202, "{preset}: authorization pending");
        let charge_id = done.body.charge_id.expect("chargeId");
        assert_eq!(
            charge_status(&c, &charge_id).await.0,
            ChargeState::AuthorizationInitiated
        );
        assert_eq!(
            charge_status_after(&sb, &c, &charge_id, 29).await.0,
            ChargeState::AuthorizationInitiated,
            "{preset}: not before 30 s"
        );
        assert_eq!(
            charge_status_after(&sb, &c, &charge_id, 1).await,
            end,
            "{preset}"
        );
    }
    // Without canHandlePendingAuthorization the pending card is an error at completion,
    // and no Saved Wallet is left behind.
    let wallets = |l: Value| l["chargePermissions"].as_array().map_or(0, |a| a.len());
    let before = wallets(sb.ledger());
    let sid = new_session(&c, &checkout(false)).await;
    submit_page(
        &format!("{}/checkout/{sid}", sb.base_url()),
        &[("action", "consent"), ("preset", "async-approve")],
    )
    .await;
    let e = c
        .complete_checkout_session(&sid, &complete(3000), &key())
        .await;
    assert_eq!(api_err(e), (422, "CheckoutSessionCanceled".into()));
    let s = c.get_checkout_session(&sid).await.expect("get").body;
    assert_eq!(s.status_details.reason_code, Some(ReasonCode::Declined));
    assert!(s.charge_permission_id.is_none());
    assert_eq!(wallets(sb.ledger()), before);
}
