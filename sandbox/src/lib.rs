//! Amazon Pay API v2 sandbox simulator: the signed API with Amazon's exact JSON, state
//! machines on a controllable clock, idempotency, throttling, simulation codes, hosted buyer
//! pages (Saved Wallet consent, MFA challenge, payment-method update, close), IPN delivery
//! through SNS envelopes, a control API under `/_sandbox/` and optional JSON persistence.
//!
//! Embed it in tests:
//! ```no_run
//! # async fn demo() -> Result<(), savedwallet_sandbox::SandboxError> {
//! let sandbox = savedwallet_sandbox::Sandbox::builder()
//!     .throttling(false)
//!     .spawn("127.0.0.1:0".parse().expect("address"))
//!     .await?;
//! println!("API at {}/v2, control API at {}", sandbox.base_url(), sandbox.control_url());
//! # Ok(()) }
//! ```

pub mod api;
pub mod config;
pub mod control;
pub mod engine;
pub mod error;
pub mod faults;
pub mod ipn;
pub mod model;
pub mod pages;
pub mod server;
pub mod verify;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use savedwallet_shared::api::{ChargePermission, ChargePermissionType};
use savedwallet_shared::money::{Currency, Price};
use savedwallet_shared::region::{Environment, Region};

pub use config::Config;
pub use control::CONTROL_API_HELP;
pub use faults::{DropMode, FaultConfig};
pub use model::{MfaOutcome, Preset};

use crate::engine::Core;
use crate::ipn::{IpnConfig, IpnSender};
use crate::model::{State, Wallet};
use crate::server::App;
use crate::verify::KeyRing;

/// Why the sandbox could not start or act.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// Binding or serving failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A public key could not be registered.
    #[error("public key {id}: {source}")]
    Key {
        /// Key id.
        id: String,
        /// Cause.
        source: verify::KeyError,
    },
    /// The state file could not be read or written.
    #[error(transparent)]
    Persist(#[from] server::PersistError),
    /// The IPN sender could not start.
    #[error("IPN sender: {0}")]
    Ipn(#[from] ipn::IpnError),
    /// TLS configuration failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// An operation on the sandbox was refused.
    #[error(transparent)]
    Api(#[from] error::ApiError),
    /// Invalid argument.
    #[error("{0}")]
    Invalid(String),
}

/// The simulator.
#[derive(Debug)]
pub struct Sandbox;

impl Sandbox {
    /// A builder with the defaults (throttling on, 30 s async delay, in memory).
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }
}

/// A caller's adjustment of the IPN sender configuration.
type IpnTweak = Box<dyn FnOnce(&mut IpnConfig) + Send>;

/// Configures and starts a sandbox.
#[derive(Default)]
pub struct SandboxBuilder {
    cfg: Config,
    keys: Vec<(String, String)>,
    tls: Option<(PathBuf, PathBuf)>,
    ipn_tweak: Option<IpnTweak>,
    tick_every: Option<Duration>,
}

impl std::fmt::Debug for SandboxBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxBuilder")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl SandboxBuilder {
    /// Replaces the whole configuration.
    pub fn config(mut self, cfg: Config) -> Self {
        self.cfg = cfg;
        self
    }

    /// Registers a public key (SubjectPublicKeyInfo PEM) under its Amazon key id.
    pub fn public_key(mut self, id: impl Into<String>, pem: impl Into<String>) -> Self {
        self.keys.push((id.into(), pem.into()));
        self
    }

    /// Amazon's throttling quotas on (default) or off.
    pub fn throttling(mut self, on: bool) -> Self {
        self.cfg.throttling = on;
        self
    }

    /// Seconds until async authorizations and captures resolve.
    pub fn async_delay_secs(mut self, secs: i64) -> Self {
        self.cfg.async_delay_secs = secs;
        self
    }

    /// Seconds until refunds settle.
    pub fn refund_delay_secs(mut self, secs: i64) -> Self {
        self.cfg.refund_delay_secs = secs;
        self
    }

    /// Allowed `x-amz-pay-date` skew in seconds.
    pub fn max_clock_skew_secs(mut self, secs: i64) -> Self {
        self.cfg.max_clock_skew_secs = secs;
        self
    }

    /// Seed of all randomness (ids, faults).
    pub fn seed(mut self, seed: u64) -> Self {
        self.cfg.seed = seed;
        self
    }

    /// Persist to a JSON snapshot (loaded at start if it exists).
    pub fn state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.cfg.state_file = Some(path.into());
        self
    }

    /// Serve HTTPS with these PEM files.
    pub fn tls(mut self, cert_pem: impl Into<PathBuf>, key_pem: impl Into<PathBuf>) -> Self {
        self.tls = Some((cert_pem.into(), key_pem.into()));
        self
    }

    /// Adjusts the IPN sender's configuration (retries, duplicates, reordering, seed).
    pub fn ipn_config(mut self, f: impl FnOnce(&mut IpnConfig) + Send + 'static) -> Self {
        self.ipn_tweak = Some(Box::new(f));
        self
    }

    /// How often due timers are evaluated without a request (default 1 s).
    pub fn tick_every(mut self, every: Duration) -> Self {
        self.tick_every = Some(every);
        self
    }

    /// Binds `addr` (port 0 = any free port) and starts serving in the background.
    pub async fn spawn(self, addr: SocketAddr) -> Result<SandboxHandle, SandboxError> {
        let listener = std::net::TcpListener::bind(addr)?;
        let local = listener.local_addr()?;
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let base_url = format!("{scheme}://{local}");
        let cfg = Arc::new(self.cfg);

        let snapshot = match &cfg.state_file {
            Some(p) => server::load_snapshot(p)?,
            None => None,
        };
        let (mut state, ipn_state) = match snapshot {
            Some(s) => (s.state, s.ipn),
            None => (State::default(), None),
        };
        if state.merchant_id.is_empty() {
            state.merchant_id = cfg.merchant_id.clone();
        }
        for (id, pem) in self.keys {
            state.public_keys.insert(id, pem);
        }
        let keys = KeyRing::default();
        for (id, pem) in &state.public_keys {
            keys.insert(id, pem).map_err(|source| SandboxError::Key {
                id: id.clone(),
                source,
            })?;
        }
        let ipn_base = url::Url::parse(&base_url)
            .map_err(|e| SandboxError::Invalid(format!("base URL {base_url}: {e}")))?;
        let mut ipn_cfg = IpnConfig::new(ipn_base);
        ipn_cfg.seed = Some(cfg.seed);
        if let Some(f) = self.ipn_tweak {
            f(&mut ipn_cfg);
        }
        let ipn = match ipn_state {
            Some(s) => IpnSender::restore(ipn_cfg, s)?,
            None => IpnSender::new(ipn_cfg)?,
        };
        let core = Core::new(state, cfg.clone());
        let app = Arc::new(App::new(core, cfg.clone(), keys, base_url.clone(), ipn));
        let router = server::router(app.clone());

        let handle = axum_server::Handle::new();
        let server_task = match self.tls {
            None => {
                let server = axum_server::from_tcp(listener)?.handle(handle.clone());
                tokio::spawn(async move { server.serve(router.into_make_service()).await })
            }
            Some((cert, key)) => {
                let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                    .await
                    .map_err(|e| SandboxError::Tls(e.to_string()))?;
                let server =
                    axum_server::tls_rustls::from_tcp_rustls(listener, tls)?.handle(handle.clone());
                tokio::spawn(async move { server.serve(router.into_make_service()).await })
            }
        };
        let persist = tokio::spawn(app.clone().persist_loop());
        let ticker = tokio::spawn(
            app.clone()
                .tick_loop(self.tick_every.unwrap_or(Duration::from_secs(1))),
        );
        app.mark_dirty();
        Ok(SandboxHandle {
            app,
            addr: local,
            base_url,
            server: handle,
            tasks: vec![
                server_task.abort_handle(),
                persist.abort_handle(),
                ticker.abort_handle(),
            ],
        })
    }
}

/// Options for [`SandboxHandle::create_charge_permission`].
#[derive(Debug, Clone)]
pub struct WalletOptions {
    /// Behaviour preset.
    pub preset: Preset,
    /// Region.
    pub region: Region,
    /// Presentment currency (default: the region's ledger currency).
    pub currency: Option<Currency>,
    /// Environment (default Sandbox).
    pub environment: Environment,
    /// soft-decline: how many charges to decline.
    pub soft_declines: Option<u32>,
    /// Async presets: delay in seconds.
    pub async_delay_secs: Option<i64>,
    /// Monthly limit override.
    pub monthly_limit: Option<Price>,
}

impl Default for WalletOptions {
    fn default() -> Self {
        WalletOptions {
            preset: Preset::AlwaysApprove,
            region: Region::Na,
            currency: None,
            environment: Environment::Sandbox,
            soft_declines: None,
            async_delay_secs: None,
            monthly_limit: None,
        }
    }
}

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
        self.app
            .core
            .lock()
            .state
            .public_keys
            .insert(id.to_string(), pem.to_string());
        self.app.mark_dirty();
        Ok(())
    }

    /// Creates a Chargeable Saved Wallet charge permission with a behaviour preset.
    pub fn create_charge_permission(
        &self,
        opts: WalletOptions,
    ) -> Result<ChargePermission, SandboxError> {
        let currency = opts
            .currency
            .unwrap_or_else(|| Currency::ledger_for(opts.region));
        let mut wallet = Wallet::new(
            opts.preset,
            opts.async_delay_secs
                .unwrap_or(self.app.cfg.async_delay_secs),
        );
        if let Some(n) = opts.soft_declines {
            wallet.soft_declines_remaining = n;
        }
        wallet.monthly_limit_minor = match opts.monthly_limit {
            Some(p) if p.currency() != currency => {
                return Err(SandboxError::Invalid(
                    "monthly limit currency differs from the wallet currency".into(),
                ))
            }
            Some(p) => Some(p.minor_units()),
            None if opts.preset == Preset::LowLimit => Some(100 * currency.minor_per_major()),
            None => None,
        };
        let obj = {
            let mut core = self.app.core.lock();
            let now = chrono::Utc::now().timestamp_millis() + core.state.clock_offset_ms;
            let id = core.create_permission(
                opts.environment,
                opts.region,
                currency,
                wallet,
                ChargePermissionType::PaymentMethodOnFile,
                None,
                None,
                now,
            );
            core.render_permission(&id, now)
        };
        self.app.mark_dirty();
        obj.ok_or_else(|| SandboxError::Invalid("charge permission vanished".into()))
    }

    /// The buyer closes the Saved Wallet on Amazon's site.
    pub fn buyer_close(&self, charge_permission_id: &str) -> Result<(), SandboxError> {
        let outbox = {
            let mut core = self.app.core.lock();
            let now = chrono::Utc::now().timestamp_millis() + core.state.clock_offset_ms;
            core.buyer_close(charge_permission_id, now)?;
            std::mem::take(&mut core.outbox)
        };
        self.app.publish(outbox);
        self.app.mark_dirty();
        Ok(())
    }

    /// Moves the simulated clock forward; due timers fire (and send their IPNs) at once.
    pub fn advance_clock(&self, by: Duration) {
        self.app.advance_clock_secs(by.as_secs() as i64);
    }

    /// Simulated now.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_millis(self.app.now_ms()).unwrap_or_default()
    }

    /// Turns Amazon's throttling on or off.
    pub fn set_throttling(&self, on: bool) {
        self.app.set_throttling(on);
    }

    /// Replaces the fault configuration.
    pub fn set_faults(&self, cfg: FaultConfig) -> Result<(), SandboxError> {
        cfg.validate().map_err(SandboxError::Invalid)?;
        *self.app.faults.lock() = faults::Faults::new(cfg);
        Ok(())
    }

    /// Every permission, charge, refund, session and IPN (JSON, as `GET /_sandbox/ledger`).
    pub fn ledger(&self) -> serde_json::Value {
        self.app.tick();
        self.app.ledger_json()
    }

    /// The IPN sender (subscriptions, deliveries).
    pub fn ipn(&self) -> &IpnSender {
        &self.app.ipn
    }

    /// Writes the state file now.
    pub async fn flush(&self) -> Result<(), SandboxError> {
        self.app.flush().await.map_err(SandboxError::from)
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
