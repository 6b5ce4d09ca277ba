//! Control API: IPN endpoints (with their SignatureVersion) and delivery faults.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use serde::Deserialize;
use serde_json::json;

use super::{ok, parse, AppState, CResult, ControlError};
use crate::ipn::{DeliveryFaults, SignatureVersion, SnsSubscription};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AddIpn {
    url: String,
    /// `"1"` or `"2"` (default: the sandbox's, 1 unless configured).
    signature_version: Option<SignatureVersion>,
}

fn subscription_json(s: &SnsSubscription) -> serde_json::Value {
    json!({
        "subscriptionArn": s.subscription_arn,
        "endpoint": s.endpoint.as_str(),
        "confirmed": s.confirmed,
        "signatureVersion": s.signature_version,
    })
}

pub(super) async fn add(State(app): AppState, body: Bytes) -> CResult {
    let req: AddIpn = parse(&body)?;
    let url = url::Url::parse(&req.url).map_err(|e| ControlError::bad(e.to_string()))?;
    let version = req
        .signature_version
        .unwrap_or(app.ipn.config().signature_version);
    let sub = app
        .ipn
        .register_endpoint_with(url, version)
        .await
        .map_err(|e| ControlError::bad(e.to_string()))?;
    app.mark_dirty();
    ok(201, subscription_json(&sub))
}

pub(super) async fn list(State(app): AppState) -> CResult {
    let subs: Vec<_> = app
        .ipn
        .subscriptions()
        .iter()
        .map(subscription_json)
        .collect();
    ok(200, json!({ "subscriptions": subs }))
}

/// Body of `PUT /_sandbox/ipn-delivery`; absent fields keep their value.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DeliveryBody {
    duplicate_rate: Option<f64>,
    reorder_rate: Option<f64>,
    reorder_max_hold_ms: Option<u64>,
}

fn delivery_json(f: DeliveryFaults) -> serde_json::Value {
    json!({
        "duplicateRate": f.duplicate_rate,
        "reorderRate": f.reorder_rate,
        "reorderMaxHoldMs": u64::try_from(f.reorder_max_hold.as_millis()).unwrap_or(u64::MAX),
    })
}

pub(super) async fn set_delivery(State(app): AppState, body: Bytes) -> CResult {
    let req: DeliveryBody = parse(&body)?;
    let mut f = app.ipn.delivery_faults();
    if let Some(r) = req.duplicate_rate {
        f.duplicate_rate = r;
    }
    if let Some(r) = req.reorder_rate {
        f.reorder_rate = r;
    }
    if let Some(ms) = req.reorder_max_hold_ms {
        f.reorder_max_hold = Duration::from_millis(ms);
    }
    app.ipn
        .set_delivery_faults(f)
        .map_err(|e| ControlError::bad(e.to_string()))?;
    ok(200, delivery_json(f))
}

pub(super) async fn get_delivery(State(app): AppState) -> CResult {
    ok(200, delivery_json(app.ipn.delivery_faults()))
}
