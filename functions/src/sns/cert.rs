//! Outbound GETs ([`CertSource`]: the signing certificate and SubscribeURL), the
//! certificate cache (one fetch per URL, also when first uses race), the PEM X.509 → RSA
//! key step and the PKCS#1 v1.5 check (SHA-1 for version 1, SHA-256 for version 2).

use super::refusal::{FetchError, SnsRefusal};
use async_trait::async_trait;
use parking_lot::Mutex;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, PublicKey};
use savedwallet_shared::sns::SignatureVersion;
use sha2::Digest;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;
use url::Url;

/// The verifier's outbound HTTP: GETs of validated certificate and SubscribeURLs only.
#[async_trait]
pub trait CertSource: Send + Sync {
    /// GETs `url` and returns at most `limit` bytes of a 2xx body.
    async fn get(&self, url: &Url, limit: usize) -> Result<Vec<u8>, FetchError>;
}

/// Production [`CertSource`]: reqwest with rustls, HTTPS only, no redirects, a timeout and
/// a size bound. The client is built on first use, so nothing slow runs at start-up.
#[derive(Debug)]
pub struct HttpsCertSource {
    timeout: Duration,
    https_only: bool,
    client: Mutex<Option<reqwest::Client>>,
}

impl HttpsCertSource {
    /// An HTTPS-only source with this per-request timeout.
    pub fn new(timeout: Duration) -> Self {
        HttpsCertSource {
            timeout,
            https_only: true,
            client: Mutex::new(None),
        }
    }

    /// Local mode: plain http to the loopback sandbox, proxies from the environment ignored.
    #[cfg(feature = "local-sns")]
    pub(crate) fn local(timeout: Duration) -> Self {
        HttpsCertSource {
            https_only: false,
            ..HttpsCertSource::new(timeout)
        }
    }

    fn client(&self) -> Result<reqwest::Client, FetchError> {
        let mut slot = self.client.lock();
        if let Some(client) = slot.as_ref() {
            return Ok(client.clone());
        }
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            .https_only(self.https_only);
        if !self.https_only {
            builder = builder.no_proxy();
        }
        let client = builder.build().map_err(|_| FetchError::Client)?;
        *slot = Some(client.clone());
        Ok(client)
    }
}

fn fetch_error(e: &reqwest::Error) -> FetchError {
    if e.is_timeout() {
        FetchError::Timeout
    } else if e.is_connect() {
        FetchError::Connect
    } else if e.is_builder() {
        FetchError::Client
    } else {
        FetchError::Transport
    }
}

#[async_trait]
impl CertSource for HttpsCertSource {
    async fn get(&self, url: &Url, limit: usize) -> Result<Vec<u8>, FetchError> {
        let mut response = self
            .client()?
            .get(url.clone())
            .send()
            .await
            .map_err(|e| fetch_error(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Status(status.as_u16()));
        }
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(FetchError::TooLarge(limit));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| fetch_error(&e))? {
            if body.len() + chunk.len() > limit {
                return Err(FetchError::TooLarge(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// Most certificates kept; SNS serves one per region at a time, so this is never reached
/// in practice, and only certificates that verified a URL rule and parsed are kept.
const MAX_CACHED: usize = 32;

/// RSA keys of fetched certificates by URL; failures are not kept.
#[derive(Debug, Default)]
pub(crate) struct CertCache {
    entries: Mutex<HashMap<String, Arc<OnceCell<Arc<PublicKey>>>>>,
}

impl CertCache {
    /// The key of the certificate at `url`, fetched through `source` on first use only.
    pub(crate) async fn key(
        &self,
        url: &Url,
        source: &dyn CertSource,
        limit: usize,
    ) -> Result<Arc<PublicKey>, SnsRefusal> {
        let cell = self.cell(url);
        let result = cell
            .get_or_try_init(|| async {
                let pem = source.get(url, limit).await.map_err(|cause| {
                    if cause.is_transient() {
                        SnsRefusal::CertFetchFailed { cause }
                    } else {
                        SnsRefusal::CertNotServed { cause }
                    }
                })?;
                rsa_key_of_pem(&pem).map(Arc::new)
            })
            .await
            .cloned();
        if result.is_err() {
            let mut entries = self.entries.lock();
            if entries
                .get(url.as_str())
                .is_some_and(|c| Arc::ptr_eq(c, &cell) && !c.initialized())
            {
                entries.remove(url.as_str());
            }
        }
        result
    }

    fn cell(&self, url: &Url) -> Arc<OnceCell<Arc<PublicKey>>> {
        let mut entries = self.entries.lock();
        if entries.len() >= MAX_CACHED && !entries.contains_key(url.as_str()) {
            entries.retain(|_, cell| !cell.initialized());
        }
        entries.entry(url.as_str().to_string()).or_default().clone()
    }
}

/// The RSA public key of a PEM X.509 certificate (2048 bits or more).
pub(crate) fn rsa_key_of_pem(pem: &[u8]) -> Result<PublicKey, SnsRefusal> {
    let unusable = |reason| SnsRefusal::CertUnusable { reason };
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem).map_err(|_| unusable("not PEM"))?;
    if pem.label != "CERTIFICATE" {
        return Err(unusable("PEM block is not a CERTIFICATE"));
    }
    let cert = pem
        .parse_x509()
        .map_err(|_| unusable("not an X.509 certificate"))?;
    let spki = cert.public_key();
    if spki.algorithm.algorithm != x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION {
        return Err(unusable("public key is not RSA"));
    }
    let key = PublicKey::from_public_key_der(spki.raw).map_err(|_| unusable("bad RSA key"))?;
    if key.size() < 256 {
        return Err(unusable("RSA key shorter than 2048 bits"));
    }
    Ok(key)
}

/// RSA PKCS#1 v1.5 over SHA-1 (version 1) or SHA-256 (version 2) of `signed`.
pub(crate) fn signature_verifies(
    key: &PublicKey,
    version: SignatureVersion,
    signed: &[u8],
    signature: &[u8],
) -> bool {
    match version {
        SignatureVersion::V1 => key.verify(
            Pkcs1v15Sign::new::<sha1::Sha1>(),
            &sha1::Sha1::digest(signed),
            signature,
        ),
        SignatureVersion::V2 => key.verify(
            Pkcs1v15Sign::new::<sha2::Sha256>(),
            &sha2::Sha256::digest(signed),
            signature,
        ),
    }
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_unusable_certificate() {
        for (pem, reason) in [
            (&b"nope"[..], "not PEM"),
            (
                b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                "PEM block is not a CERTIFICATE",
            ),
            (
                b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "not an X.509 certificate",
            ),
        ] {
            assert_eq!(
                rsa_key_of_pem(pem).unwrap_err(),
                SnsRefusal::CertUnusable { reason }
            );
        }
    }
}
