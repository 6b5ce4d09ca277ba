//! Merchant events to a webhook: each POST signed as Standard Webhooks (checked here with
//! an HMAC of our own, from the secret in the install's files), a failed delivery retried
//! later with the same `webhook-id`, so the receiver can deduplicate; every event delivered.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use parking_lot::Mutex;
use savedwallet_tests::{Preset, System};
use serde_json::Value;
use sha2::Sha256;

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(HeaderMap, String, u16)>>>,
    fail_next: Arc<AtomicU32>,
}

async fn receiver() -> (Receiver, url::Url) {
    let r = Receiver::default();
    let state = r.clone();
    let app = axum::Router::new().route(
        "/hooks",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let r = state.clone();
            async move {
                let fail = r
                    .fail_next
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                let status = if fail { 500 } else { 204 };
                r.got.lock().push((headers, body, status));
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hooks", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (r, url.parse().expect("url"))
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
}

/// Standard Webhooks: `v1,` + base64(HMAC-SHA256(key, "id.timestamp.body")).
fn verify(secret: &str, h: &HeaderMap, body: &str) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .expect("whsec_ base64 secret");
    let signed = format!(
        "{}.{}.{body}",
        header(h, "webhook-id"),
        header(h, "webhook-timestamp")
    );
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).expect("key");
    mac.update(signed.as_bytes());
    let want = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    header(h, "webhook-signature").split(' ').any(|s| s == want)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_signed_retried_with_the_same_id_and_all_delivered() {
    let (rx, url) = receiver().await;
    let sys = System::start_with(|o| o.webhook_url = Some(url)).await;
    let secret = sys.stack.info.webhook_secret.clone();
    rx.fail_next.store(1, Ordering::SeqCst);

    let token = sys.token("cust_hooks").await;
    let wallet = sys.wallet_id(&token, Preset::AlwaysApprove).await;
    let order = sys.order("cust_hooks", "3.00", true).await;
    sys.pay(&token, &order, &wallet).await.ok(201);
    let first = sys.jobs().await;
    assert!(first["eventsRescheduled"].as_u64() >= Some(1), "{first}");
    // The redelivery is due a few seconds later (backoff), not at once.
    let again = sys.jobs().await;
    assert_eq!(again["eventsDelivered"], 0, "{again}");
    sys.advance(60).await;
    let later = sys.jobs().await;
    assert!(later["eventsDelivered"].as_u64() >= Some(1), "{later}");

    let got = rx.got.lock().clone();
    assert!(
        got.iter().all(|(h, b, _)| verify(&secret, h, b)),
        "a bad signature"
    );
    // A tampered body does not verify (the check can fail).
    let (h, b, _) = &got[0];
    assert!(!verify(&secret, h, &b.replace('3', "4")));
    let failed: Vec<&str> = got
        .iter()
        .filter(|(_, _, s)| *s == 500)
        .map(|(h, _, _)| header(h, "webhook-id"))
        .collect();
    assert_eq!(failed.len(), 1);
    let delivered: Vec<&str> = got
        .iter()
        .filter(|(_, _, s)| *s == 204)
        .map(|(h, _, _)| header(h, "webhook-id"))
        .collect();
    assert!(
        delivered.contains(&failed[0]),
        "the failed event came again with its id"
    );
    // Every event the merchant can list arrived, each id once acknowledged.
    let listed: BTreeSet<String> = sys
        .events()
        .await
        .iter()
        .filter_map(|e| {
            e["id"]
                .as_str()
                .or(e["eventId"].as_str())
                .map(str::to_string)
        })
        .collect();
    let acked: BTreeSet<String> = delivered.iter().map(|s| s.to_string()).collect();
    assert_eq!(acked.len(), delivered.len(), "no event acknowledged twice");
    assert_eq!(listed, acked);
    for (_, body, _) in &got {
        let v: Value = serde_json::from_str(body).expect("JSON body");
        assert!(v["type"].is_string(), "{v}");
    }
}
