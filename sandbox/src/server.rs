//! Shared application state, the router, persistence and the background timer tick.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{any, get};
use axum::Router;
use parking_lot::Mutex;
use savedwallet_shared::api::IpnMessage;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::config::Config;
use crate::engine::Core;
use crate::faults::{Faults, Throttle};
use crate::ipn::{IpnSender, IpnState};
use crate::model::State;
use crate::verify::KeyRing;

/// Everything the handlers share.
pub struct App {
    /// State and engine (held only synchronously, never across an await).
    pub core: Mutex<Core>,
    /// Settings.
    pub cfg: Arc<Config>,
    /// Parsed public keys.
    pub keys: KeyRing,
    /// Public base URL, e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    /// Fault dice.
    pub faults: Mutex<Faults>,
    /// Throttling buckets.
    pub throttle: Mutex<Throttle>,
    throttling: AtomicBool,
    /// The IPN sender.
    pub ipn: IpnSender,
    dirty: Notify,
    write_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// The `--state FILE` format.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// Format version.
    pub version: u32,
    /// Simulator state (objects, keys, idempotency keys, clock offset, timers).
    pub state: State,
    /// IPN signing certificate and subscriptions.
    pub ipn: Option<IpnState>,
}

/// Why a snapshot could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// File system error.
    #[error("state file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a snapshot.
    #[error("state file {path} is not a sandbox snapshot: {source}")]
    Json {
        /// The file.
        path: String,
        /// The cause.
        source: serde_json::Error,
    },
}

/// Reads a snapshot; `Ok(None)` when the file does not exist yet.
pub fn load_snapshot(path: &Path) -> Result<Option<Snapshot>, PersistError> {
    let p = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| PersistError::Json { path: p, source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PersistError::Io { path: p, source }),
    }
}

/// Writes bytes atomically: temp file in the same directory, fsync, rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PersistError> {
    use std::io::Write;
    let p = path.display().to_string();
    let io = |source| PersistError::Io {
        path: p.clone(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io)
}

impl App {
    /// Builds the shared state.
    pub fn new(
        core: Core,
        cfg: Arc<Config>,
        keys: KeyRing,
        base_url: String,
        ipn: IpnSender,
    ) -> App {
        let throttling = AtomicBool::new(cfg.throttling);
        App {
            core: Mutex::new(core),
            cfg,
            keys,
            base_url,
            faults: Mutex::new(Faults::default()),
            throttle: Mutex::new(Throttle::default()),
            throttling,
            ipn,
            dirty: Notify::new(),
            write_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Whether Amazon's quotas apply.
    pub fn throttling_enabled(&self) -> bool {
        self.throttling.load(Ordering::Relaxed)
    }

    /// Turns throttling on or off (and refills the buckets).
    pub fn set_throttling(&self, on: bool) {
        self.throttling.store(on, Ordering::Relaxed);
        self.throttle.lock().reset();
    }

    /// Simulated now, Unix ms.
    pub fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis() + self.core.lock().state.clock_offset_ms
    }

    /// Sends IPN messages produced under the lock.
    pub fn publish(&self, outbox: Vec<IpnMessage>) {
        // Like SNS, a topic without subscribers delivers nothing (the ledger keeps them).
        if outbox.is_empty() || self.ipn.subscriptions().is_empty() {
            return;
        }
        for m in outbox {
            if let Err(e) = self.ipn.publish(m) {
                tracing::warn!(error = %e, "could not queue an IPN");
            }
        }
    }

    /// Fires due timers now and publishes their IPNs.
    pub fn tick(&self) {
        let (outbox, fired) = {
            let mut core = self.core.lock();
            let now = chrono::Utc::now().timestamp_millis() + core.state.clock_offset_ms;
            let before = core.state.timers.len();
            core.tick(now);
            let fired = core.state.timers.len() != before;
            (std::mem::take(&mut core.outbox), fired)
        };
        self.publish(outbox);
        if fired {
            self.mark_dirty();
        }
    }

    /// Moves the simulated clock forward; due timers fire at once.
    pub fn advance_clock_secs(&self, secs: i64) {
        {
            // Saturating: a huge advance must not overflow the clock (control API input).
            let mut core = self.core.lock();
            let offset = core.state.clock_offset_ms;
            core.state.clock_offset_ms = offset.saturating_add(secs.max(0).saturating_mul(1000));
        }
        self.tick();
        self.mark_dirty();
    }

    /// Every object and IPN, for invariant checks (`GET /_sandbox/ledger`).
    pub fn ledger_json(&self) -> serde_json::Value {
        let deliveries = self.ipn.deliveries();
        let core = self.core.lock();
        let now = chrono::Utc::now().timestamp_millis() + core.state.clock_offset_ms;
        let mut cp_ids: Vec<&String> = core.state.permissions.keys().collect();
        cp_ids.sort();
        let permissions: Vec<_> = cp_ids
            .into_iter()
            .filter_map(|id| core.render_permission(id, now))
            .collect();
        let mut charges: Vec<_> = core.state.charges.values().map(|c| &c.object).collect();
        charges.sort_by(|a, b| a.charge_id.cmp(&b.charge_id));
        let mut refunds: Vec<_> = core.state.refunds.values().map(|r| &r.object).collect();
        refunds.sort_by(|a, b| a.refund_id.cmp(&b.refund_id));
        let mut sessions: Vec<_> = core.state.sessions.values().map(|s| &s.object).collect();
        sessions.sort_by(|a, b| a.checkout_session_id.cmp(&b.checkout_session_id));
        serde_json::json!({
            "chargePermissions": permissions,
            "charges": charges,
            "refunds": refunds,
            "checkoutSessions": sessions,
            "ipnPublished": core.state.ipn_published,
            "ipnDeliveries": deliveries,
        })
    }

    /// Schedules a snapshot write (batched) when a state file is configured.
    pub fn mark_dirty(&self) {
        if self.cfg.state_file.is_some() {
            self.dirty.notify_one();
        }
    }

    /// Writes the snapshot now (no-op without a state file).
    pub async fn flush(&self) -> Result<(), PersistError> {
        let Some(path) = self.cfg.state_file.clone() else {
            return Ok(());
        };
        let _guard = self.write_lock.lock().await;
        let ipn = Some(self.ipn.snapshot());
        let bytes = {
            let core = self.core.lock();
            let snap = SnapshotRef {
                version: 1,
                state: &core.state,
                ipn: &ipn,
            };
            serde_json::to_vec(&snap).map_err(|source| PersistError::Json {
                path: path.display().to_string(),
                source,
            })?
        };
        tokio::task::spawn_blocking(move || write_atomic(&path, &bytes))
            .await
            .map_err(|e| PersistError::Io {
                path: "state file".into(),
                source: std::io::Error::other(e.to_string()),
            })?
    }

    /// Background loop: write the snapshot whenever something changed (coalesced).
    pub async fn persist_loop(self: Arc<Self>) {
        loop {
            self.dirty.notified().await;
            if let Err(e) = self.flush().await {
                tracing::error!(error = %e, "could not write the sandbox state file");
            }
        }
    }

    /// Background loop: evaluate due timers every `every` (wall clock), so async results
    /// arrive without a request.
    pub async fn tick_loop(self: Arc<Self>, every: Duration) {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            self.tick();
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SnapshotRef<'a> {
    version: u32,
    state: &'a State,
    ipn: &'a Option<IpnState>,
}

/// The full router: Amazon API, control API, buyer pages and the IPN sender's routes.
pub fn router(app: Arc<App>) -> Router {
    let api = any(crate::api::handle);
    Router::new()
        .route("/v2/{*rest}", api.clone())
        .route("/sandbox/v2/{*rest}", api.clone())
        .route("/live/v2/{*rest}", api)
        .merge(crate::control::routes())
        .merge(crate::pages::routes())
        .route("/", get(crate::pages::index))
        .with_state(app.clone())
        .merge(app.ipn.router())
}
