//! The production `HttpsCertSource` over real sockets: HTTPS only, no redirects, bounded
//! answers, timeouts and refused connections reported as such.

use savedwallet_functions::sns::{CertSource, FetchError, HttpsCertSource};
use std::time::Duration;
use url::Url;

#[tokio::test]
async fn plain_http_is_refused_without_connecting() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = Url::parse(&format!("http://{}/x.pem", listener.local_addr().unwrap())).unwrap();
    let source = HttpsCertSource::new(Duration::from_secs(5));
    assert_eq!(source.get(&url, 1024).await, Err(FetchError::Client));
    let accepted = listener.accept();
    assert!(
        matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "a connection was made: {accepted:?}"
    );
}

#[cfg(feature = "local-sns")]
mod local {
    use super::super::helpers::{notification, serve, signed, signer};
    use axum::body::Body;
    use axum::response::{IntoResponse, Redirect, Response};
    use axum::routing::get;
    use savedwallet_functions::sns::{FetchError, SnsConfig, SnsRefusal, SnsVerifier};
    use savedwallet_shared::sns::SignatureVersion;
    use std::time::Duration;
    use url::Url;

    const TOPIC: &str = "arn:aws:sns:us-east-1:000000000000:amazon-pay-sandbox";

    async fn cert_routes() -> Url {
        let pem = signer().cert_pem.clone();
        let app = axum::Router::new()
            .route("/_sandbox/sns/good.pem", get(move || async move { pem }))
            .route(
                "/_sandbox/sns/moved.pem",
                get(|| async { Redirect::temporary("/_sandbox/sns/good.pem") }),
            )
            .route(
                "/_sandbox/sns/big.pem",
                get(|| async { "x".repeat(70 * 1024) }),
            )
            .route(
                "/_sandbox/sns/streamed.pem",
                get(|| async {
                    let chunks = (0..70).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 1024]));
                    Body::from_stream(futures_util::stream::iter(chunks)).into_response()
                }),
            )
            .route(
                "/_sandbox/sns/hang.pem",
                get(std::future::pending::<Response>),
            );
        serve(app).await
    }

    async fn refusal_at(base: &Url, path: &str) -> Result<(), SnsRefusal> {
        let config = SnsConfig::local_sandbox(base)
            .unwrap()
            .allow_topic(TOPIC, SignatureVersion::V1)
            .with_fetch_timeout(Duration::from_millis(300));
        let mut e = notification(SignatureVersion::V1);
        e.topic_arn = TOPIC.into();
        e.signing_cert_url = base.join(path).unwrap().into();
        let body = serde_json::to_vec(&signed(e)).unwrap();
        SnsVerifier::new(config).verify(&body).await.map(drop)
    }

    #[tokio::test]
    async fn fetch_outcomes_over_http() {
        let base = cert_routes().await;
        assert_eq!(refusal_at(&base, "/_sandbox/sns/good.pem").await, Ok(()));
        let not_served = |cause| Err(SnsRefusal::CertNotServed { cause });
        assert_eq!(
            refusal_at(&base, "/_sandbox/sns/moved.pem").await,
            not_served(FetchError::Status(307))
        );
        assert_eq!(
            refusal_at(&base, "/_sandbox/sns/missing.pem").await,
            not_served(FetchError::Status(404))
        );
        for path in ["/_sandbox/sns/big.pem", "/_sandbox/sns/streamed.pem"] {
            assert_eq!(
                refusal_at(&base, path).await,
                not_served(FetchError::TooLarge(64 * 1024)),
                "{path}"
            );
        }
        assert_eq!(
            refusal_at(&base, "/_sandbox/sns/hang.pem").await,
            Err(SnsRefusal::CertFetchFailed {
                cause: FetchError::Timeout
            })
        );
    }

    #[tokio::test]
    async fn a_refused_connection_is_transient() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base = Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let refusal = refusal_at(&base, "/_sandbox/sns/x.pem").await.unwrap_err();
        assert_eq!(
            refusal,
            SnsRefusal::CertFetchFailed {
                cause: FetchError::Connect
            }
        );
        assert!(refusal.is_transient());
    }
}
