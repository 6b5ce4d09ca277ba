//! The use cases over real parts: the embedded store in memory, the sandbox simulator on a
//! free port with a frozen clock (the service reads the same clock), and the Amazon Pay
//! gateway over the real signing client and HTTP. A programmatic buyer drives the
//! simulator's hosted pages. IPNs are taken from the simulator and handed to the use case
//! (SNS verification is the HTTP layer's, tested there).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use savedwallet_amazon_pay::{AmazonPayClient, ClientConfig, Pacing, RetryPolicy};
use savedwallet_app::ids::*;
use savedwallet_app::ports::Clock;
use savedwallet_app::store::*;
use savedwallet_app::usecases::*;
use savedwallet_app::{Origin, Service, ServiceConfig};
use savedwallet_functions::amazon::{AmazonPayGateway, Timeouts};
use savedwallet_functions::runtime::OsEntropy;
use savedwallet_functions::store::EmbeddedStore;
use savedwallet_sandbox::buyer::{returned_session, Buyer};
use savedwallet_sandbox::{Knobs, Preset, Sandbox, SandboxHandle};
use savedwallet_shared::api::IpnMessage;
use savedwallet_shared::idempotency::KeyScope;
use savedwallet_shared::region::{Environment, Region};

pub const KEY_ID: &str = "SANDBOX-APPTESTKEY0000000000000";
pub const MERCHANT: &str = "A2SANDBOXMERCHANT";
pub const FRONTEND: &str = "http://localhost:3000";

fn vectors() -> serde_json::Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/amazon-pay/signing-vectors.json"
    ))
    .expect("signing vectors");
    serde_json::from_str(&text).expect("json")
}

/// The simulator's clock, shared by the service.
pub struct SandboxClock(pub Arc<SandboxHandle>);

impl Clock for SandboxClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }
}

/// Every measurement the service reported, as text (`payment:succeeded`, `lag`, …).
#[derive(Default)]
pub struct Recorded(pub std::sync::Mutex<Vec<String>>);

impl savedwallet_app::ports::Metrics for Recorded {
    fn record(&self, m: savedwallet_app::ports::Measure<'_>) {
        use savedwallet_app::ports::Measure;
        let s = match m {
            Measure::Payment { outcome } => format!("payment:{outcome}"),
            Measure::Decline { reason_code } => format!("decline:{reason_code}"),
            Measure::BillingLag { seconds } => format!("lag:{}", seconds.round()),
            Measure::Ipn { object_type } => format!("ipn:{object_type}"),
            Measure::IpnRefused { reason } => format!("refused:{reason}"),
        };
        self.0.lock().expect("metrics lock").push(s);
    }
}

/// A running stack.
pub struct Stack {
    pub metrics: Arc<Recorded>,
    pub sandbox: Arc<SandboxHandle>,
    pub gateway: Arc<AmazonPayGateway>,
    pub service: Service,
    pub store: Arc<EmbeddedStore>,
    pub buyer: Buyer,
    pub region: Region,
    ipn_seen: AtomicUsize,
}

/// Starts a stack in `region` with simulator knobs.
pub async fn stack_with(region: Region, knobs: Knobs) -> Stack {
    let v = vectors();
    let public = v["keys"]["publicKeyPem"]
        .as_str()
        .expect("public key")
        .to_string();
    let private = v["keys"]["privateKeyPem"]
        .as_str()
        .expect("private key")
        .to_string();
    let sandbox = Sandbox::builder()
        .throttling(false)
        .freeze_clock()
        .knobs(knobs)
        .public_key(KEY_ID, public)
        .spawn("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("sandbox");
    let sandbox = Arc::new(sandbox);
    let mut cfg = ClientConfig::new(
        region,
        Environment::Sandbox,
        KEY_ID,
        SecretString::from(private),
    );
    cfg.endpoint = Some(sandbox.base_url().parse().expect("url"));
    cfg.pacing = Pacing::Off;
    cfg.retry = RetryPolicy {
        max_retries: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_total: Duration::from_secs(10),
    };
    cfg.request_timeout = Duration::from_secs(5);
    let client = AmazonPayClient::new(cfg).expect("client");
    let gateway = AmazonPayGateway::new(
        client,
        region,
        Timeouts {
            charge: Duration::from_secs(5),
            other: Duration::from_secs(5),
        },
    );
    let gateway = Arc::new(gateway);
    let store = Arc::new(EmbeddedStore::in_memory().expect("store"));
    let mut config = ServiceConfig::new(
        KeyScope::new(
            MERCHANT,
            Environment::Sandbox,
            format!("test-{}", rand_ns()),
        ),
        "amzn1.application-oa2-client.test",
    );
    config.return_origins = vec![Origin::parse(FRONTEND).expect("origin")];
    config.allow_loopback_http = true;
    config.allow_minute_plans = true;
    config.binding_secret = b"test binding secret".to_vec();
    config.charge_attempt_timeout = Duration::from_secs(5);
    let metrics = Arc::new(Recorded::default());
    let service = Service::new(
        store.clone(),
        gateway.clone(),
        Arc::new(SandboxClock(sandbox.clone())),
        Arc::new(OsEntropy),
        config,
    )
    .with_metrics(metrics.clone());
    Stack {
        metrics,
        sandbox,
        gateway,
        service,
        store,
        buyer: Buyer::new(),
        region,
        ipn_seen: AtomicUsize::new(0),
    }
}

fn rand_ns() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Starts a stack with the simulator's default knobs.
pub async fn stack(region: Region) -> Stack {
    stack_with(region, Knobs::default()).await
}

pub fn cust(s: &str) -> CustomerId {
    CustomerId::parse(s).expect("customer id")
}

impl Stack {
    /// Sets up a Saved Wallet for `owner` through the sandbox's consent page.
    pub async fn wallet(&self, owner: &str, preset: Preset) -> WalletView {
        let owner = cust(owner);
        let started = self
            .service
            .start_wallet_setup(&owner, &format!("{FRONTEND}/wallet/done"))
            .await
            .expect("setup started");
        let back = self
            .buyer
            .consent(&started.redirect_url, preset)
            .await
            .expect("consent");
        let sid =
            CheckoutSessionId::parse(&returned_session(&back).expect("session in the return URL"))
                .expect("session id");
        let (view, new) = self
            .service
            .complete_wallet_setup(&owner, &sid)
            .await
            .expect("wallet saved");
        assert!(new);
        view
    }

    /// Every IPN the simulator published since the last call, processed by the use case.
    pub async fn deliver_ipns(&self) -> Vec<IpnOutcome> {
        let ledger = self.sandbox.ledger();
        let published: Vec<IpnMessage> =
            serde_json::from_value(ledger["ipnPublished"].clone()).expect("ipns");
        let from = self.ipn_seen.swap(published.len(), Ordering::SeqCst);
        let mut out = Vec::new();
        for m in published.into_iter().skip(from) {
            let ipn = VerifiedIpn {
                message_id: m.notification_id.clone(),
                published: self.sandbox.now(),
                message: m,
            };
            out.push(self.service.process_ipn(&ipn).await.expect("ipn processed"));
        }
        out
    }

    /// Forgets every IPN published so far, undelivered (a lost notification).
    pub fn skip_ipns(&self) {
        let n = self.sandbox.ledger()["ipnPublished"]
            .as_array()
            .map_or(0, |a| a.len());
        self.ipn_seen.store(n, Ordering::SeqCst);
    }

    /// The measurements reported so far.
    pub fn measured(&self) -> Vec<String> {
        self.metrics.0.lock().expect("metrics lock").clone()
    }

    /// Amazon API calls of an operation so far (the simulator's count).
    pub fn calls(&self, op: &str) -> u64 {
        self.sandbox.ledger()["apiCalls"][op].as_u64().unwrap_or(0)
    }

    /// Charges in the simulator's ledger for a wallet, by state.
    pub fn charges(&self, wallet: &WalletId) -> Vec<(String, String)> {
        let ledger = self.sandbox.ledger();
        ledger["charges"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["chargePermissionId"] == wallet.as_str())
            .map(|c| {
                (
                    c["chargeId"].as_str().unwrap_or_default().to_string(),
                    c["statusDetails"]["state"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect()
    }

    /// An order of `amount` (minor units of the region's currency) for `owner`.
    pub async fn order(&self, owner: &str, minor: i64, capture_now: bool) -> Order {
        let currency = savedwallet_shared::money::Currency::ledger_for(self.region);
        let amount = savedwallet_shared::money::Price::from_minor(minor, currency);
        self.service
            .create_order(NewOrder {
                customer_id: owner.into(),
                amount: savedwallet_app::validate::MoneyInput {
                    amount: amount.amount_string(),
                    currency_code: currency.code().into(),
                },
                description: "Test order".into(),
                capture_now: Some(capture_now),
                soft_descriptor: None,
                scope: rand_ns().to_be_bytes().to_vec(),
            })
            .await
            .expect("order")
    }

    /// Pays an order with a wallet.
    pub async fn pay(
        &self,
        owner: &str,
        order: &Order,
        wallet: &WalletId,
    ) -> Result<Payment, savedwallet_app::ServiceError> {
        self.service
            .pay_order(
                &cust(owner),
                PayOrder {
                    order_id: order.order_id.clone(),
                    wallet_id: wallet.clone(),
                    return_url: Some(format!("{FRONTEND}/pay/return")),
                },
            )
            .await
            .map(|(p, _)| p)
    }

    /// Moves the simulated clock (and so the service's).
    pub fn advance(&self, secs: u64) {
        self.sandbox.advance_clock(Duration::from_secs(secs));
    }
}

/// A plan of `amount` in the region's currency every `interval`.
pub async fn plan(s: &Stack, id: &str, amount: &str, interval: &str) -> PlanId {
    let pid = PlanId::parse(id).unwrap();
    let currency = savedwallet_shared::money::Currency::ledger_for(s.region);
    s.service
        .put_plan(
            &pid,
            PlanInput {
                name: id.into(),
                price: savedwallet_app::validate::MoneyInput {
                    amount: amount.into(),
                    currency_code: currency.code().into(),
                },
                interval: interval.into(),
                interval_count: 1,
                active: None,
            },
        )
        .await
        .unwrap();
    pid
}

/// Alice subscribes with `w` (Idempotency scope `key`); the stored subscription and its first payment.
pub async fn subscribe(
    s: &Stack,
    w: &WalletView,
    plan: &PlanId,
    key: &str,
) -> (Subscription, Payment) {
    let return_url = (s.region == Region::Eu).then(|| format!("{FRONTEND}/sub/return"));
    let (sub, p, made) = s
        .service
        .subscribe(
            &cust("alice"),
            Subscribe {
                wallet_id: w.wallet.wallet_id.clone(),
                plan_id: plan.clone(),
                return_url,
                scope: key.as_bytes().to_vec(),
            },
        )
        .await
        .unwrap();
    assert!(made);
    (
        s.store
            .get_subscription(&sub.subscription_id)
            .await
            .unwrap(),
        p,
    )
}

/// `n` subscriptions of alice's on another wallet of hers, made a second after everything
/// before: her list is newest first, so what came before is past its first page of 100.
pub async fn newer_subscriptions(s: &Stack, n: u32) {
    let other = s.wallet("alice", Preset::AlwaysApprove).await;
    let plan = plan(s, "filler", "1.00", "month").await;
    s.advance(1);
    for i in 0..n {
        s.service
            .import_subscription(
                &SubscriptionId::parse(&format!("sub_filler_{i}")).unwrap(),
                &ImportSubscription {
                    owner: cust("alice"),
                    wallet_id: other.wallet.wallet_id.clone(),
                    plan_id: plan.clone(),
                    anchor: s.sandbox.now(),
                    next_period: 2,
                },
            )
            .await
            .expect("imported");
    }
}

/// True when `id` is on the first page (100) of alice's subscriptions.
pub async fn on_first_page(s: &Stack, id: &SubscriptionId) -> bool {
    s.store
        .subscriptions_of(&cust("alice"), 100, None)
        .await
        .unwrap()
        .items
        .iter()
        .any(|x| &x.subscription_id == id)
}
