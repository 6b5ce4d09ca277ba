//! Merchant-event sinks: EventBridge in AWS (source `savedwallet`, detail-type the event's
//! kind, detail the event body), a webhook signed as Standard Webhooks (`webhook-id`,
//! `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>`) locally, and a
//! log-only sink.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use savedwallet_app::ports::{DeliveryError, EventSink};
use savedwallet_app::store::MerchantEvent;

/// The JSON body of a delivered event (Standard Webhooks' `type` / `timestamp` / `data`).
pub fn event_body(e: &MerchantEvent) -> serde_json::Value {
    serde_json::json!({
        "id": e.event_id,
        "type": e.kind,
        "timestamp": e.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "customerId": e.customer_id,
        "data": e.data,
    })
}

/// The `webhook-signature` of a body: `v1,` + base64(HMAC-SHA256(secret, "id.timestamp.body")).
pub fn sign(secret: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// A secret in Standard Webhooks' form (`whsec_` + base64) or raw bytes.
pub fn parse_secret(s: &str) -> Result<Vec<u8>, String> {
    match s.strip_prefix("whsec_") {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| "the webhook secret is not valid base64 after whsec_".to_string()),
        None if s.len() >= 16 => Ok(s.as_bytes().to_vec()),
        None => Err("a webhook secret needs at least 16 bytes".into()),
    }
}

/// Delivers events as signed POSTs; any 2xx is an acknowledgement.
#[derive(Debug, Clone)]
pub struct WebhookSink {
    url: url::Url,
    secret: Vec<u8>,
    http: reqwest::Client,
}

impl WebhookSink {
    /// A sink posting to `url`, signing with `secret`.
    pub fn new(url: url::Url, secret: Vec<u8>) -> Result<WebhookSink, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(WebhookSink { url, secret, http })
    }
}

#[async_trait]
impl EventSink for WebhookSink {
    async fn deliver(&self, e: &MerchantEvent) -> Result<(), DeliveryError> {
        let body = event_body(e).to_string();
        let ts = chrono::Utc::now().timestamp();
        let sig = sign(&self.secret, e.event_id.as_str(), ts, &body);
        let r = self
            .http
            .post(self.url.clone())
            .header("content-type", "application/json")
            .header("webhook-id", e.event_id.as_str())
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sig)
            .body(body)
            .send()
            .await
            .map_err(|err| {
                DeliveryError::Retry(format!("webhook unreachable: {}", err.without_url()))
            })?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(DeliveryError::Retry(format!(
                "webhook answered {}",
                r.status().as_u16()
            )))
        }
    }
}

/// Delivers events to an EventBridge bus, one `PutEvents` entry each.
#[derive(Debug, Clone)]
pub struct EventBridgeSink {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBridgeSink {
    /// The `source` of every entry.
    pub const SOURCE: &'static str = "savedwallet";

    /// A sink putting events on `bus` (a name or ARN).
    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> EventBridgeSink {
        EventBridgeSink {
            client,
            bus: bus.into(),
        }
    }
}

#[async_trait]
impl EventSink for EventBridgeSink {
    async fn deliver(&self, e: &MerchantEvent) -> Result<(), DeliveryError> {
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(Self::SOURCE)
            .detail_type(&e.kind)
            .detail(event_body(e).to_string())
            .build();
        let out = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|err| {
                DeliveryError::Retry(
                    aws_sdk_eventbridge::error::DisplayErrorContext(err).to_string(),
                )
            })?;
        if out.failed_entry_count() > 0 {
            let code = out
                .entries()
                .first()
                .and_then(|r| r.error_code())
                .unwrap_or("unknown");
            return Err(DeliveryError::Retry(format!(
                "EventBridge refused the entry: {code}"
            )));
        }
        Ok(())
    }
}

/// A sink that only logs (ids and kinds): local mode without a webhook URL.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogSink;

#[async_trait]
impl EventSink for LogSink {
    async fn deliver(&self, e: &MerchantEvent) -> Result<(), DeliveryError> {
        tracing::info!(event_id = %e.event_id, kind = %e.kind, "merchant event");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_webhooks_signature() {
        // The Standard Webhooks specification's example (whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw).
        let secret = parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        let sig = sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(parse_secret("short").is_err());
        assert!(parse_secret("whsec_!!!").is_err());
    }
}
