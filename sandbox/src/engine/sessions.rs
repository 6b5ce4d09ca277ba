//! Checkout sessions (SPEC §4.1, §5.1): Create, Get, Update, constraints, the buyer's
//! choices on the hosted pages, and the MFA challenge session of an ActionRequired charge.

use savedwallet_shared::api::*;
use savedwallet_shared::region::Environment;

use super::rules::{
    check_metadata, check_session_urls, check_soft_descriptor, positive, return_target,
};
use super::{check_sim_none, patch, status, to_json, ts, Core, Ctx, OpResult, DAY_MS};
use crate::error::ApiError;
use crate::model::*;

/// A constraint as Amazon writes it.
fn constraint(id: &str, description: &str) -> serde_json::Value {
    serde_json::json!({"constraintId": id, "description": description})
}

/// The constraints of a session (SPEC §16 ids) and whether any of them withholds the
/// `amazonPayRedirectUrl`. `BuyerNotAssociated` does not: the buyer signs in on that page.
fn constraints_of(o: &CheckoutSession) -> (Vec<serde_json::Value>, bool) {
    let setup_only = o
        .payment_method_on_file_metadata
        .as_ref()
        .and_then(|m| m.setup_only)
        .unwrap_or(false);
    let intent = o
        .payment_details
        .as_ref()
        .and_then(|p| p.payment_intent.clone());
    let has_amount = o
        .payment_details
        .as_ref()
        .and_then(|p| p.charge_amount)
        .is_some();
    let mut blocking = Vec::new();
    let has_result_url = o
        .web_checkout_details
        .as_ref()
        .is_some_and(|w| w.checkout_result_return_url.is_some());
    if !has_result_url {
        blocking.push(constraint(
            "CheckoutResultReturnUrlNotSet",
            "checkoutResultReturnUrl is not set.",
        ));
    }
    match intent {
        None => blocking.push(constraint(
            "PaymentIntentNotSet",
            "paymentIntent is not set.",
        )),
        Some(PaymentIntent::Confirm) => {}
        Some(_) if setup_only || has_amount => {}
        Some(_) => blocking.push(constraint("ChargeAmountNotSet", "chargeAmount is not set.")),
    }
    let blocked = !blocking.is_empty();
    if o.buyer.is_none() {
        blocking.push(constraint(
            "BuyerNotAssociated",
            "The buyer is not associated with this checkout session.",
        ));
    }
    (blocking, blocked)
}

impl Core {
    /// Create Checkout Session.
    pub(crate) fn create_session(
        &mut self,
        ctx: &Ctx,
        req: CreateCheckoutSessionRequest,
    ) -> OpResult {
        check_sim_none(ctx)?;
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
        check_session_urls(ctx.env, &wcd)?;
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

    fn refresh_constraints(&mut self, sid: &str, base_url: &str) {
        let Some(s) = self.state.sessions.get_mut(sid) else {
            return;
        };
        let (constraints, blocked) = constraints_of(&s.object);
        let wcd = s
            .object
            .web_checkout_details
            .get_or_insert_with(Default::default);
        wcd.amazon_pay_redirect_url = (!blocked).then(|| format!("{base_url}/checkout/{sid}"));
        s.object.constraints = Some(constraints);
    }

    pub(super) fn session_in_env(
        &self,
        sid: &str,
        env: Environment,
    ) -> Result<&SessionRec, ApiError> {
        self.state
            .sessions
            .get(sid)
            .filter(|s| s.env == env)
            .ok_or_else(|| ApiError::not_found("Checkout Session", sid))
    }

    pub(super) fn session_json(&self, ctx: &Ctx, sid: &str, status: u16) -> OpResult {
        let s = self.session_in_env(sid, ctx.env)?;
        to_json(status, &s.object)
    }

    /// Get Checkout Session.
    pub(crate) fn get_session(&mut self, ctx: &Ctx, sid: &str) -> OpResult {
        check_sim_none(ctx)?;
        self.session_json(ctx, sid, 200)
    }

    /// Update Checkout Session.
    pub(crate) fn update_session(
        &mut self,
        ctx: &Ctx,
        sid: &str,
        req: UpdateCheckoutSessionRequest,
    ) -> OpResult {
        check_sim_none(ctx)?;
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
            check_session_urls(ctx.env, w)?;
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

    fn open_session_mut(&mut self, sid: &str) -> Result<&mut SessionRec, ApiError> {
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
        Ok(s)
    }

    /// The buyer chose a payment method on the consent page (or the control API did).
    pub(crate) fn buyer_choose(
        &mut self,
        sid: &str,
        preset: Preset,
        base_url: &str,
    ) -> Result<String, ApiError> {
        let delay = self.cfg.async_delay_secs;
        let buyer = self.sandbox_buyer();
        let s = self.open_session_mut(sid)?;
        s.chosen_wallet = Some(SimWallet::new(preset, delay));
        s.object.buyer = Some(buyer);
        s.object.payment_preferences = Some(vec![PaymentPreference {
            payment_descriptor: Some(preset.descriptor().into()),
        }]);
        let target = return_target(&s.object);
        if s.mfa_charge_id.is_none() {
            self.refresh_constraints(sid, base_url);
        }
        Ok(target)
    }

    /// The buyer's MFA challenge result.
    pub(crate) fn buyer_mfa(&mut self, sid: &str, outcome: MfaOutcome) -> Result<String, ApiError> {
        let s = self.open_session_mut(sid)?;
        if s.mfa_charge_id.is_none() {
            return Err(ApiError::unprocessable(
                ReasonCode::InvalidCheckoutSessionStatus,
                "this checkout session has no authentication challenge",
            ));
        }
        s.mfa_outcome = Some(outcome);
        Ok(return_target(&s.object))
    }

    /// The buyer cancels on the consent page: Canceled / BuyerCanceled.
    pub(crate) fn buyer_cancel_session(
        &mut self,
        sid: &str,
        now_ms: i64,
    ) -> Result<String, ApiError> {
        let target = return_target(&self.open_session_mut(sid)?.object);
        self.cancel_session(sid, ReasonCode::BuyerCanceled, now_ms);
        Ok(target)
    }

    pub(super) fn cancel_session(&mut self, sid: &str, reason: ReasonCode, at: i64) {
        if let Some(s) = self.state.sessions.get_mut(sid) {
            s.object.status_details = status(CheckoutSessionState::Canceled, Some(reason), at);
        }
    }

    pub(super) fn complete_session_ok(
        &mut self,
        sid: &str,
        cp: &str,
        charge: Option<String>,
        at: i64,
    ) {
        if let Some(s) = self.state.sessions.get_mut(sid) {
            s.object.status_details = status(CheckoutSessionState::Completed, None, at);
            s.object.charge_permission_id = Some(cp.to_string());
            s.object.charge_id = charge;
            if let Some(w) = s.object.web_checkout_details.as_mut() {
                w.amazon_pay_redirect_url = None;
            }
        }
    }

    /// The checkout session behind the MFA challenge of an ActionRequired charge.
    pub(super) fn create_mfa_session(
        &mut self,
        ctx: &Ctx,
        charge_id: &str,
        return_url: String,
    ) -> String {
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
}
