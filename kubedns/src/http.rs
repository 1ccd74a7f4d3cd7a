//! HTTP endpoints: `/readiness` (503 until the first zone snapshot, then 200 `ok`, and 503
//! again from the start of the lame duck on SIGTERM, so that the endpoint is removed while
//! DNS still answers), `/healthz` (200 while the process serves) on `--healthz-port`,
//! and `/metrics` (Prometheus text) on `--metrics-port` and, as kube-dns's default mux did,
//! on the healthz port too. Routing is synchronous and cheap; serving is `ops::http`.

use std::sync::Arc;

use http::{Method, StatusCode};
use ops::http::Reply;
use prometheus::Registry;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::zone::ZoneView;

/// What readiness depends on: a zone to serve, and not shutting down.
#[derive(Debug, Clone)]
pub struct Serving {
    /// The zone view (ready after the first snapshot).
    pub zone: Arc<ZoneView>,
    /// Cancelled at the start of the lame duck.
    pub lame_duck: CancellationToken,
}

/// Routes one request.
pub fn route(serving: &Serving, registry: &Registry, method: &Method, path: &str) -> Reply {
    if method != Method::GET && method != Method::HEAD {
        return Reply::text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    match path {
        "/readiness" if serving.lame_duck.is_cancelled() => {
            Reply::text(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
        }
        "/readiness" if serving.zone.is_ready() => Reply::text(StatusCode::OK, "ok\n"),
        "/readiness" => Reply::text(
            StatusCode::SERVICE_UNAVAILABLE,
            "waiting for initial sync of services and endpoints\n",
        ),
        "/healthz" => Reply::text(StatusCode::OK, "ok\n"),
        "/metrics" => Reply::metrics(registry),
        _ => Reply::not_found(),
    }
}

/// Spawns the HTTP servers on `healthz` and `metrics` into `tasks`.
pub fn spawn(
    tasks: &mut JoinSet<()>,
    healthz: std::net::TcpListener,
    metrics: Option<std::net::TcpListener>,
    serving: Serving,
    registry: Arc<Registry>,
    token: &CancellationToken,
) -> std::io::Result<()> {
    // One counter for both servers (a registry takes a name once).
    let http_metrics = ops::http::Metrics::register(&registry, "kubedns").unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot register the HTTP server metrics");
        ops::http::Metrics::unregistered()
    });
    for listener in std::iter::once(healthz).chain(metrics) {
        let listener = TcpListener::from_std(listener)?;
        let (serving, registry) = (serving.clone(), registry.clone());
        tasks.spawn(ops::http::serve_with(
            listener,
            move |m: &Method, p: &str| route(&serving, &registry, m, p),
            ops::http::Limits::default(),
            http_metrics.clone(),
            token.child_token(),
        ));
    }
    Ok(())
}
