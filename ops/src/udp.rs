//! Batched UDP datagram I/O: up to [`BATCH`] datagrams per `recvmmsg`, the replies to them in
//! one `sendmmsg`. On a cache hit or an authoritative answer almost all the cost of a query is
//! system calls; batching amortises them under load. Shared by kubedns (blocking workers) and
//! dnscache (one single-threaded runtime per worker); each caller owns its socket, its waiting
//! strategy and its answers. Must not parse DNS.

use std::io::{IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::RawFd;

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
    pub fn respond(&mut self, mut f: impl FnMut(&[u8], SocketAddr, &mut Vec<u8>) -> bool) {
        for (i, (len, addr)) in self.received[..self.len].iter().enumerate() {
            let Some(peer) = addr.as_ref().and_then(to_std) else {
                continue;
            };
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
        let slices: Vec<[IoSlice<'_>; 1]> = outs.iter().map(|o| [IoSlice::new(o)]).collect();
        let none: [ControlMessage<'_>; 0] = [];
        let sent = match sendmmsg(
            fd,
            &mut self.tx_headers,
            &slices,
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
