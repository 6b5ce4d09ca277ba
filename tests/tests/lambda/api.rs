//! The API functions behind API Gateway HTTP API v2: identities come only from the
//! authorizers' request context, the buyer's flows go through `wallets`,
//! `complete-checkout` and `create-charge`, the merchant's through `admin`.

use serde_json::json;

use savedwallet_tests::Preset;

use savedwallet_tests::lambda::{
    admin_order, api_event, buyer_get, call, save_wallet, Api, Caller, Deployment, SHOP,
};

#[tokio::test]
async fn a_buyer_saves_a_wallet_and_pays_an_order_the_merchant_created() {
    let d = Deployment::new().await;
    let api = Api::start(&d).await;

    // The Saved Wallet, through the setup route, Amazon's consent page and Complete
    // Checkout Session.
    let saved = save_wallet(&d, &api, "alice", Preset::AlwaysApprove).await;
    let wallet = saved["walletId"].as_str().expect("walletId").to_string();
    assert_eq!(saved["state"], "Chargeable", "{saved:#}");

    let listed = buyer_get(&api, "alice", "/v1/wallets", "/v1/wallets").await;
    let wallets = listed.ok(200)["wallets"]
        .as_array()
        .expect("wallets")
        .clone();
    assert_eq!(
        wallets
            .iter()
            .map(|w| w["walletId"].clone())
            .collect::<Vec<_>>(),
        vec![json!(wallet)],
        "{:#}",
        listed.raw
    );

    // The merchant (IAM-authorized) creates an order; the buyer pays it.
    let order_id = admin_order(&api, "alice", "19.99").await;
    let pay_path = format!("/v1/orders/{order_id}/pay");
    let pay_body = json!({
        "walletId": wallet,
        "checkoutResultReturnUrl": format!("{SHOP}/orders/{order_id}/done"),
    });
    let pay = |caller: Caller, key: String| {
        api_event(
            "POST",
            "/v1/orders/{orderId}/pay",
            &pay_path,
            &caller,
            Some(&pay_body),
            Some(&key),
        )
    };
    let paid = call(
        &api.charge,
        pay(Caller::Buyer("alice".into()), "pay-1".into()),
    )
    .await;
    let payment = paid.ok(201).clone();
    assert_eq!(payment["status"], "succeeded", "{payment:#}");
    let charges = d.charges_of(&wallet).await;
    assert_eq!(
        charges.len(),
        1,
        "exactly one charge at Amazon: {charges:#?}"
    );
    assert_eq!(
        charges[0]["chargeAmount"]["amount"], "19.99",
        "{charges:#?}"
    );
    assert_eq!(charges[0]["chargeAmount"]["currencyCode"], "EUR");
    assert_eq!(d.amazon_calls("CreateCharge").await, 1);
    // The invocation ended with its CloudWatch metrics on stdout (Embedded Metric Format):
    // the payment's outcome under the stack's Service dimension, total and by Outcome.
    let emf: Vec<_> = api
        .charge
        .json_lines()
        .into_iter()
        .filter(|l| l.get("_aws").is_some())
        .collect();
    let payments = emf
        .iter()
        .find(|l| l.get("Payments").is_some())
        .unwrap_or_else(|| panic!("no Payments metric among {emf:#?}"));
    assert_eq!(payments["Payments"], 1.0, "{payments:#}");
    assert_eq!(payments["Outcome"], "succeeded", "{payments:#}");
    assert!(payments["Service"].is_string(), "{payments:#}");
    let directive = &payments["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], "Savedwallet");
    assert_eq!(
        directive["Dimensions"],
        serde_json::json!([["Service"], ["Service", "Outcome"]])
    );
    assert_eq!(directive["Metrics"][0]["Name"], "Payments");

    // The same request without the JWT authorizer's claims (the bearer token is still in
    // the headers): refused, and nothing is sent to Amazon.
    let (request_id, anonymous) = api
        .charge
        .invoke_traced(pay(Caller::Anonymous, "pay-2".into()))
        .await;
    let anonymous = savedwallet_tests::lambda::ApiReply::parse(anonymous.expect("an answer"));
    let e = anonymous.error(401, "unauthenticated");
    assert_eq!(
        e["requestId"], request_id,
        "the error names the Lambda request id"
    );
    assert_eq!(d.amazon_calls("CreateCharge").await, 1);
    assert_eq!(d.charges_of(&wallet).await.len(), 1);

    // A buyer context is not the merchant's.
    let as_buyer = call(
        &api.admin,
        api_event(
            "GET",
            "/admin/v1/orders/{orderId}",
            &format!("/admin/v1/orders/{order_id}"),
            &Caller::Buyer("alice".into()),
            None,
            None,
        ),
    )
    .await;
    as_buyer.error(401, "unauthenticated");

    // Another buyer does not see Alice's wallet (404, as for a wallet that does not
    // exist), nor can pay with it.
    let path = format!("/v1/wallets/{wallet}");
    buyer_get(&api, "mallory", "/v1/wallets/{walletId}", &path)
        .await
        .error(404, "not_found");
    let mine = buyer_get(&api, "alice", "/v1/wallets/{walletId}", &path).await;
    assert_eq!(mine.ok(200)["walletId"], wallet.as_str());
    let stolen = call(
        &api.charge,
        pay(Caller::Buyer("mallory".into()), "pay-3".into()),
    )
    .await;
    stolen.error(404, "not_found");
    assert_eq!(d.amazon_calls("CreateCharge").await, 1);
}
