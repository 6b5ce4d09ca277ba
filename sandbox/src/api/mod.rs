//! The Amazon Pay API v2 surface: routing under `/v2`, `/sandbox/v2` and `/live/v2`,
//! signature verification, throttling, idempotency, faults, then one engine call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use savedwallet_shared::api::*;
use savedwallet_shared::region::{Environment, KeyEnvironment, Region};
use savedwallet_shared::signing::{
    hex_sha256, HEADER_IDEMPOTENCY_KEY, HEADER_REGION, HEADER_REQUEST_ID, HEADER_SIMULATION_CODE,
};
use serde::de::DeserializeOwned;

use crate::engine::{Core, Ctx, OpResult};
use crate::error::ApiError;
use crate::faults::{DropMode, FaultAction};
use crate::model::IdempotencyRecord;
use crate::server::App;
use crate::verify::{verify, VerifyOptions};

/// Largest accepted request body.
const MAX_BODY: usize = 1 << 20;

/// One Amazon Pay operation with its path ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// POST checkoutSessions.
    CreateCheckoutSession,
    /// GET checkoutSessions/{id}.
    GetCheckoutSession(String),
    /// PATCH checkoutSessions/{id}.
    UpdateCheckoutSession(String),
    /// POST checkoutSessions/{id}/complete.
    CompleteCheckoutSession(String),
    /// GET chargePermissions/{id}.
    GetChargePermission(String),
    /// PATCH chargePermissions/{id}.
    UpdateChargePermission(String),
    /// DELETE chargePermissions/{id}/close.
    CloseChargePermission(String),
    /// POST charges.
    CreateCharge,
    /// GET charges/{id}.
    GetCharge(String),
    /// POST charges/{id}/capture.
    CaptureCharge(String),
    /// DELETE charges/{id}/cancel.
    CancelCharge(String),
    /// POST refunds.
    CreateRefund,
    /// GET refunds/{id}.
    GetRefund(String),
}

impl Op {
    /// The operation name used by throttling and fault filters.
    pub fn name(&self) -> &'static str {
        match self {
            Op::CreateCheckoutSession => "CreateCheckoutSession",
            Op::GetCheckoutSession(_) => "GetCheckoutSession",
            Op::UpdateCheckoutSession(_) => "UpdateCheckoutSession",
            Op::CompleteCheckoutSession(_) => "CompleteCheckoutSession",
            Op::GetChargePermission(_) => "GetChargePermission",
            Op::UpdateChargePermission(_) => "UpdateChargePermission",
            Op::CloseChargePermission(_) => "CloseChargePermission",
            Op::CreateCharge => "CreateCharge",
            Op::GetCharge(_) => "GetCharge",
            Op::CaptureCharge(_) => "CaptureCharge",
            Op::CancelCharge(_) => "CancelCharge",
            Op::CreateRefund => "CreateRefund",
            Op::GetRefund(_) => "GetRefund",
        }
    }

    fn requires_idempotency_key(&self) -> bool {
        matches!(
            self,
            Op::CreateCheckoutSession | Op::CreateCharge | Op::CaptureCharge(_) | Op::CreateRefund
        )
    }
}

/// A parsed API path: the environment prefix (if any), the operation and its normalized path.
#[derive(Debug, Clone)]
pub struct Route {
    /// `/sandbox` or `/live` prefix.
    pub path_env: Option<Environment>,
    /// The operation.
    pub op: Op,
    /// Path without prefix and trailing slash (idempotency fingerprint).
    pub op_path: String,
}

/// Parses method + raw path into an operation; tolerates one trailing slash.
pub fn parse_route(method: &str, raw_path: &str) -> Result<Route, ApiError> {
    let (path_env, rest) = if let Some(r) = raw_path.strip_prefix("/sandbox/") {
        (Some(Environment::Sandbox), r)
    } else if let Some(r) = raw_path.strip_prefix("/live/") {
        (Some(Environment::Live), r)
    } else {
        (None, raw_path.trim_start_matches('/'))
    };
    let not_found = || {
        ApiError::new(
            404,
            ReasonCode::ResourceNotFound,
            format!(
                "no such resource {}",
                raw_path.chars().take(200).collect::<String>()
            ),
        )
    };
    let Some(rest) = rest.strip_prefix("v2/") else {
        if rest.starts_with('v') && rest.contains('/') {
            return Err(ApiError::bad_request(
                ReasonCode::InvalidAPIVersion,
                "only API version v2 is supported",
            ));
        }
        return Err(not_found());
    };
    let trimmed = rest.strip_suffix('/').unwrap_or(rest);
    let segs: Vec<&str> = trimmed.split('/').collect();
    if segs.iter().any(|s| s.is_empty()) {
        return Err(not_found());
    }
    let id = |i: usize| segs[i].to_string();
    let m = method;
    let wrong_method = || {
        ApiError::new(
            405,
            ReasonCode::UnsupportedOperation,
            format!("{m} is not supported on this resource"),
        )
    };
    let op = match (segs.as_slice(), m) {
        (["checkoutSessions"], "POST") => Op::CreateCheckoutSession,
        (["checkoutSessions"], _) => return Err(wrong_method()),
        (["checkoutSessions", _], "GET") => Op::GetCheckoutSession(id(1)),
        (["checkoutSessions", _], "PATCH") => Op::UpdateCheckoutSession(id(1)),
        (["checkoutSessions", _], _) => return Err(wrong_method()),
        (["checkoutSessions", _, "complete"], "POST") => Op::CompleteCheckoutSession(id(1)),
        (["checkoutSessions", _, "complete"], _) => return Err(wrong_method()),
        (["chargePermissions", _], "GET") => Op::GetChargePermission(id(1)),
        (["chargePermissions", _], "PATCH") => Op::UpdateChargePermission(id(1)),
        (["chargePermissions", _], _) => return Err(wrong_method()),
        (["chargePermissions", _, "close"], "DELETE") => Op::CloseChargePermission(id(1)),
        (["chargePermissions", _, "close"], _) => return Err(wrong_method()),
        (["charges"], "POST") => Op::CreateCharge,
        (["charges"], _) => return Err(wrong_method()),
        (["charges", _], "GET") => Op::GetCharge(id(1)),
        (["charges", _], _) => return Err(wrong_method()),
        (["charges", _, "capture"], "POST") => Op::CaptureCharge(id(1)),
        (["charges", _, "capture"], _) => return Err(wrong_method()),
        (["charges", _, "cancel"], "DELETE") => Op::CancelCharge(id(1)),
        (["charges", _, "cancel"], _) => return Err(wrong_method()),
        (["refunds"], "POST") => Op::CreateRefund,
        (["refunds"], _) => return Err(wrong_method()),
        (["refunds", _], "GET") => Op::GetRefund(id(1)),
        (["refunds", _], _) => return Err(wrong_method()),
        _ => return Err(not_found()),
    };
    Ok(Route {
        path_env,
        op,
        op_path: format!("/v2/{trimmed}"),
    })
}

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Builds Amazon's JSON response with `x-amz-pay-request-id`.
pub fn json_response(status: u16, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&request_id()) {
        h.insert(HEADER_REQUEST_ID, v);
    }
    r
}

fn error_response(e: &ApiError) -> Response {
    json_response(e.status, e.body())
}

/// A response whose body fails at once: the connection is torn down mid-response.
fn aborted_response() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("sandbox fault: connection dropped"))
    });
    let mut r = Response::new(Body::from_stream(stream));
    *r.status_mut() = StatusCode::OK;
    r
}

/// Parses a JSON body into a request type with Amazon's error codes.
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if body.iter().all(|b| b.is_ascii_whitespace()) {
        b"{}"
    } else {
        body
    };
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(
            ReasonCode::InvalidRequestFormat,
            format!("the request body is not valid JSON: {e}"),
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            ReasonCode::InvalidRequestFormat,
            "the request body must be a JSON object",
        ));
    }
    serde_json::from_value(value).map_err(|e| {
        let text = e.to_string();
        let reason = if text.contains("unknown field") {
            ReasonCode::UnrecognizedField
        } else if text.contains("missing field") {
            ReasonCode::MissingParameterValue
        } else {
            ReasonCode::InvalidParameterValue
        };
        ApiError::bad_request(reason, text)
    })
}

fn dispatch(core: &mut Core, ctx: &Ctx, op: &Op, body: &[u8]) -> OpResult {
    match op {
        Op::CreateCheckoutSession => core.create_session(ctx, parse_body(body)?),
        Op::GetCheckoutSession(id) => core.get_session(ctx, id),
        Op::UpdateCheckoutSession(id) => core.update_session(ctx, id, parse_body(body)?),
        Op::CompleteCheckoutSession(id) => core.complete_session(ctx, id, parse_body(body)?),
        Op::GetChargePermission(id) => {
            crate::engine::check_sim(ctx, &[])?;
            core.get_permission(ctx, id)
        }
        Op::UpdateChargePermission(id) => {
            crate::engine::check_sim(ctx, &[])?;
            core.update_permission(ctx, id, parse_body(body)?)
        }
        Op::CloseChargePermission(id) => core.close_permission(ctx, id, parse_body(body)?),
        Op::CreateCharge => core.create_charge(ctx, parse_body(body)?),
        Op::GetCharge(id) => {
            crate::engine::check_sim(ctx, &[])?;
            core.get_charge(ctx, id)
        }
        Op::CaptureCharge(id) => core.capture_charge(ctx, id, parse_body(body)?),
        Op::CancelCharge(id) => core.cancel_charge(ctx, id, parse_body(body)?),
        Op::CreateRefund => core.create_refund(ctx, parse_body(body)?),
        Op::GetRefund(id) => {
            crate::engine::check_sim(ctx, &[])?;
            core.get_refund(ctx, id)
        }
    }
}

fn valid_idempotency_key(k: &str) -> bool {
    savedwallet_shared::idempotency::IdempotencyKey::parse(k).is_ok()
}

/// The axum handler for every Amazon Pay API path.
pub async fn handle(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_string();
    let raw_path = parts.uri.path().to_string();
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    // Authentication comes first: an unknown path is only reported to a signed caller.
    let route = parse_route(&method, &raw_path);
    let op_name = route.as_ref().map(|r| r.op.name()).unwrap_or("Unknown");
    let (latency, fault) = app.faults.lock().decide(op_name);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    match fault {
        FaultAction::Reset => return aborted_response(),
        FaultAction::Throttle => {
            return error_response(&ApiError::new(
                429,
                ReasonCode::TooManyRequests,
                "The request was throttled (injected fault).",
            ))
        }
        FaultAction::ServerError => {
            return error_response(&ApiError::new(
                503,
                ReasonCode::ServiceUnavailable,
                "The service is temporarily unavailable (injected fault).",
            ))
        }
        FaultAction::None | FaultAction::Drop(..) => {}
    }
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return error_response(&ApiError::bad_request(
                ReasonCode::InvalidRequest,
                "the request body is too large or could not be read",
            ))
        }
    };
    let response = match process(
        &app,
        &parts.headers,
        &method,
        &raw_path,
        &raw_query,
        &route,
        &body,
    ) {
        Ok((status, text)) => json_response(status, text),
        Err(e) => error_response(&e),
    };
    if let FaultAction::Drop(mode, hang_ms) = fault {
        // The request was applied; the caller never learns the outcome.
        if mode == DropMode::Hang {
            tokio::time::sleep(Duration::from_millis(hang_ms)).await;
        }
        return aborted_response();
    }
    response
}

fn process(
    app: &Arc<App>,
    headers: &axum::http::HeaderMap,
    method: &str,
    raw_path: &str,
    raw_query: &str,
    route: &Result<Route, ApiError>,
    body: &[u8],
) -> Result<(u16, String), ApiError> {
    let path_env = if raw_path.starts_with("/sandbox/") {
        Some(Environment::Sandbox)
    } else if raw_path.starts_with("/live/") {
        Some(Environment::Live)
    } else {
        None
    };
    let verified = verify(
        &app.keys,
        method,
        raw_path,
        raw_query,
        headers,
        body,
        &VerifyOptions {
            max_skew_secs: app.cfg.max_clock_skew_secs,
            now_unix: chrono::Utc::now().timestamp(),
            required_signed: &app.cfg.required_signed_headers,
        },
    )?;
    let route = route.as_ref().map_err(Clone::clone)?;
    let env = match (verified.key_env, path_env) {
        (KeyEnvironment::Implied(e), None) => e,
        (KeyEnvironment::Implied(e), Some(p)) if e == p => e,
        (KeyEnvironment::Implied(_), Some(_)) => {
            return Err(ApiError::bad_request(
                ReasonCode::InvalidRequest,
                "the path's environment prefix does not match the public key id's environment",
            ))
        }
        (KeyEnvironment::Legacy, Some(p)) => p,
        (KeyEnvironment::Legacy, None) => {
            return Err(ApiError::bad_request(
                ReasonCode::InvalidRequest,
                "legacy public key ids must call /sandbox/v2/... or /live/v2/...",
            ))
        }
    };
    let region = match headers.get(HEADER_REGION).map(|v| v.to_str()) {
        None => Region::Na,
        Some(Ok(s)) => s.trim().parse::<Region>().map_err(|_| {
            ApiError::bad_request(
                ReasonCode::InvalidHeaderValue,
                "x-amz-pay-region must be na, us, eu, de, uk or jp",
            )
        })?,
        Some(Err(_)) => {
            return Err(ApiError::bad_request(
                ReasonCode::InvalidHeaderValue,
                "x-amz-pay-region is not ASCII",
            ))
        }
    };
    let sim = match env {
        // Simulation codes are a sandbox feature: live ignores the header.
        Environment::Live => None,
        Environment::Sandbox => headers
            .get(HEADER_SIMULATION_CODE)
            .map(|v| v.to_str().unwrap_or("?").trim().to_string())
            .filter(|s| !s.is_empty()),
    };
    if app.throttling_enabled()
        && !app
            .throttle
            .lock()
            .allow(env, route.op.name(), Instant::now())
    {
        return Err(ApiError::new(
            429,
            ReasonCode::TooManyRequests,
            "You have exceeded the allowed number of requests. Slow down and retry with backoff.",
        ));
    }
    let idem_key = if method == "POST" {
        match headers.get(HEADER_IDEMPOTENCY_KEY) {
            Some(v) => {
                let k = v.to_str().unwrap_or("").trim();
                if !valid_idempotency_key(k) {
                    return Err(ApiError::bad_request(
                        ReasonCode::InvalidHeaderValue,
                        "x-amz-pay-idempotency-key must be 1-32 characters of a-z A-Z 0-9 - _",
                    ));
                }
                Some(k.to_string())
            }
            None if route.op.requires_idempotency_key() => {
                return Err(ApiError::bad_request(
                    ReasonCode::MissingHeaderValue,
                    "x-amz-pay-idempotency-key is required for this operation",
                ))
            }
            None => None,
        }
    } else {
        None
    };
    let fingerprint = idem_key.as_ref().map(|_| {
        let mut material = Vec::with_capacity(body.len() + 64);
        material.extend_from_slice(method.as_bytes());
        material.push(b'\n');
        material.extend_from_slice(route.op_path.as_bytes());
        material.push(b'\n');
        material.extend_from_slice(body);
        hex_sha256(&material)
    });

    let (result, outbox, mutated) = {
        let mut core = app.core.lock();
        let now_ms = chrono::Utc::now().timestamp_millis() + core.state.clock_offset_ms;
        let timers_before = core.state.timers.len();
        core.tick(now_ms);
        let mut mutated = core.state.timers.len() != timers_before;
        let scoped = idem_key
            .as_ref()
            .map(|k| format!("{}:{k}", env.release_environment()));
        let replay = match (&scoped, &fingerprint) {
            (Some(s), Some(fp)) => match core.state.idempotency.get(s) {
                Some(rec) if &rec.fingerprint == fp => Some(Ok((rec.status, rec.body.clone()))),
                Some(_) => Some(Err(ApiError::bad_request(
                    ReasonCode::DuplicateIdempotencyKey,
                    "This idempotency key was already used with different request parameters.",
                ))),
                None => None,
            },
            _ => None,
        };
        let result = match replay {
            Some(r) => r,
            None => {
                let ctx = Ctx {
                    env,
                    region,
                    now_ms,
                    base_url: app.base_url.clone(),
                    sim,
                };
                let r = dispatch(&mut core, &ctx, &route.op, body);
                let (status, text) = match &r {
                    Ok((s, v)) => (*s, v.to_string()),
                    Err(e) => (e.status, e.body()),
                };
                if method != "GET" {
                    mutated = true;
                }
                // Amazon keeps the first final answer; throttling and 5xx are not final.
                if let (Some(s), Some(fp)) = (scoped, fingerprint) {
                    if status < 500 && status != 429 {
                        core.state.idempotency.insert(
                            s,
                            IdempotencyRecord {
                                fingerprint: fp,
                                status,
                                body: text.clone(),
                            },
                        );
                    }
                }
                match r {
                    Ok(_) => Ok((status, text)),
                    Err(e) => Err(e),
                }
            }
        };
        let outbox = std::mem::take(&mut core.outbox);
        (result, outbox, mutated)
    };
    app.publish(outbox);
    if mutated {
        app.mark_dirty();
    }
    result
}
