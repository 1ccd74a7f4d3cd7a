//! The UDP workers: one blocking SO_REUSEPORT socket per thread, batched with `recvmmsg`
//! (`MSG_WAITFORONE`: block for one datagram, take whatever else is queued) and `sendmmsg`.
//!
//! Why not hickory-server's UDP loop: it spawns a task per datagram and sends every reply
//! through a channel to the socket task; for an authoritative server whose answer is a
//! lock-free lookup, that overhead is most of the cost. Here a query costs its share of one
//! `recvmmsg` and one `sendmmsg`, one decode and one encode. The loop checks for shutdown at
//! least every [`UDP_POLL`] (the socket's read timeout). Must not decide answers (the
//! handler does). Same pattern as dnscache's worker.

use std::io::{IoSlice, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use hickory_net::xfer::Protocol;
use nix::errno::Errno;
use nix::sys::socket::{
    ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg,
};
use tokio_util::sync::CancellationToken;

use crate::handler::Handler;

/// How long a worker blocks before checking for shutdown.
pub const UDP_POLL: Duration = Duration::from_millis(50);
/// Datagrams per `recvmmsg`/`sendmmsg`.
pub const BATCH: usize = 32;
/// Largest query datagram read (longer ones are cut, then answered FORMERR).
const RX_BUF: usize = 4096;

fn to_std(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::from(*v4));
    }
    a.as_sockaddr_in6().map(|v6| SocketAddr::from(*v6))
}

/// Serves `sock` on the calling thread until `stop` is cancelled.
pub fn worker(sock: UdpSocket, handler: Handler, stop: CancellationToken) {
    if let Err(e) = sock
        .set_nonblocking(false)
        .and_then(|()| sock.set_read_timeout(Some(UDP_POLL)))
    {
        tracing::error!(error = %e, "cannot configure UDP socket");
        return;
    }
    let fd = sock.as_raw_fd();
    let mut rx_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut tx_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut bufs: Box<[[u8; RX_BUF]; BATCH]> = Box::new([[0u8; RX_BUF]; BATCH]);
    let mut outs: Vec<Vec<u8>> = (0..BATCH).map(|_| Vec::with_capacity(1232)).collect();
    let mut received: [(usize, Option<SockaddrStorage>); BATCH] = [(0, None); BATCH];
    let mut dests: [Option<SockaddrStorage>; BATCH] = [None; BATCH];
    while !stop.is_cancelled() {
        let n = {
            let mut iovs = bufs.each_mut().map(|b| [IoSliceMut::new(b)]);
            match recvmmsg(
                fd,
                &mut rx_headers,
                iovs.iter_mut(),
                MsgFlags::MSG_WAITFORONE,
                None,
            ) {
                Ok(results) => {
                    let mut n = 0;
                    for (slot, r) in received.iter_mut().zip(results) {
                        *slot = (r.bytes, r.address);
                        n += 1;
                    }
                    n
                }
                Err(Errno::EAGAIN | Errno::EINTR) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "UDP receive failed");
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            }
        };
        let mut replies = 0;
        for (i, (len, addr)) in received[..n].iter().enumerate() {
            // Source port 0 cannot be answered (and is a reflection trick).
            let Some(peer) = addr.as_ref().and_then(to_std).filter(|p| p.port() != 0) else {
                continue;
            };
            let packet = &bufs[i][..(*len).min(RX_BUF)];
            if handler.respond(packet, peer, Protocol::Udp, &mut outs[replies]) {
                dests[replies] = *addr;
                replies += 1;
            }
        }
        if replies > 0 {
            send_batch(&sock, &mut tx_headers, &outs[..replies], &dests[..replies]);
        }
    }
}

fn send_batch(
    sock: &UdpSocket,
    headers: &mut MultiHeaders<SockaddrStorage>,
    outs: &[Vec<u8>],
    dests: &[Option<SockaddrStorage>],
) {
    let slices: Vec<[IoSlice<'_>; 1]> = outs.iter().map(|o| [IoSlice::new(o)]).collect();
    let none: [ControlMessage<'_>; 0] = [];
    let sent = match sendmmsg(
        sock.as_raw_fd(),
        headers,
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
    // Whatever sendmmsg did not take goes one by one (rare: a full send buffer).
    for (out, dest) in outs.iter().zip(dests).skip(sent) {
        if let Some(peer) = dest.as_ref().and_then(to_std)
            && let Err(e) = sock.send_to(out, peer)
        {
            tracing::debug!(error = %e, %peer, "UDP send failed");
        }
    }
}
