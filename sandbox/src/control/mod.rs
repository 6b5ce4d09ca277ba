//! The control API under `/_sandbox/` (never an Amazon path): keys, buyers, wallets with
//! behaviour presets and permission states (`wallets`), the clock, faults, throttling,
//! knobs and the ledger (`settings`), IPN endpoints and delivery faults (`ipn`).

mod ipn;
mod settings;
mod wallets;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::state::App;

/// The extractor every control handler takes.
type AppState = State<Arc<App>>;

/// A control API error: status + `{"error": "..."}`.
#[derive(Debug, thiserror::Error)]
#[error("{status}: {message}")]
pub(crate) struct ControlError {
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

    fn not_found(message: impl Into<String>) -> Self {
        ControlError {
            status: 404,
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
pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/_sandbox", get(index))
        .route("/_sandbox/", get(index))
        .route(
            "/_sandbox/keys",
            post(wallets::add_key).get(wallets::list_keys),
        )
        .route("/_sandbox/keys/{id}", delete(wallets::remove_key))
        .route("/_sandbox/buyers", post(wallets::add_buyer))
        .route(
            "/_sandbox/charge-permissions",
            post(wallets::create_permission),
        )
        .route(
            "/_sandbox/charge-permissions/{id}/buyer-close",
            post(wallets::buyer_close),
        )
        .route(
            "/_sandbox/charge-permissions/{id}/payment-method",
            post(wallets::update_payment_method),
        )
        .route(
            "/_sandbox/charge-permissions/{id}/state",
            post(wallets::set_permission_state),
        )
        .route(
            "/_sandbox/checkout-sessions/{id}/buyer",
            post(wallets::session_buyer),
        )
        .route(
            "/_sandbox/checkout-sessions/{id}/mfa",
            post(wallets::session_mfa),
        )
        .route("/_sandbox/ipn-endpoints", post(ipn::add).get(ipn::list))
        .route(
            "/_sandbox/ipn-delivery",
            put(ipn::set_delivery).get(ipn::get_delivery),
        )
        .route("/_sandbox/clock", get(settings::clock))
        .route("/_sandbox/clock/advance", post(settings::advance))
        .route(
            "/_sandbox/faults",
            put(settings::set_faults)
                .get(settings::get_faults)
                .delete(settings::clear_faults),
        )
        .route(
            "/_sandbox/throttling",
            put(settings::set_throttling).get(settings::get_throttling),
        )
        .route(
            "/_sandbox/knobs",
            get(settings::get_knobs).patch(settings::patch_knobs),
        )
        .route("/_sandbox/ledger", get(settings::ledger))
        .route("/_sandbox/flush", post(settings::flush))
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
                                                      \"softDeclines\", \"asyncDelaySeconds\", \"monthlyLimit\",
                                                      \"asyncDeclineReason\", \"captureDeclineReason\",
                                                      \"hardDecline\", \"mfaFailure\", \"syncLatencyMs\"}
                                                     -> 201 + Amazon's Get Charge Permission JSON (Chargeable Saved Wallet)
  POST   /_sandbox/charge-permissions/{id}/buyer-close       buyer closes the Saved Wallet (Closed/BuyerClosed + IPN)
  POST   /_sandbox/charge-permissions/{id}/payment-method    {\"preset\"} buyer updates the method (Chargeable + IPN)
  POST   /_sandbox/charge-permissions/{id}/state     {\"state\", \"reasonCode\"} move it to any state/reason (+ IPN)
  POST   /_sandbox/checkout-sessions/{id}/buyer      {\"preset\"} buyer picks a payment method (like the consent page)
  POST   /_sandbox/checkout-sessions/{id}/mfa        {\"outcome\": \"approved\"|\"failed\"|\"abandoned\"} MFA challenge result
  POST   /_sandbox/ipn-endpoints                     {\"url\", \"signatureVersion\": \"1\"|\"2\"} subscribe an IPN endpoint
  GET    /_sandbox/ipn-endpoints                     subscriptions
  PUT    /_sandbox/ipn-delivery                      {\"duplicateRate\", \"reorderRate\", \"reorderMaxHoldMs\"} delivery faults
  GET    /_sandbox/ipn-delivery                      current delivery faults
  GET    /_sandbox/clock                             simulated now
  POST   /_sandbox/clock/advance                     {\"seconds\"} advance the clock; due timers fire
  PUT    /_sandbox/faults                            {\"latencyMs\", \"rate429\", \"rate5xx\", \"dropResponseRate\", \"dropMode\": \"abort\"|\"hang\",
                                                      \"hangMs\", \"resetRate\", \"seed\", \"remaining\", \"operations\": [\"CreateCharge\"]}
  GET|DELETE /_sandbox/faults                        read / clear faults
  PUT    /_sandbox/throttling                        {\"enabled\", \"scale\", \"clock\": \"simulated\"|\"wall\",
                                                      \"operations\": {\"CreateCharge\": {\"burst\": 100, \"perSecond\": 40}}}
  GET    /_sandbox/throttling                        settings and every operation's effective quota
  PATCH  /_sandbox/knobs                             {\"hardDecline\", \"mfaFailure\", \"missingChargeInitiator\", \"mfaRegions\",
                                                      \"conversionFields\", \"checkoutSessionCanceledStatus\", \"syncLatencyMs\"}
  GET    /_sandbox/knobs                             current knobs
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
