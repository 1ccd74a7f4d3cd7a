//! Object source `--manifests PATH` (kubedns without a cluster): a YAML/JSON file or a directory of
//! `*.yaml`, `*.yml`, `*.json` files, multi-document, `kind: List` accepted (as written by
//! `kubectl get -o yaml`). Publishes complete [`ClusterObjects`] on the source channel.
//! Parsing is `kubedns_records::from_yaml_documents_on` (a big `kind: List` is read on one
//! thread per CPU); this module owns files and timing.
//!
//! Re-read when it changes: a notify watcher on the directory (file writes, renames and the
//! kubelet's `..data` symlink swap all show up there) plus a 2 s poll of file metadata as a
//! fallback, debounced. A broken file is logged with its name and reason and counted; the
//! last good object set keeps serving. Objects of other kinds are ignored.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kubedns_records::{ClusterObjects, from_yaml_documents_on};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::metrics::ManifestMetrics;
use crate::source::SourceTx;

/// Fallback poll period.
pub const POLL: Duration = Duration::from_secs(2);
/// Time a burst of file events may settle before re-reading.
pub const SETTLE: Duration = Duration::from_millis(100);

/// Why a load failed.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The path or a file could not be read.
    #[error("{file}: {reason}")]
    Read {
        /// The file or directory.
        file: PathBuf,
        /// The I/O error.
        reason: std::io::Error,
    },
    /// A file is not valid YAML/JSON or holds an invalid object.
    #[error("{file}: {reason}")]
    Parse {
        /// The file.
        file: PathBuf,
        /// What is wrong, with the document number.
        reason: String,
    },
}

impl ManifestError {
    /// The file the error is about.
    pub fn file(&self) -> &Path {
        match self {
            ManifestError::Read { file, .. } | ManifestError::Parse { file, .. } => file,
        }
    }
}

/// The files `path` stands for: itself, or the manifest files of a directory (sorted,
/// dot-files skipped, not recursive).
pub fn files(path: &Path) -> Result<Vec<PathBuf>, ManifestError> {
    let read_err = |reason| ManifestError::Read {
        file: path.to_path_buf(),
        reason,
    };
    if !std::fs::metadata(path).map_err(read_err)?.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(path).map_err(read_err)? {
        let p = entry.map_err(read_err)?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or(".");
        let manifest = matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        );
        if manifest && !name.starts_with('.') && p.is_file() {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// Reads and parses every file of `path` into one object set.
pub fn load(path: &Path) -> Result<ClusterObjects, ManifestError> {
    let mut objects = ClusterObjects::default();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    for file in files(path)? {
        let text = std::fs::read_to_string(&file).map_err(|reason| ManifestError::Read {
            file: file.clone(),
            reason,
        })?;
        // JSON is YAML: one parser for both.
        let parsed = from_yaml_documents_on(&text, threads).map_err(|e| ManifestError::Parse {
            file: file.clone(),
            reason: e.to_string(),
        })?;
        objects.extend(parsed);
    }
    Ok(objects)
}

/// What changes when a manifest file changes: path, length, mtime and inode of each file.
type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>, u64)>;

fn fingerprint(path: &Path) -> Option<Fingerprint> {
    use std::os::unix::fs::MetadataExt;
    let files = files(path).ok()?;
    Some(
        files
            .into_iter()
            .map(|f| match std::fs::metadata(&f) {
                Ok(m) => (f, m.len(), m.modified().ok(), m.ino()),
                Err(_) => (f, 0, None, 0),
            })
            .collect(),
    )
}

fn watch_fs(path: &Path, tx: mpsc::UnboundedSender<()>) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let dir = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf()
    };
    let handler = move |_: notify::Result<notify::Event>| {
        let _ = tx.send(());
    };
    let watched = notify::recommended_watcher(handler).and_then(|mut w| {
        w.watch(&dir, notify::RecursiveMode::NonRecursive)?;
        Ok(w)
    });
    match watched {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot watch manifests; polling only");
            None
        }
    }
}

/// Loads `path` now and again whenever it changes, publishing on `tx`, until `token`.
pub async fn run(path: PathBuf, tx: SourceTx, metrics: ManifestMetrics, token: CancellationToken) {
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
    let _watcher = watch_fs(&path, ev_tx);
    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen: Option<Option<Fingerprint>> = None;
    loop {
        let fp = fingerprint(&path);
        if seen.as_ref() != Some(&fp) {
            seen = Some(fp);
            let p = path.clone();
            match tokio::task::spawn_blocking(move || load(&p)).await {
                Ok(Ok(mut objects)) => {
                    metrics.loads.inc();
                    let (slices, endpoints) =
                        (objects.endpoint_slices.len(), objects.endpoints.len());
                    let unused = objects.retain_used_endpoints();
                    tracing::info!(
                        path = %path.display(),
                        services = objects.services.len(),
                        endpoint_slices = slices,
                        endpoints,
                        unused_endpoint_objects = unused,
                        "manifests loaded"
                    );
                    tx.send_replace(Some(Arc::new(objects)));
                }
                Ok(Err(e)) => {
                    metrics.errors.inc();
                    tracing::warn!(
                        file = %e.file().display(),
                        reason = %e,
                        "manifests not loaded; keeping the last good objects"
                    );
                }
                Err(e) => tracing::error!(error = %e, "manifest loading task failed"),
            }
        }
        tokio::select! {
            _ = token.cancelled() => return,
            _ = poll.tick() => {}
            Some(()) = ev_rx.recv() => {
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tokio::time::sleep(SETTLE) => {}
                }
                while ev_rx.try_recv().is_ok() {}
            }
        }
    }
}

#[cfg(test)]
mod tests;
