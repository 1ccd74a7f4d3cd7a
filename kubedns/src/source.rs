//! The seam between object sources and the zone: a source (`manifests` files or the `watch`
//! of the Kubernetes API) publishes complete [`ClusterObjects`] values on a
//! `tokio::sync::watch` channel; the zone task projects the newest one. A watch channel
//! coalesces bursts by construction (only the latest value is kept); the zone task adds a
//! short debounce. `None` means "not synced yet": DNS answers SERVFAIL for zone names.

use std::sync::Arc;

use kubedns_records::ClusterObjects;

/// What a source sends: the complete current object set, or `None` before the first sync.
pub type SourceTx = tokio::sync::watch::Sender<Option<Arc<ClusterObjects>>>;
/// The receiving end, held by the zone task.
pub type SourceRx = tokio::sync::watch::Receiver<Option<Arc<ClusterObjects>>>;

/// A new channel, starting unsynced.
pub fn channel() -> (SourceTx, SourceRx) {
    tokio::sync::watch::channel(None)
}
