//! Metrics of the kube source, registered in an explicit registry (no globals):
//!
//! - `kubedns_watch_errors_total{resource,reason}`: watcher errors (list failed, watch start
//!   failed, in-stream ERROR such as `410 Gone`, stream failed, missing resourceVersion);
//! - `kubedns_watch_restarts_total{resource}`: re-lists after the first list (a 410, a failed
//!   list): every one replaces the store atomically;
//! - `kubedns_watch_last_sync_timestamp_seconds{resource}`: wall-clock time of the last
//!   completed list or received change;
//! - `kubedns_watch_objects{kind}`: objects in the last published set.

use std::time::{SystemTime, UNIX_EPOCH};

use kube::runtime::watcher;
use prometheus::{GaugeVec, IntCounterVec, IntGaugeVec, Opts, Registry};

/// Metrics of the kube source.
#[derive(Debug, Clone)]
pub struct WatchMetrics {
    errors: IntCounterVec,
    restarts: IntCounterVec,
    last_sync: GaugeVec,
    objects: IntGaugeVec,
}

impl WatchMetrics {
    /// Registers the metrics in `reg`.
    pub fn register(reg: &Registry) -> Result<Self, prometheus::Error> {
        let errors = IntCounterVec::new(
            Opts::new(
                "kubedns_watch_errors_total",
                "Kubernetes API watch errors by resource and reason.",
            ),
            &["resource", "reason"],
        )?;
        let restarts = IntCounterVec::new(
            Opts::new(
                "kubedns_watch_restarts_total",
                "Re-lists of a resource after its first list (expired resourceVersion or failed list).",
            ),
            &["resource"],
        )?;
        let last_sync = GaugeVec::new(
            Opts::new(
                "kubedns_watch_last_sync_timestamp_seconds",
                "Unix time of the last completed list or received change, by resource.",
            ),
            &["resource"],
        )?;
        let objects = IntGaugeVec::new(
            Opts::new(
                "kubedns_watch_objects",
                "Objects in the last published set, by kind.",
            ),
            &["kind"],
        )?;
        reg.register(Box::new(errors.clone()))?;
        reg.register(Box::new(restarts.clone()))?;
        reg.register(Box::new(last_sync.clone()))?;
        reg.register(Box::new(objects.clone()))?;
        Ok(WatchMetrics {
            errors,
            restarts,
            last_sync,
            objects,
        })
    }

    /// Counts a watcher error.
    pub(crate) fn error(&self, resource: &str, err: &watcher::Error) {
        self.errors
            .with_label_values(&[resource, reason(err)])
            .inc();
    }

    /// Counts a re-list.
    pub(crate) fn restart(&self, resource: &str) {
        self.restarts.with_label_values(&[resource]).inc();
    }

    /// Records a successful list or change now.
    pub(crate) fn synced(&self, resource: &str) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        self.last_sync.with_label_values(&[resource]).set(now);
    }

    /// Sets the object count of `kind`.
    pub(crate) fn objects(&self, kind: &str, n: usize) {
        self.objects
            .with_label_values(&[kind])
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }
}

/// A short stable label for a watcher error.
fn reason(err: &watcher::Error) -> &'static str {
    match err {
        watcher::Error::InitialListFailed(_) => "list_failed",
        watcher::Error::WatchStartFailed(_) => "watch_start_failed",
        watcher::Error::WatchError(status) if status.code == 410 => "expired",
        watcher::Error::WatchError(_) => "watch_error",
        watcher::Error::WatchFailed(_) => "watch_failed",
        watcher::Error::NoResourceVersion => "no_resource_version",
    }
}
