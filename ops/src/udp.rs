//! DNS over UDP for every server of the pod: one blocking worker thread per socket, reading
//! and answering in batches (up to [`BATCH`] datagrams per `recvmmsg`, the replies in one
//! `sendmmsg`).
//!
//! Why this shape: on a cache hit or an authoritative answer almost all the cost of a query
//! is system calls and wake-ups. A thread blocked in `recvmmsg(MSG_WAITFORONE)` is woken by
//! the kernel with the datagram already there: no readiness poll, no runtime, no task and no
//! channel per query; under load one wake-up serves a whole batch. Work that cannot finish
//! at once (a cache miss waiting on an upstream) is taken over by the server through
//! [`Later`] and answered from elsewhere. The rules every server gets here: datagrams from
//! source port 0 are dropped (no reply can reach them; a reflection trick), peers on a
//! dual-stack socket are reported as IPv4 when they are, and the loop notices shutdown
//! within [`POLL`]. Must not parse DNS.

use std::io::{IoSlice, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use nix::errno::Errno;
use tokio_util::sync::CancellationToken;

use nix::sys::socket::{
    ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg, sendto,
};

/// Datagrams per `recvmmsg`/`sendmmsg`.
pub const BATCH: usize = 32;
/// Largest datagram read; longer ones are cut (a DNS server then answers FORMERR).
pub const RX_BUF: usize = 4096;

/// Receive and reply buffers for one socket, reused across batches (no allocation per query).
pub struct UdpBatch {
    rx_headers: MultiHeaders<SockaddrStorage>,
    tx_headers: MultiHeaders<SockaddrStorage>,
    bufs: Box<[[u8; RX_BUF]; BATCH]>,
    received: [(usize, Option<SockaddrStorage>); BATCH],
    len: usize,
    outs: Vec<Vec<u8>>,
    dests: [Option<SockaddrStorage>; BATCH],
    replies: usize,
}

impl Default for UdpBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl UdpBatch {
    /// Empty buffers for [`BATCH`] datagrams.
    pub fn new() -> Self {
        UdpBatch {
            rx_headers: MultiHeaders::preallocate(BATCH, None),
            tx_headers: MultiHeaders::preallocate(BATCH, None),
            bufs: Box::new([[0u8; RX_BUF]; BATCH]),
            received: [(0, None); BATCH],
            len: 0,
            outs: (0..BATCH).map(|_| Vec::with_capacity(1232)).collect(),
            dests: [None; BATCH],
            replies: 0,
        }
    }

    /// One `recvmmsg` on `fd` with `flags` (`MSG_WAITFORONE` on a blocking socket,
    /// `MSG_DONTWAIT` on a non-blocking one); returns how many datagrams arrived.
    pub fn recv(&mut self, fd: RawFd, flags: MsgFlags) -> nix::Result<usize> {
        self.len = 0;
        self.replies = 0;
        let mut iovs = self.bufs.each_mut().map(|b| [IoSliceMut::new(b)]);
        let results = recvmmsg(fd, &mut self.rx_headers, iovs.iter_mut(), flags, None)?;
        for (slot, r) in self.received.iter_mut().zip(results) {
            *slot = (r.bytes, r.address);
            self.len += 1;
        }
        Ok(self.len)
    }

    /// Calls `f(datagram, source, reply)` for every datagram of the last [`recv`](Self::recv)
    /// with an IPv4 or IPv6 source; when `f` returns true, `reply` (cleared before the call)
    /// is queued for [`send`](Self::send) to that source.
    /// Datagrams from source port 0 are skipped, and IPv4-mapped peers are passed as IPv4.
    pub fn respond(&mut self, mut f: impl FnMut(&[u8], SocketAddr, &mut Vec<u8>) -> bool) {
        for (i, (len, addr)) in self.received[..self.len].iter().enumerate() {
            let Some(peer) = addr.as_ref().and_then(to_std) else {
                continue;
            };
            if peer.port() == 0 {
                continue;
            }
            let peer = crate::net::canonical(peer);
            let out = &mut self.outs[self.replies];
            out.clear();
            if f(&self.bufs[i][..(*len).min(RX_BUF)], peer, out) {
                self.dests[self.replies] = *addr;
                self.replies += 1;
            }
        }
    }

    /// Sends the queued replies with one `sendmmsg`; what it does not take (a full send
    /// buffer) goes one by one, and what still fails is dropped as UDP allows.
    pub fn send(&mut self, fd: RawFd) {
        let n = std::mem::take(&mut self.replies);
        if n == 0 {
            return;
        }
        let (outs, dests) = (&self.outs[..n], &self.dests[..n]);
        // On the stack: at moderate rates a batch is one reply, so a Vec here would be an
        // allocation per query.
        let all: [[IoSlice<'_>; 1]; BATCH] =
            std::array::from_fn(|i| [IoSlice::new(outs.get(i).map_or(&[][..], |o| &o[..]))]);
        let slices = &all[..n];
        let none: [ControlMessage<'_>; 0] = [];
        let sent = match sendmmsg(
            fd,
            &mut self.tx_headers,
            slices,
            dests,
            none,
            MsgFlags::empty(),
        ) {
            Ok(results) => results.count(),
            Err(e) => {
                tracing::debug!(error = %e, "UDP sendmmsg failed");
                0
            }
        };
        for (out, dest) in outs.iter().zip(dests).skip(sent) {
            if let Some(dest) = dest
                && let Err(e) = sendto(fd, out, dest, MsgFlags::MSG_DONTWAIT)
            {
                tracing::debug!(error = %e, "UDP send failed");
            }
        }
    }
}

/// How long a worker blocks before checking for shutdown.
pub const POLL: Duration = Duration::from_millis(50);

/// Answers datagrams for [`spawn_workers`].
pub trait Respond: Send + Sync + 'static {
    /// What one worker keeps for the server across the datagrams of a batch, e.g. counts
    /// summed on the worker's own thread and added to the shared metrics once per batch
    /// (shared counters touched per query move between the cores' caches); `()` for none.
    type Local;

    /// A new `Local`, made on the worker's thread before it reads.
    fn local(&self) -> Self::Local;

    /// Answers `packet` from `peer`: write the reply into `out` (empty on entry) and return
    /// true to send it with the batch; return false to send nothing now (the datagram is
    /// dropped, or answered later through `later`).
    fn respond(
        &self,
        packet: &[u8],
        peer: SocketAddr,
        out: &mut Vec<u8>,
        later: &Later,
        local: &mut Self::Local,
    ) -> bool;

    /// Called once the replies of a batch have been sent (every batch, even one without
    /// replies).
    fn batch_sent(&self, local: &mut Self::Local) {
        let _ = local;
    }
}

/// Sends a reply after the batch it arrived in has gone (a cache miss answered later).
#[derive(Debug, Clone)]
pub struct Later {
    sock: Arc<UdpSocket>,
    dual_stack: bool,
}

impl Later {
    /// Sends `reply` to `peer` without blocking; a full send buffer drops it, as UDP allows.
    pub fn send(&self, reply: &[u8], peer: SocketAddr) {
        let to = match peer {
            // A dual-stack socket reaches IPv4 peers through their mapped address.
            SocketAddr::V4(v4) if self.dual_stack => {
                SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port())
            }
            _ => peer,
        };
        if let Err(e) = sendto(
            self.sock.as_raw_fd(),
            reply,
            &SockaddrStorage::from(to),
            MsgFlags::MSG_DONTWAIT,
        ) {
            tracing::debug!(error = %e, %peer, "UDP send failed");
        }
    }
}

/// The worker threads of one server; [`Workers::join`] waits for them after shutdown.
#[derive(Debug, Default)]
pub struct Workers(Vec<JoinHandle<()>>);

impl Workers {
    /// Waits (on the blocking pool) until every worker has stopped.
    pub async fn join(self) {
        let _ = tokio::task::spawn_blocking(move || {
            for w in self.0 {
                let _ = w.join();
            }
        })
        .await;
    }
}

/// Starts one worker thread per socket, answering through `respond` until `stop` fires.
/// `coalesce`: see [`worker`].
pub fn spawn_workers<R: Respond>(
    name: &str,
    sockets: Vec<UdpSocket>,
    respond: Arc<R>,
    coalesce: Duration,
    stop: CancellationToken,
) -> std::io::Result<Workers> {
    let mut workers = Workers::default();
    for (i, sock) in sockets.into_iter().enumerate() {
        let (respond, stop) = (respond.clone(), stop.clone());
        let w = std::thread::Builder::new()
            .name(format!("{name}-udp-{i}"))
            .spawn(move || worker(sock, &*respond, coalesce, &stop))?;
        workers.0.push(w);
    }
    Ok(workers)
}

/// Serves `sock` on the calling thread until `stop` fires.
///
/// `coalesce` (zero: off) trades a little latency for fewer wake-ups at moderate rates, where
/// waking up per datagram is most of a query's cost: when the last datagram came sooner than
/// `coalesce` after the worker started waiting (traffic is steady) and the batch was small,
/// the worker pauses for `coalesce` before reading again, so that the datagrams arriving
/// meanwhile are read, answered and sent with one wake-up and one `recvmmsg`/`sendmmsg` pair.
/// Sparse traffic (a wait longer than `coalesce`) never pauses, and neither does high load:
/// when a pause collected half of [`BATCH`] or more, pausing stops for a while, since
/// batches then fill by themselves (and clients that wait for each answer before sending the
/// next would only be slowed down).
pub fn worker<R: Respond>(
    sock: UdpSocket,
    respond: &R,
    coalesce: Duration,
    stop: &CancellationToken,
) {
    // Blocking with a receive timeout: the wake-up comes with the datagram, and shutdown is
    // noticed within POLL. (Duplicated inherited descriptors share these settings; every
    // process of ours sets the same.)
    if let Err(e) = sock
        .set_nonblocking(false)
        .and_then(|()| sock.set_read_timeout(Some(POLL)))
    {
        tracing::error!(error = %e, "cannot configure UDP socket");
        return;
    }
    let dual_stack = sock.local_addr().is_ok_and(|a| a.is_ipv6());
    let fd = sock.as_raw_fd();
    let later = Later {
        sock: Arc::new(sock),
        dual_stack,
    };
    let mut batch = UdpBatch::new();
    let mut local = respond.local();
    let mut failures = 0u32;
    // Pausing is held off until this instant after a pause that collected a big batch.
    let mut hold_off = std::time::Instant::now();
    let mut paused = false;
    while !stop.is_cancelled() {
        let waiting = (!coalesce.is_zero()).then(std::time::Instant::now);
        let n = match batch.recv(fd, MsgFlags::MSG_WAITFORONE) {
            Ok(n) => {
                failures = 0;
                n
            }
            Err(Errno::EAGAIN | Errno::EINTR) => continue,
            Err(e) => {
                // Persistent errors (e.g. ENOMEM) must not spin: back off up to 100 ms.
                failures = failures.saturating_add(1);
                tracing::warn!(error = %e, "UDP receive failed");
                std::thread::sleep(Duration::from_millis(u64::from(failures.min(10)) * 10));
                continue;
            }
        };
        batch.respond(|packet, peer, out| respond.respond(packet, peer, out, &later, &mut local));
        batch.send(fd);
        respond.batch_sent(&mut local);
        let Some(since) = waiting else {
            continue;
        };
        if paused && n >= BATCH / 2 {
            // The pause collected a big batch: the load is high, or clients are waiting on
            // our answers before they send more (a pause would only slow them down).
            // Batches fill by themselves then; stop pausing for a while.
            hold_off = since + HOLD_OFF;
        }
        paused = n < BATCH / 4 && since.elapsed() < coalesce && since >= hold_off;
        if paused {
            std::thread::sleep(coalesce);
        }
    }
}

/// How long pausing stays off after a pause collected a big batch.
const HOLD_OFF: Duration = Duration::from_millis(200);

fn to_std(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::from(*v4));
    }
    a.as_sockaddr_in6().map(|v6| SocketAddr::from(*v6))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    #[test]
    fn drops_source_port_zero_and_serves_until_stopped() {
        /// Echoes each datagram, followed by how many batches were sent before it.
        struct Echo;
        impl Respond for Echo {
            type Local = u8;
            fn local(&self) -> u8 {
                0
            }
            fn respond(
                &self,
                p: &[u8],
                _: SocketAddr,
                out: &mut Vec<u8>,
                _: &Later,
                batches: &mut u8,
            ) -> bool {
                out.extend_from_slice(p);
                out.push(*batches);
                true
            }
            fn batch_sent(&self, batches: &mut u8) {
                *batches = batches.wrapping_add(1);
            }
        }
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let stop = CancellationToken::new();
        let workers = spawn_workers(
            "t",
            vec![server],
            Arc::new(Echo),
            Duration::ZERO,
            stop.clone(),
        )
        .unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut buf = [0u8; 8];
        // The worker's own state lives across batches: the second answer follows a batch.
        client.send_to(b"hi", addr).unwrap();
        assert_eq!(client.recv(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"hi\0");
        client.send_to(b"ho", addr).unwrap();
        assert_eq!(client.recv(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"ho\x01");
        stop.cancel();
        for w in workers.0 {
            w.join().unwrap();
        }
        // Stopped: nothing answers any more.
        client.send_to(b"hi", addr).unwrap();
        assert!(client.recv(&mut buf).is_err());
    }

    #[test]
    fn echoes_a_batch() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        for i in 0..5u8 {
            client
                .send_to(&[i, i], server.local_addr().unwrap())
                .unwrap();
        }
        let mut batch = UdpBatch::new();
        let mut seen = 0;
        while seen < 5 {
            seen += batch
                .recv(server.as_raw_fd(), MsgFlags::MSG_WAITFORONE)
                .unwrap();
            batch.respond(|data, peer, out| {
                assert_eq!(peer, client.local_addr().unwrap());
                out.extend_from_slice(data);
                out.push(9);
                data[0] % 2 == 0 // odd ones get no reply
            });
            batch.send(server.as_raw_fd());
        }
        let mut got = Vec::new();
        let mut buf = [0u8; 8];
        for _ in 0..3 {
            let n = client.recv(&mut buf).unwrap();
            got.push(buf[..n].to_vec());
        }
        got.sort();
        assert_eq!(got, [vec![0, 0, 9], vec![2, 2, 9], vec![4, 4, 9]]);
    }
}
