//! [`SandboxHandle`]: a running sandbox's URLs and the in-process equivalents of the
//! control API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use savedwallet_shared::api::{ChargePermission, ChargePermissionState, ReasonCode};

use crate::faults::{FaultConfig, Faults};
use crate::ipn::IpnSender;
use crate::knobs::Knobs;
use crate::model::Preset;
use crate::router::router;
use crate::state::App;
use crate::throttle::QuotaConfig;
use crate::wallets::{create_wallet, WalletOptions};
use crate::SandboxError;

/// A running sandbox: URLs and the control functions (in-process equivalents of the
/// control API).
#[derive(Debug)]
pub struct SandboxHandle {
    app: Arc<App>,
    addr: SocketAddr,
    base_url: String,
    server: axum_server::Handle<SocketAddr>,
    tasks: Vec<tokio::task::AbortHandle>,
}

impl SandboxHandle {
    /// Serves `app` on `listener` and starts the persistence and timer tasks.
    pub(crate) async fn serve(
        app: Arc<App>,
        listener: std::net::TcpListener,
        base_url: String,
        tls: Option<(PathBuf, PathBuf)>,
        tick_every: Duration,
    ) -> Result<SandboxHandle, SandboxError> {
        let addr = listener.local_addr()?;
        let routes = router(app.clone());
        let handle = axum_server::Handle::new();
        let server_task = match tls {
            None => {
                let server = axum_server::from_tcp(listener)?.handle(handle.clone());
                tokio::spawn(async move { server.serve(routes.into_make_service()).await })
            }
            Some((cert, key)) => {
                let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                    .await
                    .map_err(|e| SandboxError::Tls(e.to_string()))?;
                let server =
                    axum_server::tls_rustls::from_tcp_rustls(listener, tls)?.handle(handle.clone());
                tokio::spawn(async move { server.serve(routes.into_make_service()).await })
            }
        };
        let persist = tokio::spawn(app.clone().persist_loop());
        let ticker = tokio::spawn(app.clone().tick_loop(tick_every));
        app.mark_dirty();
        Ok(SandboxHandle {
            app,
            addr,
            base_url,
            server: handle,
            tasks: vec![
                server_task.abort_handle(),
                persist.abort_handle(),
                ticker.abort_handle(),
            ],
        })
    }

    /// `http://127.0.0.1:PORT` (the API is below `/v2`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `…/_sandbox`.
    pub fn control_url(&self) -> String {
        format!("{}/_sandbox", self.base_url)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The sandbox's stand-in for `https://payments.amazon.com/jr/your-account/ba/{id}`.
    pub fn payment_method_update_url(&self, charge_permission_id: &str) -> String {
        format!(
            "{}/jr/your-account/ba/{charge_permission_id}",
            self.base_url
        )
    }

    /// Registers a public key.
    pub fn register_public_key(&self, id: &str, pem: &str) -> Result<(), SandboxError> {
        self.app
            .keys
            .insert(id, pem)
            .map_err(|source| SandboxError::Key {
                id: id.to_string(),
                source,
            })?;
        self.app.act(|core, _| {
            core.state
                .public_keys
                .insert(id.to_string(), pem.to_string())
        });
        Ok(())
    }

    /// Creates a Chargeable Saved Wallet charge permission with a behaviour preset.
    pub fn create_charge_permission(
        &self,
        opts: WalletOptions,
    ) -> Result<ChargePermission, SandboxError> {
        create_wallet(&self.app, &opts).map_err(SandboxError::Invalid)
    }

    /// The buyer closes the Saved Wallet on Amazon's site (Closed / BuyerClosed + IPN).
    pub fn buyer_close(&self, charge_permission_id: &str) -> Result<(), SandboxError> {
        self.app
            .act(|core, now| core.buyer_close(charge_permission_id, now))
            .map_err(SandboxError::from)
    }

    /// The buyer picks a new payment method on Amazon's site: a NonChargeable permission
    /// becomes Chargeable (STATE_CHANGE IPN), a Chargeable one gets an ATTRIBUTE_CHANGE IPN.
    pub fn buyer_update_payment_method(
        &self,
        charge_permission_id: &str,
        preset: Preset,
    ) -> Result<(), SandboxError> {
        self.app
            .act(|core, now| core.buyer_update_payment_method(charge_permission_id, preset, now))
            .map_err(SandboxError::from)
    }

    /// The card behind a permission starts to behave like `preset` (e.g. to hard-decline)
    /// without the buyer doing anything and without an IPN: the next charge shows it.
    pub fn change_card_behaviour(
        &self,
        charge_permission_id: &str,
        preset: Preset,
    ) -> Result<(), SandboxError> {
        self.app
            .act(|core, _| core.change_card_behaviour(charge_permission_id, preset))
            .map_err(SandboxError::from)
    }

    /// The card behind a permission starts to answer asynchronously (AuthorizationInitiated)
    /// and to end as `outcome` (e.g. SoftDeclined), without an IPN.
    pub fn change_async_outcome(
        &self,
        charge_permission_id: &str,
        outcome: crate::PendingOutcome,
    ) -> Result<(), SandboxError> {
        self.app
            .act(|core, _| core.change_async_outcome(charge_permission_id, outcome))
            .map_err(SandboxError::from)
    }

    /// Moves a permission into any state and reason SPEC §5.2 lists (Chargeable takes no
    /// reason), with its CHARGE_PERMISSION IPN; Closed is terminal. Returns the permission.
    pub fn set_permission_state(
        &self,
        charge_permission_id: &str,
        state: ChargePermissionState,
        reason: Option<ReasonCode>,
    ) -> Result<ChargePermission, SandboxError> {
        self.app.act(|core, now| {
            core.force_permission_state(charge_permission_id, state, reason, now)?;
            core.render_permission(charge_permission_id, now)
                .ok_or_else(|| SandboxError::Invalid("charge permission vanished".into()))
        })
    }

    /// Moves the simulated clock forward; due timers fire (and send their IPNs) at once.
    pub fn advance_clock(&self, by: Duration) {
        self.app
            .advance_clock_secs(i64::try_from(by.as_secs()).unwrap_or(i64::MAX));
    }

    /// Simulated now.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_millis(self.app.now_ms()).unwrap_or_default()
    }

    /// Turns Amazon's throttling on or off.
    pub fn set_throttling(&self, on: bool) {
        self.app.set_throttling(on);
    }

    /// The throttling settings in use.
    pub fn quotas(&self) -> QuotaConfig {
        self.app.throttle.lock().config().clone()
    }

    /// Replaces the throttling settings (the buckets start full).
    pub fn set_quotas(&self, quotas: QuotaConfig) -> Result<(), SandboxError> {
        quotas.validate().map_err(SandboxError::Invalid)?;
        self.app.throttle.lock().set_config(quotas);
        Ok(())
    }

    /// The knobs in use.
    pub fn knobs(&self) -> Knobs {
        self.app.core.lock().knobs.clone()
    }

    /// Replaces the knobs.
    pub fn set_knobs(&self, knobs: Knobs) -> Result<(), SandboxError> {
        knobs.validate().map_err(SandboxError::Invalid)?;
        self.app.core.lock().knobs = knobs;
        Ok(())
    }

    /// Replaces the fault configuration.
    pub fn set_faults(&self, cfg: FaultConfig) -> Result<(), SandboxError> {
        cfg.validate().map_err(SandboxError::Invalid)?;
        *self.app.faults.lock() = Faults::new(cfg);
        Ok(())
    }

    /// Every permission, charge, refund, session and IPN (JSON, as `GET /_sandbox/ledger`).
    pub fn ledger(&self) -> serde_json::Value {
        self.app.tick();
        self.app.ledger_json()
    }

    /// The IPN sender (subscriptions, signature versions, delivery faults, deliveries).
    pub fn ipn(&self) -> &IpnSender {
        &self.app.ipn
    }

    /// Writes the state file now.
    pub async fn flush(&self) -> Result<(), SandboxError> {
        self.app.flush().await.map_err(SandboxError::from)
    }

    /// Resolves once the background writer has saved every change made before the call
    /// (at once without a state file).
    pub async fn persisted(&self) {
        self.app.persist.written().await;
    }

    /// Stops serving (after writing the state file).
    pub async fn shutdown(self) -> Result<(), SandboxError> {
        let flushed = self.app.flush().await;
        self.server.shutdown();
        for t in &self.tasks {
            t.abort();
        }
        flushed.map_err(SandboxError::from)
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        self.server.shutdown();
        for t in &self.tasks {
            t.abort();
        }
    }
}
