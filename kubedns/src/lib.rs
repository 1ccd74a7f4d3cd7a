//! kubedns: authoritative DNS for the cluster domain (the kubedns container of kube-dns).
//!
//! Wiring only: an object source (`--manifests` files or the Kubernetes API watch) feeds the
//! zone task, which publishes immutable snapshots; the DNS server answers from the newest one
//! without locks; HTTP serves readiness and metrics. Sockets are bound by [`bind`] before
//! [`run`] so that tests can use port 0 (mini-redis's `run(listener, shutdown)`).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

pub mod autopath;
pub mod cli;
pub mod handler;
pub mod heap;
pub mod http;
pub mod manifests;
pub mod metrics;
pub mod server;
pub mod source;
pub mod watch;
pub mod zone;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kubedns_records::ZoneConfig;
use ops::shutdown::Shutdown;
use prometheus::Registry;

pub use server::Bound;

/// Where the cluster objects come from.
#[derive(Debug, Clone)]
pub enum SourceConfig {
    /// `--manifests PATH`: a YAML/JSON file or a directory of them.
    Manifests(PathBuf),
    /// The Kubernetes API (default).
    Kube(watch::WatchConfig),
}

/// Everything `run` needs, validated (built by [`cli::Cli::config`]).
#[derive(Debug, Clone)]
pub struct Config {
    /// Zone settings handed to the projection.
    pub zone: ZoneConfig,
    /// The object source.
    pub source: SourceConfig,
    /// DNS address (UDP and TCP).
    pub dns_addr: SocketAddr,
    /// Number of SO_REUSEPORT UDP sockets.
    pub udp_sockets: usize,
    /// Limits of DNS over TCP.
    pub tcp: ops::tcp::TcpLimits,
    /// UDP wake-up coalescing window (`ops::udp::worker`; zero: off).
    pub udp_coalesce: Duration,
    /// `/readiness` and `/healthz`.
    pub healthz_addr: SocketAddr,
    /// `/metrics`, when enabled.
    pub metrics_addr: Option<SocketAddr>,
    /// Exit when the source has not synced within this time.
    pub initial_sync_timeout: Duration,
    /// How long DNS keeps answering after SIGTERM while `/readiness` reports 503.
    pub lame_duck: Duration,
    /// How long a shutdown may take before tasks are abandoned.
    pub shutdown_grace: Duration,
    /// `--heap-tuning`: `main` calls [`heap::tune`].
    pub heap_tuning: bool,
    /// `--autopath`: the sources whose client subnet option is trusted (`--autopath-trusted`);
    /// `None` when autopath is off.
    pub autopath_trusted: Option<Vec<ipnet::IpNet>>,
}

/// Errors that end [`run`] or [`bind`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A socket could not be bound.
    #[error(transparent)]
    Bind(#[from] ops::net::BindError),
    /// A bound listener could not be registered with the runtime.
    #[error("cannot serve a listener: {0}")]
    Listener(#[from] std::io::Error),
    /// The source did not deliver its first object set in time.
    #[error("timed out waiting for initial sync of services and endpoints after {}s", .0.as_secs())]
    InitialSyncTimeout(Duration),
    /// The Kubernetes source could not start.
    #[error(transparent)]
    Watch(#[from] watch::WatchError),
    /// A metric could not be registered (duplicate name).
    #[error("metrics registration: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// Binds every socket of `cfg` (DNS UDP/TCP, HTTP). Call before [`run`].
pub fn bind(cfg: &Config) -> Result<Bound, Error> {
    server::bind(cfg)
}

/// Runs kubedns until `shutdown` stops it (Ok) or a fatal condition (Err). From the start
/// of the lame duck `/readiness` reports 503 while DNS keeps answering.
pub async fn run(
    cfg: Config,
    bound: Bound,
    registry: Registry,
    shutdown: impl Into<Shutdown>,
) -> Result<(), Error> {
    let Shutdown {
        lame_duck,
        stop: token,
    } = shutdown.into();
    let dns_metrics = metrics::DnsMetrics::register(&registry)?;
    let zone_metrics = metrics::ZoneMetrics::register(&registry)?;
    let autopath = match cfg.autopath_trusted.clone() {
        Some(trusted) => {
            let m = metrics::AutopathMetrics::register(&registry)?;
            Some(autopath::Autopath::new(trusted, m))
        }
        None => None,
    };
    let zone = Arc::new(zone::ZoneView::new());
    let (tx, rx) = source::channel();
    let mut tasks = tokio::task::JoinSet::new();

    // The source: manifests or the Kubernetes API.
    let source_token = token.child_token();
    match cfg.source.clone() {
        SourceConfig::Manifests(path) => {
            let m = metrics::ManifestMetrics::register(&registry)?;
            tasks.spawn(manifests::run(path, tx, m, source_token));
        }
        SourceConfig::Kube(wcfg) => {
            let m = watch::WatchMetrics::register(&registry)?;
            let client = watch::client(&wcfg).await?;
            tasks.spawn(async move {
                if let Err(e) = watch::run(client, wcfg, tx, m, source_token).await {
                    tracing::error!(error = %e, "kubernetes source stopped");
                }
            });
        }
    }
    tasks.spawn(zone::run(
        rx,
        cfg.zone.clone(),
        zone.clone(),
        zone_metrics,
        token.child_token(),
    ));
    let Bound {
        dns,
        healthz,
        metrics,
    } = bound;
    let tcp_metrics = ops::tcp::TcpMetrics::register(&registry, "kubedns")?;
    let registry = Arc::new(registry);
    let serving = http::Serving {
        zone: zone.clone(),
        lame_duck,
    };
    http::spawn(&mut tasks, healthz, metrics, serving, registry, &token)?;
    let handler = handler::Handler::with_autopath(zone.clone(), &cfg.zone, dns_metrics, autopath);
    let dns = server::serve(
        handler,
        dns,
        cfg.tcp,
        Some(tcp_metrics),
        cfg.udp_coalesce,
        token.child_token(),
    )?;

    let result = tokio::select! {
        r = wait_ready(&zone, cfg.initial_sync_timeout) => r,
        _ = token.cancelled() => Ok(()),
    };
    if result.is_ok() {
        token.cancelled().await;
    }
    token.cancel();
    ops::shutdown::drain("dns server", cfg.shutdown_grace, dns).await;
    ops::shutdown::drain("tasks", cfg.shutdown_grace, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();
    result
}

/// Resolves once the zone has a snapshot, or fails after `timeout`.
async fn wait_ready(zone: &zone::ZoneView, timeout: Duration) -> Result<(), Error> {
    let ready = zone.ready();
    match tokio::time::timeout(timeout, ready).await {
        Ok(()) => {
            tracing::info!("initial sync done, serving the cluster zone");
            Ok(())
        }
        Err(_) => Err(Error::InitialSyncTimeout(timeout)),
    }
}
