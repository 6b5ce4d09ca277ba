//! The buyer's and the merchant's flows through the API functions ([`Api`]): a Saved
//! Wallet set up through the sandbox's consent page, a plan, an order, a subscription
//! started in the past, a buyer's GET.

use serde_json::{json, Value};

use savedwallet_app::ids::{CustomerId, PlanId, WalletId};
use savedwallet_app::store::{Payment, Subscription};
use savedwallet_app::usecases::Subscribe;

use crate::runtime_api::Bootstrap;
use crate::{returned_session, uuid_like, Preset};

use super::deployment::Deployment;
use super::events::{api_event, call, ApiReply, Caller};
use super::SHOP;

/// The API functions a buyer's flows need.
pub struct Api {
    /// `wallets`.
    pub wallets: Bootstrap,
    /// `complete-checkout`.
    pub complete: Bootstrap,
    /// `create-charge`.
    pub charge: Bootstrap,
    /// `admin`.
    pub admin: Bootstrap,
}

impl Api {
    /// Starts the four functions (in parallel).
    pub async fn start(d: &Deployment) -> Api {
        let (wallets, complete, charge, admin) = tokio::join!(
            d.start("wallets"),
            d.start("complete-checkout"),
            d.start("create-charge"),
            d.start("admin"),
        );
        Api {
            wallets,
            complete,
            charge,
            admin,
        }
    }
}

/// Sets up a Saved Wallet for `customer` through the functions and the sandbox's consent
/// page, as a buyer does: `POST /v1/wallets/setup` (wallets), consent on Amazon's page,
/// `POST /v1/wallets` (complete-checkout). Returns the wallet as the API answers it.
pub async fn save_wallet(d: &Deployment, api: &Api, customer: &str, preset: Preset) -> Value {
    let me = Caller::Buyer(customer.to_string());
    let started = call(
        &api.wallets,
        api_event(
            "POST",
            "/v1/wallets/setup",
            "/v1/wallets/setup",
            &me,
            Some(&json!({ "returnUrl": format!("{SHOP}/wallet/done") })),
            Some(&format!("setup-{}", uuid_like())),
        ),
    )
    .await;
    let redirect = started.ok(201)["redirectUrl"]
        .as_str()
        .expect("redirectUrl")
        .to_string();
    let back = d.buyer.consent(&redirect, preset).await.expect("consent");
    assert!(
        back.starts_with(SHOP),
        "Amazon sends the buyer back to the shop: {back}"
    );
    let session = returned_session(&back).expect("a session id in the return URL");
    let saved = call(
        &api.complete,
        api_event(
            "POST",
            "/v1/wallets",
            "/v1/wallets",
            &me,
            Some(&json!({ "amazonCheckoutSessionId": session })),
            Some(&format!("wallet-{}", uuid_like())),
        ),
    )
    .await;
    assert!(
        saved.status == 200 || saved.status == 201,
        "wallet not saved: {:#}",
        saved.raw
    );
    saved.body
}

/// `PUT /admin/v1/plans/{planId}` through the admin function: a daily plan at `price` EUR.
pub async fn daily_plan(api: &Api, plan_id: &str, price: &str) {
    let path = format!("/admin/v1/plans/{plan_id}");
    call(
        &api.admin,
        api_event(
            "PUT",
            "/admin/v1/plans/{planId}",
            &path,
            &Caller::Iam,
            Some(&json!({
                "name": "Daily box",
                "price": { "amount": price, "currencyCode": "EUR" },
                "interval": "day",
                "intervalCount": 1,
            })),
            None,
        ),
    )
    .await
    .ok(200);
}

/// `GET <path>` as `customer` through the wallets function.
pub async fn buyer_get(api: &Api, customer: &str, route: &str, path: &str) -> ApiReply {
    call(
        &api.wallets,
        api_event(
            "GET",
            route,
            path,
            &Caller::Buyer(customer.into()),
            None,
            None,
        ),
    )
    .await
}

/// `POST /admin/v1/orders` through the admin function: an order of `amount` EUR for
/// `customer`. Returns its id.
pub async fn admin_order(api: &Api, customer: &str, amount: &str) -> String {
    let order = call(
        &api.admin,
        api_event(
            "POST",
            "/admin/v1/orders",
            "/admin/v1/orders",
            &Caller::Iam,
            Some(&json!({
                "customerId": customer,
                "amount": { "amount": amount, "currencyCode": "EUR" },
                "description": "One box",
            })),
            Some(&format!("order-{}", uuid_like())),
        ),
    )
    .await;
    order.ok(201)["orderId"]
        .as_str()
        .expect("orderId")
        .to_string()
}

/// Alice subscribes `wallet` to `plan_id` through the service as it was `ago` (the functions
/// run on the wall clock, so a period can only be made due by starting it in the past):
/// the subscription, its first payment, and whether it was made now.
pub async fn subscribe_in_the_past(
    d: &Deployment,
    wallet: &str,
    plan_id: &str,
    ago: chrono::TimeDelta,
    scope: &[u8],
) -> (Subscription, Payment, bool) {
    d.service_in_the_past(ago)
        .subscribe(
            &CustomerId::parse("alice").expect("customer"),
            Subscribe {
                wallet_id: WalletId::parse(wallet).expect("wallet id"),
                plan_id: PlanId::parse(plan_id).expect("plan id"),
                return_url: Some(format!("{SHOP}/subscriptions/done")),
                scope: scope.to_vec(),
            },
        )
        .await
        .expect("subscribe")
}
