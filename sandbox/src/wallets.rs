//! Saved Wallets made by tests: [`WalletOptions`] (for [`crate::SandboxHandle`]) and the
//! one place that turns them into a `Chargeable` charge permission (the control API's
//! `POST /_sandbox/charge-permissions` parses its JSON into the same options).

use savedwallet_shared::api::{ChargePermission, ChargePermissionType};
use savedwallet_shared::money::{Currency, Price};
use savedwallet_shared::region::{Environment, Region};

use crate::engine::NewPermission;
use crate::knobs::WalletKnobs;
use crate::model::{PendingOutcome, Preset, SimWallet};
use crate::state::App;

/// Largest async delay of a preset: Amazon gives its final answer within 24 h.
pub(crate) const MAX_ASYNC_DELAY_SECS: i64 = 24 * 3600;

/// Options for [`crate::SandboxHandle::create_charge_permission`].
#[derive(Debug, Clone)]
pub struct WalletOptions {
    /// Behaviour preset.
    pub preset: Preset,
    /// Region (the merchant's: decides MFA, limits and the latency cap).
    pub region: Region,
    /// Presentment currency (default: the region's ledger currency).
    pub currency: Option<Currency>,
    /// Environment (default Sandbox).
    pub environment: Environment,
    /// A buyer created with `POST /_sandbox/buyers` (default: a fresh sandbox buyer).
    pub buyer_id: Option<String>,
    /// soft-decline: how many charges to decline (default 2).
    pub soft_declines: Option<u32>,
    /// Async presets: delay in seconds (0 to 86400; default: the sandbox's).
    pub async_delay_secs: Option<i64>,
    /// Monthly limit override (low-limit default: 100 in the wallet currency).
    pub monthly_limit: Option<Price>,
    /// async-decline: how the pending authorization ends (default HardDeclined).
    pub async_decline: Option<PendingOutcome>,
    /// How this wallet's asynchronous captures end (default Captured).
    pub capture_outcome: Option<PendingOutcome>,
    /// Overrides of the sandbox-wide knobs for this wallet.
    pub knobs: WalletKnobs,
}

impl Default for WalletOptions {
    fn default() -> Self {
        WalletOptions {
            preset: Preset::AlwaysApprove,
            region: Region::Na,
            currency: None,
            environment: Environment::Sandbox,
            buyer_id: None,
            soft_declines: None,
            async_delay_secs: None,
            monthly_limit: None,
            async_decline: None,
            capture_outcome: None,
            knobs: WalletKnobs::default(),
        }
    }
}

impl WalletOptions {
    /// The wallet these options describe, or why they are invalid.
    fn wallet(&self, currency: Currency, default_delay: i64) -> Result<SimWallet, String> {
        let delay = self.async_delay_secs.unwrap_or(default_delay);
        if !(0..=MAX_ASYNC_DELAY_SECS).contains(&delay) {
            return Err(format!(
                "asyncDelaySeconds must be 0 to {MAX_ASYNC_DELAY_SECS} (Amazon answers within 24 h)"
            ));
        }
        if self.async_decline == Some(PendingOutcome::Approve) {
            return Err("asyncDeclineReason must name a decline reason".into());
        }
        self.knobs.validate()?;
        let mut wallet = SimWallet::new(self.preset, delay);
        if let Some(n) = self.soft_declines {
            wallet.soft_declines_remaining = n;
        }
        wallet.monthly_limit_minor = match self.monthly_limit {
            Some(p) if p.currency() != currency => {
                return Err("monthly limit currency differs from the wallet currency".into())
            }
            Some(p) => Some(p.minor_units()),
            None if self.preset == Preset::LowLimit => Some(100 * currency.minor_per_major()),
            None => None,
        };
        if let Some(o) = self.async_decline {
            wallet.async_decline = o;
        }
        if let Some(o) = self.capture_outcome {
            wallet.capture_outcome = o;
        }
        wallet.knobs = self.knobs.clone();
        Ok(wallet)
    }
}

/// Creates the Chargeable Saved Wallet `opts` describe; returns Amazon's JSON of it.
pub(crate) fn create_wallet(app: &App, opts: &WalletOptions) -> Result<ChargePermission, String> {
    let currency = opts
        .currency
        .unwrap_or_else(|| Currency::ledger_for(opts.region));
    let wallet = opts.wallet(currency, app.cfg.async_delay_secs)?;
    app.act(|core, now| {
        let buyer = match &opts.buyer_id {
            Some(b) => Some(
                core.state
                    .buyers
                    .get(b)
                    .cloned()
                    .ok_or_else(|| format!("unknown buyerId {b}"))?,
            ),
            None => None,
        };
        let id = core.create_permission(
            NewPermission {
                env: opts.environment,
                region: opts.region,
                currency,
                wallet,
                kind: ChargePermissionType::PaymentMethodOnFile,
                buyer,
                merchant_metadata: None,
            },
            now,
        );
        core.render_permission(&id, now)
            .ok_or_else(|| "charge permission vanished".to_string())
    })
}
