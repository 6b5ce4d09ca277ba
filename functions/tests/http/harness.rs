//! The HTTP tests' app: the real use cases over the embedded store in memory, the sandbox
//! simulator on a loopback port (throttling off, frozen clock) and the Amazon Pay gateway
//! over the real client; the router is called with `oneshot`.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderMap, Method, Request};
use axum::Router;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde_json::{json, Value};
use tower::ServiceExt;

use savedwallet_amazon_pay::{AmazonPayClient, ClientConfig, Pacing, RetryPolicy};
use savedwallet_app::ids::{CheckoutSessionId, CustomerId, WalletId};
use savedwallet_app::ports::Clock;
use savedwallet_app::store::{RequestCounts, Store};
use savedwallet_app::{Origin, Service, ServiceConfig};
use savedwallet_functions::amazon::{AmazonPayGateway, Timeouts};
use savedwallet_functions::http::{
    self, AdminToken, AppState, AuthMode, DevHooks, DevTools, HttpConfig, IpnDelivery, IpnRefusal,
    IpnVerifier, LocalAuth, LocalIssuer, RateLimit, RefusalClass, SubscriptionConfirmation,
};
use savedwallet_functions::runtime::OsEntropy;
use savedwallet_functions::store::EmbeddedStore;
use savedwallet_sandbox::{Sandbox, SandboxHandle};
use savedwallet_shared::idempotency::KeyScope;
use savedwallet_shared::region::{Environment, Region};

/// The signing-vector key id.
pub const KEY_ID: &str = "SANDBOX-TESTKEY0000000000001";
/// The merchant id of the service (and of the IPNs the double verifies).
pub const MERCHANT_ID: &str = "A2TESTMERCHANT";
/// The admin token of the local auth mode.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";
/// The allowed frontend / return origin.
pub const SHOP: &str = "https://shop.example";
/// The JWT issuer and audience.
pub const ISSUER: &str = "https://savedwallet.local";
/// The JWT audience.
pub const AUDIENCE: &str = "savedwallet-api";

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/amazon-pay/signing-vectors.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("vectors")).expect("json")
}

/// The service's clock: the simulator's.
struct SimClock(Arc<SandboxHandle>);

impl Clock for SimClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }
}

/// The local stack's clock hook, as `savedwallet local` implements it: the service reads
/// the simulator's clock, so moving the simulator moves both.
struct SimHooks(Arc<SandboxHandle>);

#[async_trait]
impl DevHooks for SimHooks {
    async fn advance_clock(&self, by: Duration) -> Result<DateTime<Utc>, String> {
        self.0.advance_clock(by);
        Ok(self.0.now())
    }
}

/// An IPN verifier double: the body is JSON naming what the verifier "found":
/// `{"ipn": <IpnMessage>, "messageId", "published"}`, `{"confirm": "<topic>"}`,
/// `{"unsubscribe": true}` or `{"refuse": "<code>", "class": "bad_request|forbidden|unavailable"}`.
#[derive(Default)]
pub struct TestVerifier {
    /// Confirmations asked for.
    pub confirmed: Mutex<Vec<String>>,
    /// Bodies seen.
    pub seen: Mutex<VecDeque<Vec<u8>>>,
}

#[async_trait]
impl IpnVerifier for TestVerifier {
    async fn verify(&self, body: &[u8]) -> Result<IpnDelivery, IpnRefusal> {
        self.seen.lock().push_back(body.to_vec());
        let v: Value = serde_json::from_slice(body)
            .map_err(|_| IpnRefusal::new(RefusalClass::BadRequest, "malformed"))?;
        if let Some(code) = v.get("refuse").and_then(Value::as_str) {
            let class = match v["class"].as_str() {
                Some("forbidden") => RefusalClass::Forbidden,
                Some("unavailable") => RefusalClass::Unavailable,
                _ => RefusalClass::BadRequest,
            };
            let code: &'static str = Box::leak(code.to_string().into_boxed_str());
            return Err(IpnRefusal::new(class, code));
        }
        if let Some(topic) = v.get("confirm").and_then(Value::as_str) {
            return Ok(IpnDelivery::SubscriptionConfirmation(
                SubscriptionConfirmation::new(topic, "msg-confirm", topic.to_string()),
            ));
        }
        if v.get("unsubscribe").is_some() {
            return Ok(IpnDelivery::UnsubscribeConfirmation);
        }
        let message = serde_json::from_value(v["ipn"].clone())
            .map_err(|_| IpnRefusal::new(RefusalClass::BadRequest, "not_an_ipn"))?;
        Ok(IpnDelivery::Notification(
            savedwallet_app::usecases::VerifiedIpn {
                message_id: v["messageId"].as_str().unwrap_or("msg-1").to_string(),
                published: v["published"]
                    .as_str()
                    .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or_else(Utc::now),
                message,
            },
        ))
    }

    async fn confirm(&self, c: &SubscriptionConfirmation) -> Result<(), IpnRefusal> {
        let topic = c
            .inner::<String>()
            .ok_or(IpnRefusal::new(RefusalClass::Forbidden, "not_ours"))?;
        self.confirmed.lock().push(topic.clone());
        Ok(())
    }
}

/// How to build the app.
#[derive(Clone)]
pub struct Opts {
    /// The merchant's Amazon Pay region.
    pub region: Region,
    /// API Gateway mode (Lambda) instead of local auth.
    pub api_gateway: bool,
    /// The buyer rate limit.
    pub rate: RateLimit,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            region: Region::Na,
            api_gateway: false,
            rate: RateLimit {
                burst: 1000,
                per_second: 100.0,
            },
        }
    }
}

/// The app under test and its parts.
pub struct TestApp {
    /// The simulator.
    pub sandbox: Arc<SandboxHandle>,
    /// The store.
    pub store: Arc<EmbeddedStore>,
    /// The use cases.
    pub service: Arc<Service>,
    /// The state.
    pub state: AppState,
    /// `local_app` (or `lambda_app` in API Gateway mode) behind a loopback peer.
    pub app: Router,
    /// The dev token issuer.
    pub issuer: Arc<LocalIssuer>,
    /// The IPN double.
    pub ipn: Arc<TestVerifier>,
    /// The region.
    pub region: Region,
}

/// An answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// JSON body (`Null` when empty).
    pub json: Value,
}

impl Reply {
    /// The error code.
    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }

    /// The error's param.
    pub fn param(&self) -> Option<&str> {
        self.json["error"]["param"].as_str()
    }

    /// A header's text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status, printing the body otherwise.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Reply {
        assert_eq!(self.status, status, "unexpected answer: {}", self.json);
        self
    }

    /// Asserts an error's status and code (and that it has the error shape).
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> &Reply {
        self.expect(status);
        assert_eq!(self.code(), code, "{}", self.json);
        assert!(self.json["error"]["message"].is_string(), "{}", self.json);
        let id = self.json["error"]["requestId"].as_str().unwrap_or("");
        assert!(!id.is_empty(), "requestId: {}", self.json);
        assert_eq!(self.header("x-request-id"), Some(id));
        self
    }
}

/// Who calls.
#[derive(Debug, Clone)]
pub enum Who {
    /// Nobody.
    Anonymous,
    /// A buyer with a fresh token.
    Buyer(String),
    /// The merchant.
    Admin,
    /// This `Authorization` header.
    Raw(String),
}

/// A request being built.
pub struct Call<'a> {
    app: &'a TestApp,
    method: Method,
    path: String,
    who: Who,
    body: Option<(String, Vec<u8>)>,
    headers: Vec<(String, String)>,
}

impl Call<'_> {
    /// A JSON body.
    pub fn json(mut self, v: Value) -> Self {
        self.body = Some(("application/json".into(), v.to_string().into_bytes()));
        self
    }

    /// A raw body with a content type.
    pub fn raw(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some((content_type.into(), body.into()));
        self
    }

    /// `Idempotency-Key`.
    pub fn key(self, k: &str) -> Self {
        self.header("idempotency-key", k)
    }

    /// Any header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The request.
    pub fn request(self) -> Request<Body> {
        let mut b = Request::builder()
            .method(self.method)
            .uri(self.path)
            .header("host", "127.0.0.1:8080");
        let auth = match &self.who {
            Who::Anonymous => None,
            Who::Buyer(c) => Some(format!("Bearer {}", self.app.token(c))),
            Who::Admin => Some(format!("Bearer {ADMIN_TOKEN}")),
            Who::Raw(h) => Some(h.clone()),
        };
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        for (k, v) in &self.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        match self.body {
            Some((ct, bytes)) => b
                .header("content-type", ct)
                .body(Body::from(bytes))
                .expect("request"),
            None => b.body(Body::empty()).expect("request"),
        }
    }

    /// Sends it to the app.
    pub async fn send(self) -> Reply {
        let app = self.app.app.clone();
        send_to(app, self.request()).await
    }
}

/// Sends a request to a router.
pub async fn send_to(app: Router, req: Request<Body>) -> Reply {
    let resp = app.oneshot(req).await.expect("infallible");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Reply {
        status,
        headers,
        json,
    }
}

/// Store writes (the "nothing written" checks).
pub fn writes(c: &RequestCounts) -> u64 {
    c.put_item + c.update_item + c.delete_item + c.transact_write_items
}

impl TestApp {
    /// The default app (NA merchant, local auth).
    pub async fn spawn() -> TestApp {
        TestApp::with(Opts::default()).await
    }

    /// An app with options.
    pub async fn with(opts: Opts) -> TestApp {
        let keys = vectors();
        let sandbox = Sandbox::builder()
            .throttling(false)
            .freeze_clock()
            .public_key(KEY_ID, keys["keys"]["publicKeyPem"].as_str().expect("pem"))
            .spawn("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("sandbox starts");
        let sandbox = Arc::new(sandbox);
        let mut cfg = ClientConfig::new(
            opts.region,
            Environment::Sandbox,
            KEY_ID,
            secrecy::SecretString::from(
                keys["keys"]["privateKeyPem"]
                    .as_str()
                    .expect("pem")
                    .to_string(),
            ),
        );
        cfg.endpoint = Some(url::Url::parse(sandbox.base_url()).expect("url"));
        cfg.pacing = Pacing::Off;
        cfg.retry = RetryPolicy::none();
        cfg.request_timeout = Duration::from_secs(10);
        let client = AmazonPayClient::new(cfg).expect("client");
        let gateway = AmazonPayGateway::new(client, opts.region, Timeouts::default());
        let store = Arc::new(EmbeddedStore::in_memory().expect("store"));
        let mut sc = ServiceConfig::new(
            KeyScope::new(MERCHANT_ID, Environment::Sandbox, "http-tests"),
            "amzn1.application-oa2-client.0123456789abcdef0123456789abcdef",
        );
        sc.return_origins = vec![Origin::parse(SHOP).expect("origin")];
        sc.binding_secret = b"http-tests-binding-secret".to_vec();
        let service = Arc::new(Service::new(
            store.clone() as Arc<dyn Store>,
            Arc::new(gateway),
            Arc::new(SimClock(sandbox.clone())),
            Arc::new(OsEntropy),
            sc,
        ));
        let issuer = Arc::new(LocalIssuer::generate(ISSUER, AUDIENCE).expect("issuer"));
        let auth = if opts.api_gateway {
            AuthMode::ApiGateway
        } else {
            AuthMode::Local(Box::new(LocalAuth {
                jwt: issuer.verifier(),
                admin: AdminToken::new(ADMIN_TOKEN).expect("token"),
            }))
        };
        let ipn = Arc::new(TestVerifier::default());
        let http_cfg = HttpConfig {
            cors_origins: vec![Origin::parse(SHOP).expect("origin")],
            rate_limit: opts.rate,
            ..HttpConfig::default()
        };
        let state = AppState::new(service.clone(), auth, ipn.clone(), http_cfg);
        let app = if opts.api_gateway {
            http::lambda_app(state.clone())
        } else {
            http::local_app(
                state.clone(),
                DevTools {
                    issuer: issuer.clone(),
                    hooks: Arc::new(SimHooks(sandbox.clone())),
                    token_ttl: Duration::from_secs(3600),
                },
            )
        }
        .layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        TestApp {
            sandbox,
            store,
            service,
            state,
            app,
            issuer,
            ipn,
            region: opts.region,
        }
    }

    /// A fresh dev token for a customer.
    pub fn token(&self, customer: &str) -> String {
        self.issuer
            .mint(
                &CustomerId::parse(customer).expect("customer id"),
                Duration::from_secs(600),
            )
            .expect("token")
    }

    /// A request.
    pub fn call(&self, method: Method, path: &str, who: Who) -> Call<'_> {
        Call {
            app: self,
            method,
            path: path.to_string(),
            who,
            body: None,
            headers: Vec::new(),
        }
    }

    /// A buyer's request.
    pub fn buyer(&self, customer: &str, method: Method, path: &str) -> Call<'_> {
        self.call(method, path, Who::Buyer(customer.to_string()))
    }

    /// The merchant's request.
    pub fn admin(&self, method: Method, path: &str) -> Call<'_> {
        self.call(method, path, Who::Admin)
    }

    /// Backend requests so far.
    pub fn counts(&self) -> RequestCounts {
        self.store.request_counts()
    }

    /// Create Charge calls the simulator recorded.
    pub fn sandbox_charges(&self) -> usize {
        self.sandbox.ledger()["charges"]
            .as_array()
            .map_or(0, Vec::len)
    }

    /// A Saved Wallet of `customer` through the real setup flow: a setup session, the
    /// sandbox's consent page with `preset`, and `Service::complete_wallet_setup`.
    pub async fn wallet(&self, customer: &str, preset: &str) -> WalletId {
        let owner = CustomerId::parse(customer).expect("customer");
        let started = self
            .service
            .start_wallet_setup(&owner, &format!("{SHOP}/setup-done"))
            .await
            .expect("setup starts");
        let sid = consent(&started.redirect_url, preset).await;
        let (view, new) = self
            .service
            .complete_wallet_setup(&owner, &CheckoutSessionId::parse(&sid).expect("sid"))
            .await
            .expect("setup completes");
        assert!(new);
        view.wallet.wallet_id
    }

    /// A plan (PUT through the admin API).
    pub async fn plan(&self, id: &str, amount: &str, currency: &str) {
        self.admin(Method::PUT, &format!("/admin/v1/plans/{id}"))
            .json(
                json!({"name": "Gold", "price": {"amount": amount, "currencyCode": currency},
                "interval": "month", "intervalCount": 1}),
            )
            .send()
            .await
            .expect(200);
    }

    /// An order for a customer (through the admin API) → its id.
    pub async fn order(&self, customer: &str, amount: &str, capture_now: bool) -> String {
        let cur = self.currency();
        let r = self
            .admin(Method::POST, "/admin/v1/orders")
            .key(&format!("order-{}", uuid::Uuid::new_v4()))
            .json(
                json!({"customerId": customer, "amount": {"amount": amount, "currencyCode": cur},
                "description": "A book", "captureNow": capture_now}),
            )
            .send()
            .await;
        r.expect(201);
        r.json["orderId"].as_str().expect("orderId").to_string()
    }

    /// The merchant's currency.
    pub fn currency(&self) -> &'static str {
        match self.region {
            Region::Na => "USD",
            Region::Eu => "EUR",
            Region::Jp => "JPY",
        }
    }
}

/// The sandbox's consent page: GET it, POST "consent" with a preset → the session id from
/// the return URL.
pub async fn consent(redirect_url: &str, preset: &str) -> String {
    let location = submit_page(redirect_url, &[("action", "consent"), ("preset", preset)]).await;
    session_from(&location)
}

/// GET a buyer page, POST its form with `fields` → the redirect's Location.
pub async fn submit_page(url: &str, fields: &[(&str, &str)]) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let html = http
        .get(url)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    let marker = "name=\"token\" value=\"";
    let start = html.find(marker).expect("token field") + marker.len();
    let end = html[start..].find('"').expect("quote") + start;
    let mut form: Vec<(&str, &str)> = vec![("token", &html[start..end])];
    form.extend_from_slice(fields);
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter())
        .finish();
    let resp = http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 303, "POST {url}");
    resp.headers()["location"]
        .to_str()
        .expect("location")
        .to_string()
}

/// `amazonCheckoutSessionId` of a return URL.
pub fn session_from(location: &str) -> String {
    url::Url::parse(location)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "amazonCheckoutSessionId")
        .map(|(_, v)| v.to_string())
        .expect("amazonCheckoutSessionId")
}
