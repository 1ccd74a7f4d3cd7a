//! DNS over TCP (RFC 7766) for every server of the pod: one accept loop, one connection loop.
//!
//! Per connection: read a 2-byte length and that many bytes, answer through [`Respond`],
//! write the reply as one length-prefixed buffer, repeat. The limits, and why:
//! - `idle`: a connection with no new query for this long is closed (RFC 7766 section 6.2.3
//!   asks servers to manage idle connections; clients reconnect cheaply).
//! - `read`: once a length has arrived, the query must follow within this time (a client
//!   that trickles bytes holds a slot for nothing).
//! - `write`: a reply not taken by the client within this time closes the connection, so
//!   clients that send and never read cannot hold slots forever.
//! - `max_frame`: queries longer than this close the connection (a query is a question plus
//!   a few options; only answers are long).
//! - `max_connections`: see [`crate::slots`]: over the cap the longest-idle connection makes
//!   room; when every connection is busy the new one is closed at once.
//!
//! Shutdown: when `stop` fires, the listener is closed, idle connections close at once and
//! queries in progress are answered; [`serve`] returns when the last connection has ended
//! (the caller bounds that wait).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use prometheus::{IntCounterVec, Opts, Registry};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::slots::{Admission, Slot, Slots};

/// Smallest DNS message: a header.
const HEADER: usize = 12;

/// Answers one DNS query received over TCP.
pub trait Respond: Clone + Send + Sync + 'static {
    /// Writes the reply to `query` from `peer` into `out` (empty on entry); leaving `out`
    /// empty sends nothing.
    fn respond(
        &self,
        query: &[u8],
        peer: SocketAddr,
        out: &mut Vec<u8>,
    ) -> impl Future<Output = ()> + Send;
}

/// Limits of the TCP loop (see the module docs for each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpLimits {
    /// Close a connection with no query for this long.
    pub idle: Duration,
    /// A started query must be complete within this time.
    pub read: Duration,
    /// A reply must be taken by the client within this time.
    pub write: Duration,
    /// Open connections at most.
    pub max_connections: usize,
    /// Longest query accepted, in bytes.
    pub max_frame: usize,
}

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            idle: Duration::from_secs(10),
            read: Duration::from_secs(2),
            write: Duration::from_secs(2),
            max_connections: 1024,
            max_frame: 4096,
        }
    }
}

/// Why connections were closed by us, `<namespace>_tcp_connections_closed_total{cause}`.
#[derive(Debug, Clone)]
pub struct TcpMetrics {
    closed: IntCounterVec,
}

impl TcpMetrics {
    /// Registers the counter in `registry` under `namespace` (e.g. `dnscache`).
    pub fn register(registry: &Registry, namespace: &str) -> prometheus::Result<Self> {
        let closed = IntCounterVec::new(
            Opts::new(
                "tcp_connections_closed_total",
                "TCP connections closed by the server, by cause (idle, evicted to make room, \
                 refused when every slot was busy, read or write timeout, oversized frame).",
            )
            .namespace(namespace),
            &["cause"],
        )?;
        registry.register(Box::new(closed.clone()))?;
        Ok(TcpMetrics { closed })
    }

    fn closed(&self, cause: &str) {
        self.closed.with_label_values(&[cause]).inc();
    }
}

/// Accepts on `listener` and serves each connection until `stop` fires, then waits for the
/// open connections to end.
pub async fn serve<R: Respond>(
    listener: TcpListener,
    respond: R,
    limits: TcpLimits,
    metrics: Option<TcpMetrics>,
    stop: CancellationToken,
) {
    let slots = Slots::new(limits.max_connections);
    let tracker = TaskTracker::new();
    let count = |cause: &str| {
        if let Some(m) = &metrics {
            m.closed(cause);
        }
    };
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: back off briefly.
                    tracing::debug!(error = %e, "tcp accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let slot = match slots.admit() {
            (Admission::Refused, _) | (_, None) => {
                tracing::debug!(%peer, "every TCP connection is busy; closing the new one");
                count("refused");
                continue;
            }
            (Admission::Evicted, Some(slot)) => {
                count("evicted");
                slot
            }
            (Admission::Free, Some(slot)) => slot,
        };
        let conn = Connection {
            peer: crate::net::canonical(peer),
            limits,
            slot,
        };
        let (respond, stop, metrics) = (respond.clone(), stop.clone(), metrics.clone());
        tracker.spawn(async move {
            if let Some(cause) = conn.run(stream, respond, stop).await
                && let Some(m) = metrics
            {
                m.closed(cause);
            }
        });
    }
    drop(listener);
    tracker.close();
    tracker.wait().await;
}

struct Connection {
    peer: SocketAddr,
    limits: TcpLimits,
    slot: Slot,
}

impl Connection {
    /// Serves queries until the connection ends; returns why we closed it (None: the client
    /// closed it or broke it).
    async fn run<R: Respond>(
        mut self,
        mut stream: TcpStream,
        respond: R,
        stop: CancellationToken,
    ) -> Option<&'static str> {
        let _ = stream.set_nodelay(true);
        let (peer, limits) = (self.peer, self.limits);
        let mut query = Vec::new();
        let mut out = Vec::with_capacity(512);
        let mut framed = Vec::with_capacity(514);
        loop {
            self.slot.idle();
            let mut len = [0u8; 2];
            let started = tokio::select! {
                biased;
                _ = stop.cancelled() => return Some("shutdown"),
                _ = self.slot.evicted() => return Some("evicted"),
                r = tokio::time::timeout(limits.idle, stream.read_exact(&mut len)) => r,
            };
            match started {
                Ok(Ok(_)) => {}
                Ok(Err(_)) => return None,
                Err(_) => return Some("idle"),
            }
            if !self.slot.busy() {
                return Some("evicted");
            }
            let n = usize::from(u16::from_be_bytes(len));
            if !(HEADER..=limits.max_frame).contains(&n) {
                tracing::debug!(%peer, len = n, "TCP query of a refused size; closing");
                return Some("oversized");
            }
            query.resize(n, 0);
            match tokio::time::timeout(limits.read, stream.read_exact(&mut query)).await {
                Ok(Ok(_)) => {}
                Ok(Err(_)) => return None,
                Err(_) => return Some("read_timeout"),
            }
            out.clear();
            respond.respond(&query, peer, &mut out).await;
            if out.is_empty() {
                continue;
            }
            let Ok(len) = u16::try_from(out.len()) else {
                tracing::debug!(%peer, len = out.len(), "reply too long for TCP; dropped");
                continue;
            };
            // One buffer, one write: the length and the message leave in one segment.
            framed.clear();
            framed.extend_from_slice(&len.to_be_bytes());
            framed.extend_from_slice(&out);
            match tokio::time::timeout(limits.write, stream.write_all(&framed)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return None,
                Err(_) => return Some("write_timeout"),
            }
        }
    }
}
