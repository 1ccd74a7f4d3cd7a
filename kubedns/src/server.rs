//! kubedns's sockets: the DNS sockets (`ops::net`, served by `ops::udp` and `ops::tcp`,
//! both answering through [`Handler`]) and the HTTP listeners.
//!
//! Binding happens before `run` (port 0 works: the first UDP socket picks the port, the
//! others and TCP join it); a wildcard address serves IPv4 and IPv6. Every socket is logged
//! once as `listening on <proto> <addr>`. Shutdown: the token stops reading and accepting,
//! in-flight queries finish, bounded by the caller.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use hickory_net::xfer::Protocol;
use ops::net::DnsSockets;
use ops::tcp::{TcpLimits, TcpMetrics};
use ops::udp::Later;
use tokio_util::sync::CancellationToken;

use crate::handler::Handler;
use crate::metrics::Tally;
use crate::{Config, Error};

/// Sockets bound before [`crate::run`].
#[derive(Debug)]
pub struct Bound {
    /// UDP sockets sharing one port and the TCP listener on it.
    pub dns: DnsSockets,
    /// `/readiness`, `/healthz`.
    pub healthz: std::net::TcpListener,
    /// `/metrics`.
    pub metrics: Option<std::net::TcpListener>,
}

impl Bound {
    /// The DNS address actually bound (UDP and TCP).
    pub fn dns_addr(&self) -> Option<SocketAddr> {
        self.dns.local_addr().ok()
    }
}

/// Binds everything `cfg` asks for and logs the `listening on` lines.
pub fn bind(cfg: &Config) -> Result<Bound, Error> {
    let dns = DnsSockets::bind(cfg.dns_addr, cfg.udp_sockets)?;
    dns.log();
    let healthz = ops::net::bind_http(cfg.healthz_addr)?;
    let metrics = match cfg.metrics_addr {
        Some(a) => Some(ops::net::bind_http(a)?),
        None => None,
    };
    Ok(Bound {
        dns,
        healthz,
        metrics,
    })
}

impl ops::udp::Respond for Handler {
    type Local = Tally;

    fn local(&self) -> Tally {
        self.tally()
    }

    fn respond(
        &self,
        packet: &[u8],
        peer: SocketAddr,
        out: &mut Vec<u8>,
        _: &Later,
        tally: &mut Tally,
    ) -> bool {
        self.respond_udp(packet, peer, out, tally)
    }

    fn batch_sent(&self, tally: &mut Tally) {
        self.flush(tally);
    }
}

impl ops::tcp::Respond for Handler {
    async fn respond(&self, query: &[u8], peer: SocketAddr, out: &mut Vec<u8>) {
        if !Handler::respond(self, query, peer, Protocol::Tcp, out) {
            out.clear();
        }
    }
}

/// Serves DNS on `dns` (one UDP worker thread per socket, TCP with `limits`) until `stop`
/// is cancelled. The returned future resolves once every worker and connection has
/// stopped (in-flight queries answered).
pub fn serve(
    handler: Handler,
    dns: DnsSockets,
    limits: TcpLimits,
    tcp_metrics: Option<TcpMetrics>,
    coalesce: std::time::Duration,
    stop: CancellationToken,
) -> Result<impl Future<Output = ()>, Error> {
    let tcp = tokio::net::TcpListener::from_std(dns.tcp)?;
    let workers = ops::udp::spawn_workers(
        "kubedns",
        dns.udp,
        Arc::new(handler.clone()),
        coalesce,
        stop.clone(),
    )?;
    let tcp_task = tokio::spawn(ops::tcp::serve(
        tcp,
        handler,
        limits,
        tcp_metrics,
        stop.clone(),
    ));
    Ok(async move {
        stop.cancelled().await;
        let _ = tcp_task.await;
        workers.join().await;
    })
}
