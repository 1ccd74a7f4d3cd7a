//! Exchanges with upstream servers: UDP from a fresh random-port socket with a random ID per
//! query, TCP retry when the reply is truncated, a timeout per server, failover in order.
//!
//! Owns: the anti-spoofing rule (a reply counts only when it comes from the server's address
//! and port, which the connected socket enforces, and carries our ID and our question; other
//! datagrams are ignored and we keep waiting) and the failover order. Must not cache, route
//! or build client replies.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::ecs::{self, Subnet};
use crate::key::Key;
use crate::metrics::Metrics;
use crate::wire::{self, Rcode};

/// Receive buffer for UDP replies. We advertise 1232 bytes (or 512 without EDNS); a reply
/// that fills the buffer may have been cut, so it is retried over TCP.
const UDP_BUF: usize = 2048;

/// A failed exchange with one server.
#[derive(Debug, Error)]
pub enum UpstreamError {
    /// No acceptable reply in time.
    #[error("upstream {upstream} timed out")]
    UpstreamTimeout {
        /// The server.
        upstream: SocketAddr,
    },
    /// A socket operation failed.
    #[error("upstream {upstream}: {source}")]
    UpstreamIo {
        /// The server.
        upstream: SocketAddr,
        /// The cause.
        source: io::Error,
    },
}

/// True when `reply` answers `query`: our ID, QR set, the same question (any case). A reply
/// with our ID but another question is counted (`question_mismatch`).
pub fn accepts(reply: &[u8], query: &[u8], metrics: &Metrics) -> bool {
    let ours =
        reply.len() >= wire::HEADER && reply[..2] == query[..2] && reply[2] & wire::flag::QR != 0;
    if ours && !wire::same_question(reply, query) {
        metrics.bad_reply("question_mismatch");
        return false;
    }
    ours
}

async fn udp(server: SocketAddr, query: &[u8], metrics: &Metrics) -> io::Result<Vec<u8>> {
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    // A new socket per query: the kernel picks a random ephemeral port, and `connect`
    // makes it drop datagrams from any other address or port.
    let sock = UdpSocket::bind(local).await?;
    sock.connect(server).await?;
    sock.send(query).await?;
    loop {
        // Not zeroed: `recv_buf` only exposes what the kernel wrote. The cache copies what it
        // keeps into its own exact-size allocation.
        let mut buf = Vec::with_capacity(UDP_BUF);
        let n = sock.recv_buf(&mut buf).await?;
        if n >= UDP_BUF && buf.len() > 2 {
            buf[2] |= wire::flag::TC; // possibly cut: mark truncated, the caller retries over TCP
        }
        if accepts(&buf, query, metrics) {
            return Ok(buf);
        }
        tracing::debug!(upstream = %server, "ignoring a reply that does not match our query");
    }
}

async fn tcp(server: SocketAddr, query: &[u8], metrics: &Metrics) -> io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(server).await?;
    s.set_nodelay(true)?;
    let mut framed = Vec::with_capacity(query.len() + 2);
    framed.extend_from_slice(&(query.len() as u16).to_be_bytes());
    framed.extend_from_slice(query);
    s.write_all(&framed).await?;
    loop {
        let mut len = [0u8; 2];
        s.read_exact(&mut len).await?;
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut buf).await?;
        if accepts(&buf, query, metrics) {
            return Ok(buf);
        }
    }
}

/// How to talk to upstreams.
#[derive(Debug, Clone, Copy)]
pub struct Exchange {
    /// Bound on one exchange with one server (UDP and the TCP retry each).
    pub timeout: Duration,
    /// EDNS payload size we announce (`--edns-packet-max`).
    pub payload: u16,
}

/// One exchange with `server` for the question in `key`, with the client `subnet` option
/// when given, UDP first, TCP when the UDP reply is truncated, each bounded by the timeout.
pub async fn exchange(
    server: SocketAddr,
    key: &Key,
    subnet: Option<Subnet>,
    how: Exchange,
    metrics: &Metrics,
) -> Result<Vec<u8>, UpstreamError> {
    let timeout = how.timeout;
    let mut query = Vec::with_capacity(key.as_bytes().len() + 48);
    let build = |query: &mut Vec<u8>| {
        wire::build_upstream_query(rand::random::<u16>(), key, how.payload, query);
        if let Some(s) = subnet {
            ecs::add(query, s);
        }
    };
    build(&mut query);
    let io_err = |source| UpstreamError::UpstreamIo {
        upstream: server,
        source,
    };
    let timed_out = |_| UpstreamError::UpstreamTimeout { upstream: server };
    let reply = tokio::time::timeout(timeout, udp(server, &query, metrics))
        .await
        .map_err(timed_out)?
        .map_err(io_err)?;
    if reply[2] & wire::flag::TC == 0 {
        return Ok(reply);
    }
    tracing::debug!(upstream = %server, "truncated reply, retrying over TCP");
    build(&mut query);
    tokio::time::timeout(timeout, tcp(server, &query, metrics))
        .await
        .map_err(timed_out)?
        .map_err(io_err)
}

/// Tries `servers` in order (each gets `subnet`, when given). A reply with SERVFAIL or
/// REFUSED moves on to the next server; the last such reply is returned when nobody did
/// better. `None`: nobody answered.
pub async fn forward(
    servers: &[SocketAddr],
    key: &Key,
    subnet: Option<Subnet>,
    how: Exchange,
    metrics: &Metrics,
) -> Option<Vec<u8>> {
    let mut last = None;
    for &server in servers {
        match exchange(server, key, subnet, how, metrics).await {
            Ok(reply) => {
                let rcode = Rcode::of(&reply);
                if rcode == Some(Rcode::SERVFAIL) || rcode == Some(Rcode::REFUSED) {
                    tracing::debug!(upstream = %server, ?rcode, "upstream declined, trying the next");
                    last = Some(reply);
                    continue;
                }
                return Some(reply);
            }
            Err(e) => {
                metrics.upstream_errors.inc();
                tracing::debug!(error = %e, "upstream exchange failed");
            }
        }
    }
    last
}
