//! What every handler shares (`App`): the engine behind its lock, keys, faults, throttle,
//! the IPN sender and the persister; plus the background timer tick.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use savedwallet_shared::api::IpnMessage;

use crate::config::Config;
use crate::engine::Core;
use crate::faults::Faults;
use crate::ipn::IpnSender;
use crate::persist::{PersistError, Persister, SnapshotRef, SNAPSHOT_VERSION};
use crate::throttle::{QuotaConfig, Throttle};
use crate::verify::KeyRing;

/// Everything the handlers share.
pub(crate) struct App {
    /// State and engine (held only synchronously, never across an await).
    pub(crate) core: Mutex<Core>,
    /// Settings fixed at start.
    pub(crate) cfg: Arc<Config>,
    /// Parsed public keys.
    pub(crate) keys: KeyRing,
    /// Public base URL, e.g. `http://127.0.0.1:8080`.
    pub(crate) base_url: String,
    /// Fault dice.
    pub(crate) faults: Mutex<Faults>,
    /// Throttling buckets and their settings.
    pub(crate) throttle: Mutex<Throttle>,
    /// The IPN sender.
    pub(crate) ipn: IpnSender,
    /// Snapshot writes.
    pub(crate) persist: Persister,
    /// Signed API calls that reached the engine, per operation (the ledger's
    /// `apiCalls`): tests assert how often the service called Amazon.
    pub(crate) api_calls: Mutex<std::collections::BTreeMap<String, u64>>,
    /// Requests answered 429 by the quota, per operation (the ledger's `throttled`):
    /// benchmarks check how often the service ran into Amazon's limits.
    pub(crate) throttled: Mutex<std::collections::BTreeMap<String, u64>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Builds the shared state.
    pub(crate) fn new(
        core: Core,
        cfg: Arc<Config>,
        keys: KeyRing,
        base_url: String,
        ipn: IpnSender,
        quotas: QuotaConfig,
    ) -> App {
        let persist = Persister::new(cfg.state_file.clone());
        App {
            core: Mutex::new(core),
            cfg,
            keys,
            base_url,
            faults: Mutex::new(Faults::default()),
            throttle: Mutex::new(Throttle::new(quotas)),
            ipn,
            persist,
            api_calls: Mutex::default(),
            throttled: Mutex::default(),
        }
    }

    /// Turns throttling on or off (the buckets start full).
    pub(crate) fn set_throttling(&self, on: bool) {
        let mut t = self.throttle.lock();
        let cfg = QuotaConfig {
            enabled: on,
            ..t.config().clone()
        };
        t.set_config(cfg);
    }

    /// Simulated now, Unix ms.
    pub(crate) fn now_ms(&self) -> i64 {
        self.core.lock().now_ms()
    }

    /// Sends IPN messages produced under the lock.
    pub(crate) fn publish(&self, outbox: Vec<IpnMessage>) {
        // Like SNS, a topic without subscribers delivers nothing (the ledger keeps them).
        if outbox.is_empty() || self.ipn.subscriptions().is_empty() {
            return;
        }
        let at =
            chrono::DateTime::from_timestamp_millis(self.now_ms()).unwrap_or_else(chrono::Utc::now);
        for m in outbox {
            if let Err(e) = self.ipn.publish_at(m, at) {
                tracing::warn!(error = %e, "could not queue an IPN");
            }
        }
    }

    /// Runs an action on the engine at simulated now (due timers fire first), then
    /// publishes its IPNs and schedules a snapshot.
    pub(crate) fn act<T>(&self, f: impl FnOnce(&mut Core, i64) -> T) -> T {
        let (result, outbox) = {
            let mut core = self.core.lock();
            let now = core.now_ms();
            core.tick(now);
            let result = f(&mut core, now);
            (result, core.take_outbox())
        };
        self.publish(outbox);
        self.mark_dirty();
        result
    }

    /// Fires due timers now and publishes their IPNs.
    pub(crate) fn tick(&self) {
        let (outbox, fired) = {
            let mut core = self.core.lock();
            let now = core.now_ms();
            let fired = core.tick(now);
            (core.take_outbox(), fired)
        };
        self.publish(outbox);
        if fired {
            self.mark_dirty();
        }
    }

    /// Moves the simulated clock forward; due timers fire at once.
    pub(crate) fn advance_clock_secs(&self, secs: i64) {
        self.act(|core, _| {
            // Saturating: a huge advance must not overflow the clock (control API input).
            let offset = core.state.clock_offset_ms;
            core.state.clock_offset_ms = offset.saturating_add(secs.max(0).saturating_mul(1000));
        });
        self.tick();
    }

    /// Every object and IPN, for invariant checks (`GET /_sandbox/ledger`).
    pub(crate) fn ledger_json(&self) -> serde_json::Value {
        let deliveries = self.ipn.deliveries();
        let core = self.core.lock();
        let now = core.now_ms();
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
            "apiCalls": self.api_calls.lock().clone(),
            "throttled": self.throttled.lock().clone(),
        })
    }

    /// Schedules a snapshot write (batched) when a state file is configured.
    pub(crate) fn mark_dirty(&self) {
        self.persist.mark_dirty();
    }

    /// Writes the snapshot now (no-op without a state file).
    pub(crate) async fn flush(&self) -> Result<(), PersistError> {
        if !self.persist.enabled() {
            return Ok(());
        }
        let ipn = Some(self.ipn.snapshot());
        self.persist
            .write(|| {
                let core = self.core.lock();
                serde_json::to_vec(&SnapshotRef {
                    version: SNAPSHOT_VERSION,
                    state: &core.state,
                    ipn: &ipn,
                })
            })
            .await
    }

    /// Background loop: write the snapshot whenever something changed (coalesced).
    pub(crate) async fn persist_loop(self: Arc<Self>) {
        loop {
            self.persist.changed().await;
            if let Err(e) = self.flush().await {
                tracing::error!(error = %e, "could not write the sandbox state file");
            }
        }
    }

    /// Background loop: evaluate due timers every `every` (wall clock), so async results
    /// arrive without a request.
    pub(crate) async fn tick_loop(self: Arc<Self>, every: Duration) {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            self.tick();
        }
    }
}
