//! The certificate is fetched once per URL: one after another, and when first uses race.

use super::helpers::*;
use futures_util::future::{join, join_all};
use savedwallet_shared::sns::SignatureVersion;

#[tokio::test]
async fn the_same_certificate_url_is_fetched_once() {
    let h = Harness::new();
    let other_url = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-other.pem";
    h.http
        .answer(other_url, Ok(signer().cert_pem.clone().into_bytes()));
    let first = body(&signed(notification(SignatureVersion::V1)));
    let mut e = notification(SignatureVersion::V2);
    e.message_id = "another".into();
    let second = body(&signed(e.clone()));
    e.signing_cert_url = other_url.into();
    let third = body(&signed(e));
    for b in [&first, &second, &first, &third, &third] {
        assert!(h.verify(b).await.is_ok());
    }
    assert_eq!(h.http.calls(), vec![CERT_URL, other_url]);
}

#[tokio::test]
async fn racing_first_uses_fetch_once() {
    // Every verification is polled before the gate opens (`join` polls in order), so all
    // eight are inside the cache while the first fetch is held: no timing involved.
    let h = Harness::with(config(), FakeHttp::gated());
    let bodies: Vec<Vec<u8>> = (0..8)
        .map(|i| {
            let mut e = notification(SignatureVersion::V1);
            e.message_id = format!("m-{i}");
            body(&signed(e))
        })
        .collect();
    let verifications = join_all(bodies.iter().map(|b| h.verify(b)));
    let open = async {
        assert_eq!(h.http.calls(), vec![CERT_URL], "one fetch in flight");
        h.http.open(8);
    };
    let (results, ()) = join(verifications, open).await;
    for r in results {
        assert!(r.is_ok(), "{r:?}");
    }
    assert_eq!(h.http.calls(), vec![CERT_URL]);
}
