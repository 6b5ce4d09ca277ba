//! The Amazon Pay API v2 client: configuration, handles, paths and links. The operations
//! are in `operations.rs`, the signed send-and-resend loop in `send.rs`.

use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

use savedwallet_shared::api::operation::Operation;
use savedwallet_shared::api::Validate;
use savedwallet_shared::idempotency::IdempotencyKey;
use savedwallet_shared::region::{Environment, KeyEnvironment, Region};

use crate::config::{CallOptions, ClientConfig, RetryPolicy};
use crate::error::{Error, RequestError};
use crate::pacer::Pacer;
use crate::signer::Signer;

/// A successful response: the decoded body plus what the caller needs to decide and log.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse<T> {
    /// HTTP status (Create Charge: 201 done vs 202 ActionRequired; Complete: 200 vs 202).
    pub status: u16,
    /// Amazon's `x-amz-pay-request-id`.
    pub request_id: Option<String>,
    /// Attempts made (1 = no resend).
    pub attempts: u32,
    /// Decoded body.
    pub body: T,
}

/// The Amazon Pay client. Cheap to clone; clones and handles share the HTTP pool, key and
/// pacer.
#[derive(Debug, Clone)]
pub struct AmazonPayClient {
    pub(crate) inner: Arc<Inner>,
    pub(crate) simulation_code: Option<String>,
    pub(crate) options: CallOptions,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) signer: Signer,
    /// Scheme + authority (+ optional base path) requests go to.
    pub(crate) base: Url,
    /// `/…/` prefix before `v2/`, including any base path and `/sandbox|/live`.
    path_prefix: String,
    /// `x-amz-pay-host`: host[:port] of the base URL.
    pub(crate) host_header: String,
    pub(crate) region: Region,
    /// The environment requests are for: implied by a `SANDBOX-`/`LIVE-` key, else configured.
    environment: Environment,
    /// True when `endpoint` overrides Amazon's host (the local sandbox simulator).
    endpoint_overridden: bool,
    pub(crate) retry: RetryPolicy,
    pub(crate) request_timeout: Duration,
    /// 429s and resends per operation (every handle of this client).
    pub(crate) counters: Arc<crate::counters::CallCounters>,
    pub(crate) pacer: Pacer,
}

impl AmazonPayClient {
    /// Builds the client; parses the private key once.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let signer = Signer::from_pem(
            &config.private_key_pem,
            config.public_key_id.clone(),
            config.algorithm,
        )?;
        let base = match &config.endpoint {
            Some(u) => u.clone(),
            None => Url::parse(&format!("https://{}", config.region.api_host()))
                .map_err(|e| Error::Config(format!("bad default host: {e}")))?,
        };
        if !matches!(base.scheme(), "http" | "https") {
            return Err(Error::Config(format!(
                "endpoint scheme must be http or https, got {:?}",
                base.scheme()
            )));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(Error::Config(
                "endpoint must not have a query or fragment".into(),
            ));
        }
        let host = base
            .host_str()
            .ok_or_else(|| Error::Config("endpoint has no host".into()))?;
        let host_header = match base.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        let key_environment = KeyEnvironment::of(&config.public_key_id);
        let env_prefix = key_environment.path_prefix(config.environment);
        let environment = match key_environment {
            KeyEnvironment::Implied(env) => env,
            KeyEnvironment::Legacy => config.environment,
        };
        let path_prefix = format!("{}{}", base.path().trim_end_matches('/'), env_prefix);
        if config.request_timeout.is_zero() || config.connect_timeout.is_zero() {
            return Err(Error::Config("timeouts must be greater than zero".into()));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(concat!("savedwallet/", env!("CARGO_PKG_VERSION")))
            // A redirect would re-send a signed request to a host it was not signed for.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(AmazonPayClient {
            inner: Arc::new(Inner {
                http,
                signer,
                base,
                path_prefix,
                host_header,
                region: config.region,
                environment,
                endpoint_overridden: config.endpoint.is_some(),
                retry: config.retry,
                request_timeout: config.request_timeout,
                counters: Arc::default(),
                pacer: Pacer::new(config.pacing, config.environment),
            }),
            simulation_code: None,
            options: CallOptions::default(),
        })
    }

    /// Amazon's 429 answers and the client's resends so far, per operation.
    pub fn counters(&self) -> Arc<crate::counters::CallCounters> {
        self.inner.counters.clone()
    }

    /// A handle that sends `x-amz-pay-simulation-code: <code>` (signed) on every call
    /// (sandbox only; Amazon ignores it in live). Shares everything else with `self`.
    pub fn with_simulation_code(&self, code: impl Into<String>) -> Result<Self, Error> {
        let code = code.into();
        if code.is_empty()
            || code.len() > 64
            || !code
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
        {
            return Err(RequestError::InvalidSimulationCode.into());
        }
        Ok(AmazonPayClient {
            simulation_code: Some(code),
            ..self.clone()
        })
    }

    /// A handle whose calls keep to `options` (a deadline, a per-attempt timeout); make
    /// one per API request. Shares everything else with `self`.
    pub fn with_call_options(&self, options: CallOptions) -> Self {
        AmazonPayClient {
            options,
            ..self.clone()
        }
    }

    /// The options this handle's calls keep to.
    pub fn call_options(&self) -> CallOptions {
        self.options
    }

    /// The signer (e.g. to sign button payloads with the same key).
    pub fn signer(&self) -> &Signer {
        &self.inner.signer
    }

    /// The environment requests are for (implied by a `SANDBOX-`/`LIVE-` key id, else the
    /// configured one); request validation follows it.
    pub fn environment(&self) -> Environment {
        self.inner.environment
    }

    /// Validates a request body against Amazon's rules for this client's environment and
    /// serialises it: the exact bytes to store before sending, and to pass to the
    /// `*_from_bytes` operations (again after a crash or a lost response).
    pub fn body_bytes<B: Serialize + Validate>(&self, body: &B) -> Result<Vec<u8>, Error> {
        body.validate(self.inner.environment)?;
        serialize(body)
    }

    /// The URL path an operation is sent to, e.g. `/v2/charges` or `/sandbox/v2/charges/ID/capture`.
    pub fn path_for(&self, op: Operation, id: Option<&str>) -> Result<String, Error> {
        let id = match (op.needs_id(), id) {
            (true, Some(id)) => {
                validate_id(id)?;
                id
            }
            (true, None) => return Err(RequestError::MissingResourceId(op).into()),
            (false, Some(_)) => return Err(RequestError::UnexpectedResourceId(op).into()),
            (false, None) => "",
        };
        Ok(format!(
            "{}v2/{}",
            self.inner.path_prefix,
            op.resource_path(id)
        ))
    }

    /// The buyer-facing link to update a Saved Wallet's payment method after a HardDeclined
    /// (SPEC §11.5). Against Amazon it is Amazon's documented link for the region; with an
    /// `endpoint` override (the local sandbox simulator) the Amazon host is mapped to the
    /// endpoint, which serves the same `/jr/your-account/ba/{id}` page.
    pub fn payment_method_update_url(&self, charge_permission_id: &str) -> Result<String, Error> {
        validate_id(charge_permission_id)?;
        if !self.inner.endpoint_overridden {
            return Ok(self
                .inner
                .region
                .payment_method_update_url(charge_permission_id));
        }
        Ok(format!(
            "{}://{}{}/jr/your-account/ba/{charge_permission_id}",
            self.inner.base.scheme(),
            self.inner.host_header,
            self.inner.base.path().trim_end_matches('/'),
        ))
    }
}

/// Serialises a body once: these exact bytes are hashed, signed and sent on every attempt.
pub(crate) fn serialize<B: Serialize>(body: &B) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(body).map_err(|_| RequestError::Serialize.into())
}

/// Resource ids are opaque but only ever use these characters; refusing others keeps
/// the path (and so the signature) unambiguous.
pub(crate) fn validate_id(id: &str) -> Result<(), Error> {
    if id.is_empty()
        || id.len() > 128
        || !id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        || id == "."
        || id == ".."
    {
        return Err(RequestError::InvalidResourceId.into());
    }
    Ok(())
}

/// At most 32 characters from `a-z A-Z 0-9 - _` (SPEC §8); the rule lives in `shared`.
pub fn validate_idempotency_key(key: &str) -> Result<(), Error> {
    IdempotencyKey::parse(key)
        .map(|_| ())
        .map_err(|e| RequestError::InvalidIdempotencyKey(e).into())
}

/// A fresh random idempotency key: a UUID v4 without dashes (32 hex characters), as the SDKs do.
pub fn new_idempotency_key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use savedwallet_shared::idempotency::IdempotencyKeyError;

    pub(crate) fn client_with(endpoint: Option<&str>, region: Region) -> AmazonPayClient {
        let vectors: serde_json::Value = serde_json::from_str(include_str!(
            "../../testdata/amazon-pay/signing-vectors.json"
        ))
        .unwrap();
        let pem = vectors["keys"]["privateKeyPem"].as_str().unwrap();
        let mut cfg = ClientConfig::new(
            region,
            Environment::Sandbox,
            "SANDBOX-TESTKEY",
            secrecy::SecretString::from(pem.to_string()),
        );
        cfg.endpoint = endpoint.map(|e| Url::parse(e).unwrap());
        AmazonPayClient::new(cfg).unwrap()
    }

    fn is_invalid(r: Result<impl std::fmt::Debug, Error>, want: RequestError) {
        match r {
            Err(Error::InvalidRequest(got)) => assert_eq!(got, want),
            other => panic!("expected InvalidRequest({want:?}), got {other:?}"),
        }
    }

    #[test]
    fn payment_method_update_link_follows_the_endpoint() {
        let amazon = client_with(None, Region::Eu);
        assert_eq!(
            amazon
                .payment_method_update_url("S01-1234567-1234567")
                .unwrap(),
            "https://payments.amazon.com/jr/your-account/ba/S01-1234567-1234567"
        );
        let jp = client_with(None, Region::Jp);
        assert_eq!(
            jp.payment_method_update_url("S01-1234567-1234567").unwrap(),
            "https://pay.amazon.com/jp/jr/your-account/ba/S01-1234567-1234567"
        );
        let local = client_with(Some("http://127.0.0.1:8085/"), Region::Eu);
        assert_eq!(
            local
                .payment_method_update_url("S01-1234567-1234567")
                .unwrap(),
            "http://127.0.0.1:8085/jr/your-account/ba/S01-1234567-1234567"
        );
        is_invalid(
            local.payment_method_update_url("../admin"),
            RequestError::InvalidResourceId,
        );
    }

    #[test]
    fn key_and_id_validation() {
        validate_idempotency_key(&new_idempotency_key()).expect("a fresh key is valid");
        assert_eq!(new_idempotency_key().len(), 32);
        for (bad, why) in [
            ("", IdempotencyKeyError::Empty),
            ("a b", IdempotencyKeyError::InvalidCharacter),
            (&"x".repeat(33), IdempotencyKeyError::TooLong(33)),
            ("é", IdempotencyKeyError::InvalidCharacter),
            ("a/b", IdempotencyKeyError::InvalidCharacter),
        ] {
            is_invalid(
                validate_idempotency_key(bad),
                RequestError::InvalidIdempotencyKey(why),
            );
        }
        validate_id("S01-1234567-1234567-C123456").expect("a charge id is valid");
        for bad in ["", "..", "a/b", "a?b", "a b", "%2e"] {
            is_invalid(validate_id(bad), RequestError::InvalidResourceId);
        }
    }
}
