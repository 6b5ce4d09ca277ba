//! The state machines (SPEC §5) and business rules (SPEC §4, §10, §11) of every operation.
//! Pure and synchronous: the HTTP layer holds the lock, calls one method, and delivers the
//! IPN messages collected in `outbox` after releasing it. One `impl Core` block per topic:
//! `timers`, `permissions`, `charges` (+ `authorize`), `refunds`, `sessions` (+ `complete`);
//! `rules` holds the validation and simulation-code parsing they share.

mod authorize;
mod charges;
mod complete;
mod permissions;
mod refunds;
mod rules;
mod sessions;
mod timers;

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use savedwallet_shared::api::*;
use savedwallet_shared::region::{Environment, Region};
use savedwallet_shared::timestamp::AmazonTimestamp;

use crate::config::Config;
use crate::error::ApiError;
use crate::knobs::Knobs;
use crate::model::*;

pub(crate) use permissions::NewPermission;
pub(crate) use rules::{check_listed_values, check_sim_none, reason_text};

const DAY_MS: i64 = 24 * 3600 * 1000;

/// Facts about the request an operation needs.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    /// Environment (from the key id or path prefix).
    pub(crate) env: Environment,
    /// Region (from `x-amz-pay-region`).
    pub(crate) region: Region,
    /// Simulated now, Unix ms.
    pub(crate) now_ms: i64,
    /// Public base URL of this sandbox (for buyer page links).
    pub(crate) base_url: String,
    /// Simulation code (sandbox only; already ignored on live).
    pub(crate) sim: Option<String>,
}

/// A successful operation: HTTP status and the JSON body.
pub(crate) type OpResult = Result<(u16, serde_json::Value), ApiError>;

/// State plus the runtime pieces that are not persisted.
#[derive(Debug)]
pub(crate) struct Core {
    /// Persisted state.
    pub(crate) state: State,
    /// Seeded randomness for ids.
    rng: StdRng,
    /// Settings fixed at start.
    cfg: Arc<Config>,
    /// Behaviours switched at run time.
    pub(crate) knobs: Knobs,
    /// IPN messages produced while the lock was held.
    outbox: Vec<IpnMessage>,
    /// Wall-clock delay the current answer must wait (synchronous authorization latency).
    response_delay_ms: u64,
}

fn ts(ms: i64) -> AmazonTimestamp {
    AmazonTimestamp::from_unix(ms.div_euclid(1000))
        .unwrap_or(AmazonTimestamp(chrono::DateTime::<chrono::Utc>::MIN_UTC))
}

/// `statusDetails` entering `state` at `at`, with Amazon-like text for the reason.
fn status<S>(state: S, reason: Option<ReasonCode>, at: i64) -> StatusDetails<S> {
    StatusDetails {
        state,
        reason_description: reason.as_ref().map(reason_text),
        reason_code: reason,
        last_updated_timestamp: Some(ts(at)),
    }
}

/// Replaces `slot` only when the update carries a value (PATCH semantics).
fn patch<T>(slot: &mut Option<T>, update: Option<T>) {
    if update.is_some() {
        *slot = update;
    }
}

fn to_json<T: serde::Serialize>(status: u16, v: &T) -> OpResult {
    serde_json::to_value(v)
        .map(|j| (status, j))
        .map_err(|e| ApiError::new(500, ReasonCode::InternalServerError, e.to_string()))
}

impl Core {
    /// A core over a state.
    pub(crate) fn new(state: State, cfg: Arc<Config>, knobs: Knobs) -> Core {
        let rng = StdRng::seed_from_u64(cfg.seed ^ state.seq);
        Core {
            state,
            rng,
            cfg,
            knobs,
            outbox: Vec::new(),
            response_delay_ms: 0,
        }
    }

    /// Simulated now, Unix ms: the clock base (wall or frozen) plus the advanced offset.
    pub(crate) fn now_ms(&self) -> i64 {
        self.cfg
            .base_now_ms()
            .saturating_add(self.state.clock_offset_ms)
    }

    /// The IPN messages produced since the last call.
    pub(crate) fn take_outbox(&mut self) -> Vec<IpnMessage> {
        std::mem::take(&mut self.outbox)
    }

    /// The wall-clock delay the answer just computed must wait, then none.
    pub(crate) fn take_response_delay_ms(&mut self) -> u64 {
        std::mem::take(&mut self.response_delay_ms)
    }

    fn next_seq(&mut self) -> u64 {
        self.state.seq += 1;
        self.state.seq
    }

    fn add_timer(&mut self, due_ms: i64, kind: TimerKind) {
        let seq = self.next_seq();
        self.state.timers.insert(Timer { due_ms, seq, kind });
    }

    /// Publishes an IPN for an object of `cp` (ledger + outbox).
    fn ipn(&mut self, kind: IpnNotificationType, object_type: IpnObjectType, id: &str, cp: &str) {
        let msg = IpnMessage {
            merchant_id: self.state.merchant_id.clone(),
            object_type,
            object_id: id.to_string(),
            charge_permission_id: Some(cp.to_string()),
            notification_type: kind,
            notification_id: uuid::Uuid::from_u128(self.rng.random())
                .simple()
                .to_string(),
            notification_version: Some("V2".into()),
        };
        self.state.ipn_published.push(msg.clone());
        self.outbox.push(msg);
    }

    /// A STATE_CHANGE IPN.
    fn state_ipn(&mut self, object_type: IpnObjectType, id: &str, cp: &str) {
        self.ipn(IpnNotificationType::StateChange, object_type, id, cp);
    }

    /// Forgets every IPN about `cp` not yet delivered (a wallet that never came to be).
    fn retract_ipns(&mut self, cp: &str) {
        let other = |m: &IpnMessage| m.charge_permission_id.as_deref() != Some(cp);
        self.outbox.retain(other);
        self.state.ipn_published.retain(other);
    }

    /// A random (seeded) UUID v4, the shape of Amazon's checkout session ids.
    fn new_uuid(&mut self) -> uuid::Uuid {
        uuid::Builder::from_random_bytes(self.rng.random()).into_uuid()
    }

    /// The default test buyer, with a fresh Amazon-shaped buyer id.
    fn sandbox_buyer(&mut self) -> Buyer {
        let buyer_id: u64 = self.rng.random();
        Buyer {
            buyer_id: Some(format!("amzn1.account.SANDBOX{buyer_id:016X}")),
            name: Some("Sandbox Buyer".into()),
            email: Some("buyer@example.com".into()),
            phone_number: None,
            prime_membership_types: None,
        }
    }

    /// A buyer for the control API (`POST /_sandbox/buyers`); returns its id.
    pub(crate) fn add_buyer(&mut self, name: Option<String>, email: Option<String>) -> String {
        let t = self.token();
        let id = format!("amzn1.account.{}", t[..24].to_ascii_uppercase());
        self.state.buyers.insert(
            id.clone(),
            Buyer {
                buyer_id: Some(id.clone()),
                name: name.or(Some("Sandbox Buyer".into())),
                email: email.or(Some("buyer@example.com".into())),
                phone_number: None,
                prime_membership_types: None,
            },
        );
        id
    }

    /// A random token for buyer-page forms.
    pub(crate) fn token(&mut self) -> String {
        let v: u128 = self.rng.random();
        format!("{v:032x}")
    }

    fn new_permission_id(&mut self, env: Environment) -> String {
        let letter = match env {
            Environment::Sandbox => 'S',
            Environment::Live => 'P',
        };
        loop {
            let a: u32 = self.rng.random_range(0..10_000_000);
            let b: u32 = self.rng.random_range(0..10_000_000);
            let id = format!("{letter}01-{a:07}-{b:07}");
            if !self.state.permissions.contains_key(&id) {
                return id;
            }
        }
    }

    fn new_charge_id(&mut self, cp_id: &str) -> Result<String, ApiError> {
        for _ in 0..1_000_000 {
            let seq = match self.state.permissions.get_mut(cp_id) {
                Some(p) => {
                    p.next_charge_seq = (p.next_charge_seq + 1) % 1_000_000;
                    p.next_charge_seq
                }
                None => return Err(ApiError::not_found("Charge Permission", cp_id)),
            };
            let id = format!("{cp_id}-C{seq:06}");
            if !self.state.charges.contains_key(&id) {
                return Ok(id);
            }
        }
        Err(ApiError::unprocessable(
            ReasonCode::TransactionCountExceeded,
            "too many charges for this charge permission",
        ))
    }

    fn new_refund_id(&mut self, cp_id: &str) -> String {
        loop {
            let n: u32 = self.rng.random_range(0..1_000_000);
            let id = format!("{cp_id}-R{n:06}");
            if !self.state.refunds.contains_key(&id) {
                return id;
            }
        }
    }

    /// 422 (or 400, knob) `CheckoutSessionCanceled`.
    fn session_canceled(&self, message: impl Into<String>) -> ApiError {
        ApiError::new(
            self.knobs.checkout_session_canceled_status,
            ReasonCode::CheckoutSessionCanceled,
            message,
        )
    }
}
