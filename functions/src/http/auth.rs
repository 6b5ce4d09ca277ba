//! Who is calling (API.md "Auth").
//!
//! - [`AuthMode::ApiGateway`] (Lambda): API Gateway already verified the caller. A buyer's
//!   `sub` is read from the HTTP API v2 request context
//!   (`requestContext.authorizer.jwt.claims.sub`); the `Authorization` header is never
//!   parsed. Admin routes require the IAM authorizer's identity in the context
//!   (`requestContext.authorizer.iam`; API Gateway enforced `AWS_IAM` on the route).
//! - [`AuthMode::Local`] (`savedwallet local`): a buyer presents `Authorization: Bearer
//!   <JWT>` signed ES256 by the per-install [`LocalIssuer`] (issuer, audience, expiry and
//!   signature checked); the merchant presents `Authorization: Bearer <admin token>`,
//!   compared in constant time.
//!
//! Anything else is 401 `unauthenticated`. Tokens and keys are never logged.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;
use secrecy::{ExposeSecret, SecretSlice};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use savedwallet_app::ids::CustomerId;
use savedwallet_app::Caller;

use super::error::AppError;
use super::AppState;

/// How callers are authenticated.
#[derive(Debug)]
pub enum AuthMode {
    /// Lambda behind API Gateway: identities from the request context only.
    ApiGateway,
    /// The local stack: our own JWT verifier and the admin token.
    Local(Box<LocalAuth>),
}

/// The local stack's credentials.
#[derive(Debug)]
pub struct LocalAuth {
    /// Verifies buyers' JWTs.
    pub jwt: JwtVerifier,
    /// The merchant's bearer token.
    pub admin: AdminToken,
}

/// Why a key could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key bytes are not a P-256 PKCS#8 key, or generation failed.
    #[error("the local issuer key is not a valid P-256 PKCS#8 key")]
    BadKey,
    /// A token could not be signed.
    #[error("signing the token failed")]
    Sign,
}

/// The claims of a local dev JWT.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JwtClaims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The merchant's customer id.
    pub sub: String,
    /// Issued at (Unix seconds).
    pub iat: u64,
    /// Expiry (Unix seconds).
    pub exp: u64,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The local stack's token issuer: a per-install ES256 key that no deployed authorizer
/// trusts. It signs dev tokens (`POST /dev/token`) and gives the matching [`JwtVerifier`].
pub struct LocalIssuer {
    issuer: String,
    audience: String,
    pkcs8: SecretSlice<u8>,
    encoding: EncodingKey,
    public_key: Vec<u8>,
}

impl std::fmt::Debug for LocalIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalIssuer")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl LocalIssuer {
    /// A new random key (the local stack stores [`Self::pkcs8_der`] on first run).
    pub fn generate(
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<LocalIssuer, KeyError> {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| KeyError::BadKey)?;
        LocalIssuer::from_pkcs8(doc.as_ref(), issuer, audience)
    }

    /// The issuer over a stored P-256 PKCS#8 (DER) key.
    pub fn from_pkcs8(
        der: &[u8],
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<LocalIssuer, KeyError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map_err(|_| KeyError::BadKey)?;
        Ok(LocalIssuer {
            issuer: issuer.into(),
            audience: audience.into(),
            pkcs8: SecretSlice::from(der.to_vec()),
            encoding: EncodingKey::from_ec_der(der),
            public_key: pair.public_key().as_ref().to_vec(),
        })
    }

    /// The private key (PKCS#8 DER) to store with mode 0600.
    pub fn pkcs8_der(&self) -> &[u8] {
        self.pkcs8.expose_secret()
    }

    /// The issuer (`iss`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The audience (`aud`).
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The verifier for this issuer's tokens.
    pub fn verifier(&self) -> JwtVerifier {
        JwtVerifier::es256(&self.public_key, &self.issuer, &self.audience)
    }

    /// Signs claims as they are (tests make expired or foreign tokens with it).
    pub fn sign(&self, claims: &JwtClaims) -> Result<String, KeyError> {
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), claims, &self.encoding)
            .map_err(|_| KeyError::Sign)
    }

    /// A token for `customer`, valid for `ttl` from now (wall clock).
    pub fn mint(&self, customer: &CustomerId, ttl: Duration) -> Result<String, KeyError> {
        let now = unix_now();
        self.sign(&JwtClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: customer.as_str().to_string(),
            iat: now,
            exp: now.saturating_add(ttl.as_secs()),
        })
    }
}

/// Verifies ES256 JWTs of one issuer and audience: signature, `iss`, `aud`, `exp` (and
/// `nbf` when present), with 30 s of leeway; `sub` must be a valid customer id.
#[derive(Clone)]
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("iss", &self.validation.iss)
            .field("aud", &self.validation.aud)
            .finish_non_exhaustive()
    }
}

impl JwtVerifier {
    /// A verifier for an uncompressed P-256 public key.
    pub fn es256(public_key: &[u8], issuer: &str, audience: &str) -> JwtVerifier {
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 30;
        JwtVerifier {
            key: DecodingKey::from_ec_der(public_key),
            validation,
        }
    }

    /// The token's customer, or why it is refused.
    pub fn verify(&self, token: &str) -> Result<CustomerId, AppError> {
        use jsonwebtoken::errors::ErrorKind;
        let data =
            jsonwebtoken::decode::<JwtClaims>(token, &self.key, &self.validation).map_err(|e| {
                match e.kind() {
                    ErrorKind::ExpiredSignature => {
                        AppError::Unauthenticated("the token has expired")
                    }
                    _ => AppError::Unauthenticated("the token does not verify"),
                }
            })?;
        CustomerId::parse(&data.claims.sub)
            .map_err(|_| AppError::Unauthenticated("the token's sub is not a valid customer id"))
    }
}

/// The merchant's admin bearer token, kept as its SHA-256 (compared in constant time).
pub struct AdminToken {
    digest: [u8; 32],
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(…)")
    }
}

impl AdminToken {
    /// The token (at least 16 characters; the local stack generates 32 random bytes).
    pub fn new(token: &str) -> Result<AdminToken, KeyError> {
        if token.len() < 16 {
            return Err(KeyError::BadKey);
        }
        Ok(AdminToken {
            digest: Sha256::digest(token.as_bytes()).into(),
        })
    }

    fn matches(&self, presented: &str) -> bool {
        let d: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        bool::from(d.ct_eq(&self.digest))
    }
}

/// `Authorization: Bearer <token>` (exactly one header).
fn bearer(parts: &Parts) -> Result<&str, AppError> {
    let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
    let (Some(v), None) = (values.next(), values.next()) else {
        return Err(AppError::Unauthenticated("a bearer token is required"));
    };
    let v = v
        .to_str()
        .map_err(|_| AppError::Unauthenticated("a bearer token is required"))?;
    match v.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() => {
            Ok(token.trim())
        }
        _ => Err(AppError::Unauthenticated("a bearer token is required")),
    }
}

fn gateway_context(
    parts: &Parts,
) -> Option<&lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext> {
    match parts.extensions.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => Some(ctx),
        _ => None,
    }
}

/// A buyer: the merchant's customer id (JWT `sub`).
#[derive(Debug, Clone)]
pub struct Buyer(pub CustomerId);

impl Buyer {
    /// As a use-case caller.
    pub fn caller(&self) -> Caller {
        Caller::Customer(self.0.clone())
    }
}

impl FromRequestParts<AppState> for Buyer {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        match state.auth() {
            AuthMode::ApiGateway => {
                let sub = gateway_context(parts)
                    .and_then(|c| c.authorizer.as_ref())
                    .and_then(|a| a.jwt.as_ref())
                    .and_then(|j| j.claims.get("sub"))
                    .ok_or(AppError::Unauthenticated(
                        "no JWT authorizer claims in the request context",
                    ))?;
                CustomerId::parse(sub).map(Buyer).map_err(|_| {
                    AppError::Unauthenticated("the token's sub is not a valid customer id")
                })
            }
            AuthMode::Local(local) => local.jwt.verify(bearer(parts)?).map(Buyer),
        }
    }
}

/// The merchant's trusted side.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        match state.auth() {
            AuthMode::ApiGateway => {
                let iam = gateway_context(parts)
                    .and_then(|c| c.authorizer.as_ref())
                    .and_then(|a| a.iam.as_ref());
                let identified = iam.is_some_and(|i| {
                    [&i.user_arn, &i.caller_id, &i.account_id]
                        .iter()
                        .any(|v| v.as_deref().is_some_and(|s| !s.is_empty()))
                });
                if identified {
                    Ok(Admin)
                } else {
                    Err(AppError::Unauthenticated(
                        "no IAM identity in the request context",
                    ))
                }
            }
            AuthMode::Local(local) => {
                if local.admin.matches(bearer(parts)?) {
                    Ok(Admin)
                } else {
                    Err(AppError::Unauthenticated("the admin token is not valid"))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_verify_and_others_do_not() {
        let issuer = LocalIssuer::generate("https://local.test", "savedwallet").unwrap();
        let v = issuer.verifier();
        let alice = CustomerId::parse("alice").unwrap();
        let t = issuer.mint(&alice, Duration::from_secs(60)).unwrap();
        assert_eq!(v.verify(&t).unwrap(), alice);
        let again =
            LocalIssuer::from_pkcs8(issuer.pkcs8_der(), "https://local.test", "savedwallet")
                .unwrap();
        assert_eq!(again.verifier().verify(&t).unwrap(), alice);
        let other = LocalIssuer::generate("https://local.test", "savedwallet").unwrap();
        assert!(other.verifier().verify(&t).is_err());
        assert!(v.verify("not.a.jwt").is_err());
        assert!(format!("{issuer:?}").find("pkcs8").is_none());
    }

    #[test]
    fn admin_tokens_compare_whole() {
        let t = AdminToken::new("0123456789abcdef0123").unwrap();
        assert!(t.matches("0123456789abcdef0123"));
        assert!(!t.matches("0123456789abcdef012"));
        assert!(!t.matches(""));
        assert!(AdminToken::new("short").is_err());
    }
}
