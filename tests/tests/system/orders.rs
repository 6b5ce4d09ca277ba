//! Orders end to end: a wallet set up on the consent page, an order paid as a CITU charge,
//! an authorization captured (and one canceled) by the merchant, refunds that go pending
//! and settle through the refund IPN once the sandbox's refund delay has passed, and an
//! unscheduled merchant charge (MITU).

use reqwest::Method;
use savedwallet_tests::{Preset, System};
use serde_json::{json, Value};

fn eur(amount: &str) -> Value {
    json!({ "amount": amount, "currencyCode": "EUR" })
}

/// The sandbox's refund delay (`--refund-delay`, 30 s by default).
const REFUND_DELAY_SECS: u64 = 30;

#[tokio::test]
async fn an_order_is_paid_once_as_a_customer_initiated_charge() {
    let sys = System::start().await;
    let token = sys.token("cust_order").await;
    let wallet = sys.wallet_id(&token, Preset::AlwaysApprove).await;
    let order = sys.order("cust_order", "14.99", true).await;

    let paid = sys.pay(&token, &order, &wallet).await;
    let body = paid.ok(201).clone();
    assert_eq!(body["status"], "succeeded");
    assert_eq!(body["amount"], eur("14.99"));
    assert_eq!(body["walletId"], wallet.as_str());
    assert_eq!(body["purpose"]["orderId"], order.as_str());
    let payment_id = body["paymentId"].as_str().expect("paymentId").to_string();
    let charge_id = body["chargeId"].as_str().expect("chargeId").to_string();

    // What Amazon saw: one Create Charge, CITU, captured now, the order's amount.
    let charges = sys.charges_of(&wallet).await;
    assert_eq!(charges.len(), 1, "{charges:#?}");
    let c = &charges[0];
    assert_eq!(c["chargeId"], charge_id.as_str());
    assert_eq!(c["chargeInitiator"], "CITU");
    assert_eq!(c["captureNow"], true);
    assert_eq!(c["chargeAmount"], eur("14.99"));
    assert_eq!(c["statusDetails"]["state"], "Captured");
    assert_eq!(
        c["merchantMetadata"]["merchantReferenceId"],
        payment_id.as_str()
    );
    assert_eq!(sys.amazon_calls("CreateCharge").await, 1);

    // Once per order: paying again is 409 with the payment's id, nothing sent.
    let again = sys.pay(&token, &order, &wallet).await;
    again.error(409, "order_has_payment");
    assert_eq!(
        again.body["error"]["paymentId"],
        payment_id.as_str(),
        "{:#}",
        again.body
    );
    assert_eq!(sys.amazon_calls("CreateCharge").await, 1);

    // The buyer's views agree; the wallet counts the month's usage.
    let got = sys
        .buyer_call(&token, Method::GET, &format!("/v1/orders/{order}"), None)
        .await;
    assert_eq!(got.ok(200)["payment"]["paymentId"], payment_id.as_str());
    assert_eq!(got.body["payment"]["status"], "succeeded");
    let list = sys
        .buyer_call(&token, Method::GET, "/v1/payments", None)
        .await;
    let payments = list.ok(200)["payments"].as_array().expect("payments");
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0]["paymentId"], payment_id.as_str());
    assert_eq!(payments[0]["attempts"].as_array().map(Vec::len), Some(1));
    let w = sys.get_wallet(&token, &wallet).await;
    assert_eq!(w["monthlyUsage"]["used"], eur("14.99"));

    // The merchant event went out once the jobs ran.
    sys.jobs().await;
    let events = sys.events().await;
    let succeeded: Vec<_> = events
        .iter()
        .filter(|e| e["type"] == "payment.succeeded" && e["data"]["status"] == "succeeded")
        .collect();
    assert_eq!(succeeded.len(), 1, "{events:#?}");
    assert_eq!(succeeded[0]["data"]["paymentId"], payment_id.as_str());
}

#[tokio::test]
async fn an_authorization_is_captured_by_the_merchant_once() {
    let sys = System::start().await;
    let token = sys.token("cust_capture").await;
    let wallet = sys.wallet_id(&token, Preset::AlwaysApprove).await;
    let order = sys.order("cust_capture", "20.00", false).await;

    let paid = sys.pay(&token, &order, &wallet).await;
    assert_eq!(paid.ok(201)["status"], "authorized");
    assert!(paid.body["captured"].is_null());
    let payment_id = paid.body["paymentId"].as_str().expect("id").to_string();
    let charges = sys.charges_of(&wallet).await;
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0]["captureNow"], false);
    assert_eq!(charges[0]["statusDetails"]["state"], "Authorized");

    // A partial capture of the authorized amount.
    let path = format!("/admin/v1/payments/{payment_id}/capture");
    let captured = sys
        .admin_call(
            Method::POST,
            &path,
            Some(json!({ "amount": eur("15.00") })),
            None,
        )
        .await;
    let body = captured.ok(200).clone();
    assert_eq!(body["status"], "succeeded");
    assert_eq!(body["captured"], eur("15.00"));
    let charge = &sys.charges_of(&wallet).await[0];
    assert_eq!(charge["statusDetails"]["state"], "Captured");
    assert_eq!(charge["captureAmount"], eur("15.00"));
    assert_eq!(sys.amazon_calls("CaptureCharge").await, 1);

    // Capturing again answers the same payment; Amazon is not asked twice.
    let again = sys
        .admin_call(
            Method::POST,
            &path,
            Some(json!({ "amount": eur("15.00") })),
            None,
        )
        .await;
    assert_eq!(again.ok(200)["status"], "succeeded");
    assert_eq!(again.body["captured"], eur("15.00"));
    assert_eq!(sys.amazon_calls("CaptureCharge").await, 1);

    // The IPNs of the authorization and the capture change nothing more.
    sys.jobs().await;
    let read = sys.admin_payment(&payment_id).await;
    assert_eq!(read["status"], "succeeded");
    assert_eq!(read["captured"], eur("15.00"));
    let attempts = read["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["state"], "Captured");
}

#[tokio::test]
async fn an_authorization_is_canceled_by_the_merchant() {
    let sys = System::start().await;
    let token = sys.token("cust_cancel").await;
    let wallet = sys.wallet_id(&token, Preset::AlwaysApprove).await;
    let order = sys.order("cust_cancel", "30.00", false).await;
    let paid = sys.pay(&token, &order, &wallet).await;
    assert_eq!(paid.ok(201)["status"], "authorized");
    let payment_id = paid.body["paymentId"].as_str().expect("id").to_string();

    let path = format!("/admin/v1/payments/{payment_id}/cancel");
    let canceled = sys.admin_call(Method::POST, &path, None, None).await;
    assert_eq!(canceled.ok(200)["status"], "canceled");
    let charge = &sys.charges_of(&wallet).await[0];
    assert_eq!(charge["statusDetails"]["state"], "Canceled");
    assert_eq!(charge["statusDetails"]["reasonCode"], "MerchantCanceled");
    assert_eq!(sys.amazon_calls("CancelCharge").await, 1);
    // A repeat answers the same object.
    let again = sys.admin_call(Method::POST, &path, None, None).await;
    assert_eq!(again.ok(200)["status"], "canceled");
    assert_eq!(sys.amazon_calls("CancelCharge").await, 1);
    // Nothing left to capture; the usage is given back.
    let capture = sys
        .admin_call(
            Method::POST,
            &format!("/admin/v1/payments/{payment_id}/capture"),
            None,
            None,
        )
        .await;
    capture.error(422, "payment_not_capturable");
    assert_eq!(sys.amazon_calls("CaptureCharge").await, 0);
    sys.jobs().await;
    let w = sys.get_wallet(&token, &wallet).await;
    assert_eq!(w["monthlyUsage"]["used"], eur("0.00"));
}

#[tokio::test]
async fn a_refund_is_pending_until_its_ipn_settles_it() {
    let sys = System::start().await;
    let token = sys.token("cust_refund").await;
    let wallet = sys.wallet_id(&token, Preset::AlwaysApprove).await;
    let order = sys.order("cust_refund", "40.00", true).await;
    let paid = sys.pay(&token, &order, &wallet).await;
    assert_eq!(paid.ok(201)["status"], "succeeded");
    let payment_id = paid.body["paymentId"].as_str().expect("id").to_string();
    let refunds = format!("/admin/v1/payments/{payment_id}/refunds");

    let created = sys
        .admin_call(
            Method::POST,
            &refunds,
            Some(json!({ "amount": eur("15.00"), "reason": "damaged" })),
            Some("refund-1"),
        )
        .await;
    let refund = created.ok(201).clone();
    assert_eq!(refund["state"], "pending");
    assert_eq!(refund["amount"], eur("15.00"));
    let refund_id = refund["refundId"].as_str().expect("refundId").to_string();
    let amazon_refunds = sys.ledger().await["refunds"].clone();
    assert_eq!(amazon_refunds.as_array().map(Vec::len), Some(1));
    assert_eq!(
        amazon_refunds[0]["statusDetails"]["state"],
        "RefundInitiated"
    );
    assert_eq!(amazon_refunds[0]["refundAmount"], eur("15.00"));

    // Before the delay nothing settles, whatever the jobs do.
    sys.jobs().await;
    let get = format!("/admin/v1/refunds/{refund_id}");
    let read = sys.admin_call(Method::GET, &get, None, None).await;
    assert_eq!(read.ok(200)["state"], "pending");

    // After it: Amazon's IPN, then the refund is fetched and settled.
    sys.advance(REFUND_DELAY_SECS + 1).await;
    sys.jobs().await;
    let read = sys.admin_call(Method::GET, &get, None, None).await;
    assert_eq!(read.ok(200)["state"], "succeeded");
    assert_eq!(
        sys.ledger().await["refunds"][0]["statusDetails"]["state"],
        "Refunded"
    );
    let p = sys.admin_payment(&payment_id).await;
    assert_eq!(p["refunded"], eur("15.00"));
    assert_eq!(p["status"], "succeeded");
    let kinds = sys.event_types().await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "refund.succeeded").count(),
        1,
        "{kinds:?}"
    );

    // More than what is left of the capture: refused before Amazon is asked, nothing
    // reserved (the payment's refunded total is unchanged), and the refusal is the key's
    // saved answer (API.md keeps 422s).
    let calls = sys.amazon_calls("CreateRefund").await;
    let too_much = || {
        sys.admin_call(
            Method::POST,
            &refunds,
            Some(json!({ "amount": eur("25.01") })),
            Some("refund-2"),
        )
    };
    too_much().await.error(422, "refund_exceeds_captured");
    let replayed = too_much().await;
    replayed.error(422, "refund_exceeds_captured");
    assert_eq!(replayed.headers["idempotent-replayed"], "true");
    assert_eq!(sys.amazon_calls("CreateRefund").await, calls);
    assert_eq!(
        sys.admin_payment(&payment_id).await["refunded"],
        eur("15.00")
    );
    // The rest of the capture can still be refunded.
    let rest = sys
        .admin_call(
            Method::POST,
            &refunds,
            Some(json!({ "amount": eur("25.00") })),
            Some("refund-3"),
        )
        .await;
    assert_eq!(rest.ok(201)["state"], "pending");
    assert_eq!(sys.amazon_calls("CreateRefund").await, calls + 1);
}

#[tokio::test]
async fn a_merchant_initiated_unscheduled_charge() {
    let sys = System::start().await;
    let token = sys.token("cust_mitu").await;
    let wallet = sys.wallet_id(&token, Preset::AlwaysApprove).await;
    let r = sys
        .admin_call(
            Method::POST,
            "/admin/v1/payments",
            Some(json!({ "walletId": wallet, "amount": eur("7.50"), "reason": "top-up" })),
            Some("mitu-1"),
        )
        .await;
    assert_eq!(r.ok(201)["status"], "succeeded");
    assert_eq!(r.body["purpose"]["type"], "unscheduled");
    let charges = sys.charges_of(&wallet).await;
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0]["chargeInitiator"], "MITU");
    assert_eq!(charges[0]["chargeAmount"], eur("7.50"));
    // The merchant's list of the customer's payments has it, with the reason.
    let list = sys
        .admin_call(
            Method::GET,
            "/admin/v1/customers/cust_mitu/payments",
            None,
            None,
        )
        .await;
    let payments = list.ok(200)["payments"].as_array().expect("payments");
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0]["reason"], "top-up");
    // The buyer sees it too.
    let mine = sys
        .buyer_call(&token, Method::GET, "/v1/payments", None)
        .await;
    assert_eq!(mine.ok(200)["payments"].as_array().map(Vec::len), Some(1));
}
