//! The whole-system harness: a [`LocalStack`] started in-process on free loopback ports
//! (the same code `savedwallet local` runs) and driven only over HTTP — the API with dev
//! JWTs and the admin token, the sandbox's hosted pages as a buyer would use them, and the
//! sandbox's control API and ledger to inject faults and check what Amazon saw.
//!
//! [`runtime_api`] is the harness of the real Lambda bootstrap binaries: a local Lambda
//! Runtime API and a wrapper of the process that polls it; [`lambda`] stands them up against
//! moto and the sandbox (`tests/tests/lambda` and the `lambda-bench` benchmark).

pub mod lambda;
pub mod runtime_api;
pub mod servers;

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

pub use servers::{message_of, Captured, ConnectionCounter, IpnCapture, RequestCapture};

pub use savedwallet_cli::stack::{LocalStack, StackOptions};
pub use savedwallet_sandbox::buyer::{returned_session, Buyer};
pub use savedwallet_sandbox::ipn::SignatureVersion;
pub use savedwallet_sandbox::{HardDeclineEffect, Knobs, MfaFailureEffect, MfaOutcome, Preset};

/// The message a failed MFA challenge carries (the seed's words, API.md).
pub const FAILED_MFA_MESSAGE: &str =
    "Your payment was not successful. Please try another payment method.";

/// Where buyers come back to (the stack's allowed frontend origin).
pub const FRONTEND: &str = "http://localhost:3000";

/// A running system and an HTTP client.
pub struct System {
    /// The stack (its `info` has the URLs and the admin token).
    pub stack: LocalStack,
    /// The HTTP client (no redirects followed).
    pub http: reqwest::Client,
    /// The buyer on the sandbox's hosted pages.
    pub buyer: Buyer,
}

/// An answer: status, headers, JSON body (`Null` when not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// JSON body.
    pub body: Value,
}

impl Reply {
    /// Asserts the status and returns the body.
    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected answer: {:#}",
            self.body
        );
        &self.body
    }

    /// Asserts an error answer with `code`.
    #[track_caller]
    pub fn error(&self, status: u16, code: &str) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected answer: {:#}",
            self.body
        );
        assert_eq!(
            self.body["error"]["code"], code,
            "unexpected error: {:#}",
            self.body
        );
        assert!(
            self.body["error"]["requestId"].is_string(),
            "no requestId: {:#}",
            self.body
        );
        &self.body
    }
}

/// Who calls.
#[derive(Debug, Clone)]
pub enum Who {
    /// Nobody.
    Anonymous,
    /// A buyer with a dev JWT.
    Buyer(String),
    /// The merchant with the admin token.
    Admin,
}

impl System {
    /// A fresh system with the ephemeral options (in memory, throttling off, frozen clock,
    /// no background loops: tests run jobs with [`System::jobs`]).
    pub async fn start() -> System {
        System::start_with(|_| {}).await
    }

    /// A fresh system with options changed by `f`.
    pub async fn start_with(f: impl FnOnce(&mut StackOptions)) -> System {
        let mut opts = StackOptions::ephemeral();
        f(&mut opts);
        let stack = LocalStack::start(opts)
            .await
            .expect("the local stack starts");
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        System {
            stack,
            http,
            buyer: Buyer::new(),
        }
    }

    /// The API's base URL.
    pub fn api(&self) -> &str {
        &self.stack.info.api_url
    }

    /// The sandbox's control API base (`…/_sandbox`).
    pub fn control(&self) -> &str {
        &self.stack.info.sandbox_control_url
    }

    /// Calls the API.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        who: &Who,
        body: Option<Value>,
        key: Option<&str>,
    ) -> Reply {
        let mut req = self.http.request(method, format!("{}{path}", self.api()));
        req = match who {
            Who::Anonymous => req,
            Who::Buyer(t) => req.bearer_auth(t),
            Who::Admin => req.bearer_auth(&self.stack.info.admin_token),
        };
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("the API answers");
        reply(resp).await
    }

    /// A buyer call.
    pub async fn buyer_call(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        self.call(method, path, &Who::Buyer(token.to_string()), body, None)
            .await
    }

    /// A merchant call.
    pub async fn admin_call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        key: Option<&str>,
    ) -> Reply {
        self.call(method, path, &Who::Admin, body, key).await
    }

    /// A dev JWT for `customer` (`POST /dev/token`).
    pub async fn token(&self, customer: &str) -> String {
        let r = self
            .call(
                Method::POST,
                "/dev/token",
                &Who::Anonymous,
                Some(json!({ "customerId": customer })),
                None,
            )
            .await;
        r.ok(200)["token"].as_str().expect("token").to_string()
    }

    /// Calls the API with a raw body and content type (bad-input tests).
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        who: &Who,
        content_type: &str,
        body: Vec<u8>,
        key: Option<&str>,
    ) -> Reply {
        let mut req = self.http.request(method, format!("{}{path}", self.api()));
        req = match who {
            Who::Anonymous => req,
            Who::Buyer(t) => req.bearer_auth(t),
            Who::Admin => req.bearer_auth(&self.stack.info.admin_token),
        };
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        let resp = req
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .expect("the API answers");
        reply(resp).await
    }

    /// POSTs an SNS envelope to the API's `/ipn` as SNS does (`text/plain`).
    pub async fn post_ipn(&self, body: impl Into<String>) -> Reply {
        let resp = self
            .http
            .post(&self.stack.info.ipn_url)
            .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=UTF-8")
            .body(body.into())
            .send()
            .await
            .expect("the IPN endpoint answers");
        reply(resp).await
    }

    /// A Saved Wallet set up on the consent page; returns its id.
    pub async fn wallet_id(&self, token: &str, preset: Preset) -> String {
        self.wallet(token, preset).await["walletId"]
            .as_str()
            .expect("walletId")
            .to_string()
    }

    /// `GET /v1/wallets/{id}` as the buyer.
    pub async fn get_wallet(&self, token: &str, wallet_id: &str) -> Value {
        self.buyer_call(
            token,
            Method::GET,
            &format!("/v1/wallets/{wallet_id}"),
            None,
        )
        .await
        .ok(200)
        .clone()
    }

    /// `GET /v1/payments/{id}` as the buyer.
    pub async fn payment(&self, token: &str, payment_id: &str) -> Value {
        self.buyer_call(
            token,
            Method::GET,
            &format!("/v1/payments/{payment_id}"),
            None,
        )
        .await
        .ok(200)
        .clone()
    }

    /// `GET /admin/v1/payments/{id}` (attempts whole).
    pub async fn admin_payment(&self, payment_id: &str) -> Value {
        self.admin_call(
            Method::GET,
            &format!("/admin/v1/payments/{payment_id}"),
            None,
            None,
        )
        .await
        .ok(200)
        .clone()
    }

    /// Every merchant event so far (`GET /admin/v1/events`, all pages), oldest first.
    pub async fn events(&self) -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/admin/v1/events?limit=100&cursor={c}"),
                None => "/admin/v1/events?limit=100".to_string(),
            };
            let page = self.admin_call(Method::GET, &path, None, None).await;
            let body = page.ok(200);
            all.extend(body["events"].as_array().cloned().unwrap_or_default());
            match body["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return all,
            }
        }
    }

    /// The types of every merchant event so far, oldest first.
    pub async fn event_types(&self) -> Vec<String> {
        self.events()
            .await
            .iter()
            .filter_map(|e| e["type"].as_str().map(str::to_string))
            .collect()
    }

    /// Store writes so far (PutItem, UpdateItem, DeleteItem, TransactWriteItems).
    pub fn store_writes(&self) -> u64 {
        let c = self.stack.store.request_counts();
        c.put_item + c.update_item + c.delete_item + c.transact_write_items
    }

    /// The simulated now (`GET /_sandbox/clock`): the service's clock too.
    pub async fn now(&self) -> DateTime<Utc> {
        let r = self
            .http
            .get(format!("{}/clock", self.control()))
            .send()
            .await
            .expect("clock");
        let body = reply(r).await.ok(200).clone();
        body["nowUnixMs"]
            .as_i64()
            .and_then(DateTime::<Utc>::from_timestamp_millis)
            .expect("the sandbox's now in Unix milliseconds")
    }

    /// The sandbox's Charge objects of one charge permission.
    pub async fn charges_of(&self, wallet_id: &str) -> Vec<Value> {
        charges_for(&self.ledger().await, wallet_id)
    }

    /// The sandbox's charge permission `id` as Amazon holds it.
    pub async fn amazon_permission(&self, wallet_id: &str) -> Value {
        self.ledger().await["chargePermissions"]
            .as_array()
            .and_then(|ps| {
                ps.iter()
                    .find(|p| p["chargePermissionId"] == wallet_id)
                    .cloned()
            })
            .expect("the permission is in the sandbox's ledger")
    }

    /// Subscribes a capture server to the sandbox's topic (SignatureVersion `version`,
    /// "1" or "2"): it receives the same signed envelopes as the API's `/ipn`.
    pub async fn capture_ipns(&self, version: &str) -> IpnCapture {
        let capture = IpnCapture::start().await;
        let r = self
            .control_call(
                Method::POST,
                "/ipn-endpoints",
                json!({ "url": capture.url(), "signatureVersion": version }),
            )
            .await;
        assert!(r.status.is_success(), "subscribe: {:#}", r.body);
        capture
    }

    /// Sets up a Saved Wallet for the buyer through the sandbox's consent page; returns
    /// the wallet as the API answers it.
    pub async fn wallet(&self, token: &str, preset: Preset) -> Value {
        let started = self
            .buyer_call(
                token,
                Method::POST,
                "/v1/wallets/setup",
                Some(json!({ "returnUrl": format!("{FRONTEND}/wallet/done") })),
            )
            .await;
        let redirect = started.ok(201)["redirectUrl"]
            .as_str()
            .expect("redirectUrl")
            .to_string();
        let back = self
            .buyer
            .consent(&redirect, preset)
            .await
            .expect("consent");
        let session = returned_session(&back).expect("a session id in the return URL");
        let r = self
            .buyer_call(
                token,
                Method::POST,
                "/v1/wallets",
                Some(json!({ "amazonCheckoutSessionId": session })),
            )
            .await;
        assert!(r.status.is_success(), "wallet not saved: {:#}", r.body);
        r.body
    }

    /// Creates an order for `customer` (`POST /admin/v1/orders`); returns its id.
    pub async fn order(&self, customer: &str, amount: &str, capture_now: bool) -> String {
        let key = format!("order-{customer}-{amount}-{}", uuid_like());
        let r = self
            .admin_call(
                Method::POST,
                "/admin/v1/orders",
                Some(json!({
                    "customerId": customer,
                    "amount": { "amount": amount, "currencyCode": "EUR" },
                    "description": "Test order",
                    "captureNow": capture_now,
                })),
                Some(&key),
            )
            .await;
        r.ok(201)["orderId"].as_str().expect("orderId").to_string()
    }

    /// Pays an order with a wallet (`POST /v1/orders/{id}/pay`).
    pub async fn pay(&self, token: &str, order_id: &str, wallet_id: &str) -> Reply {
        self.buyer_call(
            token,
            Method::POST,
            &format!("/v1/orders/{order_id}/pay"),
            Some(json!({ "walletId": wallet_id, "checkoutResultReturnUrl": format!("{FRONTEND}/orders/{order_id}/done") })),
        )
        .await
    }

    /// Runs the background jobs once (`POST /dev/jobs/run`): IPNs settled first.
    pub async fn jobs(&self) -> Value {
        let r = self
            .call(Method::POST, "/dev/jobs/run", &Who::Anonymous, None, None)
            .await;
        r.ok(200).clone()
    }

    /// Moves both clocks (`POST /dev/clock/advance`).
    pub async fn advance(&self, seconds: u64) {
        let r = self
            .call(
                Method::POST,
                "/dev/clock/advance",
                &Who::Anonymous,
                Some(json!({ "seconds": seconds })),
                None,
            )
            .await;
        r.ok(200);
    }

    /// The sandbox's ledger (`GET /_sandbox/ledger`).
    pub async fn ledger(&self) -> Value {
        let r = self
            .http
            .get(format!("{}/ledger", self.control()))
            .send()
            .await
            .expect("ledger");
        reply(r).await.ok(200).clone()
    }

    /// How often the service called an Amazon Pay operation (`CreateCharge`, …).
    pub async fn amazon_calls(&self, op: &str) -> u64 {
        self.ledger().await["apiCalls"][op].as_u64().unwrap_or(0)
    }

    /// A control API call (`PUT /_sandbox/faults`, …).
    pub async fn control_call(&self, method: Method, path: &str, body: Value) -> Reply {
        let r = self
            .http
            .request(method, format!("{}{path}", self.control()))
            .json(&body)
            .send()
            .await
            .expect("control API");
        reply(r).await
    }
}

async fn reply(resp: reqwest::Response) -> Reply {
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

/// Whether `path` (its query ignored) is an instance of the route template `template`
/// (`/v1/wallets/{walletId}`): the tests that walk every route use it.
pub fn matches_template(template: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    t.len() == p.len() && t.iter().zip(&p).all(|(t, p)| t.starts_with('{') || t == p)
}

/// A unique suffix (no two calls in a process share one).
pub fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{t:x}-{}", N.fetch_add(1, Ordering::Relaxed))
}

/// The Charge objects of one charge permission in a sandbox ledger (`GET /_sandbox/ledger`).
pub fn charges_for(ledger: &Value, wallet_id: &str) -> Vec<Value> {
    ledger["charges"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["chargePermissionId"] == wallet_id)
        .cloned()
        .collect()
}
