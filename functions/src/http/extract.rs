//! Our own extractors, whose rejections are our errors: a JSON body (400
//! `invalid_request` naming the field, 413 over the size limit, unknown fields refused where
//! the DTO says so), an id in the path (malformed → 404, exactly like a missing one), a
//! query string (400 naming the parameter), the `Idempotency-Key` header and the request's
//! deadline.

use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, Method};
use lambda_http::RequestExt;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};

use savedwallet_app::ids::*;

use super::error::AppError;
use super::AppState;

/// A JSON body, parsed, with the SHA-256 of its canonical form (the idempotency payload
/// hash: objects' keys sorted, so key order and whitespace do not matter).
#[derive(Debug)]
pub struct JsonBody<T> {
    /// The body.
    pub value: T,
    /// Hex SHA-256 of the canonical JSON.
    pub hash: String,
}

/// A JSON body that may be absent (an empty body reads as `{}`).
#[derive(Debug)]
pub struct OptionalJson<T>(pub JsonBody<T>);

async fn read_body(req: Request, limit: usize) -> Result<Bytes, AppError> {
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| AppError::PayloadTooLarge { limit })
}

fn is_json(content_type: Option<&header::HeaderValue>) -> bool {
    content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// Parses bytes as `T`, naming the offending field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<JsonBody<T>, AppError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|_| {
        AppError::Service(savedwallet_app::ServiceError::InvalidRequest {
            param: None,
            message: "the body is not valid JSON".into(),
        })
    })?;
    let hash = hex::encode(Sha256::digest(canonical(&value).as_bytes()));
    let value = serde_path_to_error::deserialize(&value).map_err(|e| {
        let message = e.inner().to_string();
        AppError::Service(savedwallet_app::ServiceError::InvalidRequest {
            param: param_of(&e.path().to_string(), &message),
            message,
        })
    })?;
    Ok(JsonBody { value, hash })
}

/// The field an error is about: the path to it, with the field a "missing field `x`" or
/// "unknown field `x`" message names appended. `None` for the body itself.
fn param_of(path: &str, message: &str) -> Option<String> {
    let base = if path == "." { "" } else { path };
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|p| message.strip_prefix(p))
        .and_then(|rest| rest.split('`').next());
    match (base, named) {
        ("", None) => None,
        ("", Some(n)) => Some(n.to_string()),
        (b, None) => Some(b.to_string()),
        // Some deserializers already put the unknown field at the end of the path.
        (b, Some(n)) if b.rsplit('.').next() == Some(n) => Some(b.to_string()),
        (b, Some(n)) => Some(format!("{b}.{n}")),
    }
}

/// JSON text with every object's keys sorted (serde_json's default map is sorted already;
/// this does not depend on it).
pub fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::from(k.as_str()), canonical(&m[k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        if !is_json(req.headers().get(header::CONTENT_TYPE)) {
            return Err(AppError::invalid(
                "Content-Type",
                "the body must be JSON (Content-Type: application/json)",
            ));
        }
        let bytes = read_body(req, state.config().body_limit).await?;
        parse_json(&bytes)
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for OptionalJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        let json = is_json(req.headers().get(header::CONTENT_TYPE));
        let has_type = req.headers().contains_key(header::CONTENT_TYPE);
        let bytes = read_body(req, state.config().body_limit).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return parse_json(b"{}").map(OptionalJson);
        }
        if has_type && !json {
            return Err(AppError::invalid(
                "Content-Type",
                "the body must be JSON (Content-Type: application/json)",
            ));
        }
        parse_json(&bytes).map(OptionalJson)
    }
}

/// Ids that appear in paths, with the name a 404 uses.
pub trait PathIdKind: FromStr {
    /// "wallet", "payment", …
    const KIND: &'static str;
}

macro_rules! path_ids {
    ($($t:ty => $k:literal),* $(,)?) => {
        $(impl PathIdKind for $t { const KIND: &'static str = $k; })*
    };
}

path_ids!(
    WalletId => "wallet",
    SubscriptionId => "subscription",
    OrderId => "order",
    PaymentId => "payment",
    RefundId => "refund",
    PlanId => "plan",
    CustomerId => "customer",
);

/// An id in the path: a malformed one is 404, indistinguishable from a missing one.
#[derive(Debug, Clone)]
pub struct PathId<T>(pub T);

impl<T: PathIdKind + Send, S: Send + Sync> FromRequestParts<S> for PathId<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::not_found(T::KIND))?;
        T::from_str(&raw)
            .map(PathId)
            .map_err(|_| AppError::not_found(T::KIND))
    }
}

/// A query string parsed as `T` (400 `invalid_request` naming the parameter).
#[derive(Debug, Clone)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|e| {
                let message = e.inner().to_string();
                let param = param_of(&e.path().to_string(), &message);
                AppError::Service(savedwallet_app::ServiceError::InvalidRequest { param, message })
            })
    }
}

/// `?limit=&cursor=` of a list.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

/// The longest `Idempotency-Key` (API.md).
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// The `Idempotency-Key` header, if sent: 1 to 255 visible ASCII characters.
#[derive(Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl std::fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never printed: a key can identify a buyer's action.
        f.write_str("IdempotencyKey(…)")
    }
}

impl IdempotencyKey {
    /// Validates a key.
    pub fn parse(raw: &[u8]) -> Result<IdempotencyKey, AppError> {
        let ok = !raw.is_empty()
            && raw.len() <= MAX_IDEMPOTENCY_KEY
            && raw.iter().all(|b| (0x20..=0x7e).contains(b))
            && raw.first() != Some(&b' ')
            && raw.last() != Some(&b' ');
        if !ok {
            return Err(AppError::invalid(
                "Idempotency-Key",
                format!(
                    "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"
                ),
            ));
        }
        Ok(IdempotencyKey(String::from_utf8_lossy(raw).into_owned()))
    }

    /// The key's text (only for hashing; never log it).
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// The `Idempotency-Key` header (absent is `None`; present and invalid is 400).
#[derive(Debug, Clone)]
pub struct IdemHeader(pub Option<IdempotencyKey>);

impl<S: Send + Sync> FromRequestParts<S> for IdemHeader {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let mut values = parts.headers.get_all("idempotency-key").iter();
        let (Some(v), None) = (values.next(), values.next()) else {
            return if parts.headers.contains_key("idempotency-key") {
                Err(AppError::invalid(
                    "Idempotency-Key",
                    "send one Idempotency-Key header",
                ))
            } else {
                Ok(IdemHeader(None))
            };
        };
        IdempotencyKey::parse(v.as_bytes()).map(|k| IdemHeader(Some(k)))
    }
}

/// The request's method, path and time left (the Lambda context's deadline when there is
/// one, else the configured request deadline; at most 30 s).
#[derive(Debug, Clone)]
pub struct RequestMeta {
    /// Method.
    pub method: Method,
    /// Path (without the query).
    pub path: String,
    /// Time left to answer.
    pub time_left: Duration,
}

/// API Gateway ends every request at 30 s.
const GATEWAY_LIMIT: Duration = Duration::from_secs(30);

impl FromRequestParts<AppState> for RequestMeta {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let configured = state.config().request_deadline.min(GATEWAY_LIMIT);
        let time_left = match parts.extensions.lambda_context_ref() {
            Some(ctx) if ctx.deadline > 0 => {
                let now_ms = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_millis())
                    .unwrap_or_default();
                let left = u128::from(ctx.deadline).saturating_sub(now_ms);
                Duration::from_millis(u64::try_from(left).unwrap_or(u64::MAX)).min(configured)
            }
            _ => configured,
        };
        Ok(RequestMeta {
            method: parts.method.clone(),
            path: parts.uri.path().to_string(),
            time_left: time_left.max(Duration::from_secs(1)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_name_the_field() {
        assert_eq!(
            param_of(".", "missing field `walletId`"),
            Some("walletId".into())
        );
        assert_eq!(
            param_of("amount", "missing field `currencyCode`"),
            Some("amount.currencyCode".into())
        );
        assert_eq!(
            param_of(".", "unknown field `x`, expected one of `a`"),
            Some("x".into())
        );
        assert_eq!(
            param_of("amount.amount", "invalid type"),
            Some("amount.amount".into())
        );
        assert_eq!(param_of(".", "invalid type: string"), None);
        assert_eq!(
            param_of("color", "unknown field `color`"),
            Some("color".into())
        );
    }

    #[test]
    fn canonical_json_ignores_key_order_and_whitespace() {
        let a: Value = serde_json::from_str(r#"{"b": 1, "a": {"y": [1, 2], "x": null}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":{"x":null,"y":[1,2]},"b":1}"#).unwrap();
        assert_eq!(canonical(&a), canonical(&b));
        assert_eq!(canonical(&a), r#"{"a":{"x":null,"y":[1,2]},"b":1}"#);
        let c: Value = serde_json::from_str(r#"{"a":{"x":null,"y":[2,1]},"b":1}"#).unwrap();
        assert_ne!(canonical(&a), canonical(&c));
    }

    #[test]
    fn idempotency_keys_are_bounded() {
        assert!(IdempotencyKey::parse(b"order-1234").is_ok());
        assert!(IdempotencyKey::parse(&[b'k'; 255]).is_ok());
        assert!(IdempotencyKey::parse(&[b'k'; 256]).is_err());
        assert!(IdempotencyKey::parse(b"").is_err());
        assert!(IdempotencyKey::parse(b"a\nb").is_err());
        assert!(IdempotencyKey::parse(" lead".as_bytes()).is_err());
        assert!(IdempotencyKey::parse("ключ".as_bytes()).is_err());
    }
}
