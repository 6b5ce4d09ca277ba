//! The control API under `/_sandbox/` (never an Amazon path): keys, buyers, wallets with
//! behaviour presets, IPN endpoints, the clock, faults, throttling and the ledger.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use savedwallet_shared::api::{Buyer, ChargePermissionType};
use savedwallet_shared::money::{Currency, Price};
use savedwallet_shared::region::{Environment, Region};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use crate::faults::{FaultConfig, Faults};
use crate::model::{MfaOutcome, Preset, Wallet};
use crate::server::App;

type AppState = State<Arc<App>>;

/// Largest single clock advance, so simulated timestamps stay representable.
const MAX_ADVANCE_SECS: i64 = 100 * 366 * 24 * 3600;
/// Largest async delay of a preset: Amazon gives its final answer within 24 h.
const MAX_ASYNC_DELAY_SECS: i64 = 24 * 3600;

/// A control API error: status + `{"error": "..."}`.
#[derive(Debug, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ControlError {
    status: u16,
    message: String,
}

impl ControlError {
    fn bad(message: impl Into<String>) -> Self {
        ControlError {
            status: 400,
            message: message.into(),
        }
    }
}

impl From<crate::error::ApiError> for ControlError {
    fn from(e: crate::error::ApiError) -> Self {
        ControlError {
            status: e.status,
            message: format!("{}: {}", e.reason, e.message),
        }
    }
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let status = axum::http::StatusCode::from_u16(self.status)
            .unwrap_or(axum::http::StatusCode::BAD_REQUEST);
        (status, Json(json!({"error": self.message}))).into_response()
    }
}

type CResult = Result<Response, ControlError>;

fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, ControlError> {
    let b: &[u8] = if body.iter().all(|c| c.is_ascii_whitespace()) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(b).map_err(|e| ControlError::bad(format!("invalid JSON body: {e}")))
}

fn ok(status: u16, v: serde_json::Value) -> CResult {
    let status = axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::OK);
    Ok((status, Json(v)).into_response())
}

/// Routes of the control API.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/_sandbox", get(index))
        .route("/_sandbox/", get(index))
        .route("/_sandbox/keys", post(add_key).get(list_keys))
        .route("/_sandbox/keys/{id}", delete(remove_key))
        .route("/_sandbox/buyers", post(add_buyer))
        .route("/_sandbox/charge-permissions", post(create_permission))
        .route(
            "/_sandbox/charge-permissions/{id}/buyer-close",
            post(buyer_close),
        )
        .route(
            "/_sandbox/charge-permissions/{id}/payment-method",
            post(update_payment_method),
        )
        .route(
            "/_sandbox/checkout-sessions/{id}/buyer",
            post(session_buyer),
        )
        .route("/_sandbox/checkout-sessions/{id}/mfa", post(session_mfa))
        .route("/_sandbox/ipn-endpoints", post(add_ipn).get(list_ipn))
        .route("/_sandbox/clock", get(clock))
        .route("/_sandbox/clock/advance", post(advance))
        .route(
            "/_sandbox/faults",
            put(set_faults).get(get_faults).delete(clear_faults),
        )
        .route(
            "/_sandbox/throttling",
            put(set_throttling).get(get_throttling),
        )
        .route("/_sandbox/ledger", get(ledger))
        .route("/_sandbox/flush", post(flush))
}

/// Human/machine readable index of the control API.
pub const CONTROL_API_HELP: &str = "\
Control API (JSON, unsigned, under /_sandbox/):
  GET    /_sandbox                                   this index
  POST   /_sandbox/keys                              {\"publicKeyId\", \"publicKeyPem\"} register a public key
  GET    /_sandbox/keys                              registered key ids
  DELETE /_sandbox/keys/{id}                         forget a key
  POST   /_sandbox/buyers                            {\"name\", \"email\"} -> {\"buyerId\"}
  POST   /_sandbox/charge-permissions                {\"preset\", \"region\", \"currency\", \"environment\", \"buyerId\",
                                                      \"softDeclines\", \"asyncDelaySeconds\", \"monthlyLimit\"}
                                                     -> 201 + Amazon's Get Charge Permission JSON (Chargeable Saved Wallet)
  POST   /_sandbox/charge-permissions/{id}/buyer-close       buyer closes the Saved Wallet (Closed/BuyerClosed + IPN)
  POST   /_sandbox/charge-permissions/{id}/payment-method    {\"preset\"} buyer updates the method (Chargeable + IPN)
  POST   /_sandbox/checkout-sessions/{id}/buyer      {\"preset\"} buyer picks a payment method (like the consent page)
  POST   /_sandbox/checkout-sessions/{id}/mfa        {\"outcome\": \"approved\"|\"failed\"|\"abandoned\"} MFA challenge result
  POST   /_sandbox/ipn-endpoints                     {\"url\"} subscribe an IPN endpoint (SubscriptionConfirmation sent)
  GET    /_sandbox/ipn-endpoints                     subscriptions
  GET    /_sandbox/clock                             simulated now
  POST   /_sandbox/clock/advance                     {\"seconds\"} advance the clock; due timers fire
  PUT    /_sandbox/faults                            {\"latencyMs\", \"rate429\", \"rate5xx\", \"dropResponseRate\", \"dropMode\": \"abort\"|\"hang\",
                                                      \"hangMs\", \"resetRate\", \"seed\", \"remaining\", \"operations\": [\"CreateCharge\"]}
  GET|DELETE /_sandbox/faults                        read / clear faults
  PUT    /_sandbox/throttling                        {\"enabled\": bool}
  GET    /_sandbox/ledger                            every permission, charge, refund, session, IPN published and delivered
  POST   /_sandbox/flush                             write the --state file now
Presets: always-approve, soft-decline, hard-decline-until-updated, mfa-required, async-approve,
         async-decline, low-limit, setup-buyer-canceled, setup-declined
Buyer pages: /checkout/{checkoutSessionId}, /mfa/{checkoutSessionId}, /jr/your-account/ba/{chargePermissionId}
";

async fn index() -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        CONTROL_API_HELP,
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AddKey {
    public_key_id: String,
    public_key_pem: String,
}

async fn add_key(State(app): AppState, body: Bytes) -> CResult {
    let req: AddKey = parse(&body)?;
    app.keys
        .insert(&req.public_key_id, &req.public_key_pem)
        .map_err(|e| ControlError::bad(e.to_string()))?;
    app.core
        .lock()
        .state
        .public_keys
        .insert(req.public_key_id.clone(), req.public_key_pem);
    app.mark_dirty();
    ok(201, json!({"publicKeyId": req.public_key_id}))
}

async fn list_keys(State(app): AppState) -> CResult {
    ok(200, json!({"publicKeyIds": app.keys.ids()}))
}

async fn remove_key(State(app): AppState, Path(id): Path<String>) -> CResult {
    let existed = app.keys.remove(&id);
    app.core.lock().state.public_keys.remove(&id);
    app.mark_dirty();
    if existed {
        ok(200, json!({"removed": id}))
    } else {
        Err(ControlError {
            status: 404,
            message: format!("no key {id}"),
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AddBuyer {
    name: Option<String>,
    email: Option<String>,
}

async fn add_buyer(State(app): AppState, body: Bytes) -> CResult {
    let req: AddBuyer = parse(&body)?;
    let id = {
        let mut core = app.core.lock();
        let t = core.token();
        let id = format!("amzn1.account.{}", t[..24].to_ascii_uppercase());
        core.state.buyers.insert(
            id.clone(),
            Buyer {
                buyer_id: Some(id.clone()),
                name: req.name.or(Some("Sandbox Buyer".into())),
                email: req.email.or(Some("buyer@example.com".into())),
                phone_number: None,
                prime_membership_types: None,
            },
        );
        id
    };
    app.mark_dirty();
    ok(201, json!({"buyerId": id}))
}

/// Body of `POST /_sandbox/charge-permissions`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePermissionRequest {
    /// Behaviour preset (default always-approve).
    pub preset: Option<String>,
    /// Region (default na).
    pub region: Option<String>,
    /// Currency (default: the region's ledger currency).
    pub currency: Option<String>,
    /// `Sandbox` (default) or `Live`.
    pub environment: Option<String>,
    /// A buyer created with `POST /_sandbox/buyers`.
    pub buyer_id: Option<String>,
    /// soft-decline: how many charges to decline (default 2).
    pub soft_declines: Option<u32>,
    /// async presets: seconds until the result (default: the sandbox's async delay).
    pub async_delay_seconds: Option<i64>,
    /// Monthly limit override as a decimal string (low-limit default: 100).
    pub monthly_limit: Option<String>,
}

async fn create_permission(State(app): AppState, body: Bytes) -> CResult {
    let req: CreatePermissionRequest = parse(&body)?;
    let preset = match req.preset.as_deref() {
        None => Preset::AlwaysApprove,
        Some(p) => Preset::parse(p).ok_or_else(|| {
            ControlError::bad(format!(
                "unknown preset {p:?}; expected one of {}",
                Preset::ALL.map(|p| p.name()).join(", ")
            ))
        })?,
    };
    let region: Region =
        req.region.as_deref().unwrap_or("na").parse().map_err(
            |e: savedwallet_shared::region::UnknownRegion| ControlError::bad(e.to_string()),
        )?;
    let currency: Currency = match req.currency.as_deref() {
        None => Currency::ledger_for(region),
        Some(c) => c
            .parse()
            .map_err(|e: savedwallet_shared::money::MoneyError| ControlError::bad(e.to_string()))?,
    };
    let env: Environment = req
        .environment
        .as_deref()
        .unwrap_or("sandbox")
        .parse()
        .map_err(ControlError::bad)?;
    let delay = req.async_delay_seconds.unwrap_or(app.cfg.async_delay_secs);
    if !(0..=MAX_ASYNC_DELAY_SECS).contains(&delay) {
        return Err(ControlError::bad(format!(
            "asyncDelaySeconds must be 0 to {MAX_ASYNC_DELAY_SECS} (Amazon answers within 24 h)"
        )));
    }
    let mut wallet = Wallet::new(preset, delay);
    if let Some(n) = req.soft_declines {
        wallet.soft_declines_remaining = n;
    }
    wallet.monthly_limit_minor = match req.monthly_limit.as_deref() {
        Some(s) => Some(
            Price::parse(s, currency)
                .map_err(|e| ControlError::bad(e.to_string()))?
                .minor_units(),
        ),
        None if preset == Preset::LowLimit => Some(100 * currency.minor_per_major()),
        None => None,
    };
    let obj = {
        let mut core = app.core.lock();
        let now = chrono::Utc::now().timestamp_millis() + core.state.clock_offset_ms;
        let buyer = match &req.buyer_id {
            Some(b) => Some(
                core.state
                    .buyers
                    .get(b)
                    .cloned()
                    .ok_or_else(|| ControlError::bad(format!("unknown buyerId {b}")))?,
            ),
            None => None,
        };
        let id = core.create_permission(
            env,
            region,
            currency,
            wallet,
            ChargePermissionType::PaymentMethodOnFile,
            buyer,
            None,
            now,
        );
        core.render_permission(&id, now)
    };
    app.mark_dirty();
    let v = serde_json::to_value(obj).map_err(|e| ControlError::bad(e.to_string()))?;
    ok(201, v)
}

async fn buyer_close(State(app): AppState, Path(id): Path<String>) -> CResult {
    let outbox = {
        let mut core = app.core.lock();
        let now = chrono::Utc::now().timestamp_millis() + core.state.clock_offset_ms;
        core.tick(now);
        core.buyer_close(&id, now)?;
        std::mem::take(&mut core.outbox)
    };
    app.publish(outbox);
    app.mark_dirty();
    ok(
        200,
        json!({"chargePermissionId": id, "state": "Closed", "reasonCode": "BuyerClosed"}),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PresetBody {
    preset: Option<String>,
}

fn preset_of(p: &Option<String>) -> Result<Preset, ControlError> {
    match p.as_deref() {
        None => Ok(Preset::AlwaysApprove),
        Some(s) => {
            Preset::parse(s).ok_or_else(|| ControlError::bad(format!("unknown preset {s:?}")))
        }
    }
}

async fn update_payment_method(
    State(app): AppState,
    Path(id): Path<String>,
    body: Bytes,
) -> CResult {
    let req: PresetBody = parse(&body)?;
    let preset = preset_of(&req.preset)?;
    let outbox = {
        let mut core = app.core.lock();
        let now = chrono::Utc::now().timestamp_millis() + core.state.clock_offset_ms;
        core.tick(now);
        core.buyer_update_payment_method(&id, preset, now)?;
        std::mem::take(&mut core.outbox)
    };
    app.publish(outbox);
    app.mark_dirty();
    ok(
        200,
        json!({"chargePermissionId": id, "state": "Chargeable"}),
    )
}

async fn session_buyer(State(app): AppState, Path(id): Path<String>, body: Bytes) -> CResult {
    let req: PresetBody = parse(&body)?;
    let preset = preset_of(&req.preset)?;
    let target = {
        let mut core = app.core.lock();
        let now = chrono::Utc::now().timestamp_millis() + core.state.clock_offset_ms;
        core.tick(now);
        core.buyer_choose(&id, preset)?
    };
    app.mark_dirty();
    ok(200, json!({"redirectUrl": target}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MfaBody {
    outcome: MfaOutcome,
}

async fn session_mfa(State(app): AppState, Path(id): Path<String>, body: Bytes) -> CResult {
    let req: MfaBody = parse(&body)?;
    let target = {
        let mut core = app.core.lock();
        let now = chrono::Utc::now().timestamp_millis() + core.state.clock_offset_ms;
        core.tick(now);
        core.buyer_mfa(&id, req.outcome)?
    };
    app.mark_dirty();
    ok(200, json!({"redirectUrl": target}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AddIpn {
    url: String,
}

async fn add_ipn(State(app): AppState, body: Bytes) -> CResult {
    let req: AddIpn = parse(&body)?;
    let url = url::Url::parse(&req.url).map_err(|e| ControlError::bad(e.to_string()))?;
    let sub = app
        .ipn
        .register_endpoint(url)
        .await
        .map_err(|e| ControlError::bad(e.to_string()))?;
    app.mark_dirty();
    ok(
        201,
        json!({"subscriptionArn": sub.subscription_arn, "endpoint": sub.endpoint.as_str(), "confirmed": sub.confirmed}),
    )
}

async fn list_ipn(State(app): AppState) -> CResult {
    let subs: Vec<_> = app
        .ipn
        .subscriptions()
        .into_iter()
        .map(|s| json!({"subscriptionArn": s.subscription_arn, "endpoint": s.endpoint.as_str(), "confirmed": s.confirmed}))
        .collect();
    ok(200, json!({ "subscriptions": subs }))
}

fn clock_json(now_ms: i64, offset_ms: i64) -> serde_json::Value {
    let now = savedwallet_shared::timestamp::AmazonTimestamp::from_unix(now_ms.div_euclid(1000));
    json!({"now": now.map(|t| t.to_basic()), "nowUnixMs": now_ms, "offsetSeconds": offset_ms / 1000})
}

async fn clock(State(app): AppState) -> CResult {
    let (now, off) = {
        let core = app.core.lock();
        let off = core.state.clock_offset_ms;
        (chrono::Utc::now().timestamp_millis() + off, off)
    };
    ok(200, clock_json(now, off))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Advance {
    seconds: i64,
}

async fn advance(State(app): AppState, body: Bytes) -> CResult {
    let req: Advance = parse(&body)?;
    if req.seconds < 0 {
        return Err(ControlError::bad("the clock only moves forward"));
    }
    if req.seconds > MAX_ADVANCE_SECS {
        return Err(ControlError::bad(format!(
            "seconds must be at most {MAX_ADVANCE_SECS} (100 years) per call"
        )));
    }
    app.advance_clock_secs(req.seconds);
    let (now, off) = {
        let core = app.core.lock();
        let off = core.state.clock_offset_ms;
        (chrono::Utc::now().timestamp_millis() + off, off)
    };
    ok(200, clock_json(now, off))
}

async fn set_faults(State(app): AppState, body: Bytes) -> CResult {
    let cfg: FaultConfig = parse(&body)?;
    cfg.validate().map_err(ControlError::bad)?;
    *app.faults.lock() = Faults::new(cfg.clone());
    ok(200, serde_json::to_value(cfg).unwrap_or_default())
}

async fn get_faults(State(app): AppState) -> CResult {
    let cfg = app.faults.lock().config().clone();
    ok(200, serde_json::to_value(cfg).unwrap_or_default())
}

async fn clear_faults(State(app): AppState) -> CResult {
    *app.faults.lock() = Faults::default();
    ok(200, json!({"cleared": true}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ThrottlingBody {
    enabled: bool,
}

async fn set_throttling(State(app): AppState, body: Bytes) -> CResult {
    let req: ThrottlingBody = parse(&body)?;
    app.set_throttling(req.enabled);
    ok(200, json!({"enabled": req.enabled}))
}

async fn get_throttling(State(app): AppState) -> CResult {
    ok(200, json!({"enabled": app.throttling_enabled()}))
}

async fn ledger(State(app): AppState) -> CResult {
    app.tick();
    let v = app.ledger_json();
    ok(200, v)
}

async fn flush(State(app): AppState) -> CResult {
    app.flush()
        .await
        .map_err(|e| ControlError::bad(e.to_string()))?;
    ok(200, json!({"flushed": app.cfg.state_file.is_some()}))
}
