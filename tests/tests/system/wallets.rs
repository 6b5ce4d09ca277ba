//! Wallets end to end: the buyer closes the Saved Wallet on Amazon's page (IPN → the
//! wallet is Closed, its subscriptions canceled, nothing billed after — while another
//! wallet's subscription is billed as usual), the merchant closes one (Close Charge
//! Permission once; an order's authorization is kept), a setup the buyer did not finish,
//! and a leaked setup session completed by another customer (404, nothing attached).

use reqwest::Method;
use savedwallet_tests::{returned_session, Preset, System, FRONTEND};
use serde_json::{json, Value};

const MONTH_SECS: u64 = 32 * 24 * 3600;

/// Subscribes the buyer to the demo monthly plan; returns the subscription id.
async fn subscribe(sys: &System, token: &str, wallet: &str, key: &str) -> String {
    let r = sys
        .call(
            Method::POST,
            "/v1/subscriptions",
            &savedwallet_tests::Who::Buyer(token.to_string()),
            Some(json!({
                "walletId": wallet,
                "planId": "demo-monthly",
                "checkoutResultReturnUrl": format!("{FRONTEND}/subscriptions/done"),
            })),
            Some(key),
        )
        .await;
    let body = r.ok(201).clone();
    assert_eq!(body["payment"]["status"], "succeeded", "{body:#}");
    assert_eq!(body["subscription"]["status"], "active");
    body["subscription"]["subscriptionId"]
        .as_str()
        .expect("id")
        .to_string()
}

async fn subscription(sys: &System, token: &str, id: &str) -> Value {
    sys.buyer_call(token, Method::GET, &format!("/v1/subscriptions/{id}"), None)
        .await
        .ok(200)
        .clone()
}

fn initiators(charges: &[Value]) -> Vec<String> {
    charges
        .iter()
        .map(|c| c["chargeInitiator"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn the_buyer_closes_the_wallet_on_amazon_and_nothing_is_billed_after() {
    let sys = System::start().await;
    let token = sys.token("cust_close").await;
    let closing = sys.wallet_id(&token, Preset::AlwaysApprove).await;
    let staying = sys.wallet_id(&token, Preset::AlwaysApprove).await;
    let gone = subscribe(&sys, &token, &closing, "sub-closing").await;
    let kept = subscribe(&sys, &token, &staying, "sub-staying").await;
    assert_eq!(initiators(&sys.charges_of(&closing).await), ["CITR"]);

    // The buyer closes the Saved Wallet on Amazon's account page.
    let w = sys.get_wallet(&token, &closing).await;
    let page = w["paymentMethodUpdateUrl"].as_str().expect("url");
    sys.buyer
        .close_wallet(page)
        .await
        .expect("the account page");
    sys.jobs().await;
    let w = sys.get_wallet(&token, &closing).await;
    assert_eq!(w["state"], "Closed", "{w:#}");
    assert_eq!(w["reasons"], json!(["BuyerClosed"]));
    let s = subscription(&sys, &token, &gone).await;
    assert_eq!(s["status"], "canceled", "{s:#}");
    assert_eq!(s["cancelReason"], "wallet_closed");
    assert!(s["canceledAt"].is_string());
    assert!(s["nextBillingAt"].is_null());
    let kinds = sys.event_types().await;
    for k in ["wallet.closed", "subscription.canceled"] {
        assert!(kinds.iter().any(|e| e == k), "{k} in {kinds:?}");
    }

    // A month later: the other wallet's subscription renews (MITR), the closed one's not.
    let calls = sys.amazon_calls("CreateCharge").await;
    sys.advance(MONTH_SECS).await;
    let report = sys.jobs().await;
    assert_eq!(report["charged"], 1, "{report:#}");
    assert_eq!(sys.amazon_calls("CreateCharge").await, calls + 1);
    assert_eq!(initiators(&sys.charges_of(&closing).await), ["CITR"]);
    assert_eq!(
        initiators(&sys.charges_of(&staying).await),
        ["CITR", "MITR"]
    );
    assert_eq!(subscription(&sys, &token, &kept).await["status"], "active");
    assert_eq!(
        subscription(&sys, &token, &gone).await["status"],
        "canceled"
    );
    // And nothing else can be charged to it.
    let order = sys.order("cust_close", "5.00", true).await;
    sys.pay(&token, &order, &closing)
        .await
        .error(422, "wallet_not_chargeable");
    assert_eq!(sys.amazon_calls("CreateCharge").await, calls + 1);
}

#[tokio::test]
async fn the_merchant_closes_a_wallet_once_and_keeps_an_orders_authorization() {
    let sys = System::start().await;
    let token = sys.token("cust_mclose").await;
    let wallet = sys.wallet_id(&token, Preset::AlwaysApprove).await;
    let sub = subscribe(&sys, &token, &wallet, "sub-1").await;
    let order = sys.order("cust_mclose", "30.00", false).await;
    let paid = sys.pay(&token, &order, &wallet).await;
    assert_eq!(paid.ok(201)["status"], "authorized");
    let pid = paid.body["paymentId"].as_str().expect("id").to_string();

    let path = format!("/v1/wallets/{wallet}");
    let closed = sys.buyer_call(&token, Method::DELETE, &path, None).await;
    assert_eq!(closed.ok(200)["state"], "Closed", "{:#}", closed.body);
    let permission = sys.amazon_permission(&wallet).await;
    assert_eq!(permission["statusDetails"]["state"], "Closed");
    assert_eq!(
        permission["statusDetails"]["reasons"][0]["reasonCode"], "MerchantClosed",
        "{permission:#}"
    );
    assert_eq!(sys.amazon_calls("CloseChargePermission").await, 1);
    // A repeat answers the same wallet; Amazon is not asked again.
    let again = sys.buyer_call(&token, Method::DELETE, &path, None).await;
    assert_eq!(again.ok(200)["state"], "Closed");
    assert_eq!(again.body["walletId"], wallet.as_str());
    assert_eq!(sys.amazon_calls("CloseChargePermission").await, 1);

    sys.jobs().await;
    let s = subscription(&sys, &token, &sub).await;
    assert_eq!(s["status"], "canceled", "{s:#}");
    assert_eq!(s["cancelReason"], "wallet_closed");
    // The order's authorization is not canceled: the merchant still captures it.
    assert_eq!(sys.payment(&token, &pid).await["status"], "authorized");
    let charge = sys
        .charges_of(&wallet)
        .await
        .into_iter()
        .find(|c| c["merchantMetadata"]["merchantReferenceId"] == pid.as_str())
        .expect("the order's charge");
    assert_eq!(charge["statusDetails"]["state"], "Authorized");
    let captured = sys
        .admin_call(
            Method::POST,
            &format!("/admin/v1/payments/{pid}/capture"),
            None,
            None,
        )
        .await;
    assert_eq!(
        captured.ok(200)["status"],
        "succeeded",
        "{:#}",
        captured.body
    );

    // Nothing billed after.
    let calls = sys.amazon_calls("CreateCharge").await;
    sys.advance(MONTH_SECS).await;
    assert_eq!(sys.jobs().await["charged"], 0);
    assert_eq!(sys.amazon_calls("CreateCharge").await, calls);
}

#[tokio::test]
async fn a_setup_the_buyer_did_not_finish_saves_no_wallet() {
    let sys = System::start().await;
    let token = sys.token("cust_nosave").await;
    let start = || {
        sys.buyer_call(
            &token,
            Method::POST,
            "/v1/wallets/setup",
            Some(json!({ "returnUrl": format!("{FRONTEND}/wallet/done") })),
        )
    };
    for preset in [Preset::SetupBuyerCanceled, Preset::SetupDeclined] {
        let started = start().await;
        let redirect = started.ok(201)["redirectUrl"].as_str().expect("url");
        let back = sys.buyer.consent(redirect, preset).await.expect("consent");
        let session = returned_session(&back).expect("session");
        let r = sys
            .buyer_call(
                &token,
                Method::POST,
                "/v1/wallets",
                Some(json!({ "amazonCheckoutSessionId": session })),
            )
            .await;
        r.error(422, "checkout_session_canceled");
    }
    // The buyer leaves the consent page with "Cancel".
    let started = start().await;
    let redirect = started.ok(201)["redirectUrl"].as_str().expect("url");
    let back = sys.buyer.cancel_checkout(redirect).await.expect("cancel");
    let session = returned_session(&back).expect("session");
    sys.buyer_call(
        &token,
        Method::POST,
        "/v1/wallets",
        Some(json!({ "amazonCheckoutSessionId": session })),
    )
    .await
    .error(422, "checkout_session_canceled");

    let list = sys
        .buyer_call(&token, Method::GET, "/v1/wallets", None)
        .await;
    assert_eq!(list.ok(200)["wallets"], json!([]));
    assert_eq!(sys.ledger().await["chargePermissions"], json!([]));
}

async fn admin_wallets(sys: &System, customer: &str) -> savedwallet_tests::Reply {
    sys.admin_call(
        Method::GET,
        &format!("/admin/v1/customers/{customer}/wallets"),
        None,
        None,
    )
    .await
}

#[tokio::test]
async fn a_leaked_setup_session_attaches_nothing_to_another_customer() {
    let sys = System::start().await;
    let alice = sys.token("cust_alice").await;
    let mallory = sys.token("cust_mallory").await;
    let started = sys
        .buyer_call(
            &alice,
            Method::POST,
            "/v1/wallets/setup",
            Some(json!({ "returnUrl": format!("{FRONTEND}/wallet/done") })),
        )
        .await;
    let redirect = started.ok(201)["redirectUrl"].as_str().expect("url");
    let back = sys
        .buyer
        .consent(redirect, Preset::AlwaysApprove)
        .await
        .expect("consent");
    let leaked = returned_session(&back).expect("session");
    let body = json!({ "amazonCheckoutSessionId": leaked });

    // Mallory completes alice's session: 404 as for a missing one, Amazon not asked to
    // complete it, nothing of alice's attached to mallory.
    let stolen = sys
        .buyer_call(&mallory, Method::POST, "/v1/wallets", Some(body.clone()))
        .await;
    stolen.error(404, "not_found");
    assert_eq!(sys.amazon_calls("CompleteCheckoutSession").await, 0);
    assert_eq!(
        admin_wallets(&sys, "cust_mallory").await.ok(200)["wallets"],
        json!([])
    );
    assert_eq!(
        admin_wallets(&sys, "cust_alice").await.ok(200)["wallets"],
        json!([])
    );

    // Alice completes her own session; mallory still cannot take it afterwards.
    let saved = sys
        .buyer_call(&alice, Method::POST, "/v1/wallets", Some(body.clone()))
        .await;
    assert_eq!(saved.ok(201)["state"], "Chargeable");
    let wallet = saved.body["walletId"].as_str().expect("id").to_string();
    sys.buyer_call(&mallory, Method::POST, "/v1/wallets", Some(body))
        .await
        .error(404, "not_found");
    sys.buyer_call(
        &mallory,
        Method::GET,
        &format!("/v1/wallets/{wallet}"),
        None,
    )
    .await
    .error(404, "not_found");
    let mine = sys
        .buyer_call(&mallory, Method::GET, "/v1/wallets", None)
        .await;
    assert_eq!(mine.ok(200)["wallets"], json!([]));
    assert_eq!(
        admin_wallets(&sys, "cust_mallory").await.ok(200)["wallets"],
        json!([])
    );
    let alices = admin_wallets(&sys, "cust_alice").await;
    let alices = alices.ok(200)["wallets"].as_array().expect("wallets");
    assert_eq!(alices.len(), 1);
    assert_eq!(alices[0]["walletId"], wallet.as_str());
    assert_eq!(sys.amazon_calls("CompleteCheckoutSession").await, 1);
}
