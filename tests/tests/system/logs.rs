//! The whole stack's log: a wallet set up, orders created and paid (one settled by its
//! IPN), a refund, a refused credential — with secrets and personal data planted on the
//! way (the buyer's name and email in Amazon's answers, a customer id, an address in an
//! order's description, the Idempotency-Key, the dev JWT, the admin token, the merchant's
//! private key and the install's other secrets). None of them is in the service's JSON
//! log; the request ids, routes and the ids of what was touched are.
//!
//! The log is captured by a process-wide subscriber (the stack runs on tasks and threads a
//! scoped one would miss), installed once by this test: the other tests of the binary log
//! into it too, and what they log must be as clean. The sandbox's own log is left out: it
//! is Amazon, not the service.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use reqwest::Method;
use savedwallet_tests::{Preset, Reply, System, Who, FRONTEND};
use serde_json::{json, Value};
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;

/// A `MakeWriter` into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        let bytes = self.0.lock().expect("log buffer").clone();
        String::from_utf8(bytes).expect("UTF-8 log")
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
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

/// The process-wide JSON log: every level of the service's crates (stricter than the
/// `info` the Lambda functions and `savedwallet local` run at), `info` of the libraries,
/// nothing of the sandbox simulator.
fn captured_logs() -> Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let targets = Targets::new()
            .with_default(LevelFilter::INFO)
            .with_target("savedwallet", LevelFilter::TRACE)
            .with_target("savedwallet_sandbox", LevelFilter::OFF);
        let layer = tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(logs.clone())
            .with_filter(targets);
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
        logs
    })
    .clone()
}

fn request_id(r: &Reply) -> String {
    r.headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id")
        .to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The JSON lines of the log that carry `request_id` in their span.
fn lines_of(text: &str, request_id: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| l.contains(request_id))
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON log line"))
        .filter(|v| v["span"]["request_id"] == request_id)
        .collect()
}

/// The `request done` line of a request: its span.
#[track_caller]
fn done_span(text: &str, r: &Reply) -> Value {
    let id = request_id(r);
    let lines = lines_of(text, &id);
    let done: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "request done")
        .collect();
    assert_eq!(
        done.len(),
        1,
        "one `request done` line for {id}: {lines:#?}"
    );
    done[0]["span"].clone()
}

const CUSTOMER: &str = "cust_PLANTED_c0ffee";
const DESCRIPTION: &str = "PLANTED-DESCRIPTION for Jane Roe, 1 Main St, 10115 Berlin";
const IDEMPOTENCY_KEY: &str = "PLANTED-IDEMPOTENCY-KEY-5e1f";
const BAD_TOKEN: &str = "PLANTED.BAD.TOKEN";

#[tokio::test]
async fn the_log_has_request_ids_and_no_secrets_or_personal_data() {
    let logs = captured_logs();
    let sys = System::start().await;
    let token = sys.token(CUSTOMER).await;
    let wallet = sys.wallet_id(&token, Preset::AlwaysApprove).await;
    let slow = sys.wallet_id(&token, Preset::AsyncApprove).await;
    // Amazon's answers carried the buyer's name and email.
    let buyer = sys.amazon_permission(&wallet).await["buyer"].clone();
    let name = buyer["name"].as_str().expect("buyer name").to_string();
    let email = buyer["email"].as_str().expect("buyer email").to_string();

    let order = sys
        .admin_call(
            Method::POST,
            "/admin/v1/orders",
            Some(json!({ "customerId": CUSTOMER,
                "amount": { "amount": "25.00", "currencyCode": "EUR" },
                "description": DESCRIPTION })),
            Some(IDEMPOTENCY_KEY),
        )
        .await;
    let order_id = order.ok(201)["orderId"].as_str().expect("id").to_string();
    let paid = sys
        .call(
            Method::POST,
            &format!("/v1/orders/{order_id}/pay"),
            &Who::Buyer(token.clone()),
            Some(json!({ "walletId": wallet,
                "checkoutResultReturnUrl": format!("{FRONTEND}/orders/done") })),
            Some(IDEMPOTENCY_KEY),
        )
        .await;
    assert_eq!(paid.ok(201)["status"], "succeeded");
    let pid = paid.body["paymentId"].as_str().expect("id").to_string();

    // Pending until Amazon's IPN (a merchant charge may wait for the authorization): the
    // /ipn request verifies, fetches and applies it.
    let pending = sys
        .admin_call(
            Method::POST,
            "/admin/v1/payments",
            Some(json!({ "walletId": slow,
                "amount": { "amount": "26.00", "currencyCode": "EUR" },
                "reason": "PLANTED-REASON renewal" })),
            Some("PLANTED-MIT-KEY"),
        )
        .await;
    assert_eq!(pending.ok(201)["status"], "pending");
    let pending_id = pending.body["paymentId"].as_str().expect("id").to_string();
    sys.advance(31).await;
    sys.jobs().await;
    assert_eq!(
        sys.payment(&token, &pending_id).await["status"],
        "succeeded"
    );

    let refund = sys
        .admin_call(
            Method::POST,
            &format!("/admin/v1/payments/{pid}/refunds"),
            Some(
                json!({ "amount": { "amount": "5.00", "currencyCode": "EUR" },
                "reason": "PLANTED-REASON Jane Roe" }),
            ),
            Some("PLANTED-REFUND-KEY"),
        )
        .await;
    refund.ok(201);
    let refused = sys
        .call(
            Method::GET,
            "/v1/wallets",
            &Who::Buyer(BAD_TOKEN.into()),
            None,
            None,
        )
        .await;
    refused.error(401, "unauthenticated");
    let foreign = sys
        .call(
            Method::GET,
            &format!("/admin/v1/customers/{CUSTOMER}/payments"),
            &Who::Admin,
            None,
            None,
        )
        .await;
    foreign.ok(200);
    sys.jobs().await;

    let text = logs.text();
    let secrets = sys.stack.secrets();
    let mut planted: Vec<String> = vec![
        name,
        email,
        CUSTOMER.into(),
        "PLANTED".into(),
        "Jane Roe".into(),
        "Main St".into(),
        token.clone(),
        BAD_TOKEN.into(),
        sys.stack.info.admin_token.clone(),
        secrets.webhook_secret.clone(),
        hex(&secrets.binding_secret),
        hex(&secrets.binding_secret).to_uppercase(),
        hex(&secrets.issuer_pkcs8),
        "PRIVATE KEY".into(),
    ];
    // Every line of the merchant's private key's body (and the JWT's three parts).
    planted.extend(
        secrets
            .merchant_key
            .private_pem
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() >= 16)
            .map(str::to_string),
    );
    planted.extend(token.split('.').map(str::to_string));
    for secret in &planted {
        assert!(
            !text.contains(secret.as_str()),
            "the log contains {secret:?}"
        );
    }

    // Each of this test's requests has its line, with its request id and route template
    // (never the path: it can carry a customer id), and the ids it touched.
    let span = done_span(&text, &paid);
    assert_eq!(span["route"], "/v1/orders/{orderId}/pay");
    assert_eq!(span["payment_id"], pid.as_str());
    assert_eq!(span["wallet_id"], wallet.as_str());
    assert_eq!(span["charge_id"], paid.body["chargeId"]);
    assert_eq!(span["status"], 201);
    let span = done_span(&text, &order);
    assert_eq!(span["route"], "/admin/v1/orders");
    assert_eq!(span["order_id"], order_id.as_str());
    let span = done_span(&text, &refund);
    assert_eq!(span["refund_id"], refund.body["refundId"]);
    let span = done_span(&text, &foreign);
    assert_eq!(span["route"], "/admin/v1/customers/{customerId}/payments");
    let span = done_span(&text, &refused);
    assert_eq!(span["status"], 401);
    assert_eq!(
        refused.body["error"]["requestId"].as_str(),
        Some(request_id(&refused).as_str())
    );
    // The IPN request that settled the pending payment is logged with its request id and
    // the ids the notification named.
    let charge = sys.charges_of(&slow).await[0]["chargeId"].clone();
    let ipn_done: Vec<Value> = text
        .lines()
        .filter(|l| l.contains("request done") && l.contains("/ipn"))
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON log line"))
        .filter(|v| v["span"]["route"] == "/ipn" && v["span"]["charge_id"] == charge)
        .collect();
    assert!(!ipn_done.is_empty(), "no /ipn line names {charge}");
    for line in &ipn_done {
        assert_eq!(line["span"]["wallet_id"], slow.as_str());
        assert!(line["span"]["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()));
    }
}
