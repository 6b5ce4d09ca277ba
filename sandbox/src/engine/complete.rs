//! Complete Checkout Session (SPEC §4.1, §11.1, §11.6, §11.7): Saved Wallet setup, the
//! hosted Update flow, checkout with a payment, and the MFA finalization of a charge.

use savedwallet_shared::api::*;
use savedwallet_shared::money::{Currency, Price};
use savedwallet_shared::region::Region;

use super::rules::{check_sim, parse_complete_sim};
use super::{Core, Ctx, NewPermission, OpResult};
use crate::error::ApiError;
use crate::model::*;

/// What Complete Checkout Session needs to know about the session.
struct SessionFacts {
    amount: Option<Price>,
    intent: PaymentIntent,
    /// A new payment is authorized (not setup only, intent other than Confirm).
    pays: bool,
    mfa_charge_id: Option<String>,
    mfa_outcome: Option<MfaOutcome>,
    charge_permission_id: Option<String>,
    chosen_wallet: Option<SimWallet>,
    kind: ChargePermissionType,
    currency: Currency,
    region: Region,
    buyer: Option<Buyer>,
    merchant_metadata: Option<MerchantMetadata>,
    can_pend: bool,
    soft_descriptor: Option<String>,
}

impl SessionFacts {
    fn of(s: &SessionRec) -> SessionFacts {
        let o = &s.object;
        let pd = o.payment_details.as_ref();
        let amount = pd.and_then(|p| p.charge_amount);
        let setup_only = o
            .payment_method_on_file_metadata
            .as_ref()
            .and_then(|m| m.setup_only)
            .unwrap_or(false);
        let intent = pd
            .and_then(|p| p.payment_intent.clone())
            .unwrap_or(PaymentIntent::Confirm);
        let currency = amount
            .map(|a| a.currency())
            .or_else(|| {
                pd.and_then(|p| p.presentment_currency.as_deref())
                    .and_then(|c| c.parse().ok())
            })
            .unwrap_or(Currency::ledger_for(s.region));
        SessionFacts {
            amount,
            pays: !setup_only && intent != PaymentIntent::Confirm,
            intent,
            mfa_charge_id: s.mfa_charge_id.clone(),
            mfa_outcome: s.mfa_outcome,
            charge_permission_id: o.charge_permission_id.clone(),
            chosen_wallet: s.chosen_wallet.clone(),
            kind: o
                .charge_permission_type
                .clone()
                .unwrap_or(ChargePermissionType::OneTime),
            currency,
            region: s.region,
            buyer: o.buyer.clone(),
            merchant_metadata: o.merchant_metadata.clone(),
            can_pend: pd
                .and_then(|p| p.can_handle_pending_authorization)
                .unwrap_or(false),
            soft_descriptor: pd.and_then(|p| p.soft_descriptor.clone()),
        }
    }
}

impl Core {
    /// Complete Checkout Session.
    pub(crate) fn complete_session(
        &mut self,
        ctx: &Ctx,
        sid: &str,
        req: CompleteCheckoutSessionRequest,
    ) -> OpResult {
        let sim = check_sim(ctx, parse_complete_sim)?;
        let s = self.session_in_env(sid, ctx.env)?;
        match &s.object.status_details.state {
            CheckoutSessionState::Open => {}
            CheckoutSessionState::Canceled
                if s.object.status_details.reason_code != Some(ReasonCode::Expired) =>
            {
                return Err(self.session_canceled(
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
        let f = SessionFacts::of(s);
        if sim == Some("AuthorizationInitiated") && (!f.pays || f.mfa_charge_id.is_some()) {
            // Only a checkout that authorizes a new payment can leave it pending.
            return Err(ApiError::bad_request(
                ReasonCode::InvalidSandboxSimulationSpecified,
                "AuthorizationInitiated needs a checkout session that authorizes a payment",
            ));
        }
        if f.pays || f.mfa_charge_id.is_some() {
            check_amount(f.amount, req.charge_amount)?;
        }
        let sim_cancel = match sim {
            Some("BuyerCanceled") => Some(ReasonCode::BuyerCanceled),
            Some("AmazonCanceled") => Some(ReasonCode::AmazonCanceled),
            Some("Declined") => Some(ReasonCode::Declined),
            _ => None,
        };
        if let Some(reason) = sim_cancel {
            return Err(self.cancel_by_simulation(sid, &f, reason, ctx.now_ms));
        }
        if let Some(cid) = f.mfa_charge_id.clone() {
            return self.finalize_mfa(ctx, sid, &cid, &f);
        }
        self.complete_checkout(ctx, sid, f, sim == Some("AuthorizationInitiated"))
    }

    /// A simulation code cancels the session; a waiting MFA charge ends the same way.
    fn cancel_by_simulation(
        &mut self,
        sid: &str,
        f: &SessionFacts,
        reason: ReasonCode,
        at: i64,
    ) -> ApiError {
        if let Some(cid) = &f.mfa_charge_id {
            if reason == ReasonCode::Declined {
                self.fail_mfa(sid, cid, f, at);
            } else {
                self.set_charge_state(cid, ChargeState::Canceled, Some(reason.clone()), at);
            }
        }
        self.cancel_session(sid, reason, at);
        self.session_canceled(
            "the checkout session was canceled; read statusDetails.reasonCode with Get Checkout Session",
        )
    }

    /// A failed challenge: charge Declined / MFAFailed, session Canceled / Declined, and the
    /// permission per the `mfaFailure` knob.
    fn fail_mfa(&mut self, sid: &str, cid: &str, f: &SessionFacts, at: i64) {
        self.set_charge_state(cid, ChargeState::Declined, Some(ReasonCode::MFAFailed), at);
        self.cancel_session(sid, ReasonCode::Declined, at);
        if let Some(cp) = &f.charge_permission_id {
            self.after_mfa_failure(cp, at);
        }
    }

    /// MFA finalization of an ActionRequired charge.
    fn finalize_mfa(&mut self, ctx: &Ctx, sid: &str, cid: &str, f: &SessionFacts) -> OpResult {
        let cp = f.charge_permission_id.clone().unwrap_or_default();
        match f.mfa_outcome {
            None => Err(ApiError::unprocessable(
                ReasonCode::MFANotCompleted,
                "the buyer has not completed the authentication challenge",
            )),
            Some(MfaOutcome::Approved) => {
                if self.charge_state(cid) != Some(ChargeState::ActionRequired) {
                    return Err(ApiError::unprocessable(
                        ReasonCode::InvalidChargeStatus,
                        "the charge is no longer waiting for the buyer",
                    ));
                }
                let mut capture_now = false;
                if let Some(c) = self.state.charges.get_mut(cid) {
                    capture_now = c.object.capture_now.unwrap_or(false);
                    if let Some(w) = c.object.web_checkout_details.as_mut() {
                        w.amazon_pay_redirect_url = None;
                    }
                }
                self.approve_charge(cid, capture_now, ctx.now_ms);
                self.complete_session_ok(sid, &cp, Some(cid.to_string()), ctx.now_ms);
                self.session_json(ctx, sid, 200)
            }
            Some(MfaOutcome::Failed) => {
                self.fail_mfa(sid, cid, f, ctx.now_ms);
                Err(self.session_canceled("the buyer failed the authentication challenge"))
            }
            Some(MfaOutcome::Abandoned) => {
                self.set_charge_state(
                    cid,
                    ChargeState::Canceled,
                    Some(ReasonCode::BuyerCanceled),
                    ctx.now_ms,
                );
                self.cancel_session(sid, ReasonCode::BuyerCanceled, ctx.now_ms);
                Err(self.session_canceled("the buyer abandoned the authentication challenge"))
            }
        }
    }

    /// Setup, the hosted Update flow, or checkout with a payment.
    fn complete_checkout(
        &mut self,
        ctx: &Ctx,
        sid: &str,
        f: SessionFacts,
        pending: bool,
    ) -> OpResult {
        let Some(mut wallet) = f.chosen_wallet.clone() else {
            return Err(ApiError::unprocessable(
                ReasonCode::InvalidCheckoutSessionStatus,
                "the buyer has not completed checkout on the Amazon Pay page yet",
            ));
        };
        let refused = match wallet.preset {
            Preset::SetupBuyerCanceled => {
                Some((ReasonCode::BuyerCanceled, "the buyer canceled the checkout"))
            }
            Preset::SetupDeclined => Some((
                ReasonCode::Declined,
                "the payment was declined during checkout",
            )),
            _ => None,
        };
        if let Some((reason, text)) = refused {
            self.cancel_session(sid, reason, ctx.now_ms);
            return Err(self.session_canceled(text));
        }
        // Hosted Update flow (SPEC §11.6): the existing permission gets the new method.
        if let Some(cp) = f.charge_permission_id.clone() {
            self.buyer_update_payment_method(&cp, wallet.preset, ctx.now_ms)?;
            self.complete_session_ok(sid, &cp, None, ctx.now_ms);
            return self.session_json(ctx, sid, 200);
        }
        if f.pays && f.amount.is_none() {
            return Err(ApiError::bad_request(
                ReasonCode::MissingParameterValue,
                "paymentDetails.chargeAmount is required for this paymentIntent",
            ));
        }
        if wallet.preset == Preset::LowLimit {
            wallet.monthly_limit_minor = Some(100 * f.currency.minor_per_major());
        }
        let cp = self.create_permission(
            NewPermission {
                env: ctx.env,
                region: f.region,
                currency: f.currency,
                wallet,
                kind: f.kind.clone(),
                buyer: f.buyer.clone(),
                merchant_metadata: f.merchant_metadata.clone(),
            },
            ctx.now_ms,
        );
        let Some(amount) = f.amount.filter(|_| f.pays) else {
            self.complete_session_ok(sid, &cp, None, ctx.now_ms);
            return self.session_json(ctx, sid, 200);
        };
        let with_capture = f.intent == PaymentIntent::AuthorizeWithCapture;
        let mut charge_req = CreateChargeRequest::new(cp.clone(), amount);
        charge_req.capture_now = Some(with_capture);
        charge_req.can_handle_pending_authorization = Some(f.can_pend);
        charge_req.soft_descriptor = f.soft_descriptor.clone().filter(|_| with_capture);
        charge_req.charge_initiator = Some(ChargeInitiator::Citu);
        let inner = Ctx {
            sim: pending.then(|| "AuthorizationInitiated".to_string()),
            ..ctx.clone()
        };
        match self.create_charge(&inner, charge_req) {
            Ok((_, charge)) => {
                let cid = charge
                    .get("chargeId")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string();
                let is_pending =
                    self.charge_state(&cid) == Some(ChargeState::AuthorizationInitiated);
                self.complete_session_ok(sid, &cp, Some(cid), ctx.now_ms);
                self.session_json(ctx, sid, if is_pending { 202 } else { 200 })
            }
            Err(e) => {
                // A payment declined during checkout saves no wallet and announces none.
                self.state.permissions.remove(&cp);
                self.retract_ipns(&cp);
                self.cancel_session(sid, ReasonCode::Declined, ctx.now_ms);
                Err(self.session_canceled(format!("the payment was declined: {}", e.reason)))
            }
        }
    }
}

/// Complete's `chargeAmount` must equal the session's (409 `AmountMismatch`).
fn check_amount(expected: Option<Price>, got: Option<Price>) -> Result<(), ApiError> {
    match (expected, got) {
        (None, _) => Ok(()),
        (Some(e), Some(a)) if a == e => Ok(()),
        (Some(_), Some(_)) => Err(ApiError::new(
            409,
            ReasonCode::AmountMismatch,
            "chargeAmount does not match the checkout session's chargeAmount",
        )),
        (Some(_), None) => Err(ApiError::bad_request(
            ReasonCode::MissingParameterValue,
            "chargeAmount is required",
        )),
    }
}
