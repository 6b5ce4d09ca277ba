//! `POST /ipn`: Amazon Pay IPN v2 delivered by SNS (the body is the SNS JSON envelope, sent
//! as `text/plain`). The route only moves bytes: an [`IpnVerifier`] (the SNS verifier in
//! `functions::sns`) proves the envelope or refuses it, then `Service::process_ipn`
//! deduplicates, fetches the object and applies its real state.
//!
//! Answers: 200 when handled, a duplicate, or a confirmed subscription; 400/403 when refused
//! (nothing believed, nothing written; SNS does not retry a 4xx); 503/500 when it could not
//! be handled now (SNS retries a 5xx).

use std::any::Any;
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::routing::on;
use axum::Router;

use savedwallet_app::usecases::{IpnOutcome, VerifiedIpn};
use savedwallet_app::ServiceError;
use savedwallet_shared::api::enums::IpnObjectType;

use super::dto::ErrorBody;
use super::error::AppError;
use super::idempotency::Answer;
use super::request::{note, Note};
use super::routes::{build, route, RouteSpec};
use super::AppState;

/// How a refusal is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalClass {
    /// 400: not an envelope that can be read.
    BadRequest,
    /// 403: readable but not proven to come from an allowed topic.
    Forbidden,
    /// 503: could not be decided now (e.g. the certificate could not be fetched).
    Unavailable,
}

impl RefusalClass {
    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            RefusalClass::BadRequest => StatusCode::BAD_REQUEST,
            RefusalClass::Forbidden => StatusCode::FORBIDDEN,
            RefusalClass::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A generic message (the code says what was wrong).
    pub fn message(self) -> &'static str {
        match self {
            RefusalClass::BadRequest => "not a readable SNS message",
            RefusalClass::Forbidden => "not proven to come from an allowed SNS topic",
            RefusalClass::Unavailable => "the message could not be verified now; retry",
        }
    }
}

/// Why the verifier refused a message, with a stable snake_case code for logs, metrics and
/// the error body (e.g. `bad_signature`, `topic_not_allowed`, `cert_fetch_failed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpnRefusal {
    /// 400, 403 or 503.
    pub class: RefusalClass,
    /// Stable code.
    pub code: &'static str,
    /// `Retry-After` for a 503.
    pub retry_after_secs: Option<u64>,
}

impl IpnRefusal {
    /// A refusal.
    pub fn new(class: RefusalClass, code: &'static str) -> IpnRefusal {
        IpnRefusal {
            class,
            code,
            retry_after_secs: (class == RefusalClass::Unavailable).then_some(30),
        }
    }
}

/// A verified SubscriptionConfirmation: the route asks the verifier to confirm it. `inner`
/// is the verifier's own proof object (e.g. `sns::SnsConfirmation`), handed back to it.
#[derive(Clone)]
pub struct SubscriptionConfirmation {
    /// The (allowed) topic.
    pub topic_arn: String,
    /// SNS `MessageId`.
    pub message_id: String,
    inner: Arc<dyn Any + Send + Sync>,
}

impl std::fmt::Debug for SubscriptionConfirmation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriptionConfirmation")
            .field("topic_arn", &self.topic_arn)
            .field("message_id", &self.message_id)
            .finish_non_exhaustive()
    }
}

impl SubscriptionConfirmation {
    /// A confirmation carrying the verifier's proof object.
    pub fn new<T: Any + Send + Sync>(
        topic_arn: impl Into<String>,
        message_id: impl Into<String>,
        inner: T,
    ) -> Self {
        SubscriptionConfirmation {
            topic_arn: topic_arn.into(),
            message_id: message_id.into(),
            inner: Arc::new(inner),
        }
    }

    /// The verifier's proof object, if it is a `T`.
    pub fn inner<T: Any>(&self) -> Option<&T> {
        self.inner.downcast_ref::<T>()
    }
}

/// What a verified SNS message is.
#[derive(Debug, Clone)]
pub enum IpnDelivery {
    /// An Amazon Pay IPN.
    Notification(VerifiedIpn),
    /// SNS asks this endpoint to confirm a subscription to an allowed topic.
    SubscriptionConfirmation(SubscriptionConfirmation),
    /// SNS says the endpoint was unsubscribed: nothing to do.
    UnsubscribeConfirmation,
}

/// Verifies SNS deliveries (SignatureVersion 1 and 2, certificate URL rules, topic allow
/// list) — implemented by the SNS verifier; tests use a double.
#[async_trait]
pub trait IpnVerifier: Send + Sync {
    /// Proves the raw body came from an allowed topic, or says why not.
    async fn verify(&self, body: &[u8]) -> Result<IpnDelivery, IpnRefusal>;
    /// Confirms a verified SubscriptionConfirmation (GETs its SubscribeURL once).
    async fn confirm(&self, confirmation: &SubscriptionConfirmation) -> Result<(), IpnRefusal>;
}

/// The IPN family's routes.
pub(crate) static ROUTES: &[RouteSpec] = &[route(Method::POST, "/ipn", |m| on(m, ipn))];

/// The IPN router (`/ipn`, no auth: the SNS signature is the proof; no CORS).
pub fn ipn_routes() -> Router<AppState> {
    build(ROUTES)
}

/// Records the ids a verified IPN names on the request's span: its wallet (the charge
/// permission) and, for a CHARGE, the Amazon charge id.
fn note_ipn(ipn: &VerifiedIpn) {
    let m = &ipn.message;
    let wallet = match m.object_type {
        IpnObjectType::ChargePermission => Some(m.object_id.as_str()),
        _ => m.charge_permission_id.as_deref(),
    };
    let charge = (m.object_type == IpnObjectType::Charge).then_some(m.object_id.as_str());
    note(Note {
        wallet_id: wallet,
        charge_id: charge,
        ..Note::default()
    });
}

/// Receives an Amazon Pay IPN from SNS.
#[utoipa::path(post, path = "/ipn", tag = "ipn",
    request_body(content = String, content_type = "text/plain", description = "The SNS JSON envelope"),
    responses(
        (status = 200, description = "Handled, a duplicate, or a subscription confirmed"),
        (status = 400, description = "Not a readable SNS message", body = ErrorBody),
        (status = 403, description = "Not proven to come from an allowed topic", body = ErrorBody),
        (status = "5XX", description = "Could not be handled now (SNS retries)", body = ErrorBody),
    ))]
pub(crate) async fn ipn(State(st): State<AppState>, req: Request) -> Result<Answer, AppError> {
    let limit = st.config().ipn_body_limit;
    let body: Bytes = axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| AppError::PayloadTooLarge { limit })?;
    let delivery = st.ipn().verify(&body).await.map_err(|refusal| {
        st.service()
            .metrics()
            .record(savedwallet_app::ports::Measure::IpnRefused {
                reason: refusal.code,
            });
        AppError::Ipn(refusal)
    })?;
    match delivery {
        IpnDelivery::Notification(ipn) => {
            note_ipn(&ipn);
            let outcome = st.service().process_ipn(&ipn).await.map_err(|e| match e {
                // Handled by nobody now: SNS must deliver it again.
                ServiceError::Unavailable { .. } | ServiceError::Internal(_) => e,
                ServiceError::Conflict(_) => ServiceError::Unavailable {
                    what: "the notification handler",
                    retry_after_secs: 5,
                },
                other => ServiceError::Internal(format!("IPN processing refused: {other}")),
            })?;
            let outcome = match outcome {
                IpnOutcome::Applied => "applied",
                IpnOutcome::Duplicate => "duplicate",
                IpnOutcome::Ignored(why) => why,
            };
            tracing::info!(outcome, "IPN processed");
            Answer::ok(serde_json::json!({ "outcome": outcome }))
        }
        IpnDelivery::SubscriptionConfirmation(c) => {
            st.ipn().confirm(&c).await.map_err(AppError::Ipn)?;
            Answer::ok(serde_json::json!({ "outcome": "subscription_confirmed" }))
        }
        IpnDelivery::UnsubscribeConfirmation => {
            Answer::ok(serde_json::json!({ "outcome": "unsubscribed" }))
        }
    }
}
