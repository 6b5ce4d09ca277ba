//! Bad input over real HTTP on every buyer, merchant and dev route (the route list is
//! walked): wrong types, unknown fields, bad amounts, currencies, lengths, ids, return
//! URLs off the allow list, a missing or oversized Idempotency-Key, bodies that are not
//! JSON, and missing or wrong credentials → a 4xx with its code (and the field), and
//! nothing written to the store and nothing sent to Amazon.

use reqwest::Method;
use savedwallet_functions::http::{local_route_table, RateLimit};
use savedwallet_tests::{matches_template, Preset, System, Who, FRONTEND};
use serde_json::{json, Value};

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
    fn raw(mut self, content_type: &'static str, b: impl Into<Vec<u8>>) -> Self {
        self.body = Some(Body::Raw(content_type, b.into()));
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

fn eur(amount: &str) -> Value {
    json!({ "amount": amount, "currencyCode": "EUR" })
}

/// Routes without input to get wrong, or tested elsewhere.
const NO_INPUT: &[(&str, &str)] = &[
    ("GET", "/health"),
    ("GET", "/openapi.json"),
    ("POST", "/ipn"), // ipn_forged.rs
    ("POST", "/dev/jobs/run"),
];

#[tokio::test]
async fn bad_input_is_refused_with_its_code_and_nothing_is_written() {
    let sys = System::start_with(|o| {
        o.buyer_rate_limit = RateLimit {
            burst: 1000,
            per_second: 1000.0,
        }
    })
    .await;
    let token = sys.token("cust_bad").await;
    let w = sys.wallet_id(&token, Preset::AlwaysApprove).await;
    let sub = sys
        .call(
            Method::POST,
            "/v1/subscriptions",
            &Who::Buyer(token.clone()),
            Some(json!({ "walletId": w, "planId": "demo-monthly",
                "checkoutResultReturnUrl": format!("{FRONTEND}/s") })),
            Some("sub-1"),
        )
        .await;
    let sid = sub.ok(201)["subscription"]["subscriptionId"]
        .as_str()
        .expect("id")
        .to_string();
    let order = sys.order("cust_bad", "10.00", true).await;
    let pid = sys.pay(&token, &order, &w).await.ok(201)["paymentId"]
        .as_str()
        .expect("id")
        .to_string();
    let unpaid = sys.order("cust_bad", "11.00", true).await;
    sys.jobs().await;

    let a = Who::Buyer(token.clone());
    let m = Who::Admin;
    let nobody = Who::Anonymous;
    let ok_url = format!("{FRONTEND}/done");
    let cases = vec![
        // Credentials.
        case(&nobody, Method::GET, "/v1/wallets").is(401, "unauthenticated"),
        case(&Who::Buyer("not.a.jwt".into()), Method::GET, "/v1/wallets")
            .is(401, "unauthenticated"),
        case(&a, Method::GET, "/admin/v1/events").is(401, "unauthenticated"),
        case(&Who::Buyer(sys.stack.info.admin_token.clone()), Method::GET, "/v1/wallets")
            .is(401, "unauthenticated"),
        // Buyer routes.
        case(&a, Method::GET, "/v1/wallets/button?walletId=a%20b").param("walletId"),
        case(&a, Method::GET, "/v1/wallets/button?color=red").param("color"),
        case(&a, Method::POST, "/v1/wallets/setup")
            .json(json!({}))
            .param("returnUrl"),
        case(&a, Method::POST, "/v1/wallets/setup")
            .json(json!({ "returnUrl": "https://evil.example/x" }))
            .is(400, "return_url_not_allowed")
            .param("returnUrl"),
        case(&a, Method::POST, "/v1/wallets/setup")
            .json(json!({ "returnUrl": "http://user@localhost:3000/x" }))
            .is(400, "return_url_not_allowed")
            .param("returnUrl"),
        case(&a, Method::POST, "/v1/wallets/setup")
            .json(json!({ "returnUrl": format!("{FRONTEND}/{}", "a".repeat(1100)) }))
            .is(400, "return_url_not_allowed")
            .param("returnUrl"),
        case(&a, Method::POST, "/v1/wallets/setup")
            .json(json!({ "returnUrl": 42 }))
            .param("returnUrl"),
        case(&a, Method::POST, "/v1/wallets/setup")
            .json(json!({ "returnUrl": ok_url, "extra": 1 }))
            .param("extra"),
        case(&a, Method::POST, "/v1/wallets/setup").raw("application/json", "{not json"),
        case(&a, Method::POST, "/v1/wallets/setup")
            .raw("text/plain", format!(r#"{{"returnUrl":"{ok_url}"}}"#))
            .param("Content-Type"),
        case(&a, Method::POST, "/v1/wallets/setup")
            .raw("application/json", vec![b' '; 70 * 1024])
            .is(413, "payload_too_large"),
        case(&a, Method::POST, "/v1/wallets")
            .json(json!({ "amazonCheckoutSessionId": 5 }))
            .param("amazonCheckoutSessionId"),
        case(&a, Method::POST, "/v1/wallets")
            .json(json!({ "amazonCheckoutSessionId": "a b" }))
            .param("amazonCheckoutSessionId"),
        case(&a, Method::GET, "/v1/wallets?limit=0").param("limit"),
        case(&a, Method::GET, "/v1/wallets?limit=101").param("limit"),
        case(&a, Method::GET, "/v1/wallets?limit=abc").param("limit"),
        case(&a, Method::GET, "/v1/wallets?cursor=garbage").param("cursor"),
        case(&a, Method::GET, "/v1/wallets/not%20an%20id").is(404, "not_found"),
        case(&a, Method::DELETE, "/v1/wallets/..%2F..%2Fetc").is(404, "not_found"),
        case(&a, Method::GET, "/v1/plans?limit=1000").param("limit"),
        case(&a, Method::POST, "/v1/subscriptions")
            .no_key()
            .json(json!({ "walletId": w, "planId": "demo-monthly" }))
            .param("Idempotency-Key"),
        case(&a, Method::POST, "/v1/subscriptions")
            .key("k".repeat(256))
            .json(json!({ "walletId": w, "planId": "demo-monthly" }))
            .param("Idempotency-Key"),
        case(&a, Method::POST, "/v1/subscriptions")
            .json(json!({ "walletId": "x y", "planId": "demo-monthly" }))
            .param("walletId"),
        case(&a, Method::POST, "/v1/subscriptions")
            .json(json!({ "walletId": w }))
            .param("planId"),
        case(&a, Method::POST, "/v1/subscriptions")
            .json(json!({ "walletId": w, "planId": ["demo-monthly"] }))
            .param("planId"),
        case(&a, Method::POST, "/v1/subscriptions")
            .json(json!({ "walletId": w, "planId": "demo-monthly",
                "checkoutResultReturnUrl": "https://evil.example/r" }))
            .is(400, "return_url_not_allowed")
            .param("checkoutResultReturnUrl"),
        case(&a, Method::GET, "/v1/subscriptions?limit=x").param("limit"),
        case(&a, Method::GET, format!("/v1/subscriptions/{sid}x%2F..")).is(404, "not_found"),
        case(&a, Method::PATCH, format!("/v1/subscriptions/{sid}"))
            .json(json!({ "walletId": 1 }))
            .param("walletId"),
        case(&a, Method::PATCH, format!("/v1/subscriptions/{sid}"))
            .json(json!({}))
            .param("walletId"),
        case(&a, Method::DELETE, "/v1/subscriptions/%00").is(404, "not_found"),
        case(&a, Method::GET, "/v1/orders/%00").is(404, "not_found"),
        case(&a, Method::POST, format!("/v1/orders/{unpaid}/pay"))
            .json(json!({}))
            .param("walletId"),
        case(&a, Method::POST, format!("/v1/orders/{unpaid}/pay"))
            .json(json!({ "walletId": w, "checkoutResultReturnUrl": "ftp://localhost:3000/r" }))
            .is(400, "return_url_not_allowed")
            .param("checkoutResultReturnUrl"),
        case(&a, Method::POST, format!("/v1/orders/{unpaid}/pay"))
            .json(json!({ "walletId": w, "amount": eur("0.01") }))
            .param("amount"),
        case(&a, Method::GET, "/v1/payments?limit=-1").param("limit"),
        case(&a, Method::GET, format!("/v1/payments/{}", "p".repeat(65))).is(404, "not_found"),
        case(&a, Method::POST, format!("/v1/payments/{pid}/retry"))
            .json(json!({ "walletId": "" }))
            .param("walletId"),
        case(&a, Method::POST, format!("/v1/payments/{pid}/retry"))
            .json(json!({ "nope": true }))
            .param("nope"),
        case(&a, Method::POST, format!("/v1/payments/{pid}/complete"))
            .json(json!({}))
            .param("amazonCheckoutSessionId"),
        // Merchant routes.
        case(&m, Method::PUT, "/admin/v1/plans/gold")
            .json(json!({ "name": "G", "price": eur("9.9"), "interval": "month", "intervalCount": 1 }))
            .param("price"),
        case(&m, Method::PUT, "/admin/v1/plans/gold")
            .json(json!({ "name": "G", "price": { "amount": "9.99", "currencyCode": "XXX" },
                "interval": "month", "intervalCount": 1 }))
            .param("price"),
        case(&m, Method::PUT, "/admin/v1/plans/gold")
            .json(json!({ "name": "G", "price": eur("9.99"), "interval": "hour", "intervalCount": 1 }))
            .param("interval"),
        case(&m, Method::PUT, "/admin/v1/plans/gold")
            .json(json!({ "name": "G", "price": eur("9.99"), "interval": "month", "intervalCount": 0 }))
            .param("intervalCount"),
        case(&m, Method::PUT, "/admin/v1/plans/gold")
            .json(json!({ "name": " ", "price": eur("9.99"), "interval": "month", "intervalCount": 1 }))
            .param("name"),
        case(&m, Method::PUT, "/admin/v1/plans/gold")
            .json(json!({ "name": "G", "price": eur("9.99"), "interval": "month" }))
            .param("intervalCount"),
        case(&m, Method::POST, "/admin/v1/orders")
            .no_key()
            .json(json!({ "customerId": "cust_bad", "amount": eur("1.00"), "description": "d" }))
            .param("Idempotency-Key"),
        case(&m, Method::POST, "/admin/v1/orders")
            .json(json!({ "customerId": "a#b", "amount": eur("1.00"), "description": "d" }))
            .param("customerId"),
        case(&m, Method::POST, "/admin/v1/orders")
            .json(json!({ "customerId": "cust_bad", "amount": eur("-1.00"), "description": "d" }))
            .param("amount"),
        case(&m, Method::POST, "/admin/v1/orders")
            .json(json!({ "customerId": "cust_bad", "amount": eur("1.001"), "description": "d" }))
            .param("amount"),
        case(&m, Method::POST, "/admin/v1/orders")
            .json(json!({ "customerId": "cust_bad",
                "amount": { "amount": "1.5", "currencyCode": "JPY" }, "description": "d" }))
            .param("amount"),
        case(&m, Method::POST, "/admin/v1/orders")
            .json(json!({ "customerId": "cust_bad", "amount": eur("999999.00"), "description": "d" }))
            .is(422, "amount_too_large"),
        case(&m, Method::POST, "/admin/v1/orders")
            .json(json!({ "customerId": "cust_bad", "amount": eur("1.00"), "description": "" }))
            .param("description"),
        case(&m, Method::POST, "/admin/v1/orders")
            .json(json!({ "customerId": "cust_bad", "amount": eur("1.00"), "description": "d",
                "captureNow": false, "softDescriptor": "ACME" }))
            .param("softDescriptor"),
        case(&m, Method::POST, "/admin/v1/orders")
            .json(json!({ "customerId": "cust_bad", "amount": eur("1.00"), "description": "d",
                "softDescriptor": "X".repeat(17) }))
            .param("softDescriptor"),
        case(&m, Method::POST, "/admin/v1/orders")
            .json(json!({ "customerId": "cust_bad", "amount": 1.0, "description": "d" }))
            .param("amount"),
        case(&m, Method::GET, format!("/admin/v1/orders/{order}%20")).is(404, "not_found"),
        case(&m, Method::POST, "/admin/v1/payments")
            .json(json!({ "walletId": "bad id", "amount": eur("1.00"), "reason": "r" }))
            .param("walletId"),
        case(&m, Method::POST, "/admin/v1/payments")
            .json(json!({ "walletId": w, "amount": eur("1.00"), "reason": "r".repeat(256) }))
            .param("reason"),
        case(&m, Method::POST, "/admin/v1/payments")
            .json(json!({ "walletId": w, "amount": { "amount": "1.00" }, "reason": "r" }))
            .param("amount.currencyCode"),
        case(&m, Method::POST, "/admin/v1/payments")
            .no_key()
            .json(json!({ "walletId": w, "amount": eur("1.00"), "reason": "r" }))
            .param("Idempotency-Key"),
        case(&m, Method::GET, "/admin/v1/payments/x%2Fy").is(404, "not_found"),
        case(&m, Method::POST, format!("/admin/v1/payments/{pid}/capture"))
            .json(json!({ "amount": eur("1") }))
            .param("amount"),
        case(&m, Method::POST, format!("/admin/v1/payments/{pid}/cancel"))
            .json(json!({ "x": 1 }))
            .param("x"),
        case(&m, Method::POST, format!("/admin/v1/payments/{pid}/refunds"))
            .no_key()
            .json(json!({ "amount": eur("1.00") }))
            .param("Idempotency-Key"),
        case(&m, Method::POST, format!("/admin/v1/payments/{pid}/refunds"))
            .json(json!({ "amount": eur("0.00") }))
            .param("amount"),
        case(&m, Method::POST, format!("/admin/v1/payments/{pid}/refunds"))
            .json(json!({ "amount": eur("1.00"), "reason": "\u{7}" }))
            .param("reason"),
        case(&m, Method::GET, "/admin/v1/refunds/%E2%82%AC").is(404, "not_found"),
        case(&m, Method::GET, "/admin/v1/customers/cust_bad/payments?limit=0").param("limit"),
        case(&m, Method::GET, "/admin/v1/customers/cust_bad/wallets?cursor=%20").param("cursor"),
        case(&m, Method::GET, "/admin/v1/customers/cust_bad/subscriptions?x=1").param("x"),
        case(&m, Method::DELETE, "/admin/v1/subscriptions/a%20b").is(404, "not_found"),
        case(&m, Method::GET, "/admin/v1/events?cursor=abc").param("cursor"),
        case(&m, Method::GET, "/admin/v1/payments?limit=0").param("limit"),
        case(&m, Method::GET, "/admin/v1/subscriptions?status=paused").param("status"),
        case(&m, Method::GET, "/admin/v1/subscriptions?status=active&limit=101").param("limit"),
        case(&m, Method::GET, "/admin/v1/wallets/update-required?cursor=%20").param("cursor"),
        case(&m, Method::POST, "/admin/v1/billing/run")
            .json(json!({ "x": 1 }))
            .param("x"),
        // Dev routes.
        case(&nobody, Method::POST, "/dev/token")
            .json(json!({ "customerId": "a b" }))
            .param("customerId"),
        case(&nobody, Method::POST, "/dev/clock/advance")
            .json(json!({ "seconds": 0 }))
            .param("seconds"),
        case(&nobody, Method::POST, "/dev/clock/advance")
            .json(json!({ "seconds": -5 }))
            .param("seconds"),
    ];

    // Every route with input has a case.
    for route in local_route_table() {
        let exempt = NO_INPUT
            .iter()
            .any(|(mm, p)| *mm == route.method.as_str() && *p == route.path);
        if !exempt {
            assert!(
                cases
                    .iter()
                    .any(|c| c.method == route.method && matches_template(route.path, &c.path)),
                "no bad-input case for {} {}",
                route.method,
                route.path
            );
        }
    }

    let writes = sys.store_writes();
    let ledger = sys.ledger().await;
    for c in cases {
        let label = format!("{} {}", c.method, c.path);
        let r = match c.body {
            Some(Body::Raw(ct, b)) => {
                sys.call_raw(c.method, &c.path, &c.who, ct, b, c.key.as_deref())
                    .await
            }
            Some(Body::Json(v)) => {
                sys.call(c.method, &c.path, &c.who, Some(v), c.key.as_deref())
                    .await
            }
            None => {
                sys.call(c.method, &c.path, &c.who, None, c.key.as_deref())
                    .await
            }
        };
        assert_eq!(
            (r.status.as_u16(), r.body["error"]["code"].as_str()),
            (c.status, Some(c.code)),
            "{label}: {:#}",
            r.body
        );
        r.error(c.status, c.code);
        assert_eq!(
            r.body["error"]["param"].as_str(),
            c.param,
            "{label}: {:#}",
            r.body
        );
    }
    assert_eq!(sys.store_writes(), writes, "no store write");
    let now = sys.ledger().await;
    for k in [
        "apiCalls",
        "charges",
        "chargePermissions",
        "checkoutSessions",
        "refunds",
    ] {
        assert_eq!(now[k], ledger[k], "nothing sent to Amazon: {k}");
    }
}
