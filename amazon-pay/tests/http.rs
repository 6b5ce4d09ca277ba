//! The client over real HTTP against a scripted axum server on 127.0.0.1: signing as
//! received, resends with the same idempotency key, Retry-After, paths and headers, raw
//! bodies, refused requests, pacing and typed 201/202 responses (answers.rs: the rest).

mod common;

use common::*;
use savedwallet_amazon_pay::{
    AmazonPayClient, AttemptFailure, ClientConfig, Delivery, Error, Operation, Pacing, RateLimit,
    RequestError, Stopped,
};
use savedwallet_shared::api::{
    ChargePermissionState, ChargeState, CompleteCheckoutSessionRequest, CreateChargeRequest,
    ReasonCode,
};
use savedwallet_shared::money::{Currency, Price};
use savedwallet_shared::region::{Environment, Region};
use secrecy::SecretString;
use std::time::Duration;

fn create_charge() -> CreateChargeRequest {
    CreateChargeRequest::new(
        "S01-1234567-1234567",
        Price::from_minor(1499, Currency::EUR),
    )
}

#[tokio::test]
async fn retries_429_then_503_with_same_key_and_fresh_signatures() {
    let server = TestServer::start(vec![
        Reply::json(
            429,
            r#"{"reasonCode":"TooManyRequests","message":"slow down"}"#,
        ),
        Reply::Respond {
            status: 503,
            headers: vec![],
            body: "<html>Service Unavailable</html>".into(),
        },
        Reply::json(201, &charge_json("Authorized")),
    ])
    .await;
    let client = client_for(&server);
    let resp = client
        .create_charge(&create_charge(), "idem-key-0001")
        .await
        .expect("third attempt succeeds");
    assert_eq!(resp.status, 201);
    assert_eq!(resp.attempts, 3);
    // One 429 and two resends are counted for the operation, nothing for the others.
    let counts: std::collections::HashMap<_, _> =
        client.counters().snapshot().into_iter().collect();
    let c = counts[&savedwallet_amazon_pay::Operation::CreateCharge];
    assert_eq!((c.throttled, c.resends), (1, 2));
    assert!(counts
        .iter()
        .filter(|(op, _)| **op != savedwallet_amazon_pay::Operation::CreateCharge)
        .all(|(_, c)| *c == Default::default()));
    assert_eq!(resp.request_id.as_deref(), Some("req-201"));
    assert_eq!(resp.body.status_details.state, ChargeState::Authorized);

    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    for s in &seen {
        assert_eq!(s.request.method, "POST");
        assert_eq!(s.request.path, "/v2/charges");
        assert_eq!(
            s.request.header("x-amz-pay-idempotency-key"),
            Some("idem-key-0001")
        );
        // The exact serialised body is what was hashed and sent, every time.
        assert_eq!(s.request.body, seen[0].request.body);
    }
    let sigs: std::collections::HashSet<_> = seen
        .iter()
        .map(|s| s.request.header("authorization").unwrap().to_string())
        .collect();
    assert_eq!(sigs.len(), 3, "each attempt is signed afresh");
    assert_all_signed(&server);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let server = TestServer::start(vec![
        Reply::json(429, r#"{"reasonCode":"TooManyRequests","message":"x"}"#)
            .with_header("retry-after", "1"),
        Reply::json(200, &charge_permission_json()),
    ])
    .await;
    let resp = client_for(&server)
        .get_charge_permission("S01-1234567-1234567")
        .await
        .expect("ok after Retry-After");
    assert_eq!(resp.attempts, 2);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    // Backoff alone is at most 20 ms here; the second attempt waited for Retry-After.
    assert!(seen[1].at.duration_since(seen[0].at) >= Duration::from_secs(1));
}

#[tokio::test]
async fn retry_after_beyond_the_budget_gives_up() {
    // Delta-seconds, a value that would overflow `Instant + Duration`, and an HTTP-date.
    for retry_after in [
        "3600",
        "18446744073709551615",
        "Fri, 31 Dec 9999 23:59:59 GMT",
    ] {
        let server = TestServer::start(vec![Reply::json(
            503,
            r#"{"reasonCode":"ServiceUnavailable","message":"x"}"#,
        )
        .with_header("retry-after", retry_after)])
        .await;
        let err = client_for(&server)
            .get_charge("S01-1234567-1234567-C000001")
            .await
            .expect_err("gives up");
        let (delivery, last) = unanswered(&err, Stopped::RetryBudgetExhausted, 1);
        assert_eq!(delivery, Delivery::OutcomeUnknown, "Amazon answered 503");
        assert!(
            matches!(
                last,
                AttemptFailure::Status {
                    status: 503,
                    reason_code: ReasonCode::ServiceUnavailable,
                    ..
                }
            ),
            "{last:?}"
        );
        assert_eq!(err.status(), Some(503));
        assert_eq!(server.seen().len(), 1, "Retry-After {retry_after}");
    }
}

#[tokio::test]
async fn timeout_is_retried_with_the_same_key() {
    let server = TestServer::start(vec![
        Reply::Hang,
        Reply::json(201, &charge_json("Captured")),
    ])
    .await;
    let mut cfg = config_for(&server, "SANDBOX-TESTKEY");
    cfg.request_timeout = Duration::from_millis(300);
    let c = AmazonPayClient::new(cfg).unwrap();
    let resp = c
        .create_charge(&create_charge(), "idem-timeout")
        .await
        .expect("retried");
    assert_eq!(resp.attempts, 2);
    assert_eq!(resp.body.status_details.state, ChargeState::Captured);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen
        .iter()
        .all(|s| s.request.header("x-amz-pay-idempotency-key") == Some("idem-timeout")));
}

#[tokio::test]
async fn typed_201_vs_202() {
    let server = TestServer::start(vec![
        Reply::json(201, &charge_json("Authorized")),
        Reply::json(202, &charge_json("ActionRequired")),
    ])
    .await;
    let c = client_for(&server);
    let a = c.create_charge(&create_charge(), "k1").await.unwrap();
    assert_eq!(
        (a.status, a.body.status_details.state),
        (201, ChargeState::Authorized)
    );
    let b = c.create_charge(&create_charge(), "k2").await.unwrap();
    assert_eq!(b.status, 202);
    assert_eq!(b.body.status_details.state, ChargeState::ActionRequired);
    assert_eq!(
        b.body.status_details.reason_code,
        Some(ReasonCode::BuyerActionRequired)
    );
    assert_eq!(
        b.body
            .web_checkout_details
            .and_then(|w| w.amazon_pay_redirect_url)
            .as_deref(),
        Some("https://pay.example/mfa")
    );

    let session = r#"{"checkoutSessionId":"bd504926-f659-4ad7-a1a9-9a747aaf5275","statusDetails":{"state":"Open"},"chargePermissionId":"S01-1234567-1234567"}"#;
    let server = TestServer::start(vec![Reply::json(202, session)]).await;
    let r = client_for(&server)
        .complete_checkout_session(
            "bd504926-f659-4ad7-a1a9-9a747aaf5275",
            &CompleteCheckoutSessionRequest::default(),
            "k3",
        )
        .await
        .unwrap();
    assert_eq!(r.status, 202);
    let seen = server.seen();
    assert_eq!(
        seen[0].request.path,
        "/v2/checkoutSessions/bd504926-f659-4ad7-a1a9-9a747aaf5275/complete"
    );
    assert_eq!(seen[0].request.body, b"{}");
}

#[tokio::test]
async fn paths_headers_and_simulation_code() {
    let server = TestServer::start(vec![Reply::json(200, &charge_permission_json())]).await;
    // Legacy key id + sandbox → /sandbox/ prefix.
    let c = AmazonPayClient::new(config_for(&server, "AEXAMPLELEGACYKEY")).unwrap();
    let r = c
        .get_charge_permission("S01-1234567-1234567")
        .await
        .unwrap();
    assert_eq!(
        r.body.status_details.state,
        ChargePermissionState::Chargeable
    );
    let sim = c.with_simulation_code("HardDeclined").unwrap();
    sim.get_charge_permission("S01-1234567-1234567")
        .await
        .unwrap();
    let raw = c
        .call_raw(
            Operation::GetChargePermission,
            Some("S01-1234567-1234567"),
            None,
            Some("ignored-for-get"),
        )
        .await
        .unwrap();
    assert_eq!(raw.body["chargePermissionId"], "S01-1234567-1234567");

    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    for s in &seen {
        assert_eq!(s.request.method, "GET");
        assert_eq!(
            s.request.path,
            "/sandbox/v2/chargePermissions/S01-1234567-1234567"
        );
        assert_eq!(s.request.header("content-type"), Some("application/json"));
        assert_eq!(
            s.request.header("x-amz-pay-idempotency-key"),
            None,
            "never on GET"
        );
        assert!(s.request.body.is_empty());
        assert!(s
            .request
            .header("authorization")
            .unwrap()
            .starts_with("AMZN-PAY-RSASSA-PSS-V2 PublicKeyId=AEXAMPLELEGACYKEY, "));
    }
    assert_eq!(seen[0].request.header("x-amz-pay-simulation-code"), None);
    assert_eq!(
        seen[1].request.header("x-amz-pay-simulation-code"),
        Some("HardDeclined")
    );
    assert!(
        seen[1]
            .request
            .header("authorization")
            .unwrap()
            .contains("x-amz-pay-simulation-code"),
        "simulation code is signed"
    );
    assert_all_signed(&server);

    // V1 algorithm over the wire.
    let mut cfg = config_for(&server, "SANDBOX-TESTKEY");
    cfg.algorithm = savedwallet_amazon_pay::SigningAlgorithm::V1;
    AmazonPayClient::new(cfg)
        .unwrap()
        .get_charge_permission("S01-1234567-1234567")
        .await
        .unwrap();
    let last = server.seen().pop().unwrap();
    assert!(last
        .request
        .header("authorization")
        .unwrap()
        .starts_with("AMZN-PAY-RSASSA-PSS PublicKeyId="));
    assert!(verify_received(
        &rsa_public_key(&public_key_pem()),
        &last.request,
        None
    ));
    assert!(!verify_received(
        &rsa_public_key(&public_key_pem()),
        &last.request,
        Some(32)
    ));
}

#[tokio::test]
async fn raw_bodies_are_sent_byte_exact() {
    let server = TestServer::start(vec![Reply::json(201, &charge_json("Authorized"))]).await;
    let body = b"{ \"chargePermissionId\" : \"S01-1234567-1234567\",\n \"chargeAmount\":{\"amount\":\"1.00\",\"currencyCode\":\"EUR\"} }".to_vec();
    let r = client_for(&server)
        .call_raw(
            Operation::CreateCharge,
            None,
            Some(body.clone()),
            Some("raw-key"),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201);
    assert_eq!(server.seen()[0].request.body, body);
    assert_all_signed(&server);
}

#[tokio::test]
async fn invalid_requests_are_refused_before_sending() {
    use savedwallet_shared::idempotency::IdempotencyKeyError as K;
    let server = TestServer::start(vec![Reply::json(200, "{}")]).await;
    let c = client_for(&server);
    let long = "0123456789abcdef0123456789abcdef0";
    for (op, id, key, body, want) in [
        (
            Operation::GetCharge,
            Some("../admin"),
            None,
            None,
            RequestError::InvalidResourceId,
        ),
        (
            Operation::GetCharge,
            None,
            None,
            None,
            RequestError::MissingResourceId(Operation::GetCharge),
        ),
        (
            Operation::CreateCharge,
            Some("x"),
            Some("k"),
            None,
            RequestError::UnexpectedResourceId(Operation::CreateCharge),
        ),
        (
            Operation::CreateCharge,
            None,
            None,
            None,
            RequestError::MissingIdempotencyKey(Operation::CreateCharge),
        ),
        (
            Operation::CreateCharge,
            None,
            Some("has space"),
            None,
            RequestError::InvalidIdempotencyKey(K::InvalidCharacter),
        ),
        (
            Operation::CreateCharge,
            None,
            Some(long),
            None,
            RequestError::InvalidIdempotencyKey(K::TooLong(33)),
        ),
        (
            Operation::GetRefund,
            Some("S01-1-2-R3"),
            None,
            Some(b"{}".to_vec()),
            RequestError::UnexpectedBody(Operation::GetRefund),
        ),
    ] {
        match c.call_raw(op, id, body, key).await {
            Err(Error::InvalidRequest(got)) => assert_eq!(got, want, "{op} {id:?} {key:?}"),
            other => panic!("{op} {id:?} {key:?}: expected {want:?}, got {other:?}"),
        }
    }
    assert!(matches!(
        c.with_simulation_code("bad code\n"),
        Err(Error::InvalidRequest(RequestError::InvalidSimulationCode))
    ));
    assert!(server.seen().is_empty());
}

#[test]
fn config_errors() {
    let mut cfg = ClientConfig::new(
        Region::Na,
        Environment::Live,
        "LIVE-K",
        SecretString::from(private_key_pem()),
    );
    cfg.endpoint = Some(url::Url::parse("ftp://example.com").unwrap());
    assert!(matches!(
        AmazonPayClient::new(cfg.clone()),
        Err(Error::Config(_))
    ));
    cfg.endpoint = None;
    cfg.request_timeout = Duration::ZERO;
    assert!(matches!(
        AmazonPayClient::new(cfg.clone()),
        Err(Error::Config(_))
    ));
    cfg.request_timeout = Duration::from_secs(1);
    cfg.private_key_pem = SecretString::from("nope");
    assert!(matches!(
        AmazonPayClient::new(cfg),
        Err(Error::InvalidKey(_))
    ));
}

#[tokio::test]
async fn calls_are_paced_per_operation() {
    let server = TestServer::start(vec![Reply::json(200, &charge_permission_json())]).await;
    let mut cfg = config_for(&server, "SANDBOX-TESTKEY");
    // Burst 2, then one token every 100 ms.
    cfg.pacing = Pacing::Uniform(RateLimit {
        burst: 2,
        per_second: 10.0,
    });
    let c = AmazonPayClient::new(cfg).expect("client");
    let start = std::time::Instant::now();
    for _ in 0..4 {
        c.get_charge_permission("S01-1234567-1234567")
            .await
            .expect("200");
    }
    let seen = server.seen();
    assert_eq!(seen.len(), 4);
    // Lower bounds only: the pacer must hold the 3rd and 4th request back until their
    // tokens exist, however fast the machine is.
    assert!(seen[2].at.duration_since(start) >= Duration::from_millis(99));
    assert!(seen[3].at.duration_since(start) >= Duration::from_millis(199));
    assert_all_signed(&server);
}
