//! How the client treats each kind of answer over real HTTP (docs/client.md "Answers",
//! "Errors"): declines reach the caller after one request, transient answers are resent with
//! the same key, redirects are refused, a deadline stops resends that could not finish in
//! time, and an unanswered call says whether anything reached Amazon.

mod common;

use common::*;
use savedwallet_amazon_pay::{
    AmazonPayClient, AttemptFailure, CallOptions, ClientConfig, Delivery, Error, Outcome, Pacing,
    RetryPolicy, Stopped,
};
use savedwallet_shared::api::{
    CaptureChargeRequest, CompleteCheckoutSessionRequest, CreateChargeRequest, CreateRefundRequest,
    ReasonCode,
};
use savedwallet_shared::decline::ChargeOutcome;
use savedwallet_shared::money::{Currency, Price};
use savedwallet_shared::region::{Environment, Region};
use secrecy::SecretString;
use std::time::Duration;

const PROCESSING_FAILURE: &str =
    r#"{"reasonCode":"ProcessingFailure","message":"There was an error processing your request."}"#;

fn eur(minor: i64) -> Price {
    Price::from_minor(minor, Currency::EUR)
}

fn charge_request() -> CreateChargeRequest {
    CreateChargeRequest::new("S01-1234567-1234567", eur(1499))
}

/// Create Charge, Capture, Create Refund and Complete Checkout Session alike: a 500
/// `ProcessingFailure` with a JSON body is Amazon's decline, handed over after one request.
#[tokio::test]
async fn processing_failure_reaches_the_caller_after_exactly_one_request() {
    for op in ["create-charge", "capture", "refund", "complete"] {
        let server = TestServer::start(vec![Reply::json(500, PROCESSING_FAILURE)]).await;
        let c = client_for(&server);
        let result = match op {
            "create-charge" => c.create_charge(&charge_request(), "pf-1").await.map(drop),
            "capture" => c
                .capture_charge(
                    "S01-1234567-1234567-C000001",
                    &CaptureChargeRequest {
                        capture_amount: eur(1499),
                        soft_descriptor: None,
                    },
                    "pf-2",
                )
                .await
                .map(drop),
            "refund" => c
                .create_refund(
                    &CreateRefundRequest {
                        charge_id: "S01-1234567-1234567-C000001".into(),
                        refund_amount: eur(100),
                        soft_descriptor: None,
                    },
                    "pf-3",
                )
                .await
                .map(drop),
            _ => c
                .complete_checkout_session(
                    "bd504926-f659-4ad7-a1a9-9a747aaf5275",
                    &CompleteCheckoutSessionRequest::default(),
                    "pf-4",
                )
                .await
                .map(drop),
        };
        let err = result.expect_err("declined");
        match &err {
            Error::Declined {
                status: 500,
                reason_code: ReasonCode::ProcessingFailure,
                request_id,
                ..
            } => assert_eq!(request_id.as_deref(), Some("req-500")),
            other => panic!("{op}: expected Declined(500 ProcessingFailure), got {other:?}"),
        }
        assert_eq!(server.seen().len(), 1, "{op}: sent exactly once");
        assert_eq!(err.outcome(), Outcome::Declined);
        assert!(!err.is_retryable());
        assert_eq!(
            err.charge_outcome(),
            Some(ChargeOutcome::ApiError {
                status: 500,
                reason_code: ReasonCode::ProcessingFailure
            })
        );
    }
}

/// A 500 without a reason code or with `InternalServerError` is transient: resent with the
/// same key and the same bytes until Amazon answers.
#[tokio::test]
async fn a_500_without_reason_or_with_internal_server_error_is_resent() {
    let server = TestServer::start(vec![
        Reply::Respond {
            status: 500,
            headers: vec![],
            body: String::new(),
        },
        Reply::json(500, r#"{"reasonCode":"InternalServerError","message":"x"}"#),
        Reply::json(201, &charge_json("Captured")),
    ])
    .await;
    let resp = client_for(&server)
        .create_charge(&charge_request(), "ise-key")
        .await
        .expect("third attempt answers");
    assert_eq!(resp.attempts, 3);
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    for s in &seen {
        assert_eq!(
            s.request.header("x-amz-pay-idempotency-key"),
            Some("ise-key")
        );
        assert_eq!(s.request.body, seen[0].request.body);
    }
}

/// The operation is part of the rule: a Get has no declines, so its ProcessingFailure is
/// just resent (a Get is idempotent by nature).
#[tokio::test]
async fn a_get_resends_processing_failure() {
    let server = TestServer::start(vec![
        Reply::json(500, PROCESSING_FAILURE),
        Reply::json(200, &charge_permission_json()),
    ])
    .await;
    let resp = client_for(&server)
        .get_charge_permission("S01-1234567-1234567")
        .await
        .expect("second attempt answers");
    assert_eq!(resp.attempts, 2);
    // And a Get's 4xx is an error to give up on, not a decline.
    let server = TestServer::start(vec![Reply::json(
        404,
        r#"{"reasonCode":"ResourceNotFound","message":"no"}"#,
    )])
    .await;
    let err = client_for(&server)
        .get_charge("S01-1234567-1234567-C000009")
        .await
        .expect_err("404");
    assert!(
        matches!(
            err,
            Error::Api {
                status: 404,
                reason_code: ReasonCode::ResourceNotFound,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.outcome(), Outcome::Failed);
    assert_eq!(server.seen().len(), 1);
}

/// A 302 to a second server is not followed: the signed request never reaches it.
#[tokio::test]
async fn redirects_are_refused_and_the_target_sees_nothing() {
    let target = TestServer::start(vec![Reply::json(201, &charge_json("Captured"))]).await;
    for status in [302, 307] {
        let redirector = TestServer::start(vec![Reply::Respond {
            status,
            headers: vec![("location".into(), format!("{}v2/charges", target.base))],
            body: String::new(),
        }])
        .await;
        let err = client_for(&redirector)
            .create_charge(&charge_request(), "redirect-key")
            .await
            .expect_err("a redirect is no answer");
        match &err {
            Error::Api {
                status: got,
                reason_code,
                ..
            } => {
                assert_eq!(*got, status);
                assert_eq!(reason_code.as_str(), format!("HTTP{status}"));
            }
            other => panic!("expected Api({status}), got {other:?}"),
        }
        assert_eq!(redirector.seen().len(), 1, "asked once, not resent");
    }
    assert!(
        target.seen().is_empty(),
        "the redirect target got a request"
    );
}

/// An attempt that cannot finish before the deadline is not started: after one attempt
/// timed out there is no room for another, and the error says so (outcome unknown).
#[tokio::test]
async fn a_deadline_stops_the_resend_that_could_not_finish() {
    let server = TestServer::start(vec![Reply::Hang]).await;
    let c = client_for(&server).with_call_options(CallOptions::within(
        Duration::from_millis(500),
        Duration::from_millis(300),
    ));
    let err = c
        .create_charge(&charge_request(), "deadline-1")
        .await
        .expect_err("no answer in time");
    match &err {
        Error::Unanswered {
            delivery: Delivery::OutcomeUnknown,
            stopped: Stopped::Deadline,
            attempts: 1,
            last: Some(AttemptFailure::Timeout { connecting: false }),
        } => {}
        other => panic!("expected Unanswered(Deadline) after 1 attempt, got {other:?}"),
    }
    assert_eq!(err.outcome(), Outcome::Unknown);
    assert_eq!(err.charge_outcome(), Some(ChargeOutcome::Transport));
    assert_eq!(server.seen().len(), 1);
}

/// A deadline too close for even one full attempt: nothing is sent.
#[tokio::test]
async fn no_attempt_starts_when_the_deadline_is_too_close() {
    let server = TestServer::start(vec![Reply::json(201, &charge_json("Captured"))]).await;
    let c = client_for(&server).with_call_options(CallOptions::within(
        Duration::from_millis(100),
        Duration::from_secs(5),
    ));
    let err = c
        .create_charge(&charge_request(), "deadline-2")
        .await
        .expect_err("no room");
    match &err {
        Error::Unanswered {
            delivery: Delivery::NotSent,
            stopped: Stopped::Deadline,
            attempts: 0,
            last: None,
        } => {}
        other => panic!("expected Unanswered(Deadline) before any attempt, got {other:?}"),
    }
    assert_eq!(err.outcome(), Outcome::NotSent);
    assert!(server.seen().is_empty());
}

/// Resends that fit the deadline are made as usual.
#[tokio::test]
async fn resends_that_fit_the_deadline_are_made() {
    let server = TestServer::start(vec![
        Reply::json(503, r#"{"reasonCode":"ServiceUnavailable","message":"x"}"#),
        Reply::json(429, r#"{"reasonCode":"TooManyRequests","message":"x"}"#),
        Reply::json(201, &charge_json("Authorized")),
    ])
    .await;
    let c = client_for(&server).with_call_options(CallOptions::within(
        Duration::from_secs(20),
        Duration::from_secs(5),
    ));
    let resp = c
        .create_charge(&charge_request(), "deadline-3")
        .await
        .expect("answered in time");
    assert_eq!(resp.attempts, 3);
    assert!(c.call_options().deadline.is_some());
}

/// Status, reason code, message and request id of an [`Error::Declined`]; panics on others.
fn declined_parts(err: &Error) -> (u16, &str, &str, Option<&str>) {
    match err {
        Error::Declined {
            status,
            reason_code,
            message,
            request_id,
        } => (
            *status,
            reason_code.as_str(),
            message.as_str(),
            request_id.as_deref(),
        ),
        other => panic!("expected a Declined error, got {other:?}"),
    }
}

#[tokio::test]
async fn declines_are_not_retried() {
    for code in ["SoftDeclined", "HardDeclined"] {
        let server = TestServer::start(vec![Reply::json(
            422,
            &format!(r#"{{"reasonCode":"{code}","message":"declined"}}"#),
        )])
        .await;
        let err = client_for(&server)
            .create_charge(&charge_request(), "idem-decline")
            .await
            .expect_err("declined");
        assert_eq!(
            declined_parts(&err),
            (422, code, "declined", Some("req-422"))
        );
        assert!(!err.is_retryable());
        assert_eq!(server.seen().len(), 1, "{code} must not be retried");
        assert_all_signed(&server);
    }
}

#[tokio::test]
async fn persistent_timeout_leaves_the_outcome_unknown() {
    let server = TestServer::start(vec![Reply::Hang]).await;
    let mut cfg = config_for(&server, "SANDBOX-TESTKEY");
    cfg.request_timeout = Duration::from_millis(200);
    cfg.retry.max_retries = 2;
    let c = AmazonPayClient::new(cfg).unwrap();
    let err = c
        .create_charge(&charge_request(), "idem-hang")
        .await
        .expect_err("times out");
    let (delivery, last) = unanswered(&err, Stopped::RetriesExhausted, 3);
    assert_eq!(delivery, Delivery::OutcomeUnknown, "sent, never answered");
    assert_eq!(last, &AttemptFailure::Timeout { connecting: false });
    assert_eq!(server.seen().len(), 3);
}

#[tokio::test]
async fn error_bodies_json_and_not_json() {
    let server = TestServer::start(vec![Reply::json(
        400,
        r#"{"reasonCode":"InvalidParameterValue","message":"softDescriptor too long"}"#,
    )])
    .await;
    let err = client_for(&server)
        .capture_charge(
            "S01-1234567-1234567-C000001",
            &CaptureChargeRequest {
                capture_amount: Price::from_minor(1499, Currency::EUR),
                soft_descriptor: Some("ACME".into()),
            },
            "idem-capture",
        )
        .await
        .expect_err("400");
    // A payment operation's 4xx is Amazon's decision: handed over, never resent.
    assert_eq!(
        declined_parts(&err),
        (
            400,
            "InvalidParameterValue",
            "softDescriptor too long",
            Some("req-400")
        )
    );
    assert_eq!(server.seen().len(), 1);

    let server = TestServer::start(vec![Reply::Respond {
        status: 502,
        headers: vec![("x-amz-pay-request-id".into(), "gw-1".into())],
        body: "<html><body>502 Bad Gateway</body></html>".into(),
    }])
    .await;
    let mut cfg = config_for(&server, "SANDBOX-TESTKEY");
    cfg.retry.max_retries = 1;
    let err = AmazonPayClient::new(cfg)
        .unwrap()
        .get_refund("S01-1234567-1234567-R000001")
        .await
        .expect_err("502");
    let (_, last) = unanswered(&err, Stopped::RetriesExhausted, 2);
    let AttemptFailure::Status {
        status: 502,
        reason_code,
        message,
        request_id,
        ..
    } = last
    else {
        panic!("expected the 502, got {last:?}");
    };
    assert_eq!(
        (reason_code.as_str(), request_id.as_deref()),
        ("BadGateway", Some("gw-1"))
    );
    assert!(message.contains("502 Bad Gateway"), "{message}");
    assert_eq!(server.seen().len(), 2, "one retry then give up");

    // A 200 whose body is not the expected object is a Decode error, not retried.
    let server = TestServer::start(vec![Reply::json(200, "not json")]).await;
    let err = client_for(&server)
        .get_charge("S01-1-2-C3")
        .await
        .expect_err("decode");
    assert!(matches!(err, Error::Decode { status: 200, .. }), "{err:?}");
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn connection_refused_is_not_sent() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut cfg = ClientConfig::new(
        Region::Na,
        Environment::Live,
        "LIVE-K",
        SecretString::from(private_key_pem()),
    );
    cfg.endpoint = Some(url::Url::parse(&format!("http://{addr}")).unwrap());
    cfg.pacing = Pacing::Off;
    cfg.retry = RetryPolicy {
        max_retries: 1,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
        max_total: Duration::from_secs(5),
    };
    let err = AmazonPayClient::new(cfg)
        .unwrap()
        .get_charge("S01-1-2-C3")
        .await
        .expect_err("refused");
    let (delivery, last) = unanswered(&err, Stopped::RetriesExhausted, 2);
    // Nothing ever reached a server: "not sent", not "outcome unknown".
    assert_eq!(delivery, Delivery::NotSent);
    assert_eq!(err.outcome(), savedwallet_amazon_pay::Outcome::NotSent);
    let AttemptFailure::Connection {
        message,
        connecting: true,
    } = last
    else {
        panic!("expected a connect failure, got {last:?}");
    };
    // The cause is named, not just reqwest's "error sending request".
    assert!(
        message.to_ascii_lowercase().contains("refused"),
        "{message}"
    );
    assert!(err.is_retryable());
}

/// What the client returns feeds the decline table directly (`Error::charge_outcome`).
#[tokio::test]
async fn client_errors_feed_the_decline_table() {
    use savedwallet_shared::api::ChargeInitiator;
    use savedwallet_shared::decline::{decide, DecisionContext, DeclineAction, GiveUpReason};
    use savedwallet_shared::dunning::{Jitter, RetryPolicy as Dunning};
    let ctx = DecisionContext {
        region: Region::Eu,
        charge_initiator: ChargeInitiator::Mitr,
        charge_permission_id: "S01-1234567-1234567".into(),
        attempt: 1,
        replays: 0,
        first_failure_at: None,
        now: chrono::Utc::now(),
        jitter: Jitter::ZERO,
    };
    let html = |status| Reply::Respond {
        status,
        headers: vec![],
        body: "<html>nope</html>".into(),
    };
    for (reply, want) in [
        (Reply::json(500, PROCESSING_FAILURE), "check"),
        (
            Reply::json(422, r#"{"reasonCode":"AmazonRejected","message":"x"}"#),
            "rejected",
        ),
        (html(400), "unexpected"),
        (html(503), "replay"),
    ] {
        let server = TestServer::start(vec![reply]).await;
        let mut cfg = config_for(&server, "SANDBOX-TESTKEY");
        cfg.retry = RetryPolicy::none();
        let err = AmazonPayClient::new(cfg)
            .expect("client")
            .create_charge(&charge_request(), "feed-1")
            .await
            .expect_err("no success");
        let outcome = err.charge_outcome().expect("an outcome");
        let action = decide(&outcome, None, &ctx, &Dunning::default());
        let got = match action {
            DeclineAction::CheckPermissionThenRetry => "check",
            DeclineAction::StopPermissionRejected => "rejected",
            DeclineAction::GiveUp {
                reason: GiveUpReason::UnexpectedStatus(400),
            } => "unexpected",
            DeclineAction::RetryAt {
                same_idempotency_key: true,
                ..
            } => "replay",
            other => panic!("{err}: unexpected {other:?}"),
        };
        assert_eq!(got, want, "{err}");
    }
}
