//! sidecar: the kube-dns pod's health and metrics container.
//!
//! Probes kubedns and dnscache over DNS (`probe`), scrapes dnscache's cache counters with
//! CHAOS `*.bind.` queries (`scrape`), and serves `/metrics`, `/healthz` and
//! `/healthcheck/<label>` (`http`) with kube-dns's names and shapes (`metrics`), so existing
//! liveness probes and dashboards keep working. [`run`] wires the tasks; `main.rs` parses,
//! binds and maps the result to an exit code.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

pub mod cli;
pub mod http;
pub mod metrics;
pub mod probe;
pub mod scrape;

use std::collections::HashMap;
use std::time::Duration;

use ops::shutdown::Shutdown;
use prometheus::Registry;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

pub use cli::Cli;
pub use probe::ProbeSpec;

/// How long [`run`] waits for its tasks after the token fired.
pub const GRACE: Duration = Duration::from_secs(5);

/// What the sidecar does, from the flags.
#[derive(Debug, Clone)]
pub struct Config {
    /// One entry per `--probe`.
    pub probes: Vec<ProbeSpec>,
    /// `--dnsmasq-addr`.
    pub dnsmasq_addr: String,
    /// `--dnsmasq-port`.
    pub dnsmasq_port: u16,
    /// `--dnsmasq-poll-interval-ms`.
    pub poll_interval: Duration,
    /// `--prometheus-path`.
    pub metrics_path: String,
    /// `--prometheus-namespace`.
    pub namespace: String,
    /// `--lameduck`.
    pub lame_duck: Duration,
}

/// Sockets bound before [`run`] (tests bind 127.0.0.1:0).
pub struct Bound {
    /// The metrics and health HTTP listener.
    pub http: std::net::TcpListener,
}

impl Bound {
    /// Binds `addr:port` (a wildcard serves IPv4 and IPv6) and logs `listening on http <addr>`.
    pub async fn bind(addr: &str, port: u16) -> Result<Bound, Error> {
        let http = http::bind(addr, port).await.map_err(|source| Error::Bind {
            addr: format!("{addr}:{port}"),
            source,
        })?;
        Ok(Bound { http })
    }
}

/// Why the sidecar could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The HTTP listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// `addr:port`.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// A metric could not be defined or registered (bad namespace or label).
    #[error("cannot register metrics: {0}")]
    RegisterMetrics(#[from] metrics::MetricsError),
}

/// Runs probes, the dnsmasq scrape and the HTTP server until `shutdown` stops them (from
/// the start of its lame duck `/healthcheck/*` report 503), then stops them (bounded by
/// [`GRACE`]) and returns.
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
    let dnsmasq = metrics::DnsmasqMetrics::register(&registry, &cfg.namespace)?;
    let mut probes = Vec::with_capacity(cfg.probes.len());
    for spec in cfg.probes {
        let m = metrics::ProbeMetrics::register(&registry, &cfg.namespace, &spec.label)?;
        probes.push(probe::Probe::new(spec, m));
    }
    let health: HashMap<String, probe::Health> = probes
        .iter()
        .map(|p| (p.spec().label.clone(), p.health()))
        .collect();

    let mut tasks = JoinSet::new();
    for p in probes {
        tasks.spawn(p.run(token.child_token()));
    }
    let scrape = scrape::Scrape {
        addr: cfg.dnsmasq_addr,
        port: cfg.dnsmasq_port,
        interval: cfg.poll_interval,
        metrics: dnsmasq,
    };
    tasks.spawn(scrape.run(token.child_token()));
    let http_metrics = ops::http::Metrics::register(&registry, "sidecar")?;
    let route = http::router(cfg.metrics_path, registry, health, lame_duck);
    let listener = TcpListener::from_std(bound.http).map_err(|source| Error::Bind {
        addr: "http".into(),
        source,
    })?;
    tasks.spawn(ops::http::serve_with(
        listener,
        route,
        ops::http::Limits::default(),
        http_metrics,
        token.child_token(),
    ));

    token.cancelled().await;
    ops::shutdown::drain("sidecar tasks", GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tracing::info!("sidecar stopped");
    Ok(())
}
