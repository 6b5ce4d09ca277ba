//! How a Create Charge authorization ends: the simulation code or the wallet's preset, the
//! MFA rules (EU/UK CIT only, SPEC §0) and the synchronous-answer limits.

use savedwallet_shared::api::*;
use savedwallet_shared::region::Region;

use super::rules::{invalid_sim, ChargeSim};
use super::Core;
use crate::knobs::MfaRegions;
use crate::model::{PendingOutcome, Preset};

/// Amazon's longest synchronous answer (seed): 15 s in NA, EU and UK, 30 s in JP.
fn max_sync_latency_ms(region: Region) -> u64 {
    match region {
        Region::Jp => 30_000,
        Region::Na | Region::Eu => 15_000,
    }
}

/// How an authorization attempt ends.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum AuthOutcome {
    /// Authorized (or Captured with captureNow).
    Approve,
    /// `AuthorizationInitiated`, resolved by the timer.
    Pending(PendingOutcome),
    /// 202 `ActionRequired` / `BuyerActionRequired`.
    Mfa,
    /// `CaptureInitiated`, resolved by the timer.
    CaptureInitiated(PendingOutcome),
    /// A synchronous decline (error answer), with a message other than the reason's text.
    Decline(ReasonCode, Option<&'static str>),
}

/// The facts of a validated Create Charge the decision needs.
#[derive(Debug, Clone)]
pub(super) struct Attempt<'a> {
    /// The permission.
    pub(super) cp: &'a str,
    /// Customer-initiated (CITU/CITR, or a missing initiator treated as CITU).
    pub(super) cit: bool,
    /// `canHandlePendingAuthorization`.
    pub(super) can_pend: bool,
    /// `webCheckoutDetails.checkoutResultReturnUrl` was sent.
    pub(super) has_return_url: bool,
}

impl Core {
    /// True when the permission's merchant region gets MFA challenges (knob `mfaRegions`).
    fn mfa_applies(&self, cp: &str) -> bool {
        let region = self.state.permissions.get(cp).map(|p| p.region);
        match self.knobs.mfa_regions {
            MfaRegions::AllRegions => true,
            MfaRegions::EuUk => region == Some(Region::Eu),
        }
    }

    /// Decides the outcome; a code that cannot apply here is a 400.
    pub(super) fn decide(
        &mut self,
        a: &Attempt<'_>,
        sim: Option<ChargeSim>,
    ) -> Result<AuthOutcome, crate::error::ApiError> {
        let mfa_here = self.mfa_applies(a.cp);
        let outcome = match sim {
            Some(ChargeSim::Decline(r)) => AuthOutcome::Decline(r, None),
            Some(ChargeSim::Pending(o)) => AuthOutcome::Pending(o),
            Some(ChargeSim::CaptureInitiated(o)) => AuthOutcome::CaptureInitiated(o),
            // Amazon's page: MFA exists for EU and UK merchants only.
            Some(ChargeSim::BuyerActionRequired) if !mfa_here => {
                return Err(invalid_sim("BuyerActionRequired"))
            }
            Some(ChargeSim::BuyerActionRequired) => AuthOutcome::Mfa,
            None => self.wallet_outcome(a.cp, a.cit && mfa_here),
        };
        Ok(match outcome {
            AuthOutcome::Pending(_) if !a.can_pend => AuthOutcome::Decline(
                ReasonCode::TransactionTimedOut,
                Some("the authorization could not be completed synchronously; send canHandlePendingAuthorization: true"),
            ),
            AuthOutcome::Mfa if !a.cit => AuthOutcome::Decline(
                ReasonCode::MFANotCompleted,
                Some("multi-factor authentication is required to be completed by the buyer for this transaction"),
            ),
            AuthOutcome::Mfa if !a.has_return_url => AuthOutcome::Decline(
                ReasonCode::MFANotCompleted,
                Some("multi-factor authentication is required: send webCheckoutDetails.checkoutResultReturnUrl"),
            ),
            o => o,
        })
    }

    /// What the buyer's payment method does (presets; SPEC §10.1 cards).
    fn wallet_outcome(&mut self, cp: &str, challenge: bool) -> AuthOutcome {
        let Some(p) = self.state.permissions.get_mut(cp) else {
            return AuthOutcome::Approve;
        };
        let w = &mut p.wallet;
        match w.preset {
            Preset::AlwaysApprove
            | Preset::LowLimit
            | Preset::SetupBuyerCanceled
            | Preset::SetupDeclined => AuthOutcome::Approve,
            Preset::SoftDecline if w.soft_declines_remaining > 0 => {
                w.soft_declines_remaining -= 1;
                AuthOutcome::Decline(ReasonCode::SoftDeclined, None)
            }
            Preset::SoftDecline => AuthOutcome::Approve,
            Preset::HardDeclineUntilUpdated if w.updated => AuthOutcome::Approve,
            Preset::HardDeclineUntilUpdated => AuthOutcome::Decline(ReasonCode::HardDeclined, None),
            Preset::MfaRequired if challenge => AuthOutcome::Mfa,
            Preset::MfaRequired => AuthOutcome::Approve,
            Preset::AsyncApprove => AuthOutcome::Pending(PendingOutcome::Approve),
            Preset::AsyncDecline => AuthOutcome::Pending(w.async_decline),
        }
    }

    /// A `canHandlePendingAuthorization: false` answer takes the wallet's (or the
    /// sandbox's) synchronous latency, capped at Amazon's limit for the region.
    pub(super) fn note_sync_latency(&mut self, cp: &str) {
        let Some(p) = self.state.permissions.get(cp) else {
            return;
        };
        let wanted = p
            .wallet
            .knobs
            .sync_latency_ms
            .unwrap_or(self.knobs.sync_latency_ms);
        self.response_delay_ms = wanted.min(max_sync_latency_ms(p.region));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use savedwallet_shared::money::Currency;
    use savedwallet_shared::region::Environment;

    use super::*;
    use crate::config::Config;
    use crate::engine::NewPermission;
    use crate::knobs::Knobs;
    use crate::model::{SimWallet, State};

    fn wallet_in(core: &mut Core, region: Region) -> String {
        core.create_permission(
            NewPermission {
                env: Environment::Sandbox,
                region,
                currency: Currency::ledger_for(region),
                wallet: SimWallet::new(Preset::AlwaysApprove, 30),
                kind: ChargePermissionType::PaymentMethodOnFile,
                buyer: None,
                merchant_metadata: None,
            },
            0,
        )
    }

    #[test]
    fn sync_latency_is_capped_at_amazons_limit_for_the_region() {
        let knobs = Knobs {
            sync_latency_ms: 30_000,
            ..Default::default()
        };
        let mut core = Core::new(State::default(), Arc::new(Config::default()), knobs);
        for (region, want) in [
            (Region::Na, 15_000),
            (Region::Eu, 15_000),
            (Region::Jp, 30_000),
        ] {
            let cp = wallet_in(&mut core, region);
            core.note_sync_latency(&cp);
            assert_eq!(core.take_response_delay_ms(), want, "{region:?}");
            assert_eq!(core.take_response_delay_ms(), 0, "taken once");
        }
        let cp = wallet_in(&mut core, Region::Eu);
        if let Some(p) = core.state.permissions.get_mut(&cp) {
            p.wallet.knobs.sync_latency_ms = Some(1_200);
        }
        core.note_sync_latency(&cp);
        assert_eq!(
            core.take_response_delay_ms(),
            1_200,
            "the wallet's own setting"
        );
    }
}
