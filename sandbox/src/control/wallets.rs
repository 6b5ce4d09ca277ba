//! Control API: public keys, buyers, wallets, the buyer's actions and permission states.

use axum::body::Bytes;
use axum::extract::{Path, State};
use savedwallet_shared::api::{ChargePermissionState, ReasonCode};
use savedwallet_shared::money::{Currency, Price};
use savedwallet_shared::region::{Environment, Region};
use serde::Deserialize;
use serde_json::json;

use super::{ok, parse, AppState, CResult, ControlError};
use crate::knobs::{HardDeclineEffect, MfaFailureEffect, WalletKnobs};
use crate::model::{MfaOutcome, PendingOutcome, Preset};
use crate::wallets::{create_wallet, WalletOptions};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AddKey {
    public_key_id: String,
    public_key_pem: String,
}

pub(super) async fn add_key(State(app): AppState, body: Bytes) -> CResult {
    let req: AddKey = parse(&body)?;
    app.keys
        .insert(&req.public_key_id, &req.public_key_pem)
        .map_err(|e| ControlError::bad(e.to_string()))?;
    app.act(|core, _| {
        core.state
            .public_keys
            .insert(req.public_key_id.clone(), req.public_key_pem)
    });
    ok(201, json!({"publicKeyId": req.public_key_id}))
}

pub(super) async fn list_keys(State(app): AppState) -> CResult {
    ok(200, json!({"publicKeyIds": app.keys.ids()}))
}

pub(super) async fn remove_key(State(app): AppState, Path(id): Path<String>) -> CResult {
    let existed = app.keys.remove(&id);
    app.act(|core, _| core.state.public_keys.remove(&id));
    if existed {
        ok(200, json!({"removed": id}))
    } else {
        Err(ControlError::not_found(format!("no key {id}")))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AddBuyer {
    name: Option<String>,
    email: Option<String>,
}

pub(super) async fn add_buyer(State(app): AppState, body: Bytes) -> CResult {
    let req: AddBuyer = parse(&body)?;
    let id = app.act(|core, _| core.add_buyer(req.name, req.email));
    ok(201, json!({"buyerId": id}))
}

/// Body of `POST /_sandbox/charge-permissions`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreatePermissionRequest {
    preset: Option<String>,
    region: Option<String>,
    currency: Option<String>,
    environment: Option<String>,
    buyer_id: Option<String>,
    soft_declines: Option<u32>,
    async_delay_seconds: Option<i64>,
    monthly_limit: Option<String>,
    /// async-decline: the Declined reason (SoftDeclined, HardDeclined, AmazonRejected, …).
    async_decline_reason: Option<String>,
    /// Asynchronous captures end Declined with this reason (default: Captured).
    capture_decline_reason: Option<String>,
    hard_decline: Option<HardDeclineEffect>,
    mfa_failure: Option<MfaFailureEffect>,
    sync_latency_ms: Option<u64>,
}

fn preset_of(p: Option<&str>) -> Result<Preset, ControlError> {
    match p {
        None => Ok(Preset::AlwaysApprove),
        Some(s) => Preset::parse(s).ok_or_else(|| {
            ControlError::bad(format!(
                "unknown preset {s:?}; expected one of {}",
                Preset::ALL.map(|p| p.name()).join(", ")
            ))
        }),
    }
}

fn decline_of(reason: Option<&str>) -> Result<Option<PendingOutcome>, ControlError> {
    reason
        .map(|r| {
            PendingOutcome::from_decline_reason(r).ok_or_else(|| {
                ControlError::bad(format!(
                    "{r:?} is not an asynchronous decline reason (SoftDeclined, HardDeclined, \
                     AmazonRejected, ProcessingFailure, TransactionTimedOut)"
                ))
            })
        })
        .transpose()
}

impl CreatePermissionRequest {
    fn options(self) -> Result<WalletOptions, ControlError> {
        let bad = |e: String| ControlError::bad(e);
        let region: Region = self
            .region
            .as_deref()
            .unwrap_or("na")
            .parse()
            .map_err(|e: savedwallet_shared::region::UnknownRegion| bad(e.to_string()))?;
        let currency: Currency = match self.currency.as_deref() {
            None => Currency::ledger_for(region),
            Some(c) => c
                .parse()
                .map_err(|e: savedwallet_shared::money::MoneyError| bad(e.to_string()))?,
        };
        let environment: Environment = self
            .environment
            .as_deref()
            .unwrap_or("sandbox")
            .parse()
            .map_err(|e: savedwallet_shared::region::UnknownEnvironment| bad(e.to_string()))?;
        let monthly_limit = self
            .monthly_limit
            .as_deref()
            .map(|s| Price::parse(s, currency).map_err(|e| bad(e.to_string())))
            .transpose()?;
        Ok(WalletOptions {
            preset: preset_of(self.preset.as_deref())?,
            region,
            currency: Some(currency),
            environment,
            buyer_id: self.buyer_id,
            soft_declines: self.soft_declines,
            async_delay_secs: self.async_delay_seconds,
            monthly_limit,
            async_decline: decline_of(self.async_decline_reason.as_deref())?,
            capture_outcome: decline_of(self.capture_decline_reason.as_deref())?,
            knobs: WalletKnobs {
                hard_decline: self.hard_decline,
                mfa_failure: self.mfa_failure,
                sync_latency_ms: self.sync_latency_ms,
            },
        })
    }
}

pub(super) async fn create_permission(State(app): AppState, body: Bytes) -> CResult {
    let req: CreatePermissionRequest = parse(&body)?;
    let obj = create_wallet(&app, &req.options()?).map_err(ControlError::bad)?;
    let v = serde_json::to_value(obj).map_err(|e| ControlError::bad(e.to_string()))?;
    ok(201, v)
}

pub(super) async fn buyer_close(State(app): AppState, Path(id): Path<String>) -> CResult {
    app.act(|core, now| core.buyer_close(&id, now))?;
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

/// The `{"preset"}` of a buyer's choice (default always-approve).
fn preset_in(body: &Bytes) -> Result<Preset, ControlError> {
    let req: PresetBody = parse(body)?;
    preset_of(req.preset.as_deref())
}

pub(super) async fn update_payment_method(
    State(app): AppState,
    Path(id): Path<String>,
    body: Bytes,
) -> CResult {
    let preset = preset_in(&body)?;
    app.act(|core, now| core.buyer_update_payment_method(&id, preset, now))?;
    ok(
        200,
        json!({"chargePermissionId": id, "state": "Chargeable"}),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StateBody {
    state: String,
    reason_code: Option<String>,
}

pub(super) async fn set_permission_state(
    State(app): AppState,
    Path(id): Path<String>,
    body: Bytes,
) -> CResult {
    let req: StateBody = parse(&body)?;
    let state = ChargePermissionState::parse_known(&req.state)
        .ok_or_else(|| ControlError::bad(format!("unknown state {:?}", req.state)))?;
    let reason = req.reason_code.as_deref().map(ReasonCode::parse);
    let (changed, obj) = app.act(|core, now| {
        core.force_permission_state(&id, state, reason, now)
            .map(|changed| (changed, core.render_permission(&id, now)))
    })?;
    let obj = obj.ok_or_else(|| ControlError::not_found(format!("no charge permission {id}")))?;
    let mut v = serde_json::to_value(obj).map_err(|e| ControlError::bad(e.to_string()))?;
    v["changed"] = json!(changed);
    ok(200, v)
}

pub(super) async fn session_buyer(
    State(app): AppState,
    Path(id): Path<String>,
    body: Bytes,
) -> CResult {
    let preset = preset_in(&body)?;
    let target = app.act(|core, _| core.buyer_choose(&id, preset, &app.base_url))?;
    ok(200, json!({"redirectUrl": target}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MfaBody {
    outcome: MfaOutcome,
}

pub(super) async fn session_mfa(
    State(app): AppState,
    Path(id): Path<String>,
    body: Bytes,
) -> CResult {
    let req: MfaBody = parse(&body)?;
    let target = app.act(|core, _| core.buyer_mfa(&id, req.outcome))?;
    ok(200, json!({"redirectUrl": target}))
}
