//! Refused messages leave their code (and a refused topic's ARN) in the logs, never their
//! body, signature or certificate. Its own binary with a global subscriber: a thread-local
//! one misses events whose callsites other test threads registered first.

#[path = "sns_verify/helpers.rs"]
mod helpers;

use helpers::*;
use savedwallet_shared::sns::{SignatureVersion, SnsMessageType};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

const PLANTED: &str = "PLANTED-c0ffee-SECRET";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything logged by this binary.
fn captured() -> &'static Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .init();
        captured
    })
}

#[tokio::test]
async fn refusals_are_logged_without_the_message() {
    let captured = captured();

    let h = Harness::new();
    let secret_ipn = |topic: &str| {
        let mut e = notification(SignatureVersion::V2);
        e.topic_arn = topic.into();
        e.message = e.message.replace("A1B2C3D4E5F6G7", PLANTED);
        signed(e)
    };
    let wrong_topic = "arn:aws:sns:eu-west-1:999999999999:unknown-topic";
    h.refused(&body(&secret_ipn(wrong_topic)), "topic_not_allowed")
        .await;
    let mut forged = secret_ipn(TOPIC);
    forged.message.push(' ');
    h.refused(&body(&forged), "bad_signature").await;
    let not_ipn = {
        let mut e = notification(SignatureVersion::V1);
        e.message = format!("{{\"MerchantID\":\"{PLANTED}\"}}");
        signed(e)
    };
    h.refused(&body(&not_ipn), "not_an_ipn").await;
    let junk = format!("{{\"Type\":\"Notification\",\"Message\":\"{PLANTED}\"");
    h.refused(junk.as_bytes(), "malformed").await;
    let bad_type = format!("{{\"Type\":\"{PLANTED}\",\"SignatureVersion\":\"1\"}}");
    h.refused(bad_type.as_bytes(), "unknown_type").await;
    let mut c = confirmation(SnsMessageType::SubscriptionConfirmation);
    c.subscribe_url = Some(subscribe_url(TOPIC).replace("https:", "http:") + PLANTED);
    h.refused(&body(&signed(c)), "subscribe_url_not_https")
        .await;

    let logs = captured.text();
    assert!(!logs.contains(PLANTED), "{logs}");
    assert!(!logs.contains(&forged.signature[..40]), "signature logged");
    let cert_body: String = signer().cert_pem.lines().nth(1).unwrap().to_string();
    assert!(!logs.contains(&cert_body), "certificate logged");
    assert!(
        logs.contains(wrong_topic),
        "the refused topic ARN is logged"
    );
    for code in [
        "topic_not_allowed",
        "bad_signature",
        "not_an_ipn",
        "malformed",
    ] {
        assert!(logs.contains(code), "{code} missing from {logs}");
    }
    assert!(logs.contains("\"level\":\"WARN\""));
}

#[tokio::test]
async fn refusal_texts_hold_no_message_content() {
    let captured = captured();
    let h = Harness::new();
    let mut e = notification(SignatureVersion::V1);
    e.message = format!("{{\"ObjectId\": 7, \"MerchantID\": \"{PLANTED}\"}}");
    let refusal = h.refused(&body(&signed(e)), "not_an_ipn").await;
    assert!(!format!("{refusal} {refusal:?}").contains(PLANTED));
    let body = format!("{{\"Type\":\"Notification\",\"SignatureVersion\":\"1\",\"Message\":7,\"MessageId\":\"{PLANTED}\"}}");
    let refusal = h.refused(body.as_bytes(), "malformed").await;
    assert!(!format!("{refusal} {refusal:?}").contains(PLANTED));
    assert!(!captured.text().contains(PLANTED));
}
