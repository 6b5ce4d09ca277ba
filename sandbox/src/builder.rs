//! [`SandboxBuilder`]: settings, keys, knobs and quotas, then `spawn` on a socket.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use savedwallet_shared::api::{Operation, RateLimit};

use crate::config::Config;
use crate::engine::Core;
use crate::handle::SandboxHandle;
use crate::ipn::{IpnConfig, IpnSender};
use crate::knobs::Knobs;
use crate::model::State;
use crate::persist::load_snapshot;
use crate::state::App;
use crate::throttle::{QuotaClock, QuotaConfig};
use crate::verify::KeyRing;
use crate::SandboxError;

/// A caller's adjustment of the IPN sender configuration.
type IpnTweak = Box<dyn FnOnce(&mut IpnConfig) + Send>;

/// Configures and starts a sandbox.
#[derive(Default)]
pub struct SandboxBuilder {
    cfg: Config,
    knobs: Knobs,
    quotas: QuotaConfig,
    keys: Vec<(String, String)>,
    tls: Option<(PathBuf, PathBuf)>,
    ipn_tweaks: Vec<IpnTweak>,
    tick_every: Option<Duration>,
    freeze_now: bool,
}

impl std::fmt::Debug for SandboxBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxBuilder")
            .field("cfg", &self.cfg)
            .field("knobs", &self.knobs)
            .field("quotas", &self.quotas)
            .finish_non_exhaustive()
    }
}

impl SandboxBuilder {
    /// Replaces the whole start-up configuration.
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
        self.quotas.enabled = on;
        self
    }

    /// All throttling settings at once (see [`QuotaConfig`]).
    pub fn quotas(mut self, quotas: QuotaConfig) -> Self {
        self.quotas = quotas;
        self
    }

    /// Multiplies Amazon's burst and restore rates (e.g. 10: Create Charge live 100 / 40 s⁻¹).
    pub fn quota_scale(mut self, scale: f64) -> Self {
        self.quotas.scale = scale;
        self
    }

    /// Explicit burst and restore rate for one operation (both environments).
    pub fn quota(mut self, op: Operation, burst: u32, per_second: f64) -> Self {
        self.quotas
            .overrides
            .insert(op, RateLimit { burst, per_second });
        self
    }

    /// Which clock refills the throttling buckets (default: the simulated clock).
    pub fn quota_clock(mut self, clock: QuotaClock) -> Self {
        self.quotas.clock = clock;
        self
    }

    /// The knobs for behaviours Amazon leaves open (see [`Knobs`]).
    pub fn knobs(mut self, knobs: Knobs) -> Self {
        self.knobs = knobs;
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

    /// Freezes the simulated clock at `t`: simulated time moves only by clock advances, so
    /// timer and throttling checks do not depend on how fast the machine is.
    pub fn freeze_clock_at(mut self, t: chrono::DateTime<chrono::Utc>) -> Self {
        self.cfg.frozen_at = Some(t);
        self.freeze_now = false;
        self
    }

    /// Freezes the simulated clock at the moment of `spawn` (whole seconds).
    pub fn freeze_clock(mut self) -> Self {
        self.freeze_now = true;
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

    /// Adjusts the IPN sender's configuration (retries, signature version, duplicates,
    /// reordering, seed); adjustments apply in the order given.
    pub fn ipn_config(mut self, f: impl FnOnce(&mut IpnConfig) + Send + 'static) -> Self {
        self.ipn_tweaks.push(Box::new(f));
        self
    }

    /// How often due timers are evaluated without a request (default 1 s).
    pub fn tick_every(mut self, every: Duration) -> Self {
        self.tick_every = Some(every);
        self
    }

    /// Binds `addr` (port 0 = any free port) and starts serving in the background.
    pub async fn spawn(mut self, addr: SocketAddr) -> Result<SandboxHandle, SandboxError> {
        self.knobs.validate().map_err(SandboxError::Invalid)?;
        self.quotas.validate().map_err(SandboxError::Invalid)?;
        if self.freeze_now {
            let now = chrono::Utc::now().timestamp();
            self.cfg.frozen_at = chrono::DateTime::from_timestamp(now, 0);
        }
        let listener = std::net::TcpListener::bind(addr)?;
        let local = listener.local_addr()?;
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let base_url = format!("{scheme}://{local}");
        let cfg = Arc::new(self.cfg);

        let snapshot = match &cfg.state_file {
            Some(p) => load_snapshot(p)?,
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
        for tweak in self.ipn_tweaks {
            tweak(&mut ipn_cfg);
        }
        let ipn = match ipn_state {
            Some(s) => IpnSender::restore(ipn_cfg, s)?,
            None => IpnSender::new(ipn_cfg)?,
        };
        let core = Core::new(state, cfg.clone(), self.knobs);
        let app = Arc::new(App::new(
            core,
            cfg.clone(),
            keys,
            base_url.clone(),
            ipn,
            self.quotas,
        ));
        SandboxHandle::serve(
            app,
            listener,
            base_url,
            self.tls,
            self.tick_every.unwrap_or(Duration::from_secs(1)),
        )
        .await
    }
}
