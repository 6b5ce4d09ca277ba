//! Request signature verification (SPEC §2.6) with the `rsa` crate — deliberately
//! independent of the client's aws-lc-rs signer, sharing only the byte-exact canonical
//! request builder in `savedwallet_shared::signing`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::HeaderMap;
use base64::Engine as _;
use parking_lot::RwLock;
use rsa::pkcs8::DecodePublicKey;
use rsa::sha2::Sha256;
use rsa::signature::Verifier as _;
use savedwallet_shared::api::ReasonCode;
use savedwallet_shared::region::KeyEnvironment;
use savedwallet_shared::signing::{
    canonical_request, parse_pay_date, string_to_sign, AuthorizationHeader, RequestParts,
    SigningAlgorithm, SigningError, HEADER_DATE,
};

use crate::error::ApiError;

/// Why a public key could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The PEM is not an RSA SubjectPublicKeyInfo.
    #[error("not an RSA public key in SubjectPublicKeyInfo PEM (BEGIN PUBLIC KEY): {0}")]
    InvalidPem(String),
    /// The key id is empty or has characters Amazon never uses.
    #[error("invalid public key id {0:?}")]
    InvalidId(String),
}

/// Verifiers for one public key, both salt lengths, parsed once.
struct KeyVerifiers {
    v1: rsa::pss::VerifyingKey<Sha256>,
    v2: rsa::pss::VerifyingKey<Sha256>,
}

/// Registered public keys (parsed, cached) by public key id.
#[derive(Default)]
pub(crate) struct KeyRing {
    keys: RwLock<HashMap<String, Arc<KeyVerifiers>>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("ids", &self.keys.read().keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Checks a public key id's shape (what Amazon issues: letters, digits, `-`, `_`).
pub(crate) fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

impl KeyRing {
    /// Parses and registers (or replaces) a key.
    pub(crate) fn insert(&self, id: &str, pem: &str) -> Result<(), KeyError> {
        if !valid_key_id(id) {
            return Err(KeyError::InvalidId(id.chars().take(64).collect()));
        }
        let key = rsa::PublicKey::from_public_key_pem(pem.trim())
            .map_err(|e| KeyError::InvalidPem(e.to_string()))?;
        let v = KeyVerifiers {
            v1: rsa::pss::VerifyingKey::new_with_salt_len(key.clone(), 20),
            v2: rsa::pss::VerifyingKey::new_with_salt_len(key, 32),
        };
        self.keys.write().insert(id.to_string(), Arc::new(v));
        Ok(())
    }

    /// Removes a key; true if it existed.
    pub(crate) fn remove(&self, id: &str) -> bool {
        self.keys.write().remove(id).is_some()
    }

    /// Registered key ids.
    pub(crate) fn ids(&self) -> Vec<String> {
        let mut v: Vec<String> = self.keys.read().keys().cloned().collect();
        v.sort();
        v
    }

    fn get(&self, id: &str) -> Option<Arc<KeyVerifiers>> {
        self.keys.read().get(id).cloned()
    }
}

/// A successfully verified request.
#[derive(Debug, Clone)]
pub(crate) struct Verified {
    /// How the key id selects the environment.
    pub(crate) key_env: KeyEnvironment,
}

/// Verification settings.
#[derive(Debug, Clone)]
pub(crate) struct VerifyOptions<'a> {
    /// Allowed skew between `x-amz-pay-date` and `now_unix`, seconds.
    pub(crate) max_skew_secs: i64,
    /// Wall-clock now (the client signs with real time, not the simulated clock).
    pub(crate) now_unix: i64,
    /// Header names that must be signed.
    pub(crate) required_signed: &'a [String],
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Verifies a received request exactly as SPEC §2.6 describes.
pub(crate) fn verify(
    keys: &KeyRing,
    method: &str,
    raw_path: &str,
    raw_query: &str,
    headers: &HeaderMap,
    body: &[u8],
    opts: &VerifyOptions<'_>,
) -> Result<Verified, ApiError> {
    let auth_value = match headers.get("authorization") {
        None => {
            return Err(ApiError::bad_request(
                ReasonCode::MissingHeaderValue,
                "the authorization header is missing",
            ))
        }
        Some(v) => v.to_str().map_err(|_| {
            ApiError::bad_request(
                ReasonCode::InvalidHeaderValue,
                "the authorization header is not ASCII",
            )
        })?,
    };
    if auth_value.trim().is_empty() {
        return Err(ApiError::bad_request(
            ReasonCode::MissingHeaderValue,
            "the authorization header is empty",
        ));
    }
    let auth = AuthorizationHeader::parse(auth_value).map_err(|e| {
        ApiError::bad_request(
            ReasonCode::InvalidHeaderValue,
            format!("invalid authorization header: {e}"),
        )
    })?;
    for required in opts.required_signed {
        if !auth.signed_headers.iter().any(|h| h == required) {
            return Err(ApiError::signature(format!(
                "SignedHeaders must include {required}"
            )));
        }
    }
    let Some(key) = keys.get(&auth.public_key_id) else {
        return Err(ApiError::signature(format!(
            "unknown public key id {}",
            auth.public_key_id
        )));
    };
    // Every signed header must be present (case-insensitive: HeaderMap names are lower case).
    for name in &auth.signed_headers {
        if header_str(headers, name).is_none() {
            return Err(ApiError::bad_request(
                ReasonCode::MissingHeaderValue,
                format!("signed header {name} is missing from the request"),
            ));
        }
    }
    if let Some(date) = header_str(headers, HEADER_DATE) {
        let t = parse_pay_date(date).map_err(|_| {
            ApiError::bad_request(
                ReasonCode::InvalidHeaderValue,
                "x-amz-pay-date is neither yyyyMMddTHHmmssZ nor yyyy-MM-ddTHH:mm:ssZ",
            )
        })?;
        if (t.0.timestamp() - opts.now_unix).abs() > opts.max_skew_secs {
            return Err(ApiError::signature(format!(
                "x-amz-pay-date is more than {} seconds away from the server clock",
                opts.max_skew_secs
            )));
        }
    }
    let canonical = canonical_request(
        RequestParts {
            method,
            path: raw_path,
            query: raw_query,
            body,
        },
        &auth.signed_headers,
        |n| header_str(headers, n).map(str::to_string),
    )
    .map_err(|e| match e {
        SigningError::MissingSignedHeader(h) => ApiError::bad_request(
            ReasonCode::MissingHeaderValue,
            format!("signed header {h} is missing from the request"),
        ),
        other => ApiError::bad_request(ReasonCode::InvalidHeaderValue, other.to_string()),
    })?;
    let sts = string_to_sign(auth.algorithm, &canonical);
    let sig_bytes = base64::engine::general_purpose::STANDARD
        .decode(auth.signature_b64.as_bytes())
        .map_err(|_| ApiError::signature("the signature is not valid base64"))?;
    let sig = rsa::pss::Signature::try_from(sig_bytes.as_slice())
        .map_err(|_| ApiError::signature("the signature has the wrong length"))?;
    let verifier = match auth.algorithm {
        SigningAlgorithm::V1 => &key.v1,
        SigningAlgorithm::V2 => &key.v2,
    };
    verifier.verify(sts.as_bytes(), &sig).map_err(|_| {
        ApiError::signature(
            "The request signature does not match. Check the canonical request, the key and the algorithm.",
        )
    })?;
    Ok(Verified {
        key_env: KeyEnvironment::of(&auth.public_key_id),
    })
}
