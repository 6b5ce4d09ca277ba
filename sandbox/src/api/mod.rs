//! The Amazon Pay API v2 surface: faults, signature verification, environment, throttling,
//! idempotency, then one engine call per request.

mod route;

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use savedwallet_shared::api::{CreateChargeRequest, Operation, ReasonCode};
use savedwallet_shared::region::{Environment, KeyEnvironment, Region};
use savedwallet_shared::signing::{
    hex_sha256, HEADER_IDEMPOTENCY_KEY, HEADER_REGION, HEADER_SIMULATION_CODE,
};
use serde::de::DeserializeOwned;

use crate::engine::{check_listed_values, check_sim_none, Core, Ctx, OpResult};
use crate::error::{amazon_json, ApiError};
use crate::faults::{DropMode, FaultAction};
use crate::model::IdempotencyRecord;
use crate::ops::requires_idempotency_key;
use crate::state::App;
use crate::verify::{verify, VerifyOptions};
use route::{parse_route, Route};

/// Largest accepted request body.
const MAX_BODY: usize = 1 << 20;

/// A response whose body fails at once: the connection is torn down mid-response.
fn aborted_response() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("sandbox fault: connection dropped"))
    });
    let mut r = Response::new(Body::from_stream(stream));
    *r.status_mut() = StatusCode::OK;
    r
}

/// A JSON object body (an empty body is `{}`), or 400 `InvalidRequestFormat`.
fn json_object(body: &[u8]) -> Result<serde_json::Value, ApiError> {
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
    Ok(value)
}

/// Parses a JSON body into a request type with Amazon's error codes.
fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    typed(json_object(body)?)
}

/// A Create Charge body: its listed values checked as sent, then typed.
fn parse_charge_body(body: &[u8]) -> Result<CreateChargeRequest, ApiError> {
    let value = json_object(body)?;
    check_listed_values(&value)?;
    typed(value)
}

fn typed<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
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

fn dispatch(core: &mut Core, ctx: &Ctx, route: &Route, body: &[u8]) -> OpResult {
    let id = route.id.as_str();
    match route.op {
        Operation::CreateCheckoutSession => core.create_session(ctx, parse_body(body)?),
        Operation::GetCheckoutSession => core.get_session(ctx, id),
        Operation::UpdateCheckoutSession => core.update_session(ctx, id, parse_body(body)?),
        Operation::CompleteCheckoutSession => core.complete_session(ctx, id, parse_body(body)?),
        Operation::GetChargePermission => {
            check_sim_none(ctx)?;
            core.get_permission(ctx, id)
        }
        Operation::UpdateChargePermission => {
            check_sim_none(ctx)?;
            core.update_permission(ctx, id, parse_body(body)?)
        }
        Operation::CloseChargePermission => core.close_permission(ctx, id, parse_body(body)?),
        Operation::CreateCharge => core.create_charge(ctx, parse_charge_body(body)?),
        Operation::GetCharge => {
            check_sim_none(ctx)?;
            core.get_charge(ctx, id)
        }
        Operation::CaptureCharge => core.capture_charge(ctx, id, parse_body(body)?),
        Operation::CancelCharge => core.cancel_charge(ctx, id, parse_body(body)?),
        Operation::CreateRefund => core.create_refund(ctx, parse_body(body)?),
        Operation::GetRefund => {
            check_sim_none(ctx)?;
            core.get_refund(ctx, id)
        }
    }
}

/// The axum handler for every Amazon Pay API path.
pub(crate) async fn handle(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_string();
    let raw_path = parts.uri.path().to_string();
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    // Authentication comes first: an unknown path is only reported to a signed caller.
    let route = parse_route(&method, &raw_path);
    let (latency, fault) = app.faults.lock().decide(route.as_ref().ok().map(|r| r.op));
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    match fault {
        FaultAction::Reset => return aborted_response(),
        FaultAction::Throttle => {
            return ApiError::new(
                429,
                ReasonCode::TooManyRequests,
                "The request was throttled (injected fault).",
            )
            .into_response()
        }
        FaultAction::ServerError => {
            return ApiError::new(
                503,
                ReasonCode::ServiceUnavailable,
                "The service is temporarily unavailable (injected fault).",
            )
            .into_response()
        }
        FaultAction::None | FaultAction::Drop(..) => {}
    }
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return ApiError::bad_request(
            ReasonCode::InvalidRequest,
            "the request body is too large or could not be read",
        )
        .into_response();
    };
    let request = Incoming {
        headers: &parts.headers,
        method: &method,
        raw_path: &raw_path,
        raw_query: &raw_query,
        body: &body,
    };
    let (result, delay_ms) = match admit(&app, &request, route) {
        Ok(admitted) => apply(&app, &request, admitted),
        Err(e) => (Err(e), 0),
    };
    let response = match result {
        Ok((status, text)) => amazon_json(status, text),
        Err(e) => e.into_response(),
    };
    if delay_ms > 0 {
        // Amazon's synchronous authorization takes its time (knob `syncLatencyMs`).
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    }
    if let FaultAction::Drop(mode, hang_ms) = fault {
        // The request was applied; the caller never learns the outcome.
        if mode == DropMode::Hang {
            tokio::time::sleep(Duration::from_millis(hang_ms)).await;
        }
        return aborted_response();
    }
    response
}

/// The parts of a request the pipeline reads.
struct Incoming<'a> {
    headers: &'a HeaderMap,
    method: &'a str,
    raw_path: &'a str,
    raw_query: &'a str,
    body: &'a [u8],
}

/// The environment from the key id and the path prefix (SPEC §1).
fn environment(
    key_env: KeyEnvironment,
    path_env: Option<Environment>,
) -> Result<Environment, ApiError> {
    match (key_env, path_env) {
        (KeyEnvironment::Implied(e), None) => Ok(e),
        (KeyEnvironment::Implied(e), Some(p)) if e == p => Ok(e),
        (KeyEnvironment::Implied(_), Some(_)) => Err(ApiError::bad_request(
            ReasonCode::InvalidRequest,
            "the path's environment prefix does not match the public key id's environment",
        )),
        (KeyEnvironment::Legacy, Some(p)) => Ok(p),
        (KeyEnvironment::Legacy, None) => Err(ApiError::bad_request(
            ReasonCode::InvalidRequest,
            "legacy public key ids must call /sandbox/v2/... or /live/v2/...",
        )),
    }
}

/// `x-amz-pay-region` (absent → `na`).
fn region(headers: &HeaderMap) -> Result<Region, ApiError> {
    match headers.get(HEADER_REGION).map(|v| v.to_str()) {
        None => Ok(Region::Na),
        Some(Ok(s)) => s.trim().parse::<Region>().map_err(|_| {
            ApiError::bad_request(
                ReasonCode::InvalidHeaderValue,
                "x-amz-pay-region must be na, us, eu, de, uk or jp",
            )
        }),
        Some(Err(_)) => Err(ApiError::bad_request(
            ReasonCode::InvalidHeaderValue,
            "x-amz-pay-region is not ASCII",
        )),
    }
}

/// The idempotency key of a POST (SPEC §8), required where the docs say so.
fn idempotency_key(req: &Incoming<'_>, op: Operation) -> Result<Option<String>, ApiError> {
    if req.method != "POST" {
        return Ok(None);
    }
    match req.headers.get(HEADER_IDEMPOTENCY_KEY) {
        Some(v) => {
            let k = v.to_str().unwrap_or("").trim();
            if savedwallet_shared::idempotency::IdempotencyKey::parse(k).is_err() {
                return Err(ApiError::bad_request(
                    ReasonCode::InvalidHeaderValue,
                    "x-amz-pay-idempotency-key must be 1-32 characters of a-z A-Z 0-9 - _",
                ));
            }
            Ok(Some(k.to_string()))
        }
        None if requires_idempotency_key(op) => Err(ApiError::bad_request(
            ReasonCode::MissingHeaderValue,
            "x-amz-pay-idempotency-key is required for this operation",
        )),
        None => Ok(None),
    }
}

/// A stored answer for a key, keyed by environment (keys are per merchant account).
struct Idempotency {
    scoped: String,
    fingerprint: String,
}

impl Idempotency {
    fn new(env: Environment, key: String, req: &Incoming<'_>, route: &Route) -> Idempotency {
        let mut material = Vec::with_capacity(req.body.len() + 64);
        material.extend_from_slice(req.method.as_bytes());
        material.push(b'\n');
        material.extend_from_slice(route.op_path.as_bytes());
        material.push(b'\n');
        material.extend_from_slice(req.body);
        Idempotency {
            scoped: format!("{}:{key}", env.release_environment()),
            fingerprint: hex_sha256(&material),
        }
    }

    /// The stored first answer, or 400 `DuplicateIdempotencyKey` for different parameters.
    fn replay(&self, core: &Core) -> Option<Result<(u16, String), ApiError>> {
        let rec = core.state.idempotency.get(&self.scoped)?;
        Some(if rec.fingerprint == self.fingerprint {
            Ok((rec.status, rec.body.clone()))
        } else {
            Err(ApiError::bad_request(
                ReasonCode::DuplicateIdempotencyKey,
                "This idempotency key was already used with different request parameters.",
            ))
        })
    }

    /// Keeps the first final answer; throttling and 5xx are not final.
    fn store(self, core: &mut Core, status: u16, body: &str) {
        if status < 500 && status != 429 {
            core.state.idempotency.insert(
                self.scoped,
                IdempotencyRecord {
                    fingerprint: self.fingerprint,
                    status,
                    body: body.to_string(),
                },
            );
        }
    }
}

/// A request that passed authentication, environment, throttling and key checks.
struct Admitted {
    route: Route,
    env: Environment,
    region: Region,
    sim: Option<String>,
    idempotency: Option<Idempotency>,
}

/// Everything before the engine: signature (SPEC §2.6), environment, region, simulation
/// code, throttling, idempotency key.
fn admit(
    app: &App,
    req: &Incoming<'_>,
    route: Result<Route, ApiError>,
) -> Result<Admitted, ApiError> {
    let verified = verify(
        &app.keys,
        req.method,
        req.raw_path,
        req.raw_query,
        req.headers,
        req.body,
        &VerifyOptions {
            max_skew_secs: app.cfg.max_clock_skew_secs,
            now_unix: chrono::Utc::now().timestamp(),
            required_signed: &app.cfg.required_signed_headers,
        },
    )?;
    let route = route?;
    let env = environment(verified.key_env, route.path_env)?;
    let region = region(req.headers)?;
    let sim = match env {
        // Simulation codes are a sandbox feature: live ignores the header.
        Environment::Live => None,
        Environment::Sandbox => req
            .headers
            .get(HEADER_SIMULATION_CODE)
            .map(|v| v.to_str().unwrap_or("?").trim().to_string())
            .filter(|s| !s.is_empty()),
    };
    let now_ms = app.now_ms();
    if !app.throttle.lock().allow(env, route.op, now_ms) {
        *app.throttled
            .lock()
            .entry(crate::ops::pascal_name(route.op))
            .or_insert(0) += 1;
        return Err(ApiError::new(
            429,
            ReasonCode::TooManyRequests,
            "You have exceeded the allowed number of requests. Slow down and retry with backoff.",
        ));
    }
    let idempotency =
        idempotency_key(req, route.op)?.map(|k| Idempotency::new(env, k, req, &route));
    Ok(Admitted {
        route,
        env,
        region,
        sim,
        idempotency,
    })
}

/// The engine call (or the replay of a stored answer); returns the answer and the
/// wall-clock delay it must wait.
fn apply(app: &App, req: &Incoming<'_>, a: Admitted) -> (Result<(u16, String), ApiError>, u64) {
    *app.api_calls
        .lock()
        .entry(crate::ops::pascal_name(a.route.op))
        .or_insert(0) += 1;
    let (result, delay, outbox, mutated) = {
        let mut core = app.core.lock();
        let now_ms = core.now_ms();
        let mut mutated = core.tick(now_ms);
        let replay = a.idempotency.as_ref().and_then(|i| i.replay(&core));
        let (result, delay) = match replay {
            Some(r) => (r, 0),
            None => {
                let ctx = Ctx {
                    env: a.env,
                    region: a.region,
                    now_ms,
                    base_url: app.base_url.clone(),
                    sim: a.sim,
                };
                let r = dispatch(&mut core, &ctx, &a.route, req.body);
                let delay = core.take_response_delay_ms();
                let (status, text) = match &r {
                    Ok((s, v)) => (*s, v.to_string()),
                    Err(e) => (e.status, e.body()),
                };
                mutated |= req.method != "GET";
                if let Some(i) = a.idempotency {
                    i.store(&mut core, status, &text);
                }
                (r.map(|_| (status, text)), delay)
            }
        };
        (result, delay, core.take_outbox(), mutated)
    };
    app.publish(outbox);
    if mutated {
        app.mark_dirty();
    }
    (result, delay)
}
