//! The sandbox's stand-in for SNS's signing certificate: a self-signed X.509 certificate
//! (CN `sns.amazonaws.com`) over an RSA-2048 key, and PKCS#1 v1.5 signing with it.

use super::{IpnError, SignatureVersion};
use base64::Engine;
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Sign, PrivateKey};
use sha2::Digest;
use std::fmt;

/// Subject common name of the real SNS signing certificates.
pub const SNS_CERT_COMMON_NAME: &str = "sns.amazonaws.com";

/// A signing certificate with its private key.
pub(crate) struct SigningCertificate {
    cert_pem: String,
    key_pem: String,
    key: PrivateKey,
    file_name: String,
}

impl fmt::Debug for SigningCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the private key.
        f.debug_struct("SigningCertificate")
            .field("file_name", &self.file_name)
            .finish_non_exhaustive()
    }
}

impl SigningCertificate {
    /// Generates a fresh RSA-2048 key (aws-lc-rs via rcgen) and a self-signed certificate.
    pub(crate) fn generate() -> Result<Self, IpnError> {
        let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)?;
        let mut params = rcgen::CertificateParams::new(vec![SNS_CERT_COMMON_NAME.to_string()])?;
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, SNS_CERT_COMMON_NAME);
        dn.push(
            rcgen::DnType::OrganizationName,
            "savedwallet Amazon Pay sandbox",
        );
        params.distinguished_name = dn;
        let cert = params.self_signed(&key_pair)?;
        Self::from_pem(cert.pem(), key_pair.serialize_pem())
    }

    /// Loads a certificate PEM and its PKCS#8 private-key PEM (as kept by a snapshot).
    pub(crate) fn from_pem(cert_pem: String, key_pem: String) -> Result<Self, IpnError> {
        let key = PrivateKey::from_pkcs8_pem(&key_pem)
            .map_err(|_| IpnError::InvalidState("private key is not a PKCS#8 RSA key".into()))?;
        let der = pem_block(&cert_pem, "CERTIFICATE")
            .ok_or_else(|| IpnError::InvalidState("certificate PEM is malformed".into()))?;
        // SNS names its certificates SimpleNotificationService-<32 hex>.pem; derive ours from
        // the certificate itself so the URL stays stable as long as the certificate does.
        let digest = hex::encode(sha2::Sha256::digest(&der));
        let file_name = format!("SimpleNotificationService-{}.pem", &digest[..32]);
        Ok(SigningCertificate {
            cert_pem,
            key_pem,
            key,
            file_name,
        })
    }

    /// The certificate, PEM encoded.
    pub(crate) fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The private key, PKCS#8 PEM encoded (only for snapshots).
    pub(crate) fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// `SimpleNotificationService-<hash>.pem`.
    pub(crate) fn file_name(&self) -> &str {
        &self.file_name
    }

    /// Signs `data` with RSA PKCS#1 v1.5 (SHA-1 for v1, SHA-256 for v2); returns base64.
    pub(crate) fn sign(&self, version: SignatureVersion, data: &[u8]) -> Result<String, IpnError> {
        let sig = match version {
            SignatureVersion::V1 => self
                .key
                .sign(Pkcs1v15Sign::new::<sha1::Sha1>(), &sha1::Sha1::digest(data)),
            SignatureVersion::V2 => self.key.sign(
                Pkcs1v15Sign::new::<sha2::Sha256>(),
                &sha2::Sha256::digest(data),
            ),
        }
        .map_err(|e| IpnError::Signing(e.to_string()))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(sig))
    }
}

/// Decodes the first `-----BEGIN <label>-----` block of a PEM text.
fn pem_block(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&end)?;
    let b64: String = pem[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificate_round_trips_through_pem() {
        let c = SigningCertificate::generate().unwrap();
        assert!(c.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(c.file_name().starts_with("SimpleNotificationService-"));
        assert_eq!(
            c.file_name().len(),
            "SimpleNotificationService-".len() + 32 + 4
        );
        let again = SigningCertificate::from_pem(c.cert_pem().into(), c.key_pem().into()).unwrap();
        assert_eq!(again.file_name(), c.file_name());
        // PKCS#1 v1.5 is deterministic, so the same key signs identically.
        assert_eq!(
            again.sign(SignatureVersion::V2, b"x").unwrap(),
            c.sign(SignatureVersion::V2, b"x").unwrap()
        );
        assert_ne!(
            c.sign(SignatureVersion::V1, b"x").unwrap(),
            c.sign(SignatureVersion::V2, b"x").unwrap()
        );
    }

    #[test]
    fn malformed_pem_is_rejected() {
        assert!(matches!(
            SigningCertificate::from_pem("nope".into(), "nope".into()),
            Err(IpnError::InvalidState(_))
        ));
        assert!(pem_block(
            "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----",
            "CERTIFICATE"
        )
        .is_none());
    }
}
