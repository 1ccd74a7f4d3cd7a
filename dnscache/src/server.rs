//! Sockets and the loops that serve them.
//!
//! Binding: UDP gets one socket per worker thread (`SO_REUSEPORT` siblings when we bind,
//! duplicated descriptors of one socket when inherited; the loop is in [`crate::udp`]).
//! TCP: tokio, one task per connection, an idle timeout, a connection cap and a frame-size
//! cap (RFC 7766 §6.2). Must not decide answers: that is the pipeline's job.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::pipeline::{Pipeline, Step, Transport};

/// Largest TCP query frame accepted; larger ones close the connection.
pub const MAX_TCP_QUERY: usize = 4096;
/// Receive buffer asked for each UDP socket (the kernel caps it at `rmem_max`).
const UDP_RCVBUF: usize = 4 << 20;

/// Sockets bound (or inherited) before [`crate::run`].
#[derive(Debug, Default)]
pub struct Bound {
    /// UDP: one group per address, one socket per worker in each group.
    pub udp: Vec<Vec<std::net::UdpSocket>>,
    /// Listening TCP sockets.
    pub tcp: Vec<std::net::TcpListener>,
    /// The `/metrics` listener.
    pub metrics: Option<std::net::TcpListener>,
    /// Where to write `ready\n` once serving.
    pub ready: Option<std::fs::File>,
    /// Where to write the cache on SIGTERM, for the next process (`--cache-dump-fd`).
    pub cache_dump: Option<std::fs::File>,
    /// Where to read the previous process's cache from (`--cache-load-fd`).
    pub cache_load: Option<std::fs::File>,
}

fn udp_socket(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_port(true)?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    let _ = s.set_recv_buffer_size(UDP_RCVBUF);
    s.bind(&addr.into())?;
    Ok(s.into())
}

fn tcp_listener(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.bind(&addr.into())?;
    s.listen(1024)?;
    Ok(s.into())
}

/// Binds UDP (`workers` sockets per address) and TCP on every address, at `port` (0: a free
/// port, the same for UDP and TCP of one address).
pub fn bind(addrs: &[IpAddr], port: u16, workers: usize) -> io::Result<Bound> {
    let mut bound = Bound::default();
    for &ip in addrs {
        let mut attempt = 0;
        let (first, tcp) = loop {
            let first = udp_socket(SocketAddr::new(ip, port))?;
            let chosen = first.local_addr()?;
            match tcp_listener(chosen) {
                Ok(t) => break (first, t),
                Err(e) if port == 0 && attempt < 20 => {
                    attempt += 1;
                    tracing::debug!(error = %e, "TCP port taken, trying another");
                }
                Err(e) => return Err(e),
            }
        };
        let addr = first.local_addr()?;
        let mut group = vec![first];
        for _ in 1..workers.max(1) {
            group.push(udp_socket(addr)?);
        }
        bound.udp.push(group);
        bound.tcp.push(tcp);
    }
    Ok(bound)
}

/// One inherited UDP socket, duplicated so that each worker has a descriptor.
pub fn udp_group(
    sock: std::net::UdpSocket,
    workers: usize,
) -> io::Result<Vec<std::net::UdpSocket>> {
    let mut group = Vec::with_capacity(workers.max(1));
    for _ in 1..workers.max(1) {
        group.push(sock.try_clone()?);
    }
    group.push(sock);
    Ok(group)
}

/// TCP limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpLimits {
    /// Close a connection idle this long.
    pub idle: Duration,
    /// Open connections at most; more are closed at once.
    pub max_connections: usize,
}

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            idle: Duration::from_secs(10),
            max_connections: 1024,
        }
    }
}

/// Accepts TCP connections until `stop`; connection tasks go to `tracker`.
pub async fn tcp_serve(
    listener: TcpListener,
    pipeline: Arc<Pipeline>,
    limits: TcpLimits,
    tracker: TaskTracker,
    stop: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "TCP accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "too many TCP connections, closing");
            continue;
        };
        tracker.spawn(tcp_conn(
            stream,
            pipeline.clone(),
            limits,
            stop.clone(),
            permit,
        ));
    }
}

async fn tcp_conn(
    mut s: TcpStream,
    pipeline: Arc<Pipeline>,
    limits: TcpLimits,
    stop: CancellationToken,
    _permit: OwnedSemaphorePermit,
) {
    let _ = s.set_nodelay(true);
    let mut out = Vec::with_capacity(512);
    loop {
        let mut len = [0u8; 2];
        let read = tokio::select! {
            _ = stop.cancelled() => return,
            r = tokio::time::timeout(limits.idle, s.read_exact(&mut len)) => r,
        };
        if !matches!(read, Ok(Ok(_))) {
            return;
        }
        let n = usize::from(u16::from_be_bytes(len));
        if !(crate::wire::HEADER..=MAX_TCP_QUERY).contains(&n) {
            tracing::debug!(len = n, "refusing TCP frame size, closing");
            return;
        }
        let mut buf = vec![0u8; n];
        if !matches!(
            tokio::time::timeout(limits.idle, s.read_exact(&mut buf)).await,
            Ok(Ok(_))
        ) {
            return;
        }
        out.clear();
        match pipeline.fast(&buf, Transport::Tcp, &mut out) {
            Step::Reply => {}
            Step::Drop => continue,
            Step::Miss(miss) => pipeline.miss(miss, &mut out).await,
        }
        if out.is_empty() {
            continue;
        }
        let mut framed = Vec::with_capacity(out.len() + 2);
        framed.extend_from_slice(&(out.len() as u16).to_be_bytes());
        framed.extend_from_slice(&out);
        if s.write_all(&framed).await.is_err() {
            return;
        }
    }
}
