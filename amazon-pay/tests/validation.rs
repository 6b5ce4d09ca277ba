//! The client sends what Live accepts: requests Amazon's page would refuse are stopped with
//! a typed error before anything is sent (the server sees no request), and stored body
//! bytes are resent byte for byte.

mod common;

use common::*;
use savedwallet_amazon_pay::{AmazonPayClient, Error, RequestError, ValidationError};
use savedwallet_shared::api::{
    CaptureChargeRequest, Channel, ChargeInitiator, CreateChargeRequest, CreateRefundRequest,
    WebCheckoutDetails,
};
use savedwallet_shared::money::{Currency, Price};
use savedwallet_shared::region::Environment;

fn client_as(server: &TestServer, key_id: &str) -> AmazonPayClient {
    AmazonPayClient::new(config_for(server, key_id)).expect("client")
}

fn charge() -> CreateChargeRequest {
    CreateChargeRequest::new(
        "S01-1234567-1234567",
        Price::from_minor(1499, Currency::EUR),
    )
}

fn with_return_url(url: &str) -> CreateChargeRequest {
    let mut r = charge();
    r.charge_initiator = Some(ChargeInitiator::Citu);
    r.web_checkout_details = Some(WebCheckoutDetails {
        checkout_result_return_url: Some(url.to_string()),
        ..WebCheckoutDetails::default()
    });
    r
}

fn refused(result: Result<impl std::fmt::Debug, Error>, want: ValidationError) {
    match result {
        Err(Error::InvalidRequest(RequestError::Invalid(got))) => assert_eq!(got, want),
        other => panic!("expected {want:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn create_charge_fields_amazon_refuses_are_never_sent() {
    let server = TestServer::start(vec![Reply::json(201, &charge_json("Captured"))]).await;
    let sandbox = client_as(&server, "SANDBOX-TESTKEY");
    let live = client_as(&server, "LIVE-TESTKEY");

    let mut r = charge();
    r.soft_descriptor = Some("ACME".into());
    refused(
        sandbox.create_charge(&r, "v-1").await,
        ValidationError::SoftDescriptorWithoutCaptureNow,
    );
    r.capture_now = Some(false);
    refused(
        sandbox.create_charge(&r, "v-2").await,
        ValidationError::SoftDescriptorWithoutCaptureNow,
    );
    r.capture_now = Some(true);
    r.soft_descriptor = Some("x".repeat(17));
    refused(
        sandbox.create_charge(&r, "v-3").await,
        ValidationError::SoftDescriptorTooLong { chars: 17 },
    );

    let mut r = charge();
    r.charge_initiator = Some(ChargeInitiator::parse("XITU"));
    refused(
        sandbox.create_charge(&r, "v-4").await,
        ValidationError::UnknownChargeInitiator("XITU".into()),
    );
    let mut r = charge();
    r.channel = Some(Channel::parse("Amazon"));
    refused(
        sandbox.create_charge(&r, "v-5").await,
        ValidationError::UnknownChannel("Amazon".into()),
    );

    let long = format!("https://shop.example/{}", "r".repeat(1004));
    assert_eq!(long.len(), 1025);
    refused(
        sandbox.create_charge(&with_return_url(&long), "v-6").await,
        ValidationError::ReturnUrlTooLong { bytes: 1025 },
    );
    refused(
        sandbox
            .create_charge(&with_return_url("http://shop.example/r"), "v-7")
            .await,
        ValidationError::ReturnUrlNotHttps {
            environment: Environment::Sandbox,
        },
    );
    refused(
        live.create_charge(&with_return_url("http://localhost:3000/r"), "v-8")
            .await,
        ValidationError::ReturnUrlNotHttps {
            environment: Environment::Live,
        },
    );
    for bad in ["ftp://shop.example/r", "/relative/return", "not a url"] {
        refused(
            sandbox.create_charge(&with_return_url(bad), "v-9").await,
            ValidationError::ReturnUrlInvalid,
        );
    }

    let capture = CaptureChargeRequest {
        capture_amount: Price::from_minor(1499, Currency::EUR),
        soft_descriptor: Some("y".repeat(17)),
    };
    refused(
        sandbox
            .capture_charge("S01-1234567-1234567-C000001", &capture, "v-10")
            .await,
        ValidationError::SoftDescriptorTooLong { chars: 17 },
    );
    let refund = CreateRefundRequest {
        charge_id: "S01-1234567-1234567-C000001".into(),
        refund_amount: Price::from_minor(100, Currency::EUR),
        soft_descriptor: Some("z".repeat(20)),
    };
    refused(
        sandbox.create_refund(&refund, "v-11").await,
        ValidationError::SoftDescriptorTooLong { chars: 20 },
    );

    assert!(
        server.seen().is_empty(),
        "a refused request reached the server"
    );
}

#[tokio::test]
async fn what_the_page_allows_is_sent_as_amazon_spells_it() {
    let server = TestServer::start(vec![Reply::json(201, &charge_json("Captured"))]).await;
    let sandbox = client_as(&server, "SANDBOX-TESTKEY");
    let live = client_as(&server, "LIVE-TESTKEY");
    let mut r = charge();
    r.capture_now = Some(true);
    // 16 characters, counted as characters (more bytes than that).
    r.soft_descriptor = Some("é".repeat(16));
    r.channel = Some(Channel::FireTv);
    r.charge_initiator = Some(ChargeInitiator::Mitr);
    sandbox.create_charge(&r, "ok-1").await.expect("allowed");
    for url in [
        "http://localhost:3000/mfa-return",
        "http://127.0.0.1:8080/r",
        "http://[::1]/r",
        "https://shop.example/r",
    ] {
        sandbox
            .create_charge(&with_return_url(url), "ok-2")
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
    }
    live.create_charge(&with_return_url("https://shop.example/r"), "ok-3")
        .await
        .expect("https in live");
    let seen = server.seen();
    assert_eq!(seen.len(), 6);
    let first = String::from_utf8(seen[0].request.body.clone()).unwrap();
    assert!(first.contains(r#""channel":"Firetv""#), "{first}");
}

/// The service stores the exact bytes before the first attempt and resends them after a
/// crash or a lost response: the same key and a byte-identical body every time.
#[tokio::test]
async fn stored_bytes_are_sent_byte_for_byte_on_every_attempt() {
    let server = TestServer::start(vec![
        Reply::json(503, r#"{"reasonCode":"ServiceUnavailable","message":"x"}"#),
        Reply::json(201, &charge_json("Authorized")),
        Reply::json(201, &charge_json("Authorized")),
    ])
    .await;
    let c = client_as(&server, "SANDBOX-TESTKEY");
    let mut r = charge();
    r.channel = Some(Channel::Web);
    let stored = c.body_bytes(&r).expect("valid");
    let first = c
        .create_charge_from_bytes(&stored, "stored-key")
        .await
        .expect("answered after a resend");
    assert_eq!(first.attempts, 2);
    // "After a crash": a fresh handle resends the same stored bytes.
    let again = client_as(&server, "SANDBOX-TESTKEY")
        .create_charge_from_bytes(&stored, "stored-key")
        .await
        .expect("replayed");
    assert_eq!(again.body.charge_id, first.body.charge_id);
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    for s in &seen {
        assert_eq!(s.request.body, stored, "byte-identical body");
        assert_eq!(
            s.request.header("x-amz-pay-idempotency-key"),
            Some("stored-key")
        );
    }
    // Stored bytes keep their exact formatting (they are never re-serialised).
    let spaced = b"{ \"chargePermissionId\": \"S01-1234567-1234567\",\n  \"chargeAmount\": {\"amount\": \"1.00\", \"currencyCode\": \"EUR\"} }";
    c.create_charge_from_bytes(spaced, "spaced-key")
        .await
        .expect("sent");
    assert_eq!(server.seen().last().unwrap().request.body, spaced);
}

#[tokio::test]
async fn stored_bytes_that_amazon_would_refuse_are_not_sent() {
    let server = TestServer::start(vec![Reply::json(201, &charge_json("Authorized"))]).await;
    let c = client_as(&server, "SANDBOX-TESTKEY");
    let unknown_field = br#"{"chargePermissionId":"S01-1","chargeAmount":{"amount":"1.00","currencyCode":"EUR"},"surprise":1}"#;
    match c.create_charge_from_bytes(unknown_field, "bad-1").await {
        Err(Error::InvalidRequest(RequestError::NotARequest { op, problem })) => {
            assert_eq!(op, savedwallet_amazon_pay::Operation::CreateCharge);
            assert!(problem.starts_with("JSON does not match"), "{problem}");
        }
        other => panic!("expected NotARequest, got {other:?}"),
    }
    let descriptor_without_capture = br#"{"chargePermissionId":"S01-1","chargeAmount":{"amount":"1.00","currencyCode":"EUR"},"softDescriptor":"ACME"}"#;
    refused(
        c.create_charge_from_bytes(descriptor_without_capture, "bad-2")
            .await,
        ValidationError::SoftDescriptorWithoutCaptureNow,
    );
    refused(
        c.capture_charge_from_bytes(
            "S01-1-C1",
            br#"{"captureAmount":{"amount":"1.00","currencyCode":"EUR"},"softDescriptor":"12345678901234567"}"#,
            "bad-3",
        )
        .await,
        ValidationError::SoftDescriptorTooLong { chars: 17 },
    );
    let mut r = charge();
    r.soft_descriptor = Some("ACME".into());
    refused(
        c.body_bytes(&r),
        ValidationError::SoftDescriptorWithoutCaptureNow,
    );
    assert!(server.seen().is_empty());
}
