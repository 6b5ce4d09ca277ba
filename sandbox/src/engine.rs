//! The state machines (SPEC §5) and business rules (SPEC §4, §10, §11) of every operation.
//! Pure and synchronous: the HTTP layer holds the lock, calls one method, and delivers the
//! IPN messages collected in `outbox` after releasing it.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use savedwallet_shared::api::*;
use savedwallet_shared::money::{Currency, Price};
use savedwallet_shared::region::{Environment, Region};
use savedwallet_shared::timestamp::AmazonTimestamp;

use crate::config::Config;
use crate::error::ApiError;
use crate::model::*;

const DAY_MS: i64 = 24 * 3600 * 1000;
const MAX_URL_LEN: usize = 1024;
const MAX_SOFT_DESCRIPTOR: usize = 16;

/// Facts about the request an operation needs.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Environment (from the key id or path prefix).
    pub env: Environment,
    /// Region (from `x-amz-pay-region`).
    pub region: Region,
    /// Simulated now, Unix ms.
    pub now_ms: i64,
    /// Public base URL of this sandbox (for buyer page links).
    pub base_url: String,
    /// Simulation code (sandbox only; already ignored on live).
    pub sim: Option<String>,
}

/// A successful operation: HTTP status and the JSON body.
pub type OpResult = Result<(u16, serde_json::Value), ApiError>;

/// State plus the runtime pieces that are not persisted.
#[derive(Debug)]
pub struct Core {
    /// Persisted state.
    pub state: State,
    /// Seeded randomness for ids.
    pub rng: StdRng,
    /// Settings.
    pub cfg: Arc<Config>,
    /// IPN messages produced while the lock was held.
    pub outbox: Vec<IpnMessage>,
}

/// Simulation codes per operation (SPEC §10.2).
pub mod sim {
    /// Codes accepted by Create Charge.
    pub const CREATE_CHARGE: &[&str] = &[
        "HardDeclined",
        "SoftDeclined",
        "AmazonRejected",
        "TransactionTimedOut",
        "ProcessingFailure",
        "PaymentMethodNotAllowed",
        "AuthorizationInitiated",
        "PendingAuthorizationSoftDeclined",
        "PendingAuthorizationHardDeclined",
        "CaptureInitiated",
        "BuyerActionRequired",
    ];
    /// Codes accepted by Capture Charge.
    pub const CAPTURE_CHARGE: &[&str] =
        &["CaptureInitiated", "AmazonRejected", "ProcessingFailure"];
    /// Codes accepted by Complete Checkout Session.
    pub const COMPLETE_CHECKOUT: &[&str] = &[
        "BuyerCanceled",
        "AmazonCanceled",
        "Declined",
        "AuthorizationInitiated",
    ];
    /// Codes accepted by Close Charge Permission.
    pub const CLOSE_PERMISSION: &[&str] = &["AmazonClosed"];
    /// Codes accepted by Create Refund.
    pub const CREATE_REFUND: &[&str] = &["AmazonRejected", "ProcessingFailure"];
}

/// How an authorization attempt ends.
enum AuthOutcome {
    Approve,
    Pending(PendingOutcome),
    Mfa,
    CaptureInitiated,
    Decline(u16, ReasonCode, &'static str),
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

fn check_soft_descriptor(sd: &Option<String>) -> Result<(), ApiError> {
    if let Some(s) = sd {
        if s.chars().count() > MAX_SOFT_DESCRIPTOR || s.is_empty() {
            return Err(ApiError::bad_request(
                ReasonCode::InvalidParameterValue,
                "softDescriptor must be 1 to 16 characters",
            ));
        }
    }
    Ok(())
}

fn check_return_url(env: Environment, url: Option<&str>) -> Result<(), ApiError> {
    if let Some(u) = url {
        if u.len() > MAX_URL_LEN {
            return Err(ApiError::bad_request(
                ReasonCode::InvalidParameterValue,
                "checkoutResultReturnUrl must be at most 1024 characters",
            ));
        }
        let parsed = url::Url::parse(u).map_err(|_| {
            ApiError::bad_request(
                ReasonCode::InvalidParameterValue,
                "checkoutResultReturnUrl is not a valid URL",
            )
        })?;
        let ok = match env {
            Environment::Live => parsed.scheme() == "https",
            Environment::Sandbox => matches!(parsed.scheme(), "https" | "http"),
        };
        if !ok {
            return Err(ApiError::bad_request(
                ReasonCode::InvalidParameterValue,
                "checkoutResultReturnUrl must use HTTPS",
            ));
        }
    }
    Ok(())
}

fn positive(p: Price, field: &str) -> Result<(), ApiError> {
    if p.is_positive() {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            ReasonCode::InvalidParameterValue,
            format!("{field} must be greater than zero"),
        ))
    }
}

fn refund_overage_cap(captured: Price) -> i64 {
    // Refunds may exceed the captured amount by min(15 %, 75 major units / 8,400 JPY).
    let pct = captured.minor_units() * 15 / 100;
    let abs = match captured.currency() {
        Currency::JPY => 8_400,
        c => 75 * c.minor_per_major(),
    };
    pct.min(abs)
}

impl Core {
    /// A core over a state.
    pub fn new(state: State, cfg: Arc<Config>) -> Core {
        let rng = StdRng::seed_from_u64(cfg.seed ^ state.seq);
        Core {
            state,
            rng,
            cfg,
            outbox: Vec::new(),
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.state.seq += 1;
        self.state.seq
    }

    fn add_timer(&mut self, due_ms: i64, kind: TimerKind) {
        let seq = self.next_seq();
        self.state.timers.insert(Timer { due_ms, seq, kind });
    }

    fn ipn(&mut self, object_type: IpnObjectType, object_id: &str, cp: &str) {
        let msg = IpnMessage {
            merchant_id: self.state.merchant_id.clone(),
            object_type,
            object_id: object_id.to_string(),
            charge_permission_id: Some(cp.to_string()),
            notification_type: IpnNotificationType::StateChange,
            notification_id: uuid::Uuid::from_u128(self.rng.random())
                .simple()
                .to_string(),
            notification_version: Some("V2".into()),
        };
        self.state.ipn_published.push(msg.clone());
        self.outbox.push(msg);
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

    /// Stores a new Open checkout session and arms its 24 h expiry.
    fn insert_session(
        &mut self,
        ctx: &Ctx,
        object: CheckoutSession,
        mfa_charge_id: Option<String>,
    ) {
        let sid = object.checkout_session_id.clone();
        let form_token = self.token();
        self.state.sessions.insert(
            sid.clone(),
            SessionRec {
                object,
                env: ctx.env,
                region: ctx.region,
                form_token,
                chosen_wallet: None,
                mfa_charge_id,
                mfa_outcome: None,
                created_ms: ctx.now_ms,
            },
        );
        self.add_timer(ctx.now_ms + DAY_MS, TimerKind::SessionExpiry(sid));
    }

    /// A random token for buyer-page forms.
    pub fn token(&mut self) -> String {
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

    // ---------------------------------------------------------------- timers

    /// Fires every timer due at or before `now_ms` (simulated clock).
    pub fn tick(&mut self, now_ms: i64) {
        while let Some(first) = self.state.timers.first() {
            if first.due_ms > now_ms {
                break;
            }
            let Some(t) = self.state.timers.pop_first() else {
                break;
            };
            // A timer runs "at" its due time so timestamps look like Amazon's.
            self.fire(t.kind, t.due_ms);
        }
    }

    fn fire(&mut self, kind: TimerKind, at: i64) {
        match kind {
            TimerKind::SessionExpiry(id) => self.expire_session(&id, at),
            TimerKind::AsyncAuthorization(id) => self.resolve_pending(&id, at),
            TimerKind::AuthorizationExpiry(id) => {
                if self.charge_state(&id) == Some(ChargeState::Authorized) {
                    self.set_charge_state(
                        &id,
                        ChargeState::Canceled,
                        Some(ReasonCode::ExpiredUnused),
                        at,
                    );
                }
            }
            TimerKind::AsyncCapture(id) => {
                if self.charge_state(&id) == Some(ChargeState::CaptureInitiated) {
                    self.set_charge_state(&id, ChargeState::Captured, None, at);
                }
            }
            TimerKind::RefundSettlement(id) => self.settle_refund(&id, at),
        }
    }

    fn expire_session(&mut self, id: &str, at: i64) {
        let Some(s) = self.state.sessions.get_mut(id) else {
            return;
        };
        if s.object.status_details.state != CheckoutSessionState::Open {
            return;
        }
        s.object.status_details = status(
            CheckoutSessionState::Canceled,
            Some(ReasonCode::Expired),
            at,
        );
        if let Some(cid) = s.mfa_charge_id.clone() {
            if self.charge_state(&cid) == Some(ChargeState::ActionRequired) {
                self.set_charge_state(&cid, ChargeState::Canceled, Some(ReasonCode::Expired), at);
            }
        }
    }

    fn resolve_pending(&mut self, id: &str, at: i64) {
        if self.charge_state(id) != Some(ChargeState::AuthorizationInitiated) {
            return;
        }
        let Some(rec) = self.state.charges.get(id) else {
            return;
        };
        let outcome = rec.pending_outcome.unwrap_or(PendingOutcome::Approve);
        let capture_now = rec.object.capture_now.unwrap_or(false);
        let cp = rec.object.charge_permission_id.clone();
        match outcome {
            PendingOutcome::Approve => self.approve_charge(id, capture_now, at),
            PendingOutcome::SoftDecline => self.set_charge_state(
                id,
                ChargeState::Declined,
                Some(ReasonCode::SoftDeclined),
                at,
            ),
            PendingOutcome::HardDecline => {
                self.set_charge_state(
                    id,
                    ChargeState::Declined,
                    Some(ReasonCode::HardDeclined),
                    at,
                );
                self.set_permission_state(
                    &cp,
                    ChargePermissionState::NonChargeable,
                    Some(ReasonCode::PaymentMethodInvalid),
                    at,
                );
            }
        }
    }

    fn settle_refund(&mut self, id: &str, at: i64) {
        let Some(r) = self.state.refunds.get_mut(id) else {
            return;
        };
        if r.object.status_details.state != RefundState::RefundInitiated {
            return;
        }
        let cp = r.charge_permission_id.clone();
        let charge_id = r.object.charge_id.clone();
        let amount = r.object.refund_amount;
        match r.decline_reason.clone() {
            Some(reason) => {
                r.object.status_details =
                    status(RefundState::Declined, Some(ReasonCode::parse(&reason)), at);
            }
            None => {
                r.object.status_details = status(RefundState::Refunded, None, at);
                if let Some(c) = self.state.charges.get_mut(&charge_id) {
                    let prev = c
                        .object
                        .refunded_amount
                        .unwrap_or(Price::zero(amount.currency()));
                    c.object.refunded_amount = Some(prev.checked_add(amount).unwrap_or(prev));
                }
            }
        }
        self.ipn(IpnObjectType::Refund, id, &cp);
    }

    // ---------------------------------------------------------------- state helpers

    fn charge_state(&self, id: &str) -> Option<ChargeState> {
        self.state
            .charges
            .get(id)
            .map(|c| c.object.status_details.state.clone())
    }

    fn set_charge_state(
        &mut self,
        id: &str,
        state: ChargeState,
        reason: Option<ReasonCode>,
        at: i64,
    ) {
        let Some(c) = self.state.charges.get_mut(id) else {
            return;
        };
        let stops_counting = matches!(state, ChargeState::Declined | ChargeState::Canceled);
        c.object.status_details = status(state, reason, at);
        let cp = c.object.charge_permission_id.clone();
        if stops_counting {
            if let Some(month) = c.counted_month.take() {
                let amount = c.object.charge_amount.minor_units();
                if let Some(p) = self.state.permissions.get_mut(&cp) {
                    if let Some(v) = p.monthly_minor.get_mut(&month) {
                        *v -= amount;
                    }
                }
            }
        }
        self.ipn(IpnObjectType::Charge, id, &cp);
    }

    fn approve_charge(&mut self, id: &str, capture_now: bool, at: i64) {
        if let Some(c) = self.state.charges.get_mut(id) {
            c.authorized_ms = Some(at);
            if capture_now {
                c.object.capture_amount = Some(c.object.charge_amount);
            }
        }
        if capture_now {
            self.set_charge_state(id, ChargeState::Captured, None, at);
        } else {
            self.set_charge_state(id, ChargeState::Authorized, None, at);
            self.add_timer(
                at + 30 * DAY_MS,
                TimerKind::AuthorizationExpiry(id.to_string()),
            );
        }
    }

    fn set_permission_state(
        &mut self,
        id: &str,
        state: ChargePermissionState,
        reason: Option<ReasonCode>,
        at: i64,
    ) {
        let Some(p) = self.state.permissions.get_mut(id) else {
            return;
        };
        p.object.status_details = ChargePermissionStatusDetails {
            state,
            reasons: reason
                .map(|r| {
                    vec![StatusReason {
                        reason_description: Some(reason_text(&r)),
                        reason_code: r,
                    }]
                })
                .unwrap_or_default(),
            last_updated_timestamp: Some(ts(at)),
        };
        self.ipn(IpnObjectType::ChargePermission, id, id);
    }

    fn permission_in_env(&self, id: &str, env: Environment) -> Result<&PermissionRec, ApiError> {
        self.state
            .permissions
            .get(id)
            .filter(|p| p.env == env)
            .ok_or_else(|| ApiError::not_found("Charge Permission", id))
    }

    /// Amazon's Charge Permission JSON, with this month's limit and balance.
    pub fn render_permission(&self, id: &str, now_ms: i64) -> Option<ChargePermission> {
        let p = self.state.permissions.get(id)?;
        let mut obj = p.object.clone();
        if obj.charge_permission_type == Some(ChargePermissionType::PaymentMethodOnFile) {
            let limit = self.limit_of(p);
            let used = p
                .monthly_minor
                .get(&month_key(now_ms))
                .copied()
                .unwrap_or(0);
            obj.limits = Some(Limits {
                amount_limit: Some(limit),
                amount_balance: Some(Price::from_minor(
                    (limit.minor_units() - used).max(0),
                    p.currency,
                )),
            });
        }
        Some(obj)
    }

    fn limit_of(&self, p: &PermissionRec) -> Price {
        match p.wallet.monthly_limit_minor {
            Some(m) => Price::from_minor(m, p.currency),
            None => monthly_limit(p.region, p.currency),
        }
    }

    // ---------------------------------------------------------------- permissions

    /// Creates a Chargeable Saved Wallet charge permission (control API and checkout).
    #[allow(clippy::too_many_arguments)]
    pub fn create_permission(
        &mut self,
        env: Environment,
        region: Region,
        currency: Currency,
        wallet: Wallet,
        kind: ChargePermissionType,
        buyer: Option<Buyer>,
        merchant_metadata: Option<MerchantMetadata>,
        now_ms: i64,
    ) -> String {
        let id = self.new_permission_id(env);
        let buyer = buyer.unwrap_or_else(|| self.sandbox_buyer());
        let object = ChargePermission {
            charge_permission_id: id.clone(),
            charge_permission_type: Some(kind.clone()),
            recurring_metadata: None,
            payment_method_on_file_metadata: None,
            limits: None,
            presentment_currency: Some(currency.code().to_string()),
            buyer: Some(buyer),
            shipping_address: None,
            billing_address: None,
            payment_preferences: Some(vec![PaymentPreference {
                payment_descriptor: Some(wallet.preset.descriptor().into()),
            }]),
            merchant_metadata,
            platform_id: None,
            status_details: ChargePermissionStatusDetails {
                state: ChargePermissionState::Chargeable,
                reasons: Vec::new(),
                last_updated_timestamp: Some(ts(now_ms)),
            },
            creation_timestamp: Some(ts(now_ms)),
            expiration_timestamp: match kind {
                ChargePermissionType::OneTime => Some(ts(now_ms + 180 * DAY_MS)),
                _ => None,
            },
            release_environment: Some(env.release_environment().into()),
        };
        let form_token = self.token();
        self.state.permissions.insert(
            id.clone(),
            PermissionRec {
                object,
                env,
                region,
                currency,
                wallet,
                form_token,
                monthly_minor: Default::default(),
                next_charge_seq: self.rng.random_range(0..900_000),
                charge_ids: Vec::new(),
            },
        );
        id
    }

    /// Get Charge Permission.
    pub fn get_permission(&mut self, ctx: &Ctx, id: &str) -> OpResult {
        self.permission_in_env(id, ctx.env)?;
        let obj = self
            .render_permission(id, ctx.now_ms)
            .ok_or_else(|| ApiError::not_found("Charge Permission", id))?;
        to_json(200, &obj)
    }

    /// Update Charge Permission.
    pub fn update_permission(
        &mut self,
        ctx: &Ctx,
        id: &str,
        req: UpdateChargePermissionRequest,
    ) -> OpResult {
        let p = self.permission_in_env(id, ctx.env)?;
        if p.object.status_details.state == ChargePermissionState::Closed {
            return Err(ApiError::unprocessable(
                ReasonCode::ChargePermissionNotModifiable,
                "a Closed charge permission cannot be modified",
            ));
        }
        if let Some(m) = &req.merchant_metadata {
            check_metadata(m)?;
        }
        if let Some(p) = self.state.permissions.get_mut(id) {
            patch(&mut p.object.merchant_metadata, req.merchant_metadata);
            patch(&mut p.object.recurring_metadata, req.recurring_metadata);
        }
        self.get_permission(ctx, id)
    }

    /// Close Charge Permission (merchant), with `cancelPendingCharges`.
    pub fn close_permission(
        &mut self,
        ctx: &Ctx,
        id: &str,
        req: CloseChargePermissionRequest,
    ) -> OpResult {
        let sim = check_sim(ctx, sim::CLOSE_PERMISSION)?;
        if req.closure_reason.chars().count() > 255 {
            return Err(ApiError::bad_request(
                ReasonCode::InvalidParameterValue,
                "closureReason must be at most 255 characters",
            ));
        }
        let p = self.permission_in_env(id, ctx.env)?;
        if p.object.status_details.state == ChargePermissionState::Closed {
            return Err(ApiError::unprocessable(
                ReasonCode::InvalidChargePermissionStatus,
                "the charge permission is already Closed",
            ));
        }
        let charge_ids = p.charge_ids.clone();
        if req.cancel_pending_charges.unwrap_or(false) {
            for cid in charge_ids {
                if matches!(
                    self.charge_state(&cid),
                    Some(
                        ChargeState::AuthorizationInitiated
                            | ChargeState::Authorized
                            | ChargeState::ActionRequired
                    )
                ) {
                    self.set_charge_state(
                        &cid,
                        ChargeState::Canceled,
                        Some(ReasonCode::ChargePermissionCanceled),
                        ctx.now_ms,
                    );
                }
            }
        }
        let reason = if sim.as_deref() == Some("AmazonClosed") {
            ReasonCode::AmazonClosed
        } else {
            ReasonCode::MerchantClosed
        };
        self.set_permission_state(id, ChargePermissionState::Closed, Some(reason), ctx.now_ms);
        self.get_permission(ctx, id)
    }

    /// The buyer closes their Saved Wallet on Amazon's site (→ Closed / BuyerClosed + IPN).
    pub fn buyer_close(&mut self, id: &str, now_ms: i64) -> Result<(), ApiError> {
        let p = self
            .state
            .permissions
            .get(id)
            .ok_or_else(|| ApiError::not_found("Charge Permission", id))?;
        if p.object.status_details.state == ChargePermissionState::Closed {
            return Err(ApiError::unprocessable(
                ReasonCode::InvalidChargePermissionStatus,
                "the charge permission is already Closed",
            ));
        }
        self.set_permission_state(
            id,
            ChargePermissionState::Closed,
            Some(ReasonCode::BuyerClosed),
            now_ms,
        );
        Ok(())
    }

    /// The buyer picks a (new) payment method: the wallet becomes Chargeable again + IPN.
    pub fn buyer_update_payment_method(
        &mut self,
        id: &str,
        preset: Preset,
        now_ms: i64,
    ) -> Result<(), ApiError> {
        let delay = self.cfg.async_delay_secs;
        let p = self
            .state
            .permissions
            .get_mut(id)
            .ok_or_else(|| ApiError::not_found("Charge Permission", id))?;
        if p.object.status_details.state == ChargePermissionState::Closed {
            return Err(ApiError::unprocessable(
                ReasonCode::InvalidChargePermissionStatus,
                "a Closed charge permission cannot be updated; set up a new Saved Wallet",
            ));
        }
        let limit = p.wallet.monthly_limit_minor;
        p.wallet = Wallet::new(preset, delay);
        p.wallet.updated = true;
        if preset == Preset::LowLimit {
            p.wallet.monthly_limit_minor = limit.or(Some(100 * p.currency.minor_per_major()));
        }
        p.object.payment_preferences = Some(vec![PaymentPreference {
            payment_descriptor: Some(preset.descriptor().into()),
        }]);
        self.set_permission_state(id, ChargePermissionState::Chargeable, None, now_ms);
        Ok(())
    }

    // ---------------------------------------------------------------- charges

    /// Create Charge (SPEC §4.5, §11).
    pub fn create_charge(&mut self, ctx: &Ctx, req: CreateChargeRequest) -> OpResult {
        let sim = check_sim(ctx, sim::CREATE_CHARGE)?;
        let p = self.permission_in_env(&req.charge_permission_id, ctx.env)?;
        let amount = req.charge_amount;
        positive(amount, "chargeAmount")?;
        if amount.currency() != p.currency {
            return Err(ApiError::bad_request(
                ReasonCode::CurrencyMismatch,
                format!(
                    "chargeAmount currency {} differs from the charge permission's {}",
                    amount.currency(),
                    p.currency
                ),
            ));
        }
        if amount.validate_charge_amount().is_err() {
            return Err(ApiError::bad_request(
                ReasonCode::TransactionAmountExceeded,
                format!(
                    "chargeAmount exceeds the per-charge maximum of {}",
                    Price::per_charge_maximum(amount.currency())
                ),
            ));
        }
        check_soft_descriptor(&req.soft_descriptor)?;
        let capture_now = req.capture_now.unwrap_or(false);
        if req.soft_descriptor.is_some() && !capture_now {
            return Err(ApiError::bad_request(
                ReasonCode::InvalidParameterCombination,
                "softDescriptor is only allowed when captureNow is true",
            ));
        }
        if let Some(m) = &req.merchant_metadata {
            check_metadata(m)?;
        }
        let return_url = req
            .web_checkout_details
            .as_ref()
            .and_then(|w| w.checkout_result_return_url.clone());
        check_return_url(ctx.env, return_url.as_deref())?;
        if p.object.status_details.state != ChargePermissionState::Chargeable {
            return Err(ApiError::unprocessable(
                ReasonCode::InvalidChargePermissionStatus,
                format!(
                    "the charge permission is {}, not Chargeable",
                    p.object.status_details.state
                ),
            ));
        }
        let month = month_key(ctx.now_ms);
        let used = p.monthly_minor.get(&month).copied().unwrap_or(0);
        let limit = self.limit_of(p);
        if used + amount.minor_units() > limit.minor_units() {
            return Err(ApiError::bad_request(
                ReasonCode::PeriodicAmountExceeded,
                "You've exceeded the monthly limit for the Charge Permission and must wait until the next month to charge this buyer.",
            ));
        }
        let can_pend = req.can_handle_pending_authorization.unwrap_or(false);
        let cit = req
            .charge_initiator
            .as_ref()
            .is_some_and(|c| c.is_customer_initiated());
        let outcome = match sim.as_deref() {
            Some("HardDeclined") => AuthOutcome::Decline(422, ReasonCode::HardDeclined, ""),
            Some("SoftDeclined") => AuthOutcome::Decline(422, ReasonCode::SoftDeclined, ""),
            Some("AmazonRejected") => AuthOutcome::Decline(422, ReasonCode::AmazonRejected, ""),
            Some("TransactionTimedOut") => {
                AuthOutcome::Decline(422, ReasonCode::TransactionTimedOut, "")
            }
            Some("ProcessingFailure") => {
                AuthOutcome::Decline(500, ReasonCode::ProcessingFailure, "")
            }
            Some("PaymentMethodNotAllowed") => {
                AuthOutcome::Decline(422, ReasonCode::PaymentMethodNotAllowed, "")
            }
            Some("AuthorizationInitiated") => AuthOutcome::Pending(PendingOutcome::Approve),
            Some("PendingAuthorizationSoftDeclined") => {
                AuthOutcome::Pending(PendingOutcome::SoftDecline)
            }
            Some("PendingAuthorizationHardDeclined") => {
                AuthOutcome::Pending(PendingOutcome::HardDecline)
            }
            Some("CaptureInitiated") => AuthOutcome::CaptureInitiated,
            Some("BuyerActionRequired") => AuthOutcome::Mfa,
            _ => self.wallet_outcome(&req.charge_permission_id, cit),
        };
        let outcome = match outcome {
            AuthOutcome::Pending(_) if !can_pend => AuthOutcome::Decline(
                422,
                ReasonCode::TransactionTimedOut,
                "the authorization could not be completed synchronously; send canHandlePendingAuthorization: true",
            ),
            AuthOutcome::Mfa if !cit => AuthOutcome::Decline(
                422,
                ReasonCode::MFANotCompleted,
                "multi-factor authentication is required to be completed by the buyer for this transaction",
            ),
            AuthOutcome::Mfa if return_url.is_none() => AuthOutcome::Decline(
                422,
                ReasonCode::MFANotCompleted,
                "multi-factor authentication is required: send webCheckoutDetails.checkoutResultReturnUrl",
            ),
            o => o,
        };
        if let AuthOutcome::Decline(status, reason, text) = outcome {
            if reason == ReasonCode::HardDeclined {
                self.set_permission_state(
                    &req.charge_permission_id,
                    ChargePermissionState::NonChargeable,
                    Some(ReasonCode::PaymentMethodInvalid),
                    ctx.now_ms,
                );
            }
            let message = if text.is_empty() {
                reason_text(&reason)
            } else {
                text.to_string()
            };
            return Err(ApiError::new(status, reason, message));
        }

        let id = self.new_charge_id(&req.charge_permission_id)?;
        let object = Charge {
            charge_id: id.clone(),
            charge_permission_id: req.charge_permission_id.clone(),
            charge_amount: amount,
            capture_amount: Some(Price::zero(amount.currency())),
            refunded_amount: Some(Price::zero(amount.currency())),
            converted_amount: None,
            conversion_rate: None,
            soft_descriptor: req.soft_descriptor.clone(),
            capture_now: Some(capture_now),
            can_handle_pending_authorization: Some(can_pend),
            charge_initiator: req.charge_initiator.clone(),
            channel: req.channel.clone(),
            merchant_metadata: req.merchant_metadata.clone(),
            provider_metadata: req.provider_metadata.clone(),
            platform_id: req.platform_id.clone(),
            web_checkout_details: None,
            status_details: status(ChargeState::AuthorizationInitiated, None, ctx.now_ms),
            creation_timestamp: Some(ts(ctx.now_ms)),
            expiration_timestamp: Some(ts(ctx.now_ms + 30 * DAY_MS)),
            release_environment: Some(ctx.env.release_environment().into()),
        };
        self.state.charges.insert(
            id.clone(),
            ChargeRec {
                object,
                env: ctx.env,
                counted_month: Some(month.clone()),
                authorized_ms: None,
                pending_outcome: None,
                refund_count: 0,
                mfa_session_id: None,
            },
        );
        if let Some(p) = self.state.permissions.get_mut(&req.charge_permission_id) {
            *p.monthly_minor.entry(month).or_insert(0) += amount.minor_units();
            p.charge_ids.push(id.clone());
        }
        let delay_ms = self
            .state
            .permissions
            .get(&req.charge_permission_id)
            .map(|p| p.wallet.async_delay_secs)
            .unwrap_or(self.cfg.async_delay_secs)
            .saturating_mul(1000);
        let status = match outcome {
            AuthOutcome::Approve => {
                self.approve_charge(&id, capture_now, ctx.now_ms);
                201
            }
            AuthOutcome::Pending(o) => {
                if let Some(c) = self.state.charges.get_mut(&id) {
                    c.pending_outcome = Some(o);
                }
                self.ipn(IpnObjectType::Charge, &id, &req.charge_permission_id);
                self.add_timer(
                    ctx.now_ms.saturating_add(delay_ms),
                    TimerKind::AsyncAuthorization(id.clone()),
                );
                201
            }
            AuthOutcome::CaptureInitiated => {
                if let Some(c) = self.state.charges.get_mut(&id) {
                    c.authorized_ms = Some(ctx.now_ms);
                    c.object.capture_amount = Some(amount);
                }
                self.set_charge_state(&id, ChargeState::CaptureInitiated, None, ctx.now_ms);
                self.add_timer(
                    ctx.now_ms
                        .saturating_add(self.cfg.async_delay_secs.saturating_mul(1000)),
                    TimerKind::AsyncCapture(id.clone()),
                );
                201
            }
            AuthOutcome::Mfa => {
                let sid = self.create_mfa_session(ctx, &id, return_url.unwrap_or_default());
                let redirect = format!("{}/mfa/{sid}", ctx.base_url);
                if let Some(c) = self.state.charges.get_mut(&id) {
                    c.mfa_session_id = Some(sid);
                    c.object.web_checkout_details = Some(WebCheckoutDetails {
                        checkout_result_return_url: req
                            .web_checkout_details
                            .as_ref()
                            .and_then(|w| w.checkout_result_return_url.clone()),
                        amazon_pay_redirect_url: Some(redirect),
                        ..Default::default()
                    });
                }
                self.set_charge_state(
                    &id,
                    ChargeState::ActionRequired,
                    Some(ReasonCode::BuyerActionRequired),
                    ctx.now_ms,
                );
                202
            }
            AuthOutcome::Decline(..) => 500,
        };
        let charge = self
            .state
            .charges
            .get(&id)
            .map(|c| c.object.clone())
            .ok_or_else(|| ApiError::not_found("Charge", &id))?;
        to_json(status, &charge)
    }

    fn wallet_outcome(&mut self, cp_id: &str, cit: bool) -> AuthOutcome {
        let Some(p) = self.state.permissions.get_mut(cp_id) else {
            return AuthOutcome::Approve;
        };
        let w = &mut p.wallet;
        match w.preset {
            Preset::AlwaysApprove
            | Preset::LowLimit
            | Preset::SetupBuyerCanceled
            | Preset::SetupDeclined => AuthOutcome::Approve,
            Preset::SoftDecline => {
                if w.soft_declines_remaining > 0 {
                    w.soft_declines_remaining -= 1;
                    AuthOutcome::Decline(422, ReasonCode::SoftDeclined, "")
                } else {
                    AuthOutcome::Approve
                }
            }
            Preset::HardDeclineUntilUpdated => {
                if w.updated {
                    AuthOutcome::Approve
                } else {
                    AuthOutcome::Decline(422, ReasonCode::HardDeclined, "")
                }
            }
            Preset::MfaRequired => {
                if cit {
                    AuthOutcome::Mfa
                } else {
                    AuthOutcome::Approve
                }
            }
            Preset::AsyncApprove => AuthOutcome::Pending(PendingOutcome::Approve),
            Preset::AsyncDecline => AuthOutcome::Pending(PendingOutcome::HardDecline),
        }
    }

    fn create_mfa_session(&mut self, ctx: &Ctx, charge_id: &str, return_url: String) -> String {
        let sid = self.new_uuid().hyphenated().to_string();
        let (cp, amount) = match self.state.charges.get(charge_id) {
            Some(c) => (
                c.object.charge_permission_id.clone(),
                Some(c.object.charge_amount),
            ),
            None => (String::new(), None),
        };
        let object = CheckoutSession {
            checkout_session_id: sid.clone(),
            web_checkout_details: Some(WebCheckoutDetails {
                checkout_result_return_url: Some(return_url),
                amazon_pay_redirect_url: Some(format!("{}/mfa/{sid}", ctx.base_url)),
                ..Default::default()
            }),
            product_type: Some("PayOnly".into()),
            charge_permission_type: Some(ChargePermissionType::PaymentMethodOnFile),
            recurring_metadata: None,
            payment_method_on_file_metadata: None,
            payment_details: Some(PaymentDetails {
                payment_intent: Some(PaymentIntent::Authorize),
                charge_amount: amount,
                ..Default::default()
            }),
            merchant_metadata: None,
            supplementary_data: None,
            platform_id: None,
            provider_metadata: None,
            buyer: None,
            shipping_address: None,
            billing_address: None,
            payment_preferences: None,
            status_details: status(CheckoutSessionState::Open, None, ctx.now_ms),
            constraints: Some(Vec::new()),
            creation_timestamp: Some(ts(ctx.now_ms)),
            expiration_timestamp: Some(ts(ctx.now_ms + DAY_MS)),
            charge_permission_id: Some(cp),
            charge_id: Some(charge_id.to_string()),
            store_id: None,
            release_environment: Some(ctx.env.release_environment().into()),
        };
        self.insert_session(ctx, object, Some(charge_id.to_string()));
        sid
    }

    fn charge_in_env(&self, id: &str, env: Environment) -> Result<&ChargeRec, ApiError> {
        self.state
            .charges
            .get(id)
            .filter(|c| c.env == env)
            .ok_or_else(|| ApiError::not_found("Charge", id))
    }

    /// Get Charge.
    pub fn get_charge(&mut self, ctx: &Ctx, id: &str) -> OpResult {
        let c = self.charge_in_env(id, ctx.env)?;
        to_json(200, &c.object)
    }

    /// Capture Charge.
    pub fn capture_charge(&mut self, ctx: &Ctx, id: &str, req: CaptureChargeRequest) -> OpResult {
        let sim = check_sim(ctx, sim::CAPTURE_CHARGE)?;
        let c = self.charge_in_env(id, ctx.env)?;
        if c.object.status_details.state != ChargeState::Authorized {
            return Err(ApiError::unprocessable(
                ReasonCode::InvalidChargeStatus,
                format!(
                    "the charge is {}, only Authorized charges can be captured",
                    c.object.status_details.state
                ),
            ));
        }
        let amount = req.capture_amount;
        positive(amount, "captureAmount")?;
        if amount.currency() != c.object.charge_amount.currency() {
            return Err(ApiError::bad_request(
                ReasonCode::CurrencyMismatch,
                "captureAmount currency differs from the charge's",
            ));
        }
        if amount.minor_units() > c.object.charge_amount.minor_units() {
            return Err(ApiError::bad_request(
                ReasonCode::TransactionAmountExceeded,
                "captureAmount exceeds the authorized chargeAmount",
            ));
        }
        check_soft_descriptor(&req.soft_descriptor)?;
        let authorized_ms = c.authorized_ms.unwrap_or(ctx.now_ms);
        match sim.as_deref() {
            Some("AmazonRejected") => {
                self.set_charge_state(
                    id,
                    ChargeState::Declined,
                    Some(ReasonCode::AmazonRejected),
                    ctx.now_ms,
                );
                return Err(ApiError::unprocessable(
                    ReasonCode::AmazonRejected,
                    reason_text(&ReasonCode::AmazonRejected),
                ));
            }
            Some("ProcessingFailure") => {
                return Err(ApiError::new(
                    500,
                    ReasonCode::ProcessingFailure,
                    reason_text(&ReasonCode::ProcessingFailure),
                ))
            }
            _ => {}
        }
        if let Some(c) = self.state.charges.get_mut(id) {
            c.object.capture_amount = Some(amount);
            if req.soft_descriptor.is_some() {
                c.object.soft_descriptor = req.soft_descriptor.clone();
            }
        }
        let asynchronous =
            sim.as_deref() == Some("CaptureInitiated") || ctx.now_ms - authorized_ms > 7 * DAY_MS;
        if asynchronous {
            self.set_charge_state(id, ChargeState::CaptureInitiated, None, ctx.now_ms);
            self.add_timer(
                ctx.now_ms
                    .saturating_add(self.cfg.async_delay_secs.saturating_mul(1000)),
                TimerKind::AsyncCapture(id.to_string()),
            );
        } else {
            self.set_charge_state(id, ChargeState::Captured, None, ctx.now_ms);
        }
        self.get_charge(ctx, id)
    }

    /// Cancel Charge.
    pub fn cancel_charge(&mut self, ctx: &Ctx, id: &str, req: CancelChargeRequest) -> OpResult {
        check_sim(ctx, &[])?;
        if req.cancellation_reason.chars().count() > 255 {
            return Err(ApiError::bad_request(
                ReasonCode::InvalidParameterValue,
                "cancellationReason must be at most 255 characters",
            ));
        }
        let c = self.charge_in_env(id, ctx.env)?;
        if !matches!(
            c.object.status_details.state,
            ChargeState::AuthorizationInitiated | ChargeState::Authorized
        ) {
            return Err(ApiError::unprocessable(
                ReasonCode::InvalidChargeStatus,
                format!(
                    "the charge is {}, only AuthorizationInitiated or Authorized charges can be canceled",
                    c.object.status_details.state
                ),
            ));
        }
        self.set_charge_state(
            id,
            ChargeState::Canceled,
            Some(ReasonCode::MerchantCanceled),
            ctx.now_ms,
        );
        self.get_charge(ctx, id)
    }

    // ---------------------------------------------------------------- refunds

    /// Create Refund.
    pub fn create_refund(&mut self, ctx: &Ctx, req: CreateRefundRequest) -> OpResult {
        let sim = check_sim(ctx, sim::CREATE_REFUND)?;
        let c = self.charge_in_env(&req.charge_id, ctx.env)?;
        if c.object.status_details.state != ChargeState::Captured {
            return Err(ApiError::unprocessable(
                ReasonCode::InvalidChargeStatus,
                format!(
                    "the charge is {}, only Captured charges can be refunded",
                    c.object.status_details.state
                ),
            ));
        }
        let amount = req.refund_amount;
        positive(amount, "refundAmount")?;
        let captured = c
            .object
            .capture_amount
            .unwrap_or(Price::zero(amount.currency()));
        if amount.currency() != captured.currency() {
            return Err(ApiError::bad_request(
                ReasonCode::CurrencyMismatch,
                "refundAmount currency differs from the charge's",
            ));
        }
        check_soft_descriptor(&req.soft_descriptor)?;
        if c.refund_count >= self.cfg.max_refunds_per_charge {
            return Err(ApiError::unprocessable(
                ReasonCode::TransactionCountExceeded,
                "the maximum number of refunds for this charge was reached",
            ));
        }
        let already: i64 = self
            .state
            .refunds
            .values()
            .filter(|r| {
                r.object.charge_id == req.charge_id
                    && r.object.status_details.state != RefundState::Declined
            })
            .map(|r| r.object.refund_amount.minor_units())
            .sum();
        let allowed = captured.minor_units() + refund_overage_cap(captured);
        if already + amount.minor_units() > allowed
            || amount.minor_units() > Price::per_charge_maximum(amount.currency()).minor_units()
        {
            return Err(ApiError::bad_request(
                ReasonCode::TransactionAmountExceeded,
                "total refunds would exceed the captured amount plus the allowed overage",
            ));
        }
        let cp = c.object.charge_permission_id.clone();
        let id = self.new_refund_id(&cp);
        let object = Refund {
            refund_id: id.clone(),
            charge_id: req.charge_id.clone(),
            refund_amount: amount,
            soft_descriptor: req.soft_descriptor.clone(),
            creation_timestamp: Some(ts(ctx.now_ms)),
            status_details: status(RefundState::RefundInitiated, None, ctx.now_ms),
            release_environment: Some(ctx.env.release_environment().into()),
        };
        if let Some(c) = self.state.charges.get_mut(&req.charge_id) {
            c.refund_count += 1;
        }
        self.state.refunds.insert(
            id.clone(),
            RefundRec {
                object: object.clone(),
                env: ctx.env,
                charge_permission_id: cp.clone(),
                decline_reason: sim,
            },
        );
        self.ipn(IpnObjectType::Refund, &id, &cp);
        self.add_timer(
            ctx.now_ms
                .saturating_add(self.cfg.refund_delay_secs.saturating_mul(1000)),
            TimerKind::RefundSettlement(id),
        );
        to_json(201, &object)
    }

    /// Get Refund.
    pub fn get_refund(&mut self, ctx: &Ctx, id: &str) -> OpResult {
        let r = self
            .state
            .refunds
            .get(id)
            .filter(|r| r.env == ctx.env)
            .ok_or_else(|| ApiError::not_found("Refund", id))?;
        to_json(200, &r.object)
    }

    // ---------------------------------------------------------------- checkout sessions

    /// Create Checkout Session.
    pub fn create_session(&mut self, ctx: &Ctx, req: CreateCheckoutSessionRequest) -> OpResult {
        check_sim(ctx, &[])?;
        let Some(wcd) = req.web_checkout_details.clone() else {
            return Err(ApiError::bad_request(
                ReasonCode::MissingParameterValue,
                "webCheckoutDetails is required",
            ));
        };
        if req.store_id.as_deref().unwrap_or("").is_empty() {
            return Err(ApiError::bad_request(
                ReasonCode::MissingParameterValue,
                "storeId is required",
            ));
        }
        check_return_url(ctx.env, wcd.checkout_result_return_url.as_deref())?;
        check_return_url(ctx.env, wcd.checkout_review_return_url.as_deref())?;
        if let Some(pd) = &req.payment_details {
            check_soft_descriptor(&pd.soft_descriptor)?;
            if let Some(a) = pd.charge_amount {
                positive(a, "paymentDetails.chargeAmount")?;
            }
        }
        if let Some(m) = &req.merchant_metadata {
            check_metadata(m)?;
        }
        if let Some(cp) = &req.charge_permission_id {
            self.permission_in_env(cp, ctx.env)?;
        }
        let sid = self.new_uuid().hyphenated().to_string();
        let object = CheckoutSession {
            checkout_session_id: sid.clone(),
            web_checkout_details: Some(wcd),
            product_type: Some("PayOnly".into()),
            charge_permission_type: Some(
                req.charge_permission_type
                    .clone()
                    .unwrap_or(ChargePermissionType::OneTime),
            ),
            recurring_metadata: req.recurring_metadata.clone(),
            payment_method_on_file_metadata: req.payment_method_on_file_metadata.clone(),
            payment_details: req.payment_details.clone(),
            merchant_metadata: req.merchant_metadata.clone(),
            supplementary_data: None,
            platform_id: req.platform_id.clone(),
            provider_metadata: req.provider_metadata.clone(),
            buyer: None,
            shipping_address: None,
            billing_address: None,
            payment_preferences: None,
            status_details: status(CheckoutSessionState::Open, None, ctx.now_ms),
            constraints: None,
            creation_timestamp: Some(ts(ctx.now_ms)),
            expiration_timestamp: Some(ts(ctx.now_ms + DAY_MS)),
            charge_permission_id: req.charge_permission_id.clone(),
            charge_id: None,
            store_id: req.store_id.clone(),
            release_environment: Some(ctx.env.release_environment().into()),
        };
        self.insert_session(ctx, object, None);
        self.refresh_constraints(&sid, &ctx.base_url);
        self.session_json(ctx, &sid, 201)
    }

    fn refresh_constraints(&mut self, sid: &str, base_url: &str) {
        let Some(s) = self.state.sessions.get_mut(sid) else {
            return;
        };
        let o = &mut s.object;
        let setup_only = o
            .payment_method_on_file_metadata
            .as_ref()
            .and_then(|m| m.setup_only)
            .unwrap_or(false);
        let confirm_only = o
            .payment_details
            .as_ref()
            .and_then(|p| p.payment_intent.as_ref())
            .is_none_or(|i| *i == PaymentIntent::Confirm);
        let has_amount = o
            .payment_details
            .as_ref()
            .and_then(|p| p.charge_amount)
            .is_some();
        let mut constraints = Vec::new();
        let wcd = o.web_checkout_details.get_or_insert_with(Default::default);
        if wcd.checkout_result_return_url.is_none() && wcd.checkout_review_return_url.is_none() {
            constraints.push(
                serde_json::json!({"constraintId": "CheckoutResultReturnUrlNotSet",
                "description": "checkoutResultReturnUrl is not set."}),
            );
        }
        if !(setup_only || confirm_only || has_amount) {
            constraints.push(serde_json::json!({"constraintId": "ChargeAmountNotSet",
                "description": "chargeAmount is not set."}));
        }
        wcd.amazon_pay_redirect_url = if constraints.is_empty() {
            Some(format!("{base_url}/checkout/{sid}"))
        } else {
            None
        };
        o.constraints = Some(constraints);
    }

    fn session_in_env(&self, sid: &str, env: Environment) -> Result<&SessionRec, ApiError> {
        self.state
            .sessions
            .get(sid)
            .filter(|s| s.env == env)
            .ok_or_else(|| ApiError::not_found("Checkout Session", sid))
    }

    fn session_json(&self, ctx: &Ctx, sid: &str, status: u16) -> OpResult {
        let s = self.session_in_env(sid, ctx.env)?;
        to_json(status, &s.object)
    }

    /// Get Checkout Session.
    pub fn get_session(&mut self, ctx: &Ctx, sid: &str) -> OpResult {
        check_sim(ctx, &[])?;
        self.session_json(ctx, sid, 200)
    }

    /// Update Checkout Session.
    pub fn update_session(
        &mut self,
        ctx: &Ctx,
        sid: &str,
        req: UpdateCheckoutSessionRequest,
    ) -> OpResult {
        check_sim(ctx, &[])?;
        let s = self.session_in_env(sid, ctx.env)?;
        if s.object.status_details.state != CheckoutSessionState::Open {
            return Err(ApiError::unprocessable(
                ReasonCode::InvalidCheckoutSessionStatus,
                format!(
                    "the checkout session is {}, not Open",
                    s.object.status_details.state
                ),
            ));
        }
        if let Some(w) = &req.web_checkout_details {
            check_return_url(ctx.env, w.checkout_result_return_url.as_deref())?;
        }
        if let Some(pd) = &req.payment_details {
            check_soft_descriptor(&pd.soft_descriptor)?;
        }
        if let Some(m) = &req.merchant_metadata {
            check_metadata(m)?;
        }
        if let Some(s) = self.state.sessions.get_mut(sid) {
            let o = &mut s.object;
            if let Some(w) = req.web_checkout_details {
                let cur = o.web_checkout_details.get_or_insert_with(Default::default);
                patch(
                    &mut cur.checkout_result_return_url,
                    w.checkout_result_return_url,
                );
                patch(
                    &mut cur.checkout_review_return_url,
                    w.checkout_review_return_url,
                );
                patch(&mut cur.checkout_cancel_url, w.checkout_cancel_url);
            }
            patch(&mut o.payment_details, req.payment_details);
            patch(&mut o.merchant_metadata, req.merchant_metadata);
            patch(&mut o.platform_id, req.platform_id);
            patch(&mut o.provider_metadata, req.provider_metadata);
            patch(&mut o.charge_permission_type, req.charge_permission_type);
            patch(&mut o.recurring_metadata, req.recurring_metadata);
            patch(&mut o.supplementary_data, req.supplementary_data);
            o.status_details.last_updated_timestamp = Some(ts(ctx.now_ms));
        }
        self.refresh_constraints(sid, &ctx.base_url);
        self.session_json(ctx, sid, 200)
    }

    /// The buyer chose a payment method on the consent page (or the control API did).
    pub fn buyer_choose(&mut self, sid: &str, preset: Preset) -> Result<String, ApiError> {
        let delay = self.cfg.async_delay_secs;
        let buyer = self.sandbox_buyer();
        let s = self
            .state
            .sessions
            .get_mut(sid)
            .ok_or_else(|| ApiError::not_found("Checkout Session", sid))?;
        if s.object.status_details.state != CheckoutSessionState::Open {
            return Err(ApiError::unprocessable(
                ReasonCode::InvalidCheckoutSessionStatus,
                "the checkout session is no longer Open",
            ));
        }
        s.chosen_wallet = Some(Wallet::new(preset, delay));
        s.object.buyer = Some(buyer);
        s.object.payment_preferences = Some(vec![PaymentPreference {
            payment_descriptor: Some(preset.descriptor().into()),
        }]);
        Ok(return_target(&s.object))
    }

    /// The buyer's MFA challenge result.
    pub fn buyer_mfa(&mut self, sid: &str, outcome: MfaOutcome) -> Result<String, ApiError> {
        let s = self
            .state
            .sessions
            .get_mut(sid)
            .ok_or_else(|| ApiError::not_found("Checkout Session", sid))?;
        if s.object.status_details.state != CheckoutSessionState::Open || s.mfa_charge_id.is_none()
        {
            return Err(ApiError::unprocessable(
                ReasonCode::InvalidCheckoutSessionStatus,
                "this challenge is no longer open",
            ));
        }
        s.mfa_outcome = Some(outcome);
        Ok(return_target(&s.object))
    }

    /// The buyer cancels on the consent page: Canceled / BuyerCanceled.
    pub fn buyer_cancel_session(&mut self, sid: &str, now_ms: i64) -> Result<String, ApiError> {
        let s = self
            .state
            .sessions
            .get(sid)
            .ok_or_else(|| ApiError::not_found("Checkout Session", sid))?;
        if s.object.status_details.state != CheckoutSessionState::Open {
            return Err(ApiError::unprocessable(
                ReasonCode::InvalidCheckoutSessionStatus,
                "the checkout session is no longer Open",
            ));
        }
        let target = return_target(&s.object);
        self.cancel_session(sid, ReasonCode::BuyerCanceled, now_ms);
        Ok(target)
    }

    fn cancel_session(&mut self, sid: &str, reason: ReasonCode, at: i64) {
        if let Some(s) = self.state.sessions.get_mut(sid) {
            s.object.status_details = status(CheckoutSessionState::Canceled, Some(reason), at);
        }
    }

    fn complete_session_ok(&mut self, sid: &str, cp: &str, charge: Option<String>, at: i64) {
        if let Some(s) = self.state.sessions.get_mut(sid) {
            s.object.status_details = status(CheckoutSessionState::Completed, None, at);
            s.object.charge_permission_id = Some(cp.to_string());
            s.object.charge_id = charge;
            if let Some(w) = s.object.web_checkout_details.as_mut() {
                w.amazon_pay_redirect_url = None;
            }
        }
    }

    /// Complete Checkout Session (setup, update, checkout with payment, MFA finalization).
    pub fn complete_session(
        &mut self,
        ctx: &Ctx,
        sid: &str,
        req: CompleteCheckoutSessionRequest,
    ) -> OpResult {
        let sim = check_sim(ctx, sim::COMPLETE_CHECKOUT)?;
        let s = self.session_in_env(sid, ctx.env)?;
        match &s.object.status_details.state {
            CheckoutSessionState::Open => {}
            CheckoutSessionState::Canceled
                if s.object.status_details.reason_code != Some(ReasonCode::Expired) =>
            {
                return Err(ApiError::unprocessable(
                    ReasonCode::CheckoutSessionCanceled,
                    "the checkout session was canceled; read statusDetails.reasonCode with Get Checkout Session",
                ))
            }
            other => {
                return Err(ApiError::unprocessable(
                    ReasonCode::InvalidCheckoutSessionStatus,
                    format!("the checkout session is {other}, not Open"),
                ))
            }
        }
        let session_amount = s
            .object
            .payment_details
            .as_ref()
            .and_then(|p| p.charge_amount);
        let setup_only = s
            .object
            .payment_method_on_file_metadata
            .as_ref()
            .and_then(|m| m.setup_only)
            .unwrap_or(false);
        let intent = s
            .object
            .payment_details
            .as_ref()
            .and_then(|p| p.payment_intent.clone())
            .unwrap_or(PaymentIntent::Confirm);
        let pays = !setup_only && intent != PaymentIntent::Confirm;
        if sim.as_deref() == Some("AuthorizationInitiated") && (!pays || s.mfa_charge_id.is_some())
        {
            // Only a checkout that authorizes a new payment can leave it pending.
            return Err(ApiError::bad_request(
                ReasonCode::InvalidSandboxSimulationSpecified,
                "AuthorizationInitiated needs a checkout session that authorizes a payment",
            ));
        }
        if pays || s.mfa_charge_id.is_some() {
            if let Some(expected) = session_amount {
                match req.charge_amount {
                    Some(a) if a == expected => {}
                    Some(_) => {
                        return Err(ApiError::new(
                            409,
                            ReasonCode::AmountMismatch,
                            "chargeAmount does not match the checkout session's chargeAmount",
                        ))
                    }
                    None => {
                        return Err(ApiError::bad_request(
                            ReasonCode::MissingParameterValue,
                            "chargeAmount is required",
                        ))
                    }
                }
            }
        }
        if let Some(code) = sim.as_deref() {
            let reason = match code {
                "BuyerCanceled" => Some(ReasonCode::BuyerCanceled),
                "AmazonCanceled" => Some(ReasonCode::AmazonCanceled),
                "Declined" => Some(ReasonCode::Declined),
                _ => None,
            };
            if let Some(r) = reason {
                if let Some(cid) = s.mfa_charge_id.clone() {
                    // The waiting charge ends the way the simulated challenge did.
                    let (state, charge_reason) = match r {
                        ReasonCode::Declined => (ChargeState::Declined, ReasonCode::MFAFailed),
                        ref other => (ChargeState::Canceled, other.clone()),
                    };
                    self.set_charge_state(&cid, state, Some(charge_reason), ctx.now_ms);
                }
                self.cancel_session(sid, r, ctx.now_ms);
                return Err(ApiError::unprocessable(
                    ReasonCode::CheckoutSessionCanceled,
                    "the checkout session was canceled; read statusDetails.reasonCode with Get Checkout Session",
                ));
            }
        }

        // MFA finalization of an ActionRequired charge.
        if let Some(cid) = s.mfa_charge_id.clone() {
            let outcome = s.mfa_outcome;
            let cp = s.object.charge_permission_id.clone().unwrap_or_default();
            return match outcome {
                None => Err(ApiError::unprocessable(
                    ReasonCode::MFANotCompleted,
                    "the buyer has not completed the authentication challenge",
                )),
                Some(MfaOutcome::Approved) => {
                    if self.charge_state(&cid) != Some(ChargeState::ActionRequired) {
                        return Err(ApiError::unprocessable(
                            ReasonCode::InvalidChargeStatus,
                            "the charge is no longer waiting for the buyer",
                        ));
                    }
                    let capture_now = self
                        .state
                        .charges
                        .get(&cid)
                        .and_then(|c| c.object.capture_now)
                        .unwrap_or(false);
                    if let Some(c) = self.state.charges.get_mut(&cid) {
                        c.object.web_checkout_details =
                            c.object.web_checkout_details.take().map(|mut w| {
                                w.amazon_pay_redirect_url = None;
                                w
                            });
                    }
                    self.approve_charge(&cid, capture_now, ctx.now_ms);
                    self.complete_session_ok(sid, &cp, Some(cid), ctx.now_ms);
                    self.session_json(ctx, sid, 200)
                }
                Some(MfaOutcome::Failed) => {
                    self.set_charge_state(
                        &cid,
                        ChargeState::Declined,
                        Some(ReasonCode::MFAFailed),
                        ctx.now_ms,
                    );
                    self.cancel_session(sid, ReasonCode::Declined, ctx.now_ms);
                    Err(ApiError::unprocessable(
                        ReasonCode::CheckoutSessionCanceled,
                        "the buyer failed the authentication challenge",
                    ))
                }
                Some(MfaOutcome::Abandoned) => {
                    self.set_charge_state(
                        &cid,
                        ChargeState::Canceled,
                        Some(ReasonCode::BuyerCanceled),
                        ctx.now_ms,
                    );
                    self.cancel_session(sid, ReasonCode::BuyerCanceled, ctx.now_ms);
                    Err(ApiError::unprocessable(
                        ReasonCode::CheckoutSessionCanceled,
                        "the buyer abandoned the authentication challenge",
                    ))
                }
            };
        }

        let Some(wallet) = s.chosen_wallet.clone() else {
            return Err(ApiError::unprocessable(
                ReasonCode::InvalidCheckoutSessionStatus,
                "the buyer has not completed checkout on the Amazon Pay page yet",
            ));
        };
        match wallet.preset {
            Preset::SetupBuyerCanceled => {
                self.cancel_session(sid, ReasonCode::BuyerCanceled, ctx.now_ms);
                return Err(ApiError::unprocessable(
                    ReasonCode::CheckoutSessionCanceled,
                    "the buyer canceled the checkout",
                ));
            }
            Preset::SetupDeclined => {
                self.cancel_session(sid, ReasonCode::Declined, ctx.now_ms);
                return Err(ApiError::unprocessable(
                    ReasonCode::CheckoutSessionCanceled,
                    "the payment was declined during checkout",
                ));
            }
            _ => {}
        }

        // Hosted Update flow (SPEC §11.6): the existing permission gets the new method.
        if let Some(cp) = s.object.charge_permission_id.clone() {
            self.buyer_update_payment_method(&cp, wallet.preset, ctx.now_ms)?;
            self.complete_session_ok(sid, &cp, None, ctx.now_ms);
            return self.session_json(ctx, sid, 200);
        }

        let kind = s
            .object
            .charge_permission_type
            .clone()
            .unwrap_or(ChargePermissionType::OneTime);
        let currency = session_amount
            .map(|a| a.currency())
            .or_else(|| {
                s.object
                    .payment_details
                    .as_ref()
                    .and_then(|p| p.presentment_currency.as_deref())
                    .and_then(|c| c.parse().ok())
            })
            .unwrap_or(Currency::ledger_for(s.region));
        let region = s.region;
        let buyer = s.object.buyer.clone();
        let mm = s.object.merchant_metadata.clone();
        let can_pend = s
            .object
            .payment_details
            .as_ref()
            .and_then(|p| p.can_handle_pending_authorization)
            .unwrap_or(false);
        let soft_descriptor = s
            .object
            .payment_details
            .as_ref()
            .and_then(|p| p.soft_descriptor.clone());
        let mut wallet = wallet;
        if wallet.preset == Preset::LowLimit {
            wallet.monthly_limit_minor = Some(100 * currency.minor_per_major());
        }
        if pays && session_amount.is_none() {
            return Err(ApiError::bad_request(
                ReasonCode::MissingParameterValue,
                "paymentDetails.chargeAmount is required for this paymentIntent",
            ));
        }
        let cp = self.create_permission(
            ctx.env, region, currency, wallet, kind, buyer, mm, ctx.now_ms,
        );
        let Some(amount) = session_amount.filter(|_| pays) else {
            self.complete_session_ok(sid, &cp, None, ctx.now_ms);
            return self.session_json(ctx, sid, 200);
        };
        let mut charge_req = CreateChargeRequest::new(cp.clone(), amount);
        charge_req.capture_now = Some(intent == PaymentIntent::AuthorizeWithCapture);
        charge_req.can_handle_pending_authorization = Some(can_pend);
        charge_req.soft_descriptor =
            soft_descriptor.filter(|_| intent == PaymentIntent::AuthorizeWithCapture);
        charge_req.charge_initiator = Some(ChargeInitiator::Citu);
        let inner_ctx = Ctx {
            sim: match sim.as_deref() {
                Some("AuthorizationInitiated") => Some("AuthorizationInitiated".into()),
                _ => None,
            },
            ..ctx.clone()
        };
        match self.create_charge(&inner_ctx, charge_req) {
            Ok((_, charge)) => {
                let cid = charge
                    .get("chargeId")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string();
                let pending = self.charge_state(&cid) == Some(ChargeState::AuthorizationInitiated);
                self.complete_session_ok(sid, &cp, Some(cid), ctx.now_ms);
                self.session_json(ctx, sid, if pending { 202 } else { 200 })
            }
            Err(e) => {
                // A payment declined during checkout saves no wallet and announces none.
                self.state.permissions.remove(&cp);
                let other = |m: &IpnMessage| m.charge_permission_id.as_deref() != Some(cp.as_str());
                self.outbox.retain(other);
                self.state.ipn_published.retain(other);
                self.cancel_session(sid, ReasonCode::Declined, ctx.now_ms);
                Err(ApiError::unprocessable(
                    ReasonCode::CheckoutSessionCanceled,
                    format!("the payment was declined: {}", e.reason),
                ))
            }
        }
    }
}

/// Where the buyer goes back to: `checkoutResultReturnUrl?amazonCheckoutSessionId=…`.
pub fn return_target(s: &CheckoutSession) -> String {
    let base = s
        .web_checkout_details
        .as_ref()
        .and_then(|w| {
            w.checkout_result_return_url
                .clone()
                .or_else(|| w.checkout_review_return_url.clone())
        })
        .unwrap_or_else(|| "/".to_string());
    match url::Url::parse(&base) {
        Ok(mut u) => {
            u.query_pairs_mut()
                .append_pair("amazonCheckoutSessionId", &s.checkout_session_id);
            u.to_string()
        }
        Err(_) => format!("{base}?amazonCheckoutSessionId={}", s.checkout_session_id),
    }
}

fn check_metadata(m: &MerchantMetadata) -> Result<(), ApiError> {
    let checks = [
        (&m.merchant_reference_id, 256, "merchantReferenceId"),
        (&m.merchant_store_name, 50, "merchantStoreName"),
        (&m.note_to_buyer, 255, "noteToBuyer"),
        (&m.custom_information, 4096, "customInformation"),
    ];
    for (v, max, name) in checks {
        if v.as_ref().is_some_and(|s| s.chars().count() > max) {
            return Err(ApiError::bad_request(
                ReasonCode::InvalidParameterValue,
                format!("merchantMetadata.{name} must be at most {max} characters"),
            ));
        }
    }
    Ok(())
}

/// Validates the simulation code for an operation; returns it when it applies.
pub fn check_sim(ctx: &Ctx, allowed: &[&str]) -> Result<Option<String>, ApiError> {
    match &ctx.sim {
        None => Ok(None),
        Some(code) if allowed.contains(&code.as_str()) => Ok(Some(code.clone())),
        Some(code) => Err(ApiError::bad_request(
            ReasonCode::InvalidSandboxSimulationSpecified,
            format!(
                "simulation code {:?} is not valid for this operation",
                code.chars().take(64).collect::<String>()
            ),
        )),
    }
}

/// Amazon-like human text for a reason code.
pub fn reason_text(r: &ReasonCode) -> String {
    match r {
        ReasonCode::SoftDeclined => "The charge was soft declined. Retry after confirming the charge permission is Chargeable.".into(),
        ReasonCode::HardDeclined => "The charge was declined. The buyer must update the payment method.".into(),
        ReasonCode::AmazonRejected => "Amazon rejected the transaction.".into(),
        ReasonCode::ProcessingFailure => "Amazon could not process the transaction because of an internal processing error.".into(),
        ReasonCode::TransactionTimedOut => "The authorization was not processed in time.".into(),
        ReasonCode::PaymentMethodNotAllowed => "The payment method is not allowed for this transaction.".into(),
        ReasonCode::BuyerActionRequired => "Charge requires buyer action to proceed.".into(),
        ReasonCode::MFAFailed => "The buyer failed multi-factor authentication.".into(),
        ReasonCode::PaymentMethodInvalid => "The payment method is invalid. The buyer must update it.".into(),
        ReasonCode::MerchantClosed => "The merchant closed the charge permission.".into(),
        ReasonCode::BuyerClosed => "The buyer closed the charge permission.".into(),
        ReasonCode::AmazonClosed => "Amazon closed the charge permission.".into(),
        ReasonCode::MerchantCanceled => "The merchant canceled the charge.".into(),
        ReasonCode::ExpiredUnused => "The authorization expired unused after 30 days.".into(),
        ReasonCode::ChargePermissionCanceled => "The charge permission was closed with cancelPendingCharges.".into(),
        ReasonCode::Expired => "Not completed within 24 hours.".into(),
        ReasonCode::BuyerCanceled => "The buyer canceled.".into(),
        ReasonCode::AmazonCanceled => "Amazon canceled.".into(),
        ReasonCode::Declined => "The payment was declined.".into(),
        other => other.as_str().to_string(),
    }
}
