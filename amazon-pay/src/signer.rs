//! RSASSA-PSS request signing with aws-lc-rs (SPEC §2).
//!
//! aws-lc-rs signs both Amazon Pay algorithms: `RSA_PSS_SHA256` uses salt = digest
//! length (32, `AMZN-PAY-RSASSA-PSS-V2`) and `with_pss_salt_length(Custom(20))` gives the
//! legacy `AMZN-PAY-RSASSA-PSS` — so no second RSA implementation is needed.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::{KeyPair as _, RsaPssSaltLength, RsaSignatureEncoding, RSA_PSS_SHA256};
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use std::fmt;

use savedwallet_shared::signing::{
    button_string_to_sign, canonical_request_from_pairs, string_to_sign, AuthorizationHeader,
    RequestParts, SigningAlgorithm,
};

use crate::error::Error;
use crate::pem;

/// PSS with SHA-256, MGF1-SHA-256 and a 20-byte salt (`AMZN-PAY-RSASSA-PSS`).
static RSA_PSS_SHA256_SALT20: RsaSignatureEncoding =
    RSA_PSS_SHA256.with_pss_salt_length(RsaPssSaltLength::Custom(20));

/// A merchant's signing identity: the parsed private key, its public key id and the
/// algorithm. The key is parsed once; `Debug` never shows it.
pub struct Signer {
    key_pair: KeyPair,
    public_key_id: String,
    algorithm: SigningAlgorithm,
    rng: SystemRandom,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("public_key_id", &self.public_key_id)
            .field("algorithm", &self.algorithm)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

impl Signer {
    /// Parses a PEM private key: PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`).
    pub fn from_pem(
        pem_text: &SecretString,
        public_key_id: impl Into<String>,
        algorithm: SigningAlgorithm,
    ) -> Result<Self, Error> {
        let key_pair = parse_private_key_pem(pem_text.expose_secret())?;
        let public_key_id = public_key_id.into();
        if public_key_id.is_empty()
            || public_key_id
                .chars()
                .any(|c| c == ',' || c.is_whitespace() || c.is_control())
        {
            return Err(Error::Config(
                "public key id must be non-empty without spaces or commas".into(),
            ));
        }
        Ok(Signer {
            key_pair,
            public_key_id,
            algorithm,
            rng: SystemRandom::new(),
        })
    }

    /// The public key id this signer puts in `authorization`.
    pub fn public_key_id(&self) -> &str {
        &self.public_key_id
    }

    /// The configured algorithm.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    /// The public key as SubjectPublicKeyInfo DER (what Seller Central expects, PEM-wrapped).
    pub fn public_key_spki_der(&self) -> Result<Vec<u8>, Error> {
        self.key_pair
            .public_key()
            .as_der()
            .map(|d| d.as_ref().to_vec())
            .map_err(|_| Error::InvalidKey("cannot encode the public key".into()))
    }

    /// Signs `message` (the string to sign) with RSASSA-PSS for `alg`; raw signature bytes.
    pub fn sign_raw(&self, alg: SigningAlgorithm, message: &[u8]) -> Result<Vec<u8>, Error> {
        let encoding: &'static RsaSignatureEncoding = match alg {
            SigningAlgorithm::V1 => &RSA_PSS_SHA256_SALT20,
            SigningAlgorithm::V2 => &RSA_PSS_SHA256,
        };
        let mut sig = vec![0u8; self.key_pair.public_modulus_len()];
        self.key_pair
            .sign(encoding, &self.rng, message, &mut sig)
            .map_err(|_| Error::InvalidKey("RSA-PSS signing failed".into()))?;
        Ok(sig)
    }

    /// Signs a request with the configured algorithm, covering every header in `headers`
    /// (names lower-cased and sorted, as SignedHeaders must be). Returns the header value
    /// structure; call [`AuthorizationHeader::format`] for the wire form.
    pub fn sign_request<N: AsRef<str>, V: AsRef<str>>(
        &self,
        parts: RequestParts<'_>,
        headers: &[(N, V)],
    ) -> Result<AuthorizationHeader, Error> {
        self.sign_request_with(self.algorithm, parts, headers)
    }

    /// Like [`Signer::sign_request`] with an explicit algorithm.
    pub fn sign_request_with<N: AsRef<str>, V: AsRef<str>>(
        &self,
        alg: SigningAlgorithm,
        parts: RequestParts<'_>,
        headers: &[(N, V)],
    ) -> Result<AuthorizationHeader, Error> {
        let mut names: Vec<String> = headers
            .iter()
            .map(|(n, _)| n.as_ref().to_ascii_lowercase())
            .collect();
        names.sort();
        names.dedup();
        let canonical = canonical_request_from_pairs(parts, &names, headers)?;
        let to_sign = string_to_sign(alg, &canonical);
        let sig = self.sign_raw(alg, to_sign.as_bytes())?;
        Ok(AuthorizationHeader {
            algorithm: alg,
            public_key_id: self.public_key_id.clone(),
            signed_headers: names,
            signature_b64: base64::engine::general_purpose::STANDARD.encode(sig),
        })
    }

    /// Signature (base64) of an Amazon Pay button payload (SPEC §2.7).
    pub fn sign_button_payload(&self, payload_json: &str) -> Result<String, Error> {
        let to_sign = button_string_to_sign(self.algorithm, payload_json);
        let sig = self.sign_raw(self.algorithm, to_sign.as_bytes())?;
        Ok(base64::engine::general_purpose::STANDARD.encode(sig))
    }
}

/// Parses a PEM RSA private key (PKCS#8 or PKCS#1) with aws-lc-rs.
fn parse_private_key_pem(text: &str) -> Result<KeyPair, Error> {
    let block = pem::decode_first(text).map_err(|e| Error::InvalidKey(e.to_string()))?;
    let key = match block.label.as_str() {
        "PRIVATE KEY" => KeyPair::from_pkcs8(block.der.expose_secret()),
        "RSA PRIVATE KEY" => KeyPair::from_der(block.der.expose_secret()),
        "ENCRYPTED PRIVATE KEY" => {
            return Err(Error::InvalidKey(
                "encrypted PEM keys are not supported; decrypt it first (openssl pkcs8)".into(),
            ))
        }
        other => {
            return Err(Error::InvalidKey(format!(
                "expected a PEM \"PRIVATE KEY\" or \"RSA PRIVATE KEY\" block, found {other:?}"
            )))
        }
    };
    key.map_err(|e| Error::InvalidKey(format!("not a usable RSA private key: {e}")))
}
