//! `Idempotency-Key` over real HTTP (API.md "Errors", docs/http.md): the same key and body
//! answer the first answer again with `Idempotent-Replayed: true` and charge once; the key
//! is scoped to the caller, the method and the path; another body is 409
//! `idempotency_key_reused` with nothing sent; a refused request does not burn its key;
//! and N identical requests raced in parallel make exactly one charge in the sandbox's
//! ledger, the others answered with the replay or 409 `idempotency_key_in_progress`.

use std::sync::Arc;

use reqwest::Method;
use savedwallet_functions::http::RateLimit;
use savedwallet_tests::{Preset, Reply, System, Who, FRONTEND};
use serde_json::{json, Value};

fn eur(amount: &str) -> Value {
    json!({ "amount": amount, "currencyCode": "EUR" })
}

fn replayed(r: &Reply) -> Option<&str> {
    r.headers
        .get("idempotent-replayed")
        .and_then(|v| v.to_str().ok())
}

/// Asserts `again` is `first` answered again (status and body), marked as a replay.
#[track_caller]
fn assert_replay(first: &Reply, again: &Reply) {
    assert_eq!(replayed(first), None, "a first answer is no replay");
    assert_eq!(again.status, first.status, "{:#}", again.body);
    assert_eq!(again.body, first.body);
    assert_eq!(replayed(again), Some("true"));
}

async fn mitu(sys: &System, wallet: &str, amount: &str, key: &str) -> Reply {
    sys.admin_call(
        Method::POST,
        "/admin/v1/payments",
        Some(json!({ "walletId": wallet, "amount": eur(amount), "reason": "top-up" })),
        Some(key),
    )
    .await
}

async fn keyed_pay(sys: &System, token: &str, order: &str, wallet: &str, key: &str) -> Reply {
    sys.call(
        Method::POST,
        &format!("/v1/orders/{order}/pay"),
        &Who::Buyer(token.to_string()),
        Some(json!({ "walletId": wallet, "checkoutResultReturnUrl": format!("{FRONTEND}/o") })),
        Some(key),
    )
    .await
}

fn id(body: &Value, field: &str) -> String {
    body[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field}: {body:#}"))
        .to_string()
}

#[tokio::test]
async fn a_replayed_key_answers_the_first_answer_and_charges_once() {
    let sys = System::start().await;
    let token = sys.token("cust_replay").await;
    let wallet = sys.wallet_id(&token, Preset::AlwaysApprove).await;

    // A merchant charge (MITU): the key is required.
    let first = mitu(&sys, &wallet, "5.00", "mitu-replay").await;
    assert_eq!(first.ok(201)["status"], "succeeded");
    let again = mitu(&sys, &wallet, "5.00", "mitu-replay").await;
    assert_replay(&first, &again);
    assert_eq!(sys.amazon_calls("CreateCharge").await, 1);
    assert_eq!(sys.charges_of(&wallet).await.len(), 1);
    let list = sys
        .admin_call(
            Method::GET,
            "/admin/v1/customers/cust_replay/payments",
            None,
            None,
        )
        .await;
    assert_eq!(list.ok(200)["payments"].as_array().map(Vec::len), Some(1));

    // An order: created once.
    let order_body = json!({ "customerId": "cust_replay", "amount": eur("12.00"),
        "description": "replayed order" });
    let created = sys
        .admin_call(
            Method::POST,
            "/admin/v1/orders",
            Some(order_body.clone()),
            Some("order-replay"),
        )
        .await;
    created.ok(201);
    let created_again = sys
        .admin_call(
            Method::POST,
            "/admin/v1/orders",
            Some(order_body),
            Some("order-replay"),
        )
        .await;
    assert_replay(&created, &created_again);
    let order = id(&created.body, "orderId");

    // A buyer's payment with a key: the replay is the first answer, not the 409
    // `order_has_payment` a second payment of the order would get.
    let paid = keyed_pay(&sys, &token, &order, &wallet, "pay-replay").await;
    assert_eq!(paid.ok(201)["status"], "succeeded");
    let paid_again = keyed_pay(&sys, &token, &order, &wallet, "pay-replay").await;
    assert_replay(&paid, &paid_again);
    assert_eq!(sys.amazon_calls("CreateCharge").await, 2);

    // A subscription: one subscription, its first period charged once.
    let sub_body = json!({ "walletId": wallet, "planId": "demo-monthly",
        "checkoutResultReturnUrl": format!("{FRONTEND}/s") });
    let buyer = Who::Buyer(token.clone());
    let sub = sys
        .call(
            Method::POST,
            "/v1/subscriptions",
            &buyer,
            Some(sub_body.clone()),
            Some("sub-replay"),
        )
        .await;
    assert_eq!(sub.ok(201)["payment"]["status"], "succeeded");
    let sub_again = sys
        .call(
            Method::POST,
            "/v1/subscriptions",
            &buyer,
            Some(sub_body),
            Some("sub-replay"),
        )
        .await;
    assert_replay(&sub, &sub_again);
    let subs = sys
        .buyer_call(&token, Method::GET, "/v1/subscriptions", None)
        .await;
    assert_eq!(
        subs.ok(200)["subscriptions"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(sys.amazon_calls("CreateCharge").await, 3);

    // A refund: one Create Refund, one refund at Amazon.
    let pid = id(&paid.body, "paymentId");
    let refunds = format!("/admin/v1/payments/{pid}/refunds");
    let body = json!({ "amount": eur("2.00"), "reason": "goodwill" });
    let refund = sys
        .admin_call(
            Method::POST,
            &refunds,
            Some(body.clone()),
            Some("refund-replay"),
        )
        .await;
    refund.ok(201);
    let refund_again = sys
        .admin_call(Method::POST, &refunds, Some(body), Some("refund-replay"))
        .await;
    assert_replay(&refund, &refund_again);
    assert_eq!(sys.amazon_calls("CreateRefund").await, 1);
    assert_eq!(
        sys.ledger().await["refunds"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(sys.admin_payment(&pid).await["refunded"], eur("2.00"));

    // The key is scoped to the caller and the path: another buyer's request, or the
    // merchant's on another route, with the same key is a request of its own.
    let bob = sys.token("cust_replay_bob").await;
    let bob_wallet = sys.wallet_id(&bob, Preset::AlwaysApprove).await;
    let bob_order = sys.order("cust_replay_bob", "12.00", true).await;
    let bob_paid = keyed_pay(&sys, &bob, &bob_order, &bob_wallet, "pay-replay").await;
    assert_eq!(bob_paid.ok(201)["status"], "succeeded");
    assert_eq!(replayed(&bob_paid), None);
    assert_ne!(bob_paid.body["paymentId"], paid.body["paymentId"]);
    let other_path = sys
        .admin_call(
            Method::POST,
            "/admin/v1/orders",
            Some(json!({ "customerId": "cust_replay", "amount": eur("1.00"),
                "description": "same key, other route" })),
            Some("mitu-replay"),
        )
        .await;
    other_path.ok(201);
    assert_eq!(replayed(&other_path), None);
    assert_eq!(sys.amazon_calls("CreateCharge").await, 4);
}

#[tokio::test]
async fn a_key_reused_with_another_body_is_refused_and_nothing_is_sent() {
    let sys = System::start().await;
    let token = sys.token("cust_reuse").await;
    let wallet = sys.wallet_id(&token, Preset::AlwaysApprove).await;
    let other_wallet = sys.wallet_id(&token, Preset::AlwaysApprove).await;

    let first = mitu(&sys, &wallet, "5.00", "mitu-reuse").await;
    assert_eq!(first.ok(201)["status"], "succeeded");
    let reused = mitu(&sys, &wallet, "6.00", "mitu-reuse").await;
    reused.error(409, "idempotency_key_reused");
    let reused = mitu(&sys, &other_wallet, "5.00", "mitu-reuse").await;
    reused.error(409, "idempotency_key_reused");
    assert_eq!(sys.amazon_calls("CreateCharge").await, 1);
    assert!(sys.charges_of(&other_wallet).await.is_empty());

    // Bodies are compared as parsed JSON: other key order and spacing is the same body.
    let same = format!(
        r#"{{ "reason" : "top-up", "amount": {{"currencyCode":"EUR","amount":"5.00"}},
            "walletId": "{wallet}" }}"#
    );
    let again = sys
        .call_raw(
            Method::POST,
            "/admin/v1/payments",
            &Who::Admin,
            "application/json",
            same.into_bytes(),
            Some("mitu-reuse"),
        )
        .await;
    assert_replay(&first, &again);
    assert_eq!(sys.amazon_calls("CreateCharge").await, 1);

    // A buyer's pay request reused for another wallet: refused, that wallet untouched.
    let order = sys.order("cust_reuse", "9.00", true).await;
    let paid = keyed_pay(&sys, &token, &order, &wallet, "pay-reuse").await;
    assert_eq!(paid.ok(201)["status"], "succeeded");
    let reused = keyed_pay(&sys, &token, &order, &other_wallet, "pay-reuse").await;
    reused.error(409, "idempotency_key_reused");
    assert!(sys.charges_of(&other_wallet).await.is_empty());
    assert_eq!(sys.amazon_calls("CreateCharge").await, 2);

    // A refused request does not burn its key: a 400 releases it, and the corrected
    // request with the same key then runs (once).
    let bad = sys
        .admin_call(
            Method::POST,
            "/admin/v1/payments",
            Some(json!({ "walletId": wallet, "amount": eur("5.5"), "reason": "top-up" })),
            Some("mitu-fixed"),
        )
        .await;
    bad.error(400, "invalid_request");
    let fixed = mitu(&sys, &wallet, "5.50", "mitu-fixed").await;
    assert_eq!(fixed.ok(201)["status"], "succeeded");
    assert_eq!(replayed(&fixed), None);
    assert_eq!(sys.amazon_calls("CreateCharge").await, 3);
    let charges = sys.charges_of(&wallet).await;
    let amounts: Vec<&Value> = charges.iter().map(|c| &c["chargeAmount"]).collect();
    assert_eq!(amounts, [&eur("5.00"), &eur("9.00"), &eur("5.50")]);
}

/// How a raced request was answered.
#[derive(Debug, Default)]
struct Race {
    fresh: Vec<Reply>,
    replayed: Vec<Reply>,
    in_progress: usize,
}

async fn race<F, Fut>(n: usize, request: F) -> Race
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Reply> + Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        set.spawn(request());
    }
    let mut out = Race::default();
    while let Some(r) = set.join_next().await {
        let r = r.expect("a racer");
        match (r.status.as_u16(), replayed(&r)) {
            (201, None) => out.fresh.push(r),
            (201, Some("true")) => out.replayed.push(r),
            (409, _) => {
                r.error(409, "idempotency_key_in_progress");
                assert!(r.headers.contains_key("retry-after"), "{:?}", r.headers);
                out.in_progress += 1;
            }
            (s, _) => panic!("unexpected {s}: {:#}", r.body),
        }
    }
    out
}

/// Holds every Create Charge at the sandbox for a while, so racers overlap the first.
async fn slow_create_charge(sys: &System, ms: u64) {
    let r = sys
        .control_call(
            Method::PUT,
            "/faults",
            json!({ "latencyMs": ms, "operations": ["CreateCharge"] }),
        )
        .await;
    assert!(r.status.is_success(), "faults: {:#}", r.body);
}

async fn clear_faults(sys: &System) {
    let r = sys.control_call(Method::DELETE, "/faults", json!({})).await;
    assert!(r.status.is_success(), "faults: {:#}", r.body);
}

const RACERS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_raced_with_one_key_charge_once() {
    let sys = Arc::new(
        System::start_with(|o| {
            o.buyer_rate_limit = RateLimit {
                burst: 100,
                per_second: 100.0,
            }
        })
        .await,
    );
    let token = sys.token("cust_race").await;
    let wallet = sys.wallet_id(&token, Preset::AlwaysApprove).await;
    slow_create_charge(&sys, 500).await;

    // The merchant's charge, sent N times at once with one key.
    let out = race(RACERS, || {
        let (sys, wallet) = (sys.clone(), wallet.clone());
        async move { mitu(&sys, &wallet, "7.00", "mitu-race").await }
    })
    .await;
    assert_eq!(out.fresh.len(), 1, "one request ran: {out:?}");
    assert_eq!(
        out.fresh.len() + out.replayed.len() + out.in_progress,
        RACERS
    );
    assert!(out.in_progress >= 1, "racers overlapped the first: {out:?}");
    let first = &out.fresh[0];
    assert_eq!(first.body["status"], "succeeded");
    for r in &out.replayed {
        assert_eq!(r.body, first.body);
    }
    assert_eq!(sys.amazon_calls("CreateCharge").await, 1);
    assert_eq!(sys.charges_of(&wallet).await.len(), 1);

    // The buyer's payment of an order, N times at once with one key.
    let order = sys.order("cust_race", "8.00", true).await;
    let out = race(RACERS, || {
        let (sys, token, order, wallet) =
            (sys.clone(), token.clone(), order.clone(), wallet.clone());
        async move { keyed_pay(&sys, &token, &order, &wallet, "pay-race").await }
    })
    .await;
    assert_eq!(out.fresh.len(), 1, "one request ran: {out:?}");
    assert!(out.in_progress >= 1, "{out:?}");
    let paid = out.fresh[0].clone();
    assert_eq!(paid.body["status"], "succeeded");
    assert_eq!(sys.amazon_calls("CreateCharge").await, 2);
    assert_eq!(sys.charges_of(&wallet).await.len(), 2);

    // Once the first answer is saved, every repeat is its replay.
    clear_faults(&sys).await;
    let again = keyed_pay(&sys, &token, &order, &wallet, "pay-race").await;
    assert_replay(&paid, &again);
    let again = mitu(&sys, &wallet, "7.00", "mitu-race").await;
    assert_replay(first, &again);
    assert_eq!(sys.amazon_calls("CreateCharge").await, 2);

    // Without a key, an order is still paid once: the racers are told it has a payment
    // (or that it is being paid).
    slow_create_charge(&sys, 500).await;
    let order = sys.order("cust_race", "9.00", true).await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..RACERS {
        let (sys, token, order, wallet) =
            (sys.clone(), token.clone(), order.clone(), wallet.clone());
        set.spawn(async move { sys.pay(&token, &order, &wallet).await });
    }
    let mut made = Vec::new();
    while let Some(r) = set.join_next().await {
        let r = r.expect("a racer");
        match r.status.as_u16() {
            201 => made.push(r),
            409 => {
                let code = r.body["error"]["code"].as_str().unwrap_or_default();
                assert!(
                    ["order_has_payment", "payment_in_progress"].contains(&code),
                    "{:#}",
                    r.body
                );
            }
            s => panic!("unexpected {s}: {:#}", r.body),
        }
    }
    assert_eq!(made.len(), 1, "one payment: {made:?}");
    assert_eq!(made[0].body["status"], "succeeded");
    assert_eq!(sys.amazon_calls("CreateCharge").await, 3);
    let got = sys
        .buyer_call(&token, Method::GET, &format!("/v1/orders/{order}"), None)
        .await;
    assert_eq!(
        got.ok(200)["payment"]["paymentId"],
        made[0].body["paymentId"]
    );
    clear_faults(&sys).await;
}
