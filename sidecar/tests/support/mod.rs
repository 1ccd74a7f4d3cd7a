//! The sidecar in-process on 127.0.0.1:0, scraped over real HTTP (private to this crate's
//! tests; cross-crate helpers live in testkit).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::Duration;

use prometheus::Registry;
use sidecar::{Bound, Config, ProbeSpec};
use testkit::dns::eventually;
use testkit::pod::http_get;
use tokio_util::sync::CancellationToken;

pub const WAIT: Duration = Duration::from_secs(10);

/// A sidecar running in-process on 127.0.0.1:0; stopped (and awaited) on [`Sidecar::stop`].
pub struct Sidecar {
    pub http: SocketAddr,
    token: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), sidecar::Error>>,
}

impl Sidecar {
    pub async fn start(probes: &[String], dnsmasq: SocketAddr) -> Sidecar {
        Self::start_with(probes, dnsmasq, "kubedns", "/metrics").await
    }

    /// With `--prometheus-namespace` and `--prometheus-path`.
    pub async fn start_with(
        probes: &[String],
        dnsmasq: SocketAddr,
        namespace: &str,
        path: &str,
    ) -> Sidecar {
        let cfg = Config {
            probes: probes
                .iter()
                .map(|p| p.parse::<ProbeSpec>().unwrap())
                .collect(),
            dnsmasq_addr: dnsmasq.ip().to_string(),
            dnsmasq_port: dnsmasq.port(),
            poll_interval: Duration::from_millis(200),
            metrics_path: path.into(),
            namespace: namespace.into(),
            lame_duck: Duration::ZERO,
        };
        let bound = Bound::bind("127.0.0.1", 0).await.unwrap();
        let http = bound.http.local_addr().unwrap();
        let token = CancellationToken::new();
        let task = tokio::spawn(sidecar::run(cfg, bound, Registry::new(), token.clone()));
        Sidecar { http, token, task }
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let (addr, path) = (self.http, path.to_string());
        tokio::task::spawn_blocking(move || http_get(addr, &path))
            .await
            .unwrap()
            .unwrap()
    }

    /// The value of the unlabelled sample `name` on /metrics.
    pub async fn metric(&self, name: &str) -> Option<f64> {
        let (_, body) = self.get("/metrics").await;
        sample(&body, name)
    }

    pub async fn wait_health(&self, label: &str, code: u16) -> String {
        let path = format!("/healthcheck/{label}");
        eventually(WAIT, || async {
            let (c, body) = self.get(&path).await;
            (c == code).then_some(body)
        })
        .await
        .unwrap_or_else(|| panic!("{path} never returned {code}"))
    }

    pub async fn stop(self) {
        self.token.cancel();
        tokio::time::timeout(Duration::from_secs(6), self.task)
            .await
            .expect("run returns after cancel")
            .unwrap()
            .unwrap();
    }
}

pub fn sample(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// A UDP port nobody listens on: queries to it get ICMP port unreachable.
pub fn dead_port() -> SocketAddr {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}
