//! Envelopes signed by the real simulator (`savedwallet-sandbox`, a dev-dependency only).
//! Without local mode its http certificate URL is refused before any request; with the
//! `local-sns` feature and `SnsConfig::local_sandbox` they verify end to end over HTTP.

use super::helpers::{FakeHttp, Harness};
use savedwallet_functions::sns::{SnsConfig, SnsRefusal, UrlRule};
use savedwallet_sandbox::ipn::{IpnConfig, IpnSender, DEFAULT_TOPIC_ARN};
use savedwallet_shared::sns::SignatureVersion;
use url::Url;

#[tokio::test]
async fn the_sandbox_certificate_url_is_refused_without_local_mode() {
    let ipn = IpnSender::new(IpnConfig::new(Url::parse("http://127.0.0.1:9").unwrap())).unwrap();
    let envelope = ipn.envelope_for(&super::helpers::ipn(), "arn:sub").unwrap();
    let config = SnsConfig::new().allow_topic(DEFAULT_TOPIC_ARN, SignatureVersion::V1);
    let h = Harness::with(config, FakeHttp::default());
    let refusal = h
        .verify(&serde_json::to_vec(&envelope).unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        refusal,
        SnsRefusal::CertUrlRefused {
            rule: UrlRule::NotHttps
        }
    );
    assert!(h.http.calls().is_empty());
}

#[cfg(feature = "local-sns")]
mod local {
    use super::super::helpers::{ipn, serve};
    use savedwallet_functions::sns::{SnsConfig, SnsRefusal, SnsVerifier, VerifiedSns};
    use savedwallet_sandbox::ipn::{DeliveryStatus, IpnConfig, IpnSender, DEFAULT_TOPIC_ARN};
    use savedwallet_shared::sns::{SignatureVersion, SnsMessageType};
    use std::sync::Arc;
    use tokio::sync::mpsc;
    use url::Url;

    type Outcome = Result<VerifiedSns, SnsRefusal>;

    /// An IPN endpoint that verifies each body, confirms subscriptions, reports outcomes.
    async fn endpoint(verifier: Arc<SnsVerifier>) -> (Url, mpsc::UnboundedReceiver<Outcome>) {
        use axum::http::StatusCode;
        let (tx, rx) = mpsc::unbounded_channel();
        let handler = move |body: axum::body::Bytes| {
            let (verifier, tx) = (verifier.clone(), tx.clone());
            async move {
                let outcome = verifier.verify(&body).await;
                let status = match &outcome {
                    Ok(VerifiedSns::SubscriptionConfirmation(c)) => {
                        match verifier.confirm_subscription(c).await {
                            Ok(()) => StatusCode::OK,
                            Err(_) => StatusCode::SERVICE_UNAVAILABLE,
                        }
                    }
                    Ok(_) => StatusCode::OK,
                    Err(r) => StatusCode::from_u16(r.class().http_status()).unwrap(),
                };
                let _ = tx.send(outcome);
                status
            }
        };
        let app = axum::Router::new().route("/ipn", axum::routing::post(handler));
        (serve(app).await.join("/ipn").unwrap(), rx)
    }

    /// A running simulated SNS topic and a local-mode verifier allowing its topic.
    async fn sandbox() -> (IpnSender, SnsVerifier) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        let sender = IpnSender::new(IpnConfig::new(base.clone())).unwrap();
        let routes = sender.router();
        tokio::spawn(async move { axum::serve(listener, routes).await });
        (sender, local_verifier(&base))
    }

    fn local_verifier(base: &Url) -> SnsVerifier {
        SnsVerifier::new(
            SnsConfig::local_sandbox(base)
                .unwrap()
                .allow_topic(DEFAULT_TOPIC_ARN, SignatureVersion::V1),
        )
    }

    #[tokio::test]
    async fn sandbox_envelopes_of_both_versions_verify_in_local_mode() {
        let (sender, verifier) = sandbox().await;
        let verifier = Arc::new(verifier);
        let (v1_url, mut v1) = endpoint(verifier.clone()).await;
        let (v2_url, mut v2) = endpoint(verifier.clone()).await;
        sender
            .register_endpoint_with(v1_url, SignatureVersion::V1)
            .await
            .unwrap();
        sender
            .register_endpoint_with(v2_url, SignatureVersion::V2)
            .await
            .unwrap();
        sender.idle().await;
        assert!(
            sender.subscriptions().iter().all(|s| s.confirmed),
            "both confirmed"
        );

        let message_id = sender.publish(ipn()).unwrap();
        sender.idle().await;
        for (rx, version) in [
            (&mut v1, SignatureVersion::V1),
            (&mut v2, SignatureVersion::V2),
        ] {
            let Some(Ok(VerifiedSns::SubscriptionConfirmation(c))) = rx.recv().await else {
                panic!("{version}: no verified confirmation");
            };
            assert_eq!(c.kind(), SnsMessageType::SubscriptionConfirmation);
            assert_eq!(c.signature_version(), version);
            let Some(Ok(VerifiedSns::Notification(n))) = rx.recv().await else {
                panic!("{version}: no verified notification");
            };
            assert_eq!(n.message_id, message_id);
            assert_eq!(n.signature_version, version);
            assert_eq!(n.topic_arn, DEFAULT_TOPIC_ARN);
            assert_eq!(n.ipn, ipn());
        }
        assert!(sender
            .deliveries()
            .iter()
            .all(|d| matches!(d.status, DeliveryStatus::Delivered { .. })));
    }

    #[tokio::test]
    async fn tampered_sandbox_envelopes_and_other_sandboxes_are_refused() {
        let (sender, verifier) = sandbox().await;
        let mut envelope = sender.envelope_for(&ipn(), "arn:sub").unwrap();
        assert!(verifier
            .verify(&serde_json::to_vec(&envelope).unwrap())
            .await
            .is_ok());
        envelope.message = envelope.message.replace("CHARGE_PERMISSION", "CHARGE");
        let refusal = verifier
            .verify(&serde_json::to_vec(&envelope).unwrap())
            .await
            .unwrap_err();
        assert_eq!(refusal.code(), "bad_signature");

        // A sandbox on another port is not the configured one.
        let elsewhere = local_verifier(&Url::parse("http://127.0.0.1:9").unwrap());
        let fresh = sender.envelope_for(&ipn(), "arn:sub").unwrap();
        let refusal = elsewhere
            .verify(&serde_json::to_vec(&fresh).unwrap())
            .await
            .unwrap_err();
        assert_eq!(refusal.code(), "cert_url_not_https");
    }
}
