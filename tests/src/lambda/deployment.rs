//! A [`Deployment`]: one test's (or benchmark's) fresh resources on the shared moto — table,
//! key secret, billing queue, event bus with a rule delivering to a queue it reads — and an
//! Amazon Pay sandbox simulator whose merchant key the secret holds; it starts functions
//! with the configuration the template would give them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use chrono::{DateTime, TimeDelta, Utc};
use secrecy::SecretString;
use serde_json::{json, Value};

use savedwallet_amazon_pay::{AmazonPayClient, ClientConfig, Pacing};
use savedwallet_app::ports::Clock;
use savedwallet_app::{Origin, Service, ServiceConfig};
use savedwallet_cli::stack::secrets::{random_token, rsa_pair, RsaPair};
use savedwallet_functions::amazon::{AmazonPayGateway, Timeouts};
use savedwallet_functions::runtime::OsEntropy;
use savedwallet_functions::store::{dynamo, DynamoStore};
use savedwallet_sandbox::ipn::DEFAULT_TOPIC_ARN;
use savedwallet_sandbox::{Sandbox, SandboxHandle};
use savedwallet_shared::idempotency::KeyScope;
use savedwallet_shared::region::Environment;

use crate::runtime_api::{Bootstrap, BootstrapOptions};
use crate::{uuid_like, Buyer};

use super::moto::{aws_config, moto_endpoint};
use super::{plain_bin, KEY_ID, MERCHANT_ID, REGION, SHOP, STORE_ID};

/// How long a process may take from spawn to its first `next` poll (a loaded CI machine).
const READY: Duration = Duration::from_secs(30);

/// One deployment's resources and its Amazon Pay sandbox.
pub struct Deployment {
    /// The simulator (its clock runs with the wall clock, like the functions').
    pub sandbox: Arc<SandboxHandle>,
    /// The tests' AWS configuration (moto).
    pub aws: aws_config::SdkConfig,
    /// The DynamoDB table.
    pub table: String,
    /// The key secret's ARN.
    pub secret_arn: String,
    /// The billing queue.
    pub billing_queue_url: String,
    /// Its ARN (the SQS event source's `eventSourceARN`).
    pub billing_queue_arn: String,
    /// The event bus the dispatcher puts merchant events on.
    pub bus: String,
    /// The queue the bus's rule delivers every `savedwallet` event to.
    pub events_queue_url: String,
    /// The merchant's key pair (the sandbox has the public half).
    pub merchant_key: RsaPair,
    /// The session-binding secret (in the key secret).
    pub binding_secret: String,
    /// The buyer on the sandbox's hosted pages.
    pub buyer: Buyer,
    http: reqwest::Client,
}

async fn create_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> (String, String) {
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("create an SQS queue on moto")
        .queue_url()
        .expect("a queue URL")
        .to_string();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes")
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .expect("the queue's ARN");
    (url, arn)
}

impl Deployment {
    /// Fresh resources on the shared moto and a new sandbox.
    pub async fn new() -> Deployment {
        let aws = aws_config().await;
        let id = uuid_like();
        let merchant_key = rsa_pair().expect("a merchant key pair");
        let binding_secret = random_token(32).expect("a binding secret");

        let table = format!("savedwallet-{id}");
        dynamo::create_table(&aws_sdk_dynamodb::Client::new(&aws), &table)
            .await
            .unwrap_or_else(|e| panic!("cannot create the table on moto: {e}"));

        let secret_arn = aws_sdk_secretsmanager::Client::new(&aws)
            .create_secret()
            .name(format!("savedwallet/amazon-pay-{id}"))
            .secret_string(
                json!({
                    "privateKeyPem": merchant_key.private_pem,
                    "bindingSecret": binding_secret,
                })
                .to_string(),
            )
            .send()
            .await
            .expect("create the key secret on moto")
            .arn()
            .expect("the secret's ARN")
            .to_string();

        let sqs = aws_sdk_sqs::Client::new(&aws);
        let (billing_queue_url, billing_queue_arn) =
            create_queue(&sqs, &format!("billing-{id}")).await;
        let (events_queue_url, events_queue_arn) =
            create_queue(&sqs, &format!("events-{id}")).await;

        let eb = aws_sdk_eventbridge::Client::new(&aws);
        let bus = format!("savedwallet-{id}");
        eb.create_event_bus()
            .name(&bus)
            .send()
            .await
            .expect("create the event bus on moto");
        eb.put_rule()
            .name("to-test-queue")
            .event_bus_name(&bus)
            .event_pattern(json!({ "source": ["savedwallet"] }).to_string())
            .send()
            .await
            .expect("create the rule");
        eb.put_targets()
            .rule("to-test-queue")
            .event_bus_name(&bus)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("test-queue")
                    .arn(events_queue_arn)
                    .build()
                    .expect("a target"),
            )
            .send()
            .await
            .expect("target the queue");

        let sandbox = Sandbox::builder()
            .throttling(false)
            .public_key(KEY_ID, merchant_key.public_pem.clone())
            .spawn("127.0.0.1:0".parse().expect("address"))
            .await
            .expect("the sandbox starts");
        Deployment {
            sandbox: Arc::new(sandbox),
            aws,
            table,
            secret_arn,
            billing_queue_url,
            billing_queue_arn,
            bus,
            events_queue_url,
            merchant_key,
            binding_secret,
            buyer: Buyer::new(),
            http: reqwest::Client::new(),
        }
    }

    /// The functions' configuration, as the template would set it (moto for AWS, the
    /// sandbox for Amazon Pay).
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_DEFAULT_REGION", "us-east-1".to_string()),
            ("AWS_ACCESS_KEY_ID", "test".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
            ("AWS_ENDPOINT_URL", moto_endpoint()),
            ("SAVEDWALLET_TABLE", self.table.clone()),
            ("AMAZON_PAY_REGION", "eu".to_string()),
            ("AMAZON_PAY_ENV", "sandbox".to_string()),
            ("AMAZON_PAY_PUBLIC_KEY_ID", KEY_ID.to_string()),
            ("AMAZON_PAY_MERCHANT_ID", MERCHANT_ID.to_string()),
            ("AMAZON_PAY_STORE_ID", STORE_ID.to_string()),
            ("AMAZON_PAY_SECRET_ARN", self.secret_arn.clone()),
            ("AMAZON_PAY_ENDPOINT", self.sandbox.base_url().to_string()),
            ("SAVEDWALLET_RETURN_ORIGINS", SHOP.to_string()),
            (
                "SAVEDWALLET_BILLING_QUEUE_URL",
                self.billing_queue_url.clone(),
            ),
            ("SAVEDWALLET_EVENT_BUS", self.bus.clone()),
            ("SNS_ALLOWED_TOPICS", DEFAULT_TOPIC_ARN.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Starts the deployed build of `function` and waits until it polls for events.
    pub async fn start(&self, function: &str) -> Bootstrap {
        self.start_binary(plain_bin(function), function, &[]).await
    }

    /// Starts `binary` as `function` with the deployment's configuration and `extra`
    /// variables on top, and waits until it polls for events.
    pub async fn start_binary(
        &self,
        binary: PathBuf,
        function: &str,
        extra: &[(&str, &str)],
    ) -> Bootstrap {
        let opts = BootstrapOptions::new(format!("savedwallet-{function}"))
            .vars(self.env())
            .vars(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let f = Bootstrap::spawn(&binary, opts)
            .await
            .unwrap_or_else(|e| panic!("{function}: {e}"));
        if let Err(e) = f.wait_ready(READY).await {
            panic!(
                "{function} did not poll for events: {e}\n{}",
                f.output_tail(40)
            );
        }
        f
    }

    /// The sandbox's ledger (`GET /_sandbox/ledger`).
    pub async fn ledger(&self) -> Value {
        self.http
            .get(format!("{}/ledger", self.sandbox.control_url()))
            .send()
            .await
            .expect("the ledger")
            .json()
            .await
            .expect("ledger JSON")
    }

    /// The sandbox's Charge objects of one charge permission.
    pub async fn charges_of(&self, wallet_id: &str) -> Vec<Value> {
        crate::charges_for(&self.ledger().await, wallet_id)
    }

    /// How often an Amazon Pay operation was called (`CreateCharge`, …).
    pub async fn amazon_calls(&self, op: &str) -> u64 {
        self.ledger().await["apiCalls"][op].as_u64().unwrap_or(0)
    }

    /// Every item of the table, in key order, as text (to compare snapshots).
    pub async fn table_items(&self) -> Vec<String> {
        let ddb = aws_sdk_dynamodb::Client::new(&self.aws);
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = ddb
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan the table");
            for item in page.items() {
                let sorted: BTreeMap<_, _> = item.iter().collect();
                out.push(format!("{sorted:?}"));
            }
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        out.sort();
        out
    }

    /// Sends `body` to `queue_url`.
    pub async fn send_message(&self, queue_url: &str, body: &str) -> String {
        aws_sdk_sqs::Client::new(&self.aws)
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .send()
            .await
            .expect("send a message")
            .message_id()
            .expect("a message id")
            .to_string()
    }

    /// Receives messages from `queue_url` until `want` arrived (long polls, bounded), and
    /// then makes sure no more are waiting. Fails the test on fewer or more.
    pub async fn receive_exactly(&self, queue_url: &str, want: usize) -> Vec<Message> {
        let sqs = aws_sdk_sqs::Client::new(&self.aws);
        let receive = |wait: i32| {
            sqs.receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(wait)
                .visibility_timeout(300)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut got: Vec<Message> = Vec::new();
        while got.len() < want {
            assert!(
                Instant::now() < deadline,
                "{queue_url}: {} of {want} messages arrived",
                got.len()
            );
            let page = receive(1).await.expect("receive messages");
            got.extend(page.messages().iter().cloned());
        }
        let more = receive(0).await.expect("receive messages");
        assert!(
            more.messages().is_empty(),
            "{queue_url}: more than {want} messages: {:?}",
            more.messages()
        );
        got
    }

    /// A service over the deployment's table and sandbox with a clock `rewind` behind the
    /// wall clock, configured as the functions are: what the functions would have written
    /// had this happened `rewind` ago (the functions run on the wall clock, which a test
    /// cannot move, so "a period is due" is made by subscribing in the past).
    pub fn service_in_the_past(&self, rewind: TimeDelta) -> Service {
        let mut cfg = ClientConfig::new(
            REGION,
            Environment::Sandbox,
            KEY_ID,
            SecretString::from(self.merchant_key.private_pem.clone()),
        );
        cfg.endpoint = Some(self.sandbox.base_url().parse().expect("sandbox URL"));
        cfg.pacing = Pacing::Off;
        let client = AmazonPayClient::new(cfg).expect("an Amazon Pay client");
        let gateway = AmazonPayGateway::new(client, REGION, Timeouts::default());
        let store =
            DynamoStore::from_client(aws_sdk_dynamodb::Client::new(&self.aws), self.table.clone());
        // As `lambda::build_service` configures it (the namespace defaults to the table).
        let mut config = ServiceConfig::new(
            KeyScope::new(MERCHANT_ID, Environment::Sandbox, self.table.clone()),
            STORE_ID,
        );
        config.return_origins = vec![Origin::parse(SHOP).expect("origin")];
        config.binding_secret = self.binding_secret.clone().into_bytes();
        config.charge_deadline = Duration::from_secs(25);
        Service::new(
            Arc::new(store),
            Arc::new(gateway),
            Arc::new(Rewound(rewind)),
            Arc::new(OsEntropy),
            config,
        )
    }
}

/// The wall clock, turned back by a fixed amount.
struct Rewound(TimeDelta);

impl Clock for Rewound {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() - self.0
    }
}
