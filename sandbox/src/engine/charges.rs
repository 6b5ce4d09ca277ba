//! Charges (SPEC §4.4–4.6, §5.3): Create, Get, Capture, Cancel and the state helpers.

use savedwallet_shared::api::*;
use savedwallet_shared::money::{Price, PriceOrAmount};

use super::authorize::{Attempt, AuthOutcome};
use super::rules::{
    check_metadata, check_reason_len, check_return_url, check_sim, check_soft_descriptor,
    decline_status, parse_capture_sim, parse_charge_sim, positive, CaptureSim,
};
use super::{status, to_json, ts, Core, Ctx, OpResult, DAY_MS};
use crate::error::ApiError;
use crate::knobs::{ConversionFields, MissingChargeInitiator};
use crate::model::*;

/// A validated Create Charge: what the rest of the operation needs.
struct Validated {
    month: String,
    initiator: Option<ChargeInitiator>,
    return_url: Option<String>,
}

impl Core {
    /// Create Charge (SPEC §4.5, §11).
    pub(crate) fn create_charge(&mut self, ctx: &Ctx, req: CreateChargeRequest) -> OpResult {
        let sim = check_sim(ctx, parse_charge_sim)?;
        let v = self.validate_charge(ctx, &req)?;
        let cp = req.charge_permission_id.as_str();
        let can_pend = req.can_handle_pending_authorization.unwrap_or(false);
        let attempt = Attempt {
            cp,
            cit: v
                .initiator
                .as_ref()
                .is_some_and(|c| c.is_customer_initiated()),
            can_pend,
            has_return_url: v.return_url.is_some(),
        };
        let outcome = self.decide(&attempt, sim)?;
        if !can_pend {
            self.note_sync_latency(cp);
        }
        if let AuthOutcome::Decline(reason, text) = outcome {
            self.after_decline(cp, &reason, ctx.now_ms);
            let message = text.map_or_else(|| super::reason_text(&reason), str::to_string);
            return Err(ApiError::new(decline_status(&reason), reason, message));
        }
        let id = self.insert_charge(ctx, &req, &v)?;
        let status = self.start_authorization(ctx, &id, outcome, v.return_url);
        let charge = self
            .state
            .charges
            .get(&id)
            .map(|c| c.object.clone())
            .ok_or_else(|| ApiError::not_found("Charge", &id))?;
        to_json(status, &charge)
    }

    /// Every 400/404/422 check of Create Charge, before any authorization is attempted.
    fn validate_charge(&self, ctx: &Ctx, req: &CreateChargeRequest) -> Result<Validated, ApiError> {
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
        if req.soft_descriptor.is_some() && !req.capture_now.unwrap_or(false) {
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
        check_return_url(ctx.env, "checkoutResultReturnUrl", return_url.as_deref())?;
        let saved_wallet =
            p.object.charge_permission_type == Some(ChargePermissionType::PaymentMethodOnFile);
        let initiator = match (
            &req.charge_initiator,
            saved_wallet,
            self.knobs.missing_charge_initiator,
        ) {
            (Some(i), _, _) => Some(i.clone()),
            (None, false, _) => None,
            (None, true, MissingChargeInitiator::TreatAsCitu) => Some(ChargeInitiator::Citu),
            (None, true, MissingChargeInitiator::Reject) => return Err(ApiError::bad_request(
                ReasonCode::MissingParameterValue,
                "chargeInitiator is required for a Saved Wallet charge (CITU, MITU, CITR or MITR)",
            )),
        };
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
        if used + amount.minor_units() > self.limit_of(p).minor_units() {
            return Err(ApiError::bad_request(
                ReasonCode::PeriodicAmountExceeded,
                "You've exceeded the monthly limit for the Charge Permission and must wait until the next month to charge this buyer.",
            ));
        }
        Ok(Validated {
            month,
            initiator,
            return_url,
        })
    }

    /// Stores a new charge in `AuthorizationInitiated` and counts it toward the month.
    fn insert_charge(
        &mut self,
        ctx: &Ctx,
        req: &CreateChargeRequest,
        v: &Validated,
    ) -> Result<String, ApiError> {
        let cp = &req.charge_permission_id;
        let id = self.new_charge_id(cp)?;
        let amount = req.charge_amount;
        let (converted_amount, conversion_rate) = match self.knobs.conversion_fields {
            // The sandbox has no exchange rates: the ledger amount is the presentment one.
            ConversionFields::Strings => (
                Some(PriceOrAmount::Amount(amount.amount_string())),
                Some(serde_json::Value::String("1.00".into())),
            ),
            ConversionFields::Null => (None, None),
        };
        let object = Charge {
            charge_id: id.clone(),
            charge_permission_id: cp.clone(),
            charge_amount: amount,
            capture_amount: Some(Price::zero(amount.currency())),
            refunded_amount: Some(Price::zero(amount.currency())),
            converted_amount,
            conversion_rate,
            soft_descriptor: req.soft_descriptor.clone(),
            capture_now: Some(req.capture_now.unwrap_or(false)),
            can_handle_pending_authorization: Some(
                req.can_handle_pending_authorization.unwrap_or(false),
            ),
            charge_initiator: v.initiator.clone(),
            channel: req.channel.clone(),
            merchant_metadata: req.merchant_metadata.clone(),
            // Amazon's page shows {"providerReferenceId": null} when none was sent.
            provider_metadata: Some(req.provider_metadata.clone().unwrap_or_default()),
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
                counted_month: Some(v.month.clone()),
                authorized_ms: None,
                pending_outcome: None,
                refund_count: 0,
                mfa_session_id: None,
                capture_outcome: None,
            },
        );
        if let Some(p) = self.state.permissions.get_mut(cp) {
            *p.monthly_minor.entry(v.month.clone()).or_insert(0) += amount.minor_units();
            p.charge_ids.push(id.clone());
        }
        Ok(id)
    }

    /// Moves a new charge along its outcome; returns the HTTP status (201 or 202).
    fn start_authorization(
        &mut self,
        ctx: &Ctx,
        id: &str,
        outcome: AuthOutcome,
        return_url: Option<String>,
    ) -> u16 {
        let Some(rec) = self.state.charges.get_mut(id) else {
            return 500;
        };
        let capture_now = rec.object.capture_now.unwrap_or(false);
        let cp = rec.object.charge_permission_id.clone();
        match outcome {
            AuthOutcome::Approve => self.approve_charge(id, capture_now, ctx.now_ms),
            AuthOutcome::Pending(o) => {
                rec.pending_outcome = Some(o);
                let delay = self.wallet_delay_ms(&cp);
                self.state_ipn(IpnObjectType::Charge, id, &cp);
                self.add_timer(
                    ctx.now_ms.saturating_add(delay),
                    TimerKind::AsyncAuthorization(id.to_string()),
                );
            }
            AuthOutcome::CaptureInitiated(o) => {
                rec.authorized_ms = Some(ctx.now_ms);
                rec.object.capture_amount = Some(rec.object.charge_amount);
                self.begin_async_capture(id, o, ctx.now_ms);
            }
            AuthOutcome::Mfa => {
                let url = return_url.unwrap_or_default();
                let sid = self.create_mfa_session(ctx, id, url.clone());
                if let Some(c) = self.state.charges.get_mut(id) {
                    c.mfa_session_id = Some(sid.clone());
                    c.object.web_checkout_details = Some(WebCheckoutDetails {
                        checkout_result_return_url: Some(url),
                        amazon_pay_redirect_url: Some(format!("{}/mfa/{sid}", ctx.base_url)),
                        ..Default::default()
                    });
                }
                self.set_charge_state(
                    id,
                    ChargeState::ActionRequired,
                    Some(ReasonCode::BuyerActionRequired),
                    ctx.now_ms,
                );
                return 202;
            }
            AuthOutcome::Decline(..) => return 500,
        }
        201
    }

    fn wallet_delay_ms(&self, cp: &str) -> i64 {
        self.state
            .permissions
            .get(cp)
            .map(|p| p.wallet.async_delay_secs)
            .unwrap_or(self.cfg.async_delay_secs)
            .saturating_mul(1000)
    }

    /// `CaptureInitiated` now; the timer ends it with `outcome` after the async delay.
    fn begin_async_capture(&mut self, id: &str, outcome: PendingOutcome, now_ms: i64) {
        if let Some(c) = self.state.charges.get_mut(id) {
            c.capture_outcome = Some(outcome);
        }
        self.set_charge_state(id, ChargeState::CaptureInitiated, None, now_ms);
        self.add_timer(
            now_ms.saturating_add(self.cfg.async_delay_secs.saturating_mul(1000)),
            TimerKind::AsyncCapture(id.to_string()),
        );
    }

    pub(super) fn charge_state(&self, id: &str) -> Option<ChargeState> {
        self.state
            .charges
            .get(id)
            .map(|c| c.object.status_details.state.clone())
    }

    /// Sets state and reason (a Declined/Canceled charge stops counting toward the month)
    /// and publishes the CHARGE IPN.
    pub(super) fn set_charge_state(
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
                if let Some(v) = self
                    .state
                    .permissions
                    .get_mut(&cp)
                    .and_then(|p| p.monthly_minor.get_mut(&month))
                {
                    *v -= amount;
                }
            }
        }
        self.state_ipn(IpnObjectType::Charge, id, &cp);
    }

    pub(super) fn approve_charge(&mut self, id: &str, capture_now: bool, at: i64) {
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

    pub(super) fn charge_in_env(
        &self,
        id: &str,
        env: savedwallet_shared::region::Environment,
    ) -> Result<&ChargeRec, ApiError> {
        self.state
            .charges
            .get(id)
            .filter(|c| c.env == env)
            .ok_or_else(|| ApiError::not_found("Charge", id))
    }

    /// The charge, if it is in one of `states`; else 422 `InvalidChargeStatus` saying
    /// which charges can be `done` (e.g. "captured").
    pub(super) fn charge_in_state(
        &self,
        id: &str,
        env: savedwallet_shared::region::Environment,
        states: &[ChargeState],
        done: &str,
    ) -> Result<&ChargeRec, ApiError> {
        let c = self.charge_in_env(id, env)?;
        if states.contains(&c.object.status_details.state) {
            return Ok(c);
        }
        let names: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        Err(ApiError::unprocessable(
            ReasonCode::InvalidChargeStatus,
            format!(
                "the charge is {}, only {} charges can be {done}",
                c.object.status_details.state,
                names.join(" or ")
            ),
        ))
    }

    /// Get Charge.
    pub(crate) fn get_charge(&mut self, ctx: &Ctx, id: &str) -> OpResult {
        let c = self.charge_in_env(id, ctx.env)?;
        to_json(200, &c.object)
    }

    /// Capture Charge.
    pub(crate) fn capture_charge(
        &mut self,
        ctx: &Ctx,
        id: &str,
        req: CaptureChargeRequest,
    ) -> OpResult {
        let sim = check_sim(ctx, parse_capture_sim)?;
        let c = self.charge_in_state(id, ctx.env, &[ChargeState::Authorized], "captured")?;
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
        let late = ctx.now_ms - c.authorized_ms.unwrap_or(ctx.now_ms) > 7 * DAY_MS;
        let cp = c.object.charge_permission_id.clone();
        let async_outcome = match sim {
            Some(CaptureSim::Fail(reason)) => {
                if reason == ReasonCode::AmazonRejected {
                    self.set_charge_state(
                        id,
                        ChargeState::Declined,
                        Some(reason.clone()),
                        ctx.now_ms,
                    );
                    self.after_decline(&cp, &reason, ctx.now_ms);
                }
                let message = super::reason_text(&reason);
                return Err(ApiError::new(decline_status(&reason), reason, message));
            }
            Some(CaptureSim::Async(o)) => Some(o),
            // More than 7 days after authorization the capture runs asynchronously.
            None if late => Some(
                self.state
                    .permissions
                    .get(&cp)
                    .map_or(PendingOutcome::Approve, |p| p.wallet.capture_outcome),
            ),
            None => None,
        };
        if let Some(c) = self.state.charges.get_mut(id) {
            c.object.capture_amount = Some(amount);
            if req.soft_descriptor.is_some() {
                c.object.soft_descriptor = req.soft_descriptor.clone();
            }
        }
        match async_outcome {
            Some(o) => self.begin_async_capture(id, o, ctx.now_ms),
            None => self.set_charge_state(id, ChargeState::Captured, None, ctx.now_ms),
        }
        self.get_charge(ctx, id)
    }

    /// Cancel Charge.
    pub(crate) fn cancel_charge(
        &mut self,
        ctx: &Ctx,
        id: &str,
        req: CancelChargeRequest,
    ) -> OpResult {
        super::check_sim_none(ctx)?;
        check_reason_len("cancellationReason", &req.cancellation_reason)?;
        self.charge_in_state(
            id,
            ctx.env,
            &[ChargeState::AuthorizationInitiated, ChargeState::Authorized],
            "canceled",
        )?;
        self.set_charge_state(
            id,
            ChargeState::Canceled,
            Some(ReasonCode::MerchantCanceled),
            ctx.now_ms,
        );
        self.get_charge(ctx, id)
    }
}
