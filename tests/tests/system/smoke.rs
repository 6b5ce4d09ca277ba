//! The local stack end to end over HTTP: a wallet set up on the sandbox's consent page,
//! an order paid, the charge in the sandbox's ledger once.

use reqwest::Method;
use savedwallet_tests::{Preset, System};

#[tokio::test]
async fn setup_then_pay_an_order() {
    let sys = System::start().await;
    let token = sys.token("cust_smoke").await;
    let wallet = sys.wallet(&token, Preset::AlwaysApprove).await;
    assert_eq!(wallet["state"], "Chargeable");
    let wallet_id = wallet["walletId"].as_str().expect("walletId");
    let order = sys.order("cust_smoke", "14.99", true).await;
    let paid = sys.pay(&token, &order, wallet_id).await;
    // A charging route answers 201 when it made an attempt (API.md).
    assert_eq!(paid.ok(201)["status"], "succeeded");
    assert_eq!(sys.amazon_calls("CreateCharge").await, 1);
    let got = sys
        .buyer_call(&token, Method::GET, &format!("/v1/orders/{order}"), None)
        .await;
    assert_eq!(got.ok(200)["payment"]["status"], "succeeded");
}
