//! dnscache: the caching forwarder on port 53 of the kube-dns pod (dnsmasq's job).
//!
//! Flow (ARCHITECTURE.md, dnscache): a query is parsed without allocating ([`wire`]);
//! CHAOS `*.bind.` questions get the dnsmasq counters ([`chaos`]); the [`cache`] answers hits;
//! misses are routed by longest domain suffix ([`route`]), forwarded with failover
//! ([`upstream`]), completed across routes when a CNAME leaves its route ([`cname`]) and cached.
//! [`pipeline`] strings these together; [`server`] binds sockets and hands them to the
//! serving loops of `ops` (UDP workers, TCP connections), [`handover`] adopts the descriptors
//! inherited from the nanny.
//! `main.rs` only parses flags, binds and calls [`run`].
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

pub mod cache;
pub mod chaos;
pub mod cli;
pub mod cname;
pub mod ecs;
pub mod handover;
pub mod key;
pub mod metrics;
pub mod pipeline;
pub mod route;
pub mod scrub;
pub mod server;
pub mod upstream;
pub mod warm;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use prometheus::Registry;
use thiserror::Error;
use tokio_util::task::TaskTracker;

pub use cache::Policy;
pub use ops::tcp::TcpLimits;
pub use pipeline::{Pipeline, Settings};
pub use route::Routes;
pub use server::Bound;

/// Everything [`run`] needs besides sockets.
#[derive(Debug, Clone)]
pub struct Config {
    /// Domain routes and default upstreams.
    pub routes: Routes,
    /// Cache capacity and lifetimes.
    pub cache: Policy,
    /// Miss-path settings.
    pub settings: Settings,
    /// TCP limits.
    pub tcp: TcpLimits,
    /// Bound on the shutdown drain of in-flight queries.
    pub drain: Duration,
    /// `--add-subnet`: client subnet options for some routes.
    pub add_subnet: Option<ecs::AddSubnet>,
    /// How long to keep answering after SIGTERM before stopping (0: stop at once; the
    /// nanny runs its children with 0 and keeps the lame duck itself).
    pub lame_duck: Duration,
    /// UDP wake-up coalescing window (`ops::udp::worker`; zero: off).
    pub udp_coalesce: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            routes: Routes::default(),
            cache: Policy::default(),
            settings: Settings::default(),
            tcp: TcpLimits::default(),
            drain: Duration::from_secs(5),
            add_subnet: None,
            lame_duck: Duration::ZERO,
            udp_coalesce: Duration::ZERO,
        }
    }
}

/// Why [`run`] failed.
#[derive(Debug, Error)]
pub enum Error {
    /// The metrics could not be registered.
    #[error("registering metrics: {0}")]
    MetricsRegistration(#[from] prometheus::Error),
    /// A socket could not be set up.
    #[error("setting up {what}: {source}")]
    SocketSetup {
        /// Which socket.
        what: &'static str,
        /// The cause.
        source: std::io::Error,
    },
    /// Signalling readiness failed.
    #[error(transparent)]
    Ready(#[from] handover::HandoverError),
}

fn setup(what: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::SocketSetup { what, source }
}

/// Serves `sockets` until `shutdown` stops it, then stops reading, finishes in-flight
/// queries (bounded by `cfg.drain`) and returns.
pub async fn run(
    cfg: Config,
    sockets: Bound,
    registry: Registry,
    shutdown: impl Into<ops::shutdown::Shutdown>,
) -> Result<(), Error> {
    let token = shutdown.into().stop;
    let metrics = Arc::new(metrics::Metrics::register(&registry)?);
    let own: Vec<std::net::SocketAddr> = (sockets.dns.iter())
        .filter_map(|d| d.local_addr().ok())
        .collect();
    let cfg = Config {
        routes: cfg.routes.without_self(&own),
        ..cfg
    };
    metrics
        .cache_size
        .set(i64::try_from(cfg.cache.capacity).unwrap_or(i64::MAX));
    let tcp_metrics = ops::tcp::TcpMetrics::register(&registry, "dnscache")?;
    let cache = cache::Cache::new(cfg.cache, metrics.clone());
    let mut pipeline = Pipeline::new(cache, cfg.routes, cfg.settings, metrics.clone());
    if let Some(add) = cfg.add_subnet {
        pipeline = pipeline.with_add_subnet(add);
    }
    let pipeline = Arc::new(pipeline);
    // Misses (UDP, from the workers) and TCP connections run as tasks tracked here, so the
    // drain can wait for them.
    let in_flight = TaskTracker::new();
    let udp_front = Arc::new(server::UdpFront {
        pipeline: pipeline.clone(),
        runtime: tokio::runtime::Handle::current(),
        in_flight: in_flight.clone(),
    });
    let mut workers = Vec::new();
    for dns in sockets.dns {
        let listener = tokio::net::TcpListener::from_std(dns.tcp).map_err(setup("tcp"))?;
        workers.push(
            ops::udp::spawn_workers(
                "dnscache",
                dns.udp,
                udp_front.clone(),
                cfg.udp_coalesce,
                token.clone(),
            )
            .map_err(setup("udp worker thread"))?,
        );
        in_flight.spawn(ops::tcp::serve(
            listener,
            server::TcpFront(pipeline.clone()),
            cfg.tcp,
            Some(tcp_metrics.clone()),
            token.clone(),
        ));
    }
    if let Some(listener) = sockets.metrics {
        listener.set_nonblocking(true).map_err(setup("http"))?;
        let listener = tokio::net::TcpListener::from_std(listener).map_err(setup("http"))?;
        let p = pipeline.clone();
        let route = move |_: &_, path: &str| {
            if path != "/metrics" {
                return ops::http::Reply::not_found();
            }
            p.cache().sync();
            p.metrics
                .cache_entries
                .set(i64::try_from(p.cache().len()).unwrap_or(i64::MAX));
            ops::http::Reply::metrics(&registry)
        };
        tokio::spawn(ops::http::serve(listener, route, token.child_token()));
    }
    if let Some(ready) = sockets.ready {
        handover::signal_ready(ready)?;
    }
    if let Some(f) = sockets.cache_load {
        warm_start(pipeline.clone(), f);
    }
    token.cancelled().await;
    let dumped = sockets
        .cache_dump
        .map(|f| warm_hand_over(pipeline.clone(), f));
    tracing::info!(
        in_flight = pipeline.in_flight(),
        "stopped reading, draining in-flight queries"
    );
    // Workers stop reading within their poll interval; then no new miss can start.
    for w in workers {
        w.join().await;
    }
    in_flight.close();
    let dumped = async {
        if let Some(done) = dumped {
            let _ = tokio::time::timeout(cfg.drain, done).await;
        }
    };
    let drained = ops::shutdown::drain("in-flight queries", cfg.drain, in_flight.wait());
    tokio::join!(drained, dumped);
    Ok(())
}

/// Loads the previous process's cache on a thread of its own (it arrives once that process
/// got SIGTERM, after we are ready).
fn warm_start(p: Arc<Pipeline>, f: std::fs::File) {
    let spawned = std::thread::Builder::new()
        .name("dnscache-warm".into())
        .spawn(move || match warm::load(p.cache(), &p.routes, f) {
            Ok(n) => tracing::info!(
                kept = n.kept,
                dropped = n.dropped,
                "cache entries taken over from the previous process (dropped: route changed)"
            ),
            Err(e) => tracing::warn!(error = %e, "cache hand-over stopped early"),
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the cache hand-over");
    }
}

/// Writes the cache for the next process on a detached thread (a reader that never reads
/// must not hold up the exit: the caller waits at most the drain bound).
fn warm_hand_over(p: Arc<Pipeline>, f: std::fs::File) -> tokio::sync::oneshot::Receiver<()> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("dnscache-dump".into())
        .spawn(move || {
            match warm::dump(p.cache(), &p.routes, f) {
                Ok(n) => tracing::info!(entries = n, "cache handed over to the next process"),
                Err(e) => tracing::debug!(error = %e, "cache hand-over not read"),
            }
            let _ = tx.send(());
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the cache hand-over");
    }
    rx
}
