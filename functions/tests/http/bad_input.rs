//! Bad input on every route → 4xx with the right code and `param`, and nothing written:
//! no store write, no call to Amazon that creates anything.

use axum::http::Method;
use serde_json::{json, Value};

use super::harness::*;

/// One refused request.
struct Case {
    who: Who,
    method: Method,
    path: String,
    body: Option<Body>,
    key: Option<String>,
    status: u16,
    code: &'static str,
    param: Option<&'static str>,
}

enum Body {
    Json(Value),
    Raw(&'static str, Vec<u8>),
}

fn case(who: &Who, method: Method, path: impl Into<String>) -> Case {
    Case {
        who: who.clone(),
        method,
        path: path.into(),
        body: None,
        key: Some("bad-input-key".into()),
        status: 400,
        code: "invalid_request",
        param: None,
    }
}

impl Case {
    fn json(mut self, v: Value) -> Self {
        self.body = Some(Body::Json(v));
        self
    }
    fn raw(mut self, ct: &'static str, b: impl Into<Vec<u8>>) -> Self {
        self.body = Some(Body::Raw(ct, b.into()));
        self
    }
    fn no_key(mut self) -> Self {
        self.key = None;
        self
    }
    fn key(mut self, k: String) -> Self {
        self.key = Some(k);
        self
    }
    fn param(mut self, p: &'static str) -> Self {
        self.param = Some(p);
        self
    }
    fn is(mut self, status: u16, code: &'static str) -> Self {
        self.status = status;
        self.code = code;
        self
    }
}

fn usd(amount: &str) -> Value {
    json!({"amount": amount, "currencyCode": "USD"})
}

#[tokio::test]
async fn bad_input_is_refused_with_its_field_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    app.plan("gold", "9.99", "USD").await;
    let wallet = app.wallet("alice", "always-approve").await;
    app.wallet("alice", "always-approve").await;
    let w = wallet.as_str().to_string();
    let sub = app
        .buyer("alice", Method::POST, "/v1/subscriptions")
        .key("s-1")
        .json(json!({"walletId": w, "planId": "gold"}))
        .send()
        .await;
    let sid = sub.json["subscription"]["subscriptionId"]
        .as_str()
        .expect("id")
        .to_string();
    let order = app.order("alice", "10.00", true).await;
    let paid = app
        .buyer("alice", Method::POST, &format!("/v1/orders/{order}/pay"))
        .json(json!({"walletId": w}))
        .send()
        .await;
    let pid = paid.json["paymentId"].as_str().expect("id").to_string();
    let unpaid = app.order("alice", "11.00", true).await;
    let page = app
        .buyer("alice", Method::GET, "/v1/wallets?limit=1")
        .send()
        .await;
    let alices_cursor = page.json["nextCursor"]
        .as_str()
        .expect("cursor")
        .to_string();

    let a = Who::Buyer("alice".into());
    let bob = Who::Buyer("bob".into());
    let m = Who::Admin;
    let shop = |p: &str| format!("{SHOP}{p}");
    let cases = vec![
        // Buyer routes.
        case(&a, Method::GET, "/v1/wallets/button?walletId=a%20b").param("walletId"),
        case(&a, Method::GET, "/v1/wallets/button?returnUrl=https://evil.example/x")
            .is(400, "return_url_not_allowed")
            .param("returnUrl"),
        case(&a, Method::GET, "/v1/wallets/button?color=red").param("color"),
        case(&a, Method::POST, "/v1/wallets/setup")
            .json(json!({}))
            .param("returnUrl"),
        case(&a, Method::POST, "/v1/wallets/setup")
            .json(json!({"returnUrl": "http://shop.example/x"}))
            .is(400, "return_url_not_allowed")
            .param("returnUrl"),
        case(&a, Method::POST, "/v1/wallets/setup")
            .json(json!({"returnUrl": format!("https://user@{}/x", &SHOP[8..])}))
            .is(400, "return_url_not_allowed")
            .param("returnUrl"),
        case(&a, Method::POST, "/v1/wallets/setup")
            .json(json!({"returnUrl": shop(&format!("/{}", "a".repeat(1100)))}))
            .is(400, "return_url_not_allowed")
            .param("returnUrl"),
        case(&a, Method::POST, "/v1/wallets/setup")
            .json(json!({"returnUrl": shop("/x"), "extra": 1}))
            .param("extra"),
        case(&a, Method::POST, "/v1/wallets/setup").raw("application/json", "{not json"),
        case(&a, Method::POST, "/v1/wallets/setup")
            .raw("text/plain", r#"{"returnUrl":"https://shop.example/x"}"#)
            .param("Content-Type"),
        case(&a, Method::POST, "/v1/wallets/setup")
            .raw("application/json", vec![b' '; 70 * 1024])
            .is(413, "payload_too_large"),
        case(&a, Method::POST, "/v1/wallets")
            .json(json!({"amazonCheckoutSessionId": 5}))
            .param("amazonCheckoutSessionId"),
        case(&a, Method::POST, "/v1/wallets")
            .json(json!({"amazonCheckoutSessionId": "a b"}))
            .param("amazonCheckoutSessionId"),
        case(&a, Method::GET, "/v1/wallets?limit=0").param("limit"),
        case(&a, Method::GET, "/v1/wallets?limit=101").param("limit"),
        case(&a, Method::GET, "/v1/wallets?limit=abc").param("limit"),
        case(&a, Method::GET, "/v1/wallets?cursor=garbage").param("cursor"),
        case(&bob, Method::GET, format!("/v1/wallets?cursor={alices_cursor}")).param("cursor"),
        case(&a, Method::GET, "/v1/plans?limit=1000").param("limit"),
        case(&a, Method::POST, "/v1/subscriptions")
            .no_key()
            .json(json!({"walletId": w, "planId": "gold"}))
            .param("Idempotency-Key"),
        case(&a, Method::POST, "/v1/subscriptions")
            .key("k".repeat(256))
            .json(json!({"walletId": w, "planId": "gold"}))
            .param("Idempotency-Key"),
        case(&a, Method::POST, "/v1/subscriptions")
            .json(json!({"walletId": "x y", "planId": "gold"}))
            .param("walletId"),
        case(&a, Method::POST, "/v1/subscriptions")
            .json(json!({"walletId": w}))
            .param("planId"),
        case(&a, Method::POST, "/v1/subscriptions")
            .json(json!({"walletId": w, "planId": "gold",
                "checkoutResultReturnUrl": "https://evil.example/r"}))
            .is(400, "return_url_not_allowed")
            .param("checkoutResultReturnUrl"),
        case(&a, Method::GET, "/v1/subscriptions?limit=x").param("limit"),
        case(&a, Method::PATCH, format!("/v1/subscriptions/{sid}"))
            .json(json!({"walletId": 1}))
            .param("walletId"),
        case(&a, Method::PATCH, format!("/v1/subscriptions/{sid}"))
            .json(json!({}))
            .param("walletId"),
        case(&a, Method::POST, format!("/v1/orders/{unpaid}/pay"))
            .json(json!({}))
            .param("walletId"),
        case(&a, Method::POST, format!("/v1/orders/{unpaid}/pay"))
            .json(json!({"walletId": w, "checkoutResultReturnUrl": "ftp://shop.example/r"}))
            .is(400, "return_url_not_allowed")
            .param("checkoutResultReturnUrl"),
        case(&a, Method::GET, "/v1/payments?limit=-1").param("limit"),
        case(&a, Method::POST, format!("/v1/payments/{pid}/retry"))
            .json(json!({"walletId": ""}))
            .param("walletId"),
        case(&a, Method::POST, format!("/v1/payments/{pid}/retry"))
            .json(json!({"nope": true}))
            .param("nope"),
        case(&a, Method::POST, format!("/v1/payments/{pid}/complete"))
            .json(json!({}))
            .param("amazonCheckoutSessionId"),
        // Admin routes.
        case(&m, Method::PUT, "/admin/v1/plans/gold")
            .json(json!({"name": "G", "price": usd("9.9"), "interval": "month", "intervalCount": 1}))
            .param("price"),
        case(&m, Method::PUT, "/admin/v1/plans/gold")
            .json(json!({"name": "G", "price": {"amount": "9.99", "currencyCode": "XXX"},
                "interval": "month", "intervalCount": 1}))
            .param("price"),
        case(&m, Method::PUT, "/admin/v1/plans/gold")
            .json(json!({"name": "G", "price": usd("9.99"), "interval": "hour", "intervalCount": 1}))
            .param("interval"),
        case(&m, Method::PUT, "/admin/v1/plans/gold")
            .json(json!({"name": "G", "price": usd("9.99"), "interval": "minute", "intervalCount": 1}))
            .param("interval"),
        case(&m, Method::PUT, "/admin/v1/plans/gold")
            .json(json!({"name": "G", "price": usd("9.99"), "interval": "month", "intervalCount": 0}))
            .param("intervalCount"),
        case(&m, Method::PUT, "/admin/v1/plans/gold")
            .json(json!({"name": " ", "price": usd("9.99"), "interval": "month", "intervalCount": 1}))
            .param("name"),
        case(&m, Method::PUT, "/admin/v1/plans/gold")
            .json(json!({"name": "G", "price": usd("9.99"), "interval": "month"}))
            .param("intervalCount"),
        case(&m, Method::POST, "/admin/v1/orders")
            .no_key()
            .json(json!({"customerId": "alice", "amount": usd("1.00"), "description": "d"}))
            .param("Idempotency-Key"),
        case(&m, Method::POST, "/admin/v1/orders")
            .json(json!({"customerId": "a#b", "amount": usd("1.00"), "description": "d"}))
            .param("customerId"),
        case(&m, Method::POST, "/admin/v1/orders")
            .json(json!({"customerId": "alice", "amount": usd("-1.00"), "description": "d"}))
            .param("amount"),
        case(&m, Method::POST, "/admin/v1/orders")
            .json(json!({"customerId": "alice", "amount": usd("999999.00"), "description": "d"}))
            .is(422, "amount_too_large"),
        case(&m, Method::POST, "/admin/v1/orders")
            .json(json!({"customerId": "alice", "amount": usd("1.00"), "description": ""}))
            .param("description"),
        case(&m, Method::POST, "/admin/v1/orders")
            .json(json!({"customerId": "alice", "amount": usd("1.00"), "description": "d",
                "captureNow": false, "softDescriptor": "ACME"}))
            .param("softDescriptor"),
        case(&m, Method::POST, "/admin/v1/orders")
            .json(json!({"customerId": "alice", "amount": 1.0, "description": "d"}))
            .param("amount"),
        case(&m, Method::POST, "/admin/v1/payments")
            .json(json!({"walletId": "bad id", "amount": usd("1.00"), "reason": "r"}))
            .param("walletId"),
        case(&m, Method::POST, "/admin/v1/payments")
            .json(json!({"walletId": w, "amount": usd("1.00"), "reason": "r".repeat(256)}))
            .param("reason"),
        case(&m, Method::POST, "/admin/v1/payments")
            .json(json!({"walletId": w, "amount": {"amount": "1.00"}, "reason": "r"}))
            .param("amount.currencyCode"),
        case(&m, Method::POST, "/admin/v1/payments")
            .no_key()
            .json(json!({"walletId": w, "amount": usd("1.00"), "reason": "r"}))
            .param("Idempotency-Key"),
        case(&m, Method::POST, format!("/admin/v1/payments/{pid}/capture"))
            .json(json!({"amount": usd("1")}))
            .param("amount"),
        case(&m, Method::POST, format!("/admin/v1/payments/{pid}/cancel"))
            .json(json!({"x": 1}))
            .param("x"),
        case(&m, Method::POST, format!("/admin/v1/payments/{pid}/refunds"))
            .no_key()
            .json(json!({"amount": usd("1.00")}))
            .param("Idempotency-Key"),
        case(&m, Method::POST, format!("/admin/v1/payments/{pid}/refunds"))
            .json(json!({"amount": usd("0.00")}))
            .param("amount"),
        case(&m, Method::POST, format!("/admin/v1/payments/{pid}/refunds"))
            .json(json!({"amount": usd("1.00"), "reason": "\u{7}"}))
            .param("reason"),
        case(&m, Method::GET, "/admin/v1/customers/alice/payments?limit=0").param("limit"),
        case(&m, Method::GET, "/admin/v1/customers/alice/wallets?cursor=%20").param("cursor"),
        case(&m, Method::GET, "/admin/v1/customers/alice/subscriptions?x=1").param("x"),
        case(&m, Method::GET, "/admin/v1/events?cursor=abc").param("cursor"),
        case(&m, Method::GET, "/admin/v1/payments?limit=0").param("limit"),
        case(&m, Method::GET, "/admin/v1/subscriptions?status=paused").param("status"),
        case(&m, Method::GET, "/admin/v1/subscriptions?status=active&limit=101").param("limit"),
        case(&m, Method::GET, "/admin/v1/wallets/update-required?cursor=%20").param("cursor"),
        case(&m, Method::POST, "/admin/v1/billing/run")
            .json(json!({"x": 1}))
            .param("x"),
        // Dev routes.
        case(&a, Method::POST, "/dev/token")
            .json(json!({"customerId": "a b"}))
            .param("customerId"),
        case(&a, Method::POST, "/dev/clock/advance")
            .json(json!({"seconds": 0}))
            .param("seconds"),
        case(&a, Method::POST, "/dev/clock/advance")
            .json(json!({"seconds": -5}))
            .param("seconds"),
    ];

    let before = app.counts();
    let ledger = app.sandbox.ledger();
    for c in cases {
        let label = format!("{} {}", c.method, c.path);
        let mut call = app.call(c.method, &c.path, c.who);
        if let Some(k) = &c.key {
            call = call.key(k);
        }
        call = match c.body {
            Some(Body::Json(v)) => call.json(v),
            Some(Body::Raw(ct, b)) => call.raw(ct, b),
            None => call,
        };
        let r = call.send().await;
        assert_eq!(
            (r.status, r.code()),
            (c.status, c.code),
            "{label}: {}",
            r.json
        );
        r.expect_error(c.status, c.code);
        assert_eq!(r.param(), c.param, "{label}: {}", r.json);
    }
    let after = app.counts();
    assert_eq!(
        writes(&after.since(&before)),
        0,
        "no store write: {:?}",
        after.since(&before)
    );
    let now = app.sandbox.ledger();
    for k in [
        "charges",
        "chargePermissions",
        "checkoutSessions",
        "refunds",
    ] {
        assert_eq!(now[k], ledger[k], "nothing created at Amazon: {k}");
    }
}
