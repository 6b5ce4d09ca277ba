//! Control API: the clock, faults, throttling, knobs, the ledger and the state file.

use axum::body::Bytes;
use axum::extract::State;
use serde::Deserialize;
use serde_json::json;

use super::{ok, parse, AppState, CResult, ControlError};
use crate::faults::{FaultConfig, Faults};
use crate::throttle::QuotaJson;

/// Largest single clock advance, so simulated timestamps stay representable.
const MAX_ADVANCE_SECS: i64 = 100 * 366 * 24 * 3600;

fn clock_json(now_ms: i64, offset_ms: i64) -> serde_json::Value {
    let now = savedwallet_shared::timestamp::AmazonTimestamp::from_unix(now_ms.div_euclid(1000));
    json!({"now": now.map(|t| t.to_basic()), "nowUnixMs": now_ms, "offsetSeconds": offset_ms / 1000})
}

fn clock_now(app: &crate::state::App) -> serde_json::Value {
    let core = app.core.lock();
    clock_json(core.now_ms(), core.state.clock_offset_ms)
}

pub(super) async fn clock(State(app): AppState) -> CResult {
    ok(200, clock_now(&app))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Advance {
    seconds: i64,
}

pub(super) async fn advance(State(app): AppState, body: Bytes) -> CResult {
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
    ok(200, clock_now(&app))
}

pub(super) async fn set_faults(State(app): AppState, body: Bytes) -> CResult {
    let cfg: FaultConfig = parse(&body)?;
    cfg.validate().map_err(ControlError::bad)?;
    *app.faults.lock() = Faults::new(cfg.clone());
    ok(200, serde_json::to_value(cfg).unwrap_or_default())
}

pub(super) async fn get_faults(State(app): AppState) -> CResult {
    let cfg = app.faults.lock().config().clone();
    ok(200, serde_json::to_value(cfg).unwrap_or_default())
}

pub(super) async fn clear_faults(State(app): AppState) -> CResult {
    *app.faults.lock() = Faults::default();
    ok(200, json!({"cleared": true}))
}

pub(super) async fn set_throttling(State(app): AppState, body: Bytes) -> CResult {
    let req: QuotaJson = parse(&body)?;
    let mut t = app.throttle.lock();
    let next = t.config().merged(req).map_err(ControlError::bad)?;
    t.set_config(next);
    ok(200, t.config().to_json())
}

pub(super) async fn get_throttling(State(app): AppState) -> CResult {
    let v = app.throttle.lock().config().to_json();
    ok(200, v)
}

pub(super) async fn get_knobs(State(app): AppState) -> CResult {
    let knobs = app.core.lock().knobs.clone();
    ok(200, serde_json::to_value(knobs).unwrap_or_default())
}

pub(super) async fn patch_knobs(State(app): AppState, body: Bytes) -> CResult {
    let patch: serde_json::Value = parse(&body)?;
    let mut core = app.core.lock();
    core.knobs = core.knobs.merged(&patch).map_err(ControlError::bad)?;
    ok(200, serde_json::to_value(&core.knobs).unwrap_or_default())
}

pub(super) async fn ledger(State(app): AppState) -> CResult {
    app.tick();
    ok(200, app.ledger_json())
}

pub(super) async fn flush(State(app): AppState) -> CResult {
    app.flush()
        .await
        .map_err(|e| ControlError::bad(e.to_string()))?;
    ok(200, json!({"flushed": app.persist.enabled()}))
}
