//! The zone task: the newest object set from the source channel becomes an immutable
//! [`ZoneSnapshot`] published through an `ArcSwapOption` that the query path reads without
//! locks: a query never waits for a projection, and a projection never sees a half-applied
//! change.
//!
//! Bursts are coalesced twice: the watch channel keeps only the latest value, and a short
//! debounce lets a burst settle before projecting. Projection runs on the blocking pool so a
//! big cluster never stalls the DNS workers. This module owns the SOA serial (strictly
//! increasing, unix seconds when the clock allows). It must not answer queries.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;
use kubedns_records::{ClusterObjects, ZoneConfig, ZoneSnapshot, project};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::metrics::ZoneMetrics;
use crate::source::SourceRx;

/// How long a burst of changes may settle before a rebuild.
pub const DEBOUNCE: Duration = Duration::from_millis(20);

/// The served snapshot, shared by the zone task (writer), the handler and HTTP (readers).
#[derive(Debug)]
pub struct ZoneView {
    snapshot: ArcSwapOption<ZoneSnapshot>,
    ready: watch::Sender<bool>,
}

impl ZoneView {
    /// An empty view (not ready).
    pub fn new() -> Self {
        ZoneView {
            snapshot: ArcSwapOption::empty(),
            ready: watch::Sender::new(false),
        }
    }

    /// The current snapshot, `None` before the first sync. Lock-free.
    #[inline]
    pub fn load(&self) -> arc_swap::Guard<Option<Arc<ZoneSnapshot>>> {
        self.snapshot.load()
    }

    /// Whether a snapshot has been published.
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// Resolves once a snapshot has been published.
    pub async fn ready(&self) {
        let mut rx = self.ready.subscribe();
        // The sender lives in `self`, so wait_for cannot fail while we borrow it.
        let _ = rx.wait_for(|r| *r).await;
    }

    /// Publishes `snap`.
    pub fn store(&self, snap: Arc<ZoneSnapshot>) {
        self.snapshot.store(Some(snap));
        self.ready.send_if_modified(|r| !std::mem::replace(r, true));
    }
}

impl Default for ZoneView {
    fn default() -> Self {
        Self::new()
    }
}

/// The next SOA serial: unix seconds (as u32, wrapping in 2106), but always above `prev`.
pub fn next_serial(prev: u32, unix_secs: u64) -> u32 {
    let now = unix_secs as u32;
    if now > prev {
        now
    } else {
        prev.wrapping_add(1)
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Receives object sets from `rx`, projects them, and publishes into `view` until `token`
/// is cancelled or the source goes away.
pub async fn run(
    mut rx: SourceRx,
    cfg: ZoneConfig,
    view: Arc<ZoneView>,
    metrics: ZoneMetrics,
    token: CancellationToken,
) {
    let cfg = Arc::new(cfg);
    let mut serial = 0u32;
    let mut generation = 0u64;
    loop {
        tokio::select! {
            changed = rx.changed() => if changed.is_err() {
                tracing::debug!("object source closed; zone task stops");
                return;
            },
            _ = token.cancelled() => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(DEBOUNCE) => {}
            _ = token.cancelled() => return,
        }
        let Some(objects) = rx.borrow_and_update().clone() else {
            continue;
        };
        serial = next_serial(serial, unix_now());
        let started = Instant::now();
        let snap = {
            let (cfg, objects) = (cfg.clone(), objects.clone());
            tokio::task::spawn_blocking(move || project(&objects, &cfg, serial)).await
        };
        let snap = match snap {
            Ok(s) => Arc::new(s),
            Err(e) => {
                // A panic in the projection is a bug; keep serving the last snapshot.
                tracing::error!(error = %e, "zone projection failed; keeping the last snapshot");
                continue;
            }
        };
        let took = started.elapsed();
        view.store(snap);
        // The previous snapshot is gone once the last query holding it finishes; what it and
        // the projection freed goes back to the kernel (heap.rs), off the query path.
        let _ = tokio::task::spawn_blocking(crate::heap::trim).await;
        generation += 1;
        record(&metrics, &objects, generation, serial, took);
        if generation == 1 {
            tracing::info!(
                serial,
                services = objects.services.len(),
                rebuild_ms = took.as_millis() as u64,
                "first zone snapshot published"
            );
        } else {
            tracing::debug!(
                generation,
                serial,
                services = objects.services.len(),
                rebuild_ms = took.as_millis() as u64,
                "zone snapshot published"
            );
        }
    }
}

fn record(m: &ZoneMetrics, o: &ClusterObjects, generation: u64, serial: u32, took: Duration) {
    m.generation.set(generation as i64);
    m.serial.set(i64::from(serial));
    m.last_rebuild_seconds.set(took.as_secs_f64());
    m.last_rebuild_timestamp.set(unix_now() as i64);
    for (kind, n) in [
        ("Service", o.services.len()),
        ("EndpointSlice", o.endpoint_slices.len()),
        ("Endpoints", o.endpoints.len()),
        ("Pod", o.pods.len()),
        ("Namespace", o.namespaces.len()),
    ] {
        m.objects.with_label_values(&[kind]).set(n as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_follows_the_clock_and_never_goes_back() {
        assert_eq!(next_serial(0, 1_700_000_000), 1_700_000_000);
        assert_eq!(next_serial(1_700_000_000, 1_700_000_000), 1_700_000_001);
        assert_eq!(next_serial(1_700_000_005, 1_700_000_001), 1_700_000_006);
        assert_eq!(next_serial(5, 0), 6);
    }

    #[tokio::test]
    async fn publishes_a_snapshot_per_settled_change() {
        let reg = prometheus::Registry::new();
        let metrics = ZoneMetrics::register(&reg).expect("register");
        let cfg = test_cfg();
        let view = Arc::new(ZoneView::new());
        let (tx, rx) = crate::source::channel();
        let token = CancellationToken::new();
        let task = tokio::spawn(run(rx, cfg, view.clone(), metrics.clone(), token.clone()));
        assert!(!view.is_ready());
        tx.send_replace(Some(Arc::new(ClusterObjects::default())));
        view.ready().await;
        let first = view.load().as_ref().map(|s| s.serial()).expect("snapshot");
        // A burst of three sends within the debounce window gives one more snapshot.
        for _ in 0..3 {
            tx.send_replace(Some(Arc::new(ClusterObjects::default())));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let second = view.load().as_ref().map(|s| s.serial()).expect("snapshot");
        assert!(second > first);
        assert_eq!(metrics.generation.get(), 2);
        token.cancel();
        task.await.expect("zone task");
    }

    fn test_cfg() -> ZoneConfig {
        ZoneConfig {
            zone: hickory_proto::rr::Name::from_ascii("cluster.local.").expect("name"),
            ttl: 30,
            neg_ttl: 5,
            pods: kubedns_records::PodMode::Insecure,
            reverse_cidrs: Vec::new(),
            dns_service: kubedns_records::ServiceKey {
                namespace: "kube-system".into(),
                name: "kube-dns".into(),
            },
        }
    }
}
