//! The edge: CORS, the per-buyer rate limit, the dev routes (loopback only, absent from the
//! Lambda app), fallbacks, request ids, and logs free of secrets and personal data.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Method, Request};
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde_json::json;

use savedwallet_functions::http::{self, DevHooks, DevTools, RateLimit};

use super::harness::*;

fn preflight(path: &str, origin: &str) -> Request<Body> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri(path)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,idempotency-key",
        )
        .body(Body::empty())
        .expect("request")
}

#[tokio::test]
async fn cors_only_for_the_frontend_origins_and_never_on_admin_or_ipn() {
    let app = TestApp::spawn().await;
    let ok = send_to(app.app.clone(), preflight("/v1/subscriptions", SHOP)).await;
    assert!(ok.status < 300, "{}", ok.status);
    assert_eq!(ok.header("access-control-allow-origin"), Some(SHOP));
    let allowed = ok
        .header("access-control-allow-headers")
        .expect("allow-headers")
        .to_ascii_lowercase();
    for h in ["authorization", "content-type", "idempotency-key"] {
        assert!(allowed.contains(h), "{allowed}");
    }
    assert_eq!(ok.header("access-control-allow-credentials"), None);

    let evil = send_to(
        app.app.clone(),
        preflight("/v1/subscriptions", "https://evil.example"),
    )
    .await;
    assert_eq!(evil.header("access-control-allow-origin"), None);

    for path in ["/admin/v1/events", "/admin/v1/payments", "/ipn"] {
        let r = send_to(app.app.clone(), preflight(path, SHOP)).await;
        assert_eq!(r.header("access-control-allow-origin"), None, "{path}");
        assert!(r.status >= 400, "{path}: {}", r.status);
    }
    // Actual requests: the header on /v1 answers (errors too), never on /admin.
    let get = app
        .buyer("alice", Method::GET, "/v1/wallets")
        .header("origin", SHOP)
        .send()
        .await;
    get.expect(200);
    assert_eq!(get.header("access-control-allow-origin"), Some(SHOP));
    let err = app
        .call(Method::GET, "/v1/wallets", Who::Anonymous)
        .header("origin", SHOP)
        .send()
        .await;
    err.expect_error(401, "unauthenticated");
    assert_eq!(err.header("access-control-allow-origin"), Some(SHOP));
    let admin = app
        .admin(Method::GET, "/admin/v1/events")
        .header("origin", SHOP)
        .send()
        .await;
    admin.expect(200);
    assert_eq!(admin.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn charging_routes_are_rate_limited_per_buyer() {
    let app = TestApp::with(Opts {
        rate: RateLimit {
            burst: 2,
            per_second: 0.001,
        },
        ..Opts::default()
    })
    .await;
    let setup = |who: &'static str| {
        app.buyer(who, Method::POST, "/v1/wallets/setup")
            .json(json!({"returnUrl": format!("{SHOP}/done")}))
            .send()
    };
    setup("alice").await.expect(201);
    setup("alice").await.expect(201);
    let sessions = app.sandbox.ledger()["checkoutSessions"].clone();
    let limited = setup("alice").await;
    limited.expect_error(429, "rate_limited");
    assert!(limited
        .header("retry-after")
        .and_then(|s| s.parse::<u64>().ok())
        .is_some_and(|s| s >= 1));
    assert_eq!(
        app.sandbox.ledger()["checkoutSessions"],
        sessions,
        "nothing sent"
    );
    let order = app.order("alice", "1.00", true).await;
    app.buyer("alice", Method::POST, &format!("/v1/orders/{order}/pay"))
        .json(json!({"walletId": "S01-0000000-0000000"}))
        .send()
        .await
        .expect_error(429, "rate_limited");
    // Another buyer has a bucket of their own; reads are not limited.
    setup("bob").await.expect(201);
    app.buyer("alice", Method::GET, "/v1/wallets")
        .send()
        .await
        .expect(200);
}

struct NoHooks;

#[async_trait]
impl DevHooks for NoHooks {
    async fn advance_clock(&self, _: Duration) -> Result<DateTime<Utc>, String> {
        Err("not used".into())
    }
}

#[tokio::test]
async fn dev_routes_are_local_and_loopback_only() {
    let app = TestApp::spawn().await;
    let minted = app
        .call(Method::POST, "/dev/token", Who::Anonymous)
        .json(json!({"customerId": "zoe"}))
        .send()
        .await;
    minted.expect(200);
    let token = minted.json["token"].as_str().expect("token");
    app.call(
        Method::GET,
        "/v1/wallets",
        Who::Raw(format!("Bearer {token}")),
    )
    .send()
    .await
    .expect(200);

    let before = app.sandbox.now();
    let moved = app
        .call(Method::POST, "/dev/clock/advance", Who::Anonymous)
        .json(json!({"seconds": 86_400}))
        .send()
        .await;
    moved.expect(200);
    let now = DateTime::parse_from_rfc3339(moved.json["now"].as_str().expect("now"))
        .expect("time")
        .with_timezone(&Utc);
    assert_eq!(now - before, chrono::TimeDelta::days(1));
    assert_eq!(app.service.now(), now, "the service's clock moved too");

    // A page elsewhere reaching the loopback server by DNS rebinding names another host.
    app.call(Method::POST, "/dev/token", Who::Anonymous)
        .header("host", "evil.example")
        .json(json!({"customerId": "zoe"}))
        .send()
        .await
        .expect_error(404, "not_found");

    let dev = DevTools {
        issuer: app.issuer.clone(),
        hooks: Arc::new(NoHooks),
        token_ttl: Duration::from_secs(60),
    };
    let remote = http::local_app(app.state.clone(), dev.clone())
        .layer(MockConnectInfo(SocketAddr::from(([10, 0, 0, 7], 5555))));
    let no_peer = http::local_app(app.state.clone(), dev);
    for router in [remote, no_peer] {
        let req = app
            .call(Method::POST, "/dev/token", Who::Anonymous)
            .json(json!({"customerId": "zoe"}))
            .request();
        send_to(router, req).await.expect_error(404, "not_found");
    }

    // The Lambda app has no /dev routes at all.
    let lambda = http::lambda_app(app.state.clone());
    for path in ["/dev/token", "/dev/clock/advance"] {
        let req = app
            .call(Method::POST, path, Who::Anonymous)
            .json(json!({"customerId": "zoe", "seconds": 1}))
            .request();
        send_to(lambda.clone(), req)
            .await
            .expect_error(404, "not_found");
    }
    assert!(http::lambda_route_table()
        .iter()
        .all(|r| !r.path.starts_with("/dev")));
    assert!(http::local_route_table()
        .iter()
        .any(|r| r.path == "/dev/token"));
}

#[tokio::test]
async fn fallbacks_answer_the_error_shape() {
    let app = TestApp::spawn().await;
    app.buyer("alice", Method::GET, "/v1/nothing-here")
        .send()
        .await
        .expect_error(404, "not_found");
    app.buyer("alice", Method::PUT, "/v1/wallets")
        .send()
        .await
        .expect_error(405, "method_not_allowed");
    let h = app
        .call(Method::GET, "/health", Who::Anonymous)
        .send()
        .await;
    h.expect(200);
    assert_eq!(h.json, json!({"status": "ok"}));
    assert!(h.header("x-request-id").is_some_and(|id| !id.is_empty()));
}

/// A `MakeWriter` into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// The process-wide JSON log of this test binary (a scoped subscriber would miss events
/// whose callsites other test threads registered first).
fn captured_logs() -> Captured {
    static LOGS: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_max_level(tracing::Level::TRACE)
            .with_writer(logs.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
        logs
    })
    .clone()
}

#[tokio::test]
async fn logs_carry_request_ids_and_no_secrets_or_personal_data() {
    let logs = captured_logs();
    let app = TestApp::spawn().await;
    let customer = "planted.person@example.com";
    let wallet = app.wallet(customer, "always-approve").await;
    let order = app
        .admin(Method::POST, "/admin/v1/orders")
        .key("PLANTED-IDEMPOTENCY-KEY")
        .json(
            json!({"customerId": customer, "amount": {"amount": "9.00", "currencyCode": "USD"},
            "description": "PLANTED-DESCRIPTION Jane Roe, 1 Main St"}),
        )
        .send()
        .await;
    order.expect(201);
    let oid = order.json["orderId"].as_str().expect("id");
    let token = app.token(customer);
    let paid = app
        .call(
            Method::POST,
            &format!("/v1/orders/{oid}/pay"),
            Who::Raw(format!("Bearer {token}")),
        )
        .json(json!({"walletId": wallet.as_str()}))
        .send()
        .await;
    paid.expect(201);
    let request_id = paid.header("x-request-id").expect("id").to_string();
    // A 500: an IPN whose object Amazon does not know.
    let ipn = json!({"ipn": {"MerchantID": MERCHANT_ID, "ObjectType": "CHARGE",
        "ObjectId": "S01-0000000-0000000-C000000", "NotificationType": "STATE_CHANGE",
        "NotificationId": "n-500", "NotificationVersion": "V2"}});
    let failed = app
        .call(Method::POST, "/ipn", Who::Anonymous)
        .raw("text/plain", ipn.to_string())
        .send()
        .await;
    assert!(failed.status >= 500, "{}", failed.json);

    let text = String::from_utf8(logs.0.lock().clone()).expect("utf-8");
    for secret in [
        customer,
        "PLANTED-IDEMPOTENCY-KEY",
        "PLANTED-DESCRIPTION",
        "Jane Roe",
        "Main St",
        token.as_str(),
        ADMIN_TOKEN,
        "privateKey",
        "BEGIN PRIVATE KEY",
    ] {
        assert!(!text.contains(secret), "logs contain {secret:?}");
    }
    let pay_line = text
        .lines()
        .find(|l| l.contains(&request_id) && l.contains("request done"))
        .expect("a line for the pay request with its request id");
    let line: serde_json::Value = serde_json::from_str(pay_line).expect("JSON log line");
    let span = &line["span"];
    assert_eq!(span["request_id"], request_id.as_str());
    assert_eq!(span["route"], "/v1/orders/{orderId}/pay");
    assert_eq!(span["payment_id"], paid.json["paymentId"]);
    assert_eq!(span["wallet_id"], wallet.as_str());
    assert_eq!(span["charge_id"], paid.json["chargeId"]);
    let internal_id = failed.json["error"]["requestId"].as_str().expect("id");
    assert!(
        text.lines()
            .any(|l| l.contains(internal_id) && l.contains("request failed")),
        "the 500's cause is logged once with its request id"
    );
    assert_eq!(failed.json["error"]["message"], "internal error");
}
