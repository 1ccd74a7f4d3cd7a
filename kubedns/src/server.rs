//! DNS sockets: N SO_REUSEPORT UDP sockets (one blocking worker thread each, `udp.rs`) plus
//! one TCP listener on the same address (`tcp.rs`), both answering through [`Handler`]; and
//! binding of the HTTP listeners.
//!
//! Binding happens before `run` (port 0 works: the first UDP socket picks the port, the
//! others and TCP join it). Every socket is logged once as `listening on <proto> <addr>`.
//! Shutdown: the token stops accepting, in-flight queries finish, bounded by the caller.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::handler::Handler;
use crate::{Config, Error};

/// Sockets bound before [`crate::run`].
#[derive(Debug)]
pub struct Bound {
    /// UDP sockets sharing one port (SO_REUSEPORT), for the blocking workers.
    pub udp: Vec<std::net::UdpSocket>,
    /// TCP listener on the same address.
    pub tcp: TcpListener,
    /// `/readiness`, `/healthz`.
    pub healthz: TcpListener,
    /// `/metrics`.
    pub metrics: Option<TcpListener>,
}

impl Bound {
    /// The DNS address actually bound (UDP and TCP).
    pub fn dns_addr(&self) -> Option<SocketAddr> {
        self.tcp.local_addr().ok()
    }
}

fn udp_socket(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    sock.set_reuse_port(true)?;
    sock.set_nonblocking(true)?;
    // Bursts of queries must not be dropped by a small default receive buffer.
    let _ = sock.set_recv_buffer_size(4 << 20);
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.bind(&SockAddr::from(addr))?;
    Ok(sock.into())
}

fn tcp_listener(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    sock.set_nonblocking(true)?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.bind(&SockAddr::from(addr))?;
    sock.listen(1024)?;
    TcpListener::from_std(sock.into())
}

/// Binds the DNS sockets (retrying the port choice when port 0 collides with TCP).
fn bind_dns(addr: SocketAddr, n: usize) -> Result<(Vec<std::net::UdpSocket>, TcpListener), Error> {
    let err = |what, source| Error::Bind { what, addr, source };
    let attempts = if addr.port() == 0 { 8 } else { 1 };
    let mut last = None;
    for _ in 0..attempts {
        let first = udp_socket(addr).map_err(|e| err("udp", e))?;
        let real = first.local_addr().map_err(|e| err("udp", e))?;
        match tcp_listener(real) {
            Ok(tcp) => {
                let mut udp = vec![first];
                for _ in 1..n.max(1) {
                    udp.push(udp_socket(real).map_err(|e| err("udp", e))?);
                }
                return Ok((udp, tcp));
            }
            Err(e) => last = Some(e),
        }
    }
    Err(err(
        "tcp",
        last.unwrap_or_else(|| std::io::Error::other("no attempt made")),
    ))
}

async fn bind_http(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr).await.map_err(|source| Error::Bind {
        what: "http",
        addr,
        source,
    })
}

/// Binds everything `cfg` asks for and logs the `listening on` lines.
pub async fn bind(cfg: &Config) -> Result<Bound, Error> {
    let (udp, tcp) = bind_dns(cfg.dns_addr, cfg.udp_sockets)?;
    let healthz = bind_http(cfg.healthz_addr).await?;
    let metrics = match cfg.metrics_addr {
        Some(a) => Some(bind_http(a).await?),
        None => None,
    };
    if let Ok(a) = udp[0].local_addr() {
        tracing::info!(sockets = udp.len(), "listening on udp {a}");
    }
    if let Ok(a) = tcp.local_addr() {
        tracing::info!("listening on tcp {a}");
    }
    for l in std::iter::once(&healthz).chain(metrics.as_ref()) {
        if let Ok(a) = l.local_addr() {
            tracing::info!("listening on http {a}");
        }
    }
    Ok(Bound {
        udp,
        tcp,
        healthz,
        metrics,
    })
}

/// Serves DNS on `udp` (one worker thread per socket) and `tcp` (capped connections) until
/// `token` is cancelled. The returned future resolves once every worker and server task has
/// stopped (in-flight queries answered).
pub fn serve(
    handler: Handler,
    udp: Vec<std::net::UdpSocket>,
    tcp: TcpListener,
    tcp_idle_timeout: Duration,
    tcp_max_connections: usize,
    token: CancellationToken,
) -> impl Future<Output = ()> {
    let mut workers = Vec::new();
    for (i, sock) in udp.into_iter().enumerate() {
        let (h, stop) = (handler.clone(), token.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("udp-{i}"))
            .spawn(move || crate::udp::worker(sock, h, stop));
        match spawned {
            Ok(w) => workers.push(w),
            Err(e) => tracing::error!(error = %e, "cannot start a UDP worker"),
        }
    }
    let tcp_task = tokio::spawn(crate::tcp::serve(
        tcp,
        handler,
        tcp_idle_timeout,
        tcp_max_connections,
        token.clone(),
    ));
    async move {
        token.cancelled().await;
        let _ = tcp_task.await;
        let joined = tokio::task::spawn_blocking(move || {
            for w in workers {
                let _ = w.join();
            }
        });
        let _ = joined.await;
    }
}
