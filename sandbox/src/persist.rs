//! `--state FILE`: the whole simulator state as one JSON snapshot, written atomically
//! (temp file, fsync, rename) after changes (coalesced) and on shutdown, loaded at start.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Notify};

use crate::ipn::IpnState;
use crate::model::State;

/// Current snapshot format.
pub(crate) const SNAPSHOT_VERSION: u32 = 1;

/// The `--state FILE` format.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Snapshot {
    /// Format version.
    #[allow(dead_code)]
    pub(crate) version: u32,
    /// Simulator state (objects, keys, idempotency keys, clock offset, timers).
    pub(crate) state: State,
    /// IPN signing certificate and subscriptions.
    pub(crate) ipn: Option<IpnState>,
}

/// The same, borrowed, for writing without cloning the state.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SnapshotRef<'a> {
    pub(crate) version: u32,
    pub(crate) state: &'a State,
    pub(crate) ipn: &'a Option<IpnState>,
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
pub(crate) fn load_snapshot(path: &Path) -> Result<Option<Snapshot>, PersistError> {
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
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io)
}

/// Schedules and performs snapshot writes. Changes are counted so a caller can wait until
/// a completed write covers every change made before it asked.
#[derive(Debug)]
pub(crate) struct Persister {
    path: Option<PathBuf>,
    dirty: Notify,
    write_lock: tokio::sync::Mutex<()>,
    /// Changes marked so far.
    marked: AtomicU64,
    /// The `marked` count the last completed write covers.
    written: watch::Sender<u64>,
}

impl Persister {
    /// A persister for `path` (nothing is ever written without one).
    pub(crate) fn new(path: Option<PathBuf>) -> Persister {
        Persister {
            path,
            dirty: Notify::new(),
            write_lock: tokio::sync::Mutex::new(()),
            marked: AtomicU64::new(0),
            written: watch::Sender::new(0),
        }
    }

    /// True with a state file.
    pub(crate) fn enabled(&self) -> bool {
        self.path.is_some()
    }

    /// Records a change (call after it is applied) and wakes the writer.
    pub(crate) fn mark_dirty(&self) {
        if self.path.is_some() {
            self.marked.fetch_add(1, Ordering::SeqCst);
            self.dirty.notify_one();
        }
    }

    /// Resolves when a change was marked since the last wake-up.
    pub(crate) async fn changed(&self) {
        self.dirty.notified().await;
    }

    /// Writes the snapshot `bytes` produces now (no-op without a state file).
    pub(crate) async fn write(
        &self,
        bytes: impl FnOnce() -> Result<Vec<u8>, serde_json::Error>,
    ) -> Result<(), PersistError> {
        let Some(path) = self.path.clone() else {
            return Ok(());
        };
        let _guard = self.write_lock.lock().await;
        // Read before snapshotting: every change counted here is already in the state.
        let covers = self.marked.load(Ordering::SeqCst);
        let bytes = bytes().map_err(|source| PersistError::Json {
            path: path.display().to_string(),
            source,
        })?;
        let shown = path.display().to_string();
        tokio::task::spawn_blocking(move || write_atomic(&path, &bytes))
            .await
            .map_err(|e| PersistError::Io {
                path: shown,
                source: std::io::Error::other(e.to_string()),
            })??;
        self.written.send_modify(|w| *w = (*w).max(covers));
        Ok(())
    }

    /// Resolves once a completed write covers every change marked before the call.
    pub(crate) async fn written(&self) {
        let target = self.marked.load(Ordering::SeqCst);
        let mut rx = self.written.subscribe();
        // Cannot fail: `self` keeps the sender alive.
        let _ = rx.wait_for(|w| *w >= target).await;
    }
}
