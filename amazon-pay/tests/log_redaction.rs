//! What the client writes to `tracing` at TRACE level during a successful, a declined and a
//! retried call: the operation and Amazon's request id are there; the private key, the
//! `authorization` header (signature) and buyer PII from response bodies never are.
//!
//! One test in its own binary: it installs the process-wide subscriber (which also bridges
//! the `log` records of reqwest), so events from every thread are captured.

mod common;

use common::*;
use savedwallet_amazon_pay::{AmazonPayClient, Error};
use savedwallet_shared::api::CreateChargeRequest;
use savedwallet_shared::money::{Currency, Price};
use savedwallet_shared::signing::AuthorizationHeader;
use std::io::Write;
use std::sync::{Arc, Mutex};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;

const BUYER_NAME: &str = "Jane Q. Buyer";
const BUYER_EMAIL: &str = "jane.buyer@example.com";

/// An in-memory log sink shared by every writer the subscriber makes.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log lock")).into_owned()
    }
}

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> LogBuffer {
        self.clone()
    }
}

fn client(server: &TestServer) -> AmazonPayClient {
    AmazonPayClient::new(config_for(server, "SANDBOX-LOGTEST")).expect("client")
}

fn create_charge() -> CreateChargeRequest {
    CreateChargeRequest::new(
        "S01-1234567-1234567",
        Price::from_minor(1499, Currency::EUR),
    )
}

/// A Charge Permission answer carrying buyer PII, as Amazon sends it.
fn charge_permission_with_buyer() -> String {
    format!(
        r#"{{"chargePermissionId":"S01-1234567-1234567","chargePermissionType":"PaymentMethodOnFile","statusDetails":{{"state":"Chargeable","reasons":null}},"buyer":{{"buyerId":"amzn1.account.LOGTEST","name":"{BUYER_NAME}","email":"{BUYER_EMAIL}"}},"releaseEnvironment":"Sandbox"}}"#
    )
}

#[tokio::test]
async fn logs_name_the_call_but_never_secrets_or_buyer_data() {
    let logs = LogBuffer::default();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(logs.clone())
        .finish()
        .try_init()
        .expect("the only subscriber in this test binary");

    // 1. Success, with buyer PII in the response body.
    let ok_server =
        TestServer::start(vec![Reply::json(200, &charge_permission_with_buyer())]).await;
    let cp = client(&ok_server)
        .get_charge_permission("S01-1234567-1234567")
        .await
        .expect("200");
    assert_eq!(
        cp.body.buyer.and_then(|b| b.email).as_deref(),
        Some(BUYER_EMAIL),
        "the PII really was in the body"
    );

    // 2. A 422 decline whose error body quotes the buyer.
    let declined = TestServer::start(vec![Reply::json(
        422,
        &format!(
            r#"{{"reasonCode":"HardDeclined","message":"Declined for {BUYER_NAME} <{BUYER_EMAIL}>"}}"#
        ),
)])
    .await;
    let err = client(&declined)
        .create_charge(&create_charge(), "log-decline-1")
        .await
        .expect_err("declined");
    assert!(
        matches!(err, Error::Declined { status: 422, .. }),
        "{err:?}"
    );

    // 3. A gateway page quoting the buyer, retried, then a success.
    let retried = TestServer::start(vec![
        Reply::Respond {
            status: 503,
            headers: vec![("x-amz-pay-request-id".into(), "req-retry-503".into())],
            body: format!("<html>{BUYER_NAME} {BUYER_EMAIL} Service Unavailable</html>"),
        },
        Reply::json(201, &charge_json("Authorized")),
    ])
    .await;
    let charged = client(&retried)
        .create_charge(&create_charge(), "log-retry-1")
        .await
        .expect("second attempt");
    assert_eq!(charged.attempts, 2);

    let text = logs.text();

    // The capture works at TRACE/DEBUG, and names what happened.
    assert!(text.contains("DEBUG"), "debug events captured:\n{text}");
    if std::env::var_os("SHOW_LOGS").is_some() {
        eprintln!("{text}");
    }
    // Each outcome event carries the operation (span) and Amazon's request id (event).
    for (outcome, operation, request_id) in [
        (
            "amazon pay call succeeded",
            "get-charge-permission",
            "req-200",
        ),
        ("amazon pay call failed", "create-charge", "req-422"),
        ("retrying amazon pay call", "create-charge", "req-retry-503"),
        ("amazon pay call succeeded", "create-charge", "req-201"),
    ] {
        assert!(
            text.lines().any(|l| l.contains(outcome)
                && l.contains(&format!("operation=\"{operation}\""))
                && l.contains(&format!("request_id=\"{request_id}\""))),
            "no {outcome:?} line with {operation} and {request_id}:\n{text}"
        );
    }
    assert!(text.contains("reason=\"HardDeclined\""), "{text}");

    // Never the private key: no PEM armour, no line of its base64 body.
    assert!(!text.contains("PRIVATE KEY"), "PEM armour in logs");
    for line in private_key_pem().lines() {
        let line = line.trim();
        if !line.is_empty() && !line.starts_with("-----") {
            assert!(!text.contains(line), "private key material in logs");
        }
    }

    // Never the authorization header or its signature (not even a prefix of it).
    let mut signatures = 0;
    for server in [&ok_server, &declined, &retried] {
        for seen in server.seen() {
            let header = seen.request.header("authorization").expect("signed");
            assert!(!text.contains(header), "authorization header in logs");
            let auth = AuthorizationHeader::parse(header).expect("parses");
            let prefix: String = auth.signature_b64.chars().take(16).collect();
            assert!(!text.contains(&prefix), "signature in logs");
            signatures += 1;
        }
    }
    assert_eq!(signatures, 4, "1 + 1 + 2 attempts were checked");

    // Never buyer PII from any response body.
    for pii in [BUYER_NAME, BUYER_EMAIL, "Jane", "jane.buyer"] {
        assert!(!text.contains(pii), "buyer PII {pii:?} in logs:\n{text}");
    }
}
