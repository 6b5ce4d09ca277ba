//! Charge permissions (SPEC §4.2, §5.2): creation, Get/Update/Close, the buyer's actions on
//! Amazon's site, what declines do to a permission, and the control API's state moves.

use savedwallet_shared::api::*;
use savedwallet_shared::money::{Currency, Price};
use savedwallet_shared::region::{Environment, Region};

use rand::Rng;

use super::rules::{check_metadata, check_reason_len, check_sim};
use super::{patch, to_json, ts, Core, Ctx, OpResult, DAY_MS};
use crate::error::ApiError;
use crate::knobs::{HardDeclineEffect, MfaFailureEffect};
use crate::model::*;

/// What a new charge permission is made of (control API or a completed checkout).
#[derive(Debug, Clone)]
pub(crate) struct NewPermission {
    pub(crate) env: Environment,
    pub(crate) region: Region,
    pub(crate) currency: Currency,
    pub(crate) wallet: SimWallet,
    pub(crate) kind: ChargePermissionType,
    pub(crate) buyer: Option<Buyer>,
    pub(crate) merchant_metadata: Option<MerchantMetadata>,
}

/// The reasons the control API may set with each state (SPEC §5.2).
fn allowed_reasons(state: &ChargePermissionState) -> &'static [ReasonCode] {
    match state {
        ChargePermissionState::NonChargeable => &[
            ReasonCode::PaymentMethodInvalid,
            ReasonCode::PaymentMethodDeleted,
            ReasonCode::BillingAddressDeleted,
            ReasonCode::PaymentMethodExpired,
            ReasonCode::PaymentMethodNotAllowed,
            ReasonCode::PaymentMethodNotSet,
            ReasonCode::ChargeInProgress,
            ReasonCode::MFAFailed,
        ],
        ChargePermissionState::Closed => &[
            ReasonCode::MerchantClosed,
            ReasonCode::BuyerClosed,
            ReasonCode::BuyerCanceled,
            ReasonCode::AmazonClosed,
            ReasonCode::AmazonCanceled,
            ReasonCode::Expired,
        ],
        _ => &[],
    }
}

impl Core {
    /// Creates a Chargeable charge permission; returns its id.
    pub(crate) fn create_permission(&mut self, new: NewPermission, now_ms: i64) -> String {
        let id = self.new_permission_id(new.env);
        let buyer = new.buyer.unwrap_or_else(|| self.sandbox_buyer());
        let object = ChargePermission {
            charge_permission_id: id.clone(),
            charge_permission_type: Some(new.kind.clone()),
            recurring_metadata: None,
            payment_method_on_file_metadata: None,
            limits: None,
            presentment_currency: Some(new.currency.code().to_string()),
            buyer: Some(buyer),
            shipping_address: None,
            billing_address: None,
            payment_preferences: Some(vec![PaymentPreference {
                payment_descriptor: Some(new.wallet.preset.descriptor().into()),
            }]),
            merchant_metadata: new.merchant_metadata,
            platform_id: None,
            status_details: ChargePermissionStatusDetails {
                state: ChargePermissionState::Chargeable,
                reasons: Vec::new(),
                last_updated_timestamp: Some(ts(now_ms)),
            },
            creation_timestamp: Some(ts(now_ms)),
            expiration_timestamp: match new.kind {
                ChargePermissionType::OneTime => Some(ts(now_ms + 180 * DAY_MS)),
                _ => None,
            },
            release_environment: Some(new.env.release_environment().into()),
        };
        let form_token = self.token();
        let next_charge_seq = self.rng.random_range(0..900_000);
        self.state.permissions.insert(
            id.clone(),
            PermissionRec {
                object,
                env: new.env,
                region: new.region,
                currency: new.currency,
                wallet: new.wallet,
                form_token,
                monthly_minor: Default::default(),
                next_charge_seq,
                charge_ids: Vec::new(),
            },
        );
        id
    }

    /// Amazon's Charge Permission JSON, with this month's limit and balance.
    pub(crate) fn render_permission(&self, id: &str, now_ms: i64) -> Option<ChargePermission> {
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

    pub(super) fn limit_of(&self, p: &PermissionRec) -> Price {
        match p.wallet.monthly_limit_minor {
            Some(m) => Price::from_minor(m, p.currency),
            None => monthly_limit(p.region, p.currency),
        }
    }

    pub(super) fn permission_in_env(
        &self,
        id: &str,
        env: Environment,
    ) -> Result<&PermissionRec, ApiError> {
        self.state
            .permissions
            .get(id)
            .filter(|p| p.env == env)
            .ok_or_else(|| ApiError::not_found("Charge Permission", id))
    }

    fn permission_state(&self, id: &str) -> Option<ChargePermissionState> {
        self.state
            .permissions
            .get(id)
            .map(|p| p.object.status_details.state.clone())
    }

    /// Sets state and reason and publishes the CHARGE_PERMISSION STATE_CHANGE IPN.
    pub(super) fn set_permission_state(
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
                        reason_description: Some(super::reason_text(&r)),
                        reason_code: r,
                    }]
                })
                .unwrap_or_default(),
            last_updated_timestamp: Some(ts(at)),
        };
        self.state_ipn(IpnObjectType::ChargePermission, id, id);
    }

    /// What a declined charge does to its permission: HardDeclined per the knob,
    /// AmazonRejected cancels the permission (SPEC §16); other reasons leave it alone.
    pub(super) fn after_decline(&mut self, cp: &str, reason: &ReasonCode, at: i64) {
        let state = self.permission_state(cp);
        if state == Some(ChargePermissionState::Closed) {
            return;
        }
        match reason {
            ReasonCode::HardDeclined
                if state == Some(ChargePermissionState::Chargeable)
                    && self.hard_decline_effect(cp) == HardDeclineEffect::NonChargeable =>
            {
                self.set_permission_state(
                    cp,
                    ChargePermissionState::NonChargeable,
                    Some(ReasonCode::PaymentMethodInvalid),
                    at,
                );
            }
            ReasonCode::AmazonRejected => self.set_permission_state(
                cp,
                ChargePermissionState::Closed,
                Some(ReasonCode::AmazonCanceled),
                at,
            ),
            _ => {}
        }
    }

    /// A failed MFA challenge: NonChargeable / MFAFailed unless the knob keeps it Chargeable.
    pub(super) fn after_mfa_failure(&mut self, cp: &str, at: i64) {
        let effect = self
            .state
            .permissions
            .get(cp)
            .and_then(|p| p.wallet.knobs.mfa_failure)
            .unwrap_or(self.knobs.mfa_failure);
        if effect == MfaFailureEffect::NonChargeable
            && self.permission_state(cp) == Some(ChargePermissionState::Chargeable)
        {
            self.set_permission_state(
                cp,
                ChargePermissionState::NonChargeable,
                Some(ReasonCode::MFAFailed),
                at,
            );
        }
    }

    fn hard_decline_effect(&self, cp: &str) -> HardDeclineEffect {
        self.state
            .permissions
            .get(cp)
            .and_then(|p| p.wallet.knobs.hard_decline)
            .unwrap_or(self.knobs.hard_decline)
    }

    /// Get Charge Permission.
    pub(crate) fn get_permission(&mut self, ctx: &Ctx, id: &str) -> OpResult {
        self.permission_in_env(id, ctx.env)?;
        let obj = self
            .render_permission(id, ctx.now_ms)
            .ok_or_else(|| ApiError::not_found("Charge Permission", id))?;
        to_json(200, &obj)
    }

    /// Update Charge Permission.
    pub(crate) fn update_permission(
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
    pub(crate) fn close_permission(
        &mut self,
        ctx: &Ctx,
        id: &str,
        req: CloseChargePermissionRequest,
    ) -> OpResult {
        let amazon_closed = check_sim(ctx, |c| (c == "AmazonClosed").then_some(()))?.is_some();
        check_reason_len("closureReason", &req.closure_reason)?;
        let p = self.permission_in_env(id, ctx.env)?;
        if p.object.status_details.state == ChargePermissionState::Closed {
            return Err(ApiError::unprocessable(
                ReasonCode::InvalidChargePermissionStatus,
                "the charge permission is already Closed",
            ));
        }
        if req.cancel_pending_charges.unwrap_or(false) {
            for cid in p.charge_ids.clone() {
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
        let reason = if amazon_closed {
            ReasonCode::AmazonClosed
        } else {
            ReasonCode::MerchantClosed
        };
        self.set_permission_state(id, ChargePermissionState::Closed, Some(reason), ctx.now_ms);
        self.get_permission(ctx, id)
    }

    fn open_permission_mut(&mut self, id: &str) -> Result<&mut PermissionRec, ApiError> {
        let p = self
            .state
            .permissions
            .get_mut(id)
            .ok_or_else(|| ApiError::not_found("Charge Permission", id))?;
        if p.object.status_details.state == ChargePermissionState::Closed {
            return Err(ApiError::unprocessable(
                ReasonCode::InvalidChargePermissionStatus,
                "the charge permission is Closed; the buyer must set up a new Saved Wallet",
            ));
        }
        Ok(p)
    }

    /// The buyer closes their Saved Wallet on Amazon's site (→ Closed / BuyerClosed + IPN).
    pub(crate) fn buyer_close(&mut self, id: &str, now_ms: i64) -> Result<(), ApiError> {
        self.open_permission_mut(id)?;
        self.set_permission_state(
            id,
            ChargePermissionState::Closed,
            Some(ReasonCode::BuyerClosed),
            now_ms,
        );
        Ok(())
    }

    /// The buyer picks a (new) payment method. A NonChargeable permission becomes
    /// Chargeable (STATE_CHANGE IPN); a Chargeable one stays so (ATTRIBUTE_CHANGE IPN).
    pub(crate) fn buyer_update_payment_method(
        &mut self,
        id: &str,
        preset: Preset,
        now_ms: i64,
    ) -> Result<(), ApiError> {
        let delay = self.cfg.async_delay_secs;
        let p = self.open_permission_mut(id)?;
        let old = std::mem::replace(&mut p.wallet, SimWallet::new(preset, delay));
        p.wallet.updated = true;
        // Test settings of the wallet outlive the change of card.
        p.wallet.knobs = old.knobs;
        if preset == Preset::LowLimit {
            p.wallet.monthly_limit_minor = old
                .monthly_limit_minor
                .or(Some(100 * p.currency.minor_per_major()));
        }
        p.object.payment_preferences = Some(vec![PaymentPreference {
            payment_descriptor: Some(preset.descriptor().into()),
        }]);
        if p.object.status_details.state == ChargePermissionState::Chargeable {
            p.object.status_details.last_updated_timestamp = Some(ts(now_ms));
            self.ipn(
                IpnNotificationType::AttributeChange,
                IpnObjectType::ChargePermission,
                id,
                id,
            );
        } else {
            self.set_permission_state(id, ChargePermissionState::Chargeable, None, now_ms);
        }
        Ok(())
    }

    /// The buyer's card starts behaving like `preset` without the buyer doing anything
    /// (a card that expires, a bank that starts to decline): no IPN, no state change —
    /// Amazon learns it at the next charge. Tests use it to fail a working subscription.
    pub(crate) fn change_card_behaviour(
        &mut self,
        id: &str,
        preset: Preset,
    ) -> Result<(), ApiError> {
        let delay = self.cfg.async_delay_secs;
        let p = self.open_permission_mut(id)?;
        let old = std::mem::replace(&mut p.wallet, SimWallet::new(preset, delay));
        p.wallet.knobs = old.knobs;
        p.wallet.monthly_limit_minor = old.monthly_limit_minor;
        Ok(())
    }

    /// The card starts to answer asynchronously (AuthorizationInitiated) and end as `outcome`.
    pub(crate) fn change_async_outcome(
        &mut self,
        id: &str,
        outcome: PendingOutcome,
    ) -> Result<(), ApiError> {
        let preset = if outcome == PendingOutcome::Approve {
            Preset::AsyncApprove
        } else {
            Preset::AsyncDecline
        };
        self.change_card_behaviour(id, preset)?;
        self.open_permission_mut(id)?.wallet.async_decline = outcome;
        Ok(())
    }

    /// Moves a permission into any state/reason SPEC §5.2 lists, with its IPN (control API).
    /// Closed is terminal; setting the current state and reason again changes nothing.
    pub(crate) fn force_permission_state(
        &mut self,
        id: &str,
        state: ChargePermissionState,
        reason: Option<ReasonCode>,
        now_ms: i64,
    ) -> Result<bool, ApiError> {
        let allowed = allowed_reasons(&state);
        let valid = match (&reason, allowed.is_empty()) {
            (None, true) => state == ChargePermissionState::Chargeable,
            (Some(r), false) => allowed.contains(r),
            _ => false,
        };
        if !valid {
            let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
            return Err(ApiError::invalid(format!(
                "state {state} needs {}",
                if names.is_empty() {
                    "no reasonCode".to_string()
                } else {
                    format!("a reasonCode of {}", names.join(", "))
                }
            )));
        }
        let p = self.open_permission_mut(id)?;
        let current = &p.object.status_details;
        if current.state == state
            && current.reasons.first().map(|r| &r.reason_code) == reason.as_ref()
        {
            return Ok(false);
        }
        self.set_permission_state(id, state, reason, now_ms);
        Ok(true)
    }
}
