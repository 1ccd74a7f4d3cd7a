//! dnscache's sockets and how the shared serving layer reaches the pipeline.
//!
//! Binding is `ops::net` (a wildcard serves IPv4 and IPv6; several `--listen-address`es get
//! one group of sockets each), or the descriptors inherited from the nanny, duplicated so
//! that each UDP worker has its own. Serving is `ops::udp` (one blocking worker per socket)
//! and `ops::tcp` (the bounded connection loop). The glue here: a cache hit is answered in
//! the worker's batch; a miss becomes a task on the runtime, which answers through
//! [`ops::udp::Later`] when the upstream replies. Must not decide answers: that is the
//! pipeline's job.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ops::net::DnsSockets;
use ops::udp::Later;
use tokio::runtime::Handle;
use tokio_util::task::TaskTracker;

use crate::pipeline::{Pipeline, Step, Transport};

/// Sockets bound (or inherited) before [`crate::run`].
#[derive(Debug, Default)]
pub struct Bound {
    /// One group of DNS sockets per listen address.
    pub dns: Vec<DnsSockets>,
    /// The `/metrics` listener.
    pub metrics: Option<std::net::TcpListener>,
    /// Where to write `ready\n` once serving.
    pub ready: Option<std::fs::File>,
    /// Where to write the cache on SIGTERM, for the next process (`--cache-dump-fd`).
    pub cache_dump: Option<std::fs::File>,
    /// Where to read the previous process's cache from (`--cache-load-fd`).
    pub cache_load: Option<std::fs::File>,
}

/// Binds UDP (`workers` sockets per address) and TCP on every address, at `port` (0: a free
/// port, the same for UDP and TCP of one address). A wildcard already covers every address
/// of both families, so the others are left out beside it.
pub fn bind(addrs: &[IpAddr], port: u16, workers: usize) -> Result<Bound, ops::net::BindError> {
    let wildcard = addrs.iter().copied().find(|ip| ops::net::is_wildcard(*ip));
    let addrs: Vec<IpAddr> = match wildcard {
        Some(w) => vec![w],
        None => addrs.to_vec(),
    };
    let mut bound = Bound::default();
    for ip in addrs {
        let dns = DnsSockets::bind(SocketAddr::new(ip, port), workers)?;
        dns.log();
        bound.dns.push(dns);
    }
    Ok(bound)
}

/// The UDP side: hits answered in the batch, misses handed to the runtime.
pub(crate) struct UdpFront {
    pub(crate) pipeline: Arc<Pipeline>,
    pub(crate) runtime: Handle,
    pub(crate) in_flight: TaskTracker,
}

impl ops::udp::Respond for UdpFront {
    type Local = ();

    fn local(&self) {}

    fn respond(
        &self,
        packet: &[u8],
        peer: SocketAddr,
        out: &mut Vec<u8>,
        later: &Later,
        (): &mut (),
    ) -> bool {
        match self
            .pipeline
            .fast_from(packet, Transport::Udp, Some(peer.ip()), out)
        {
            Step::Reply => true,
            Step::Drop => false,
            Step::Miss(miss) => {
                let (pipeline, later) = (self.pipeline.clone(), later.clone());
                self.in_flight.spawn_on(
                    async move {
                        let mut out = Vec::new();
                        pipeline.miss(miss, &mut out).await;
                        if !out.is_empty() {
                            later.send(&out, peer);
                        }
                    },
                    &self.runtime,
                );
                false
            }
        }
    }
}

/// The TCP side: the same pipeline, waiting for misses in the connection's task.
#[derive(Clone)]
pub(crate) struct TcpFront(pub(crate) Arc<Pipeline>);

impl ops::tcp::Respond for TcpFront {
    async fn respond(&self, query: &[u8], peer: SocketAddr, out: &mut Vec<u8>) {
        match self
            .0
            .fast_from(query, Transport::Tcp, Some(peer.ip()), out)
        {
            Step::Reply => {}
            Step::Drop => out.clear(),
            Step::Miss(miss) => self.0.miss(miss, out).await,
        }
    }
}

/// Sockets inherited from the nanny: `udp` and `tcp` descriptors, `workers` UDP workers.
pub fn inherited(
    udp: std::net::UdpSocket,
    tcp: std::net::TcpListener,
    workers: usize,
) -> io::Result<DnsSockets> {
    let dns = DnsSockets::inherited(udp, tcp, workers)?;
    dns.log();
    Ok(dns)
}
