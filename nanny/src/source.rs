//! Where the config comes from: the ConfigMap directory the kubelet mounts (`-configDir`).
//! Keys are files (symlinks into a `..data` directory that is swapped atomically); entries
//! starting with `.` and subdirectories are not keys. The version is the hex SHA-256 over
//! `name\0content\0` in lexical order, as kube-dns computes it; an empty or missing directory
//! has version `""` and means the default config.
//!
//! [`DirSource::watch`] notices changes by file notification on the *directory* (the kubelet
//! renames `..data`, so watching files would miss swaps) and by polling every `syncInterval`
//! as a fallback, and sends each new version once. Must not validate or interpret values.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// One read of the directory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// Hex SHA-256 of the keys and contents; `""` when there are no keys.
    pub version: String,
    /// Key -> content.
    pub data: BTreeMap<String, String>,
}

/// Reading the directory failed; the previous config stays.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Listing the directory or reading a key failed.
    #[error("reading {path}: {source}")]
    ReadFailed {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A key's content is not UTF-8 (kube-dns refuses it too).
    #[error("{path} is not valid UTF-8")]
    NotUtf8 {
        /// The file.
        path: PathBuf,
    },
}

/// The mounted ConfigMap directory.
#[derive(Debug, Clone)]
pub struct DirSource {
    dir: PathBuf,
}

impl DirSource {
    /// A source reading `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> DirSource {
        DirSource { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reads every key now. A missing directory reads as empty (the default config).
    pub fn read(&self) -> Result<Snapshot, SourceError> {
        let failed = |path: &Path, source| SourceError::ReadFailed {
            path: path.to_path_buf(),
            source,
        };
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Snapshot::default()),
            Err(e) => return Err(failed(&self.dir, e)),
        };
        let mut data = BTreeMap::new();
        for entry in entries {
            let entry = entry.map_err(|e| failed(&self.dir, e))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let path = entry.path();
            // Follows the key symlink into `..data`.
            let meta = std::fs::metadata(&path).map_err(|e| failed(&path, e))?;
            if !meta.is_file() {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|e| failed(&path, e))?;
            let content = String::from_utf8(bytes).map_err(|_| SourceError::NotUtf8 { path })?;
            data.insert(name, content);
        }
        Ok(Snapshot {
            version: version(&data),
            data,
        })
    }

    /// [`DirSource::read`] on the blocking pool, so that a slow volume never stalls the
    /// (single-threaded) runtime that also supervises dnscache.
    pub async fn read_async(&self) -> Result<Snapshot, SourceError> {
        let source = self.clone();
        tokio::task::spawn_blocking(move || source.read())
            .await
            .unwrap_or_else(|e| {
                Err(SourceError::ReadFailed {
                    path: self.dir.clone(),
                    source: std::io::Error::other(e),
                })
            })
    }

    /// Spawns the watcher; every distinct version read is sent once, the first immediately.
    /// Read errors are logged and skipped (kube-dns semantics). Stops with `token`.
    pub fn watch(self, interval: Duration, token: CancellationToken) -> mpsc::Receiver<Snapshot> {
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(self.watch_loop(interval, tx, token));
        rx
    }

    async fn watch_loop(
        self,
        interval: Duration,
        tx: mpsc::Sender<Snapshot>,
        token: CancellationToken,
    ) {
        let (note_tx, mut note_rx) = mpsc::channel::<()>(1);
        let mut watcher: Option<RecommendedWatcher> = None;
        let mut warned = false;
        let mut last: Option<String> = None;
        let mut tick = tokio::time::interval(interval.max(Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if watcher.is_none() {
                watcher = self.start_notify(note_tx.clone(), &mut warned);
            } else if !self.dir.exists() {
                // The watch died with the directory; poll until it is back.
                watcher = None;
            }
            match self.read_async().await {
                Ok(snap) if last.as_ref() != Some(&snap.version) => {
                    tracing::debug!(version = %snap.version, keys = snap.data.len(), "config directory changed");
                    last = Some(snap.version.clone());
                    if tx.send(snap).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read config directory; keeping the current config")
                }
            }
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tick.tick() => {}
                Some(()) = note_rx.recv() => {
                    // Let the kubelet finish its swap (new key symlinks follow the rename).
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    while note_rx.try_recv().is_ok() {}
                }
            }
        }
    }

    fn start_notify(
        &self,
        note: mpsc::Sender<()>,
        warned: &mut bool,
    ) -> Option<RecommendedWatcher> {
        if !self.dir.is_dir() {
            return None;
        }
        let handler = move |res: notify::Result<notify::Event>| {
            if res.is_ok() {
                let _ = note.try_send(());
            }
        };
        let started = notify::recommended_watcher(handler)
            .and_then(|mut w| w.watch(&self.dir, RecursiveMode::NonRecursive).map(|()| w));
        match started {
            Ok(w) => Some(w),
            Err(e) => {
                if std::mem::replace(warned, true) {
                    return None;
                }
                tracing::warn!(dir = %self.dir.display(), error = %e, "file notification unavailable; polling only");
                None
            }
        }
    }
}

/// kube-dns's version: hex SHA-256 over `name\0content\0` in key order; `""` for no keys.
pub fn version(data: &BTreeMap<String, String>) -> String {
    if data.is_empty() {
        return String::new();
    }
    let mut h = Sha256::new();
    for (k, v) in data {
        h.update(k.as_bytes());
        h.update([0u8]);
        h.update(v.as_bytes());
        h.update([0u8]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
