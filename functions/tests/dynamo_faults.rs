//! DynamoDB error mapping tested at the SDK level: a small HTTP proxy in front of moto
//! answers chosen requests with DynamoDB's own error bodies (a cancelled transaction with
//! `TransactionConflict` or `ThrottlingError` reasons, a throttled single write, a 500), or
//! forwards them and then garbles the answer (applied, outcome unknown). The real AWS SDK
//! parses those answers, so `dynamo.rs`'s mapping and the store's retries are what is
//! tested — moto's lock wrapper serialises requests, so these paths never occur otherwise.

mod common;

use std::collections::VecDeque;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;

use savedwallet_app::ids::*;
use savedwallet_functions::store::*;

/// What the proxy does with the next request of an operation.
#[derive(Debug, Clone)]
enum Action {
    /// Answer without forwarding (nothing applied).
    Respond(u16, &'static str),
    /// Forward (applied), then answer this instead of moto's answer.
    ForwardThenRespond(u16, &'static str),
}

#[derive(Default)]
struct Proxy {
    upstream: String,
    rules: Mutex<VecDeque<(&'static str, Action)>>,
    seen: Mutex<Vec<String>>,
    http: reqwest::Client,
}

impl Proxy {
    fn next(&self, op: &'static str, action: Action) {
        self.rules.lock().push_back((op, action));
    }
}

async fn handle(
    State(p): State<Arc<Proxy>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    p.seen.lock().push(target.clone());
    let rule = {
        let mut rules = p.rules.lock();
        let pos = rules.iter().position(|(op, _)| target.ends_with(op));
        pos.and_then(|i| rules.remove(i)).map(|(_, a)| a)
    };
    let dynamo_error = |status: u16, body: &'static str| {
        (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [("content-type", "application/x-amz-json-1.0")],
            body,
        )
            .into_response()
    };
    if let Some(Action::Respond(status, body)) = &rule {
        return dynamo_error(*status, body);
    }
    let mut req = p
        .http
        .request(method, format!("{}{}", p.upstream, uri.path()))
        .body(body);
    for (k, v) in &headers {
        if k != "host" && k != "content-length" {
            req = req.header(k, v);
        }
    }
    let upstream = match req.send().await {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    if let Some(Action::ForwardThenRespond(status, body)) = rule {
        return dynamo_error(status, body);
    }
    let status = StatusCode::from_u16(upstream.status().as_u16()).unwrap_or(StatusCode::OK);
    let ct = upstream
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/x-amz-json-1.0")
        .to_string();
    let bytes = upstream.bytes().await.unwrap_or_default();
    (status, [("content-type", ct)], bytes).into_response()
}

const TX_CONFLICT: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict]","CancellationReasons":[{"Code":"None"},{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"}]}"#;
const TX_THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [ThrottlingError]","CancellationReasons":[{"Code":"ThrottlingError","Message":"Throughput exceeds the current capacity for one or more global secondary indexes."},{"Code":"None"}]}"#;
const THROUGHPUT: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded."}"#;
const CONFLICT_SINGLE: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionConflictException","message":"Transaction is ongoing for the item"}"#;
const INTERNAL: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error"}"#;
const GARBLED: &str = "{not json";

/// A store whose DynamoDB requests go through the proxy; `retries` = SDK max attempts.
async fn proxied(retries: u32) -> (DynamoStore, Arc<Proxy>) {
    let proxy = Arc::new(Proxy {
        upstream: common::moto_endpoint(),
        ..Default::default()
    });
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(proxy.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let cfg = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .endpoint_url(format!("http://{addr}"))
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(retries))
        .load()
        .await;
    let client = aws_sdk_dynamodb::Client::new(&cfg);
    let table = format!("savedwallet-faults-{}", uuid::Uuid::new_v4());
    dynamo::create_table(&client, &table).await.unwrap();
    (DynamoStore::from_client(client, table), proxy)
}

fn wallet(id: &str) -> Wallet {
    Wallet {
        wallet_id: WalletId::parse(id).unwrap(),
        owner: CustomerId::parse("alice").unwrap(),
        region: savedwallet_shared::region::Region::Eu,
        currency: savedwallet_shared::money::Currency::EUR,
        state: savedwallet_shared::api::ChargePermissionState::Chargeable,
        reasons: vec![],
        payment_descriptor: None,
        update_required: false,
        update_required_since: None,
        monthly_limit: None,
        created_at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        updated_at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        version: 0,
    }
}

fn event(id: &str) -> MerchantEvent {
    MerchantEvent {
        event_id: EventId::parse(id).unwrap(),
        kind: "wallet.created".into(),
        customer_id: None,
        data: serde_json::json!({}),
        created_at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        deliveries: 0,
        deliver_at: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_transactions_map_to_retryable_kinds() {
    let (s, proxy) = proxied(1).await;
    // A wallet with an event is one TransactWriteItems.
    proxy.next("TransactWriteItems", Action::Respond(400, TX_CONFLICT));
    let w = wallet("S01-8000000-0000001");
    assert!(matches!(
        s.create_wallet(&w, &[event("evt_a")]).await,
        Err(StoreError::Contention)
    ));
    proxy.next("TransactWriteItems", Action::Respond(400, TX_THROTTLED));
    assert!(matches!(
        s.create_wallet(&w, &[event("evt_a")]).await,
        Err(StoreError::Throttled)
    ));
    // Nothing was applied; the caller's retry goes through.
    assert!(matches!(
        s.get_wallet(&w.wallet_id).await,
        Err(StoreError::NotFound { .. })
    ));
    s.create_wallet(&w, &[event("evt_a")]).await.unwrap();
    assert_eq!(s.get_wallet(&w.wallet_id).await.unwrap().version, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_writes_map_throttling_and_conflicts() {
    let (s, proxy) = proxied(1).await;
    let w = wallet("S01-8000000-0000002");
    proxy.next("PutItem", Action::Respond(400, THROUGHPUT));
    assert!(matches!(
        s.create_wallet(&w, &[]).await,
        Err(StoreError::Throttled)
    ));
    proxy.next("PutItem", Action::Respond(400, CONFLICT_SINGLE));
    assert!(matches!(
        s.create_wallet(&w, &[]).await,
        Err(StoreError::Contention)
    ));
    proxy.next("GetItem", Action::Respond(400, THROUGHPUT));
    assert!(matches!(
        s.get_wallet(&w.wallet_id).await,
        Err(StoreError::Throttled)
    ));
    s.create_wallet(&w, &[]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_are_outcome_unknown_and_recognised() {
    let (s, proxy) = proxied(1).await;
    // Applied, then a 500 (DynamoDB: "may or may not have succeeded") or an unreadable body.
    let w = wallet("S01-8000000-0000003");
    proxy.next("PutItem", Action::ForwardThenRespond(500, INTERNAL));
    assert!(matches!(
        s.create_wallet(&w, &[]).await,
        Err(StoreError::OutcomeUnknown(_))
    ));
    proxy.next("PutItem", Action::ForwardThenRespond(200, GARBLED));
    match s.create_wallet(&w, &[]).await {
        Err(StoreError::OutcomeUnknown(_)) => {}
        other => panic!("{other:?}"),
    }
    // It was applied (once): the resend says it exists, with the caller's own record.
    match s.create_wallet(&w, &[]).await {
        Err(StoreError::AlreadyExists {
            current: Some(c), ..
        }) => {
            assert!(matches!(*c, Record::Wallet(ref x) if x.owner == w.owner));
        }
        other => panic!("{other:?}"),
    }
    // A claim whose answer is lost is recognised by its lease owner on the resend.
    let sub = Subscription {
        subscription_id: SubscriptionId::parse("sub_proxy").unwrap(),
        owner: w.owner.clone(),
        wallet_id: w.wallet_id.clone(),
        plan_id: PlanId::parse("gold").unwrap(),
        price: savedwallet_shared::money::Price::from_minor(
            999,
            savedwallet_shared::money::Currency::EUR,
        ),
        interval: BillingInterval {
            unit: IntervalUnit::Month,
            count: 1,
        },
        status: SubscriptionStatus::Active,
        period: 1,
        anchor: w.created_at,
        next_billing_at: w.created_at,
        due_at: Some(w.created_at),
        dunning: Dunning::Current,
        latest_payment_id: None,
        lease: None,
        canceled_at: None,
        cancel_reason: None,
        created_at: w.created_at,
        updated_at: w.created_at,
        version: 0,
    };
    s.write_subscription(
        &SubscriptionWrite {
            record: sub.clone(),
            lease_owner: None,
        },
        &[],
    )
    .await
    .unwrap();
    let now = w.created_at + chrono::TimeDelta::seconds(5);
    proxy.next("UpdateItem", Action::ForwardThenRespond(500, INTERNAL));
    assert!(matches!(
        s.claim_period(
            &sub.subscription_id,
            1,
            "worker-1",
            now,
            chrono::TimeDelta::minutes(5)
        )
        .await,
        Err(StoreError::OutcomeUnknown(_))
    ));
    let claim = s
        .claim_period(
            &sub.subscription_id,
            1,
            "worker-1",
            now,
            chrono::TimeDelta::minutes(5),
        )
        .await
        .unwrap();
    assert_eq!(
        claim.subscription.lease.map(|l| l.owner),
        Some("worker-1".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_retries_throttling_by_itself() {
    // With the SDK's standard retries on (production), one throttled answer is invisible.
    let (s, proxy) = proxied(3).await;
    let w = wallet("S01-8000000-0000004");
    proxy.next("PutItem", Action::Respond(400, THROUGHPUT));
    s.create_wallet(&w, &[]).await.unwrap();
    let puts = proxy
        .seen
        .lock()
        .iter()
        .filter(|t| t.ends_with("PutItem"))
        .count();
    assert_eq!(puts, 2, "one throttled, one retried by the SDK");
}
