//! The UDP worker loop: one socket per thread (`SO_REUSEPORT` sibling or a duplicate of the
//! inherited socket), a single-threaded runtime per thread, batches of `recvmmsg`/`sendmmsg`.
//!
//! Owns: the hit path's system calls. At low rates a query costs one `epoll_wait`, one
//! `recvmmsg` and one `sendmmsg`; under load all three are amortised over up to [`BATCH`]
//! queries. Misses become tasks on the same thread (no hand-off) that send their own reply.
//! On shutdown the loop stops reading at once, so a process sharing the socket gets the new
//! queries, and the thread finishes its in-flight misses. Must not decide answers.

use std::io::{ErrorKind, IoSlice, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::socket::{
    ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg,
};
use tokio::io::Interest;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::pipeline::{Pipeline, Step, Transport};

/// Datagrams per `recvmmsg`/`sendmmsg`.
pub const BATCH: usize = 32;
/// Largest query datagram read (longer ones are cut and answered FORMERR).
const RX_BUF: usize = 4096;

fn to_std(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::from(*v4));
    }
    a.as_sockaddr_in6().map(|v6| SocketAddr::from(*v6))
}

/// Serves `sock` on the calling thread until `stop` is cancelled, then finishes the misses
/// still in flight on this thread (bounded by `drain`).
///
/// Each worker thread runs its own single-threaded runtime: the receive loop and the upstream
/// exchanges of its misses share the thread, so a miss costs no thread hand-off.
pub fn worker(sock: UdpSocket, pipeline: Arc<Pipeline>, stop: CancellationToken, drain: Duration) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start a UDP worker runtime");
            return;
        }
    };
    let in_flight = TaskTracker::new();
    rt.block_on(async {
        if let Err(e) = serve(sock, &pipeline, &in_flight, &stop).await {
            tracing::error!(error = %e, "UDP worker failed");
        }
        in_flight.close();
        ops::shutdown::drain("UDP in-flight queries", drain, in_flight.wait()).await;
    });
}

async fn serve(
    sock: UdpSocket,
    pipeline: &Arc<Pipeline>,
    in_flight: &TaskTracker,
    stop: &CancellationToken,
) -> std::io::Result<()> {
    sock.set_nonblocking(true)?;
    let sock = Arc::new(tokio::net::UdpSocket::from_std(sock)?);
    let fd = sock.as_raw_fd();
    let mut rx_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut tx_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut bufs: Box<[[u8; RX_BUF]; BATCH]> = Box::new([[0u8; RX_BUF]; BATCH]);
    let mut outs: Vec<Vec<u8>> = (0..BATCH).map(|_| Vec::with_capacity(1232)).collect();
    let mut received: [(usize, Option<SockaddrStorage>); BATCH] = [(0, None); BATCH];
    let mut dests: [Option<SockaddrStorage>; BATCH] = [None; BATCH];
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => return Ok(()),
            r = sock.readable() => r?,
        };
        // Without MSG_WAITFORONE a non-blocking recvmmsg takes what is queued, up to BATCH;
        // EAGAIN (no datagram) clears the readiness, and we wait for the next edge.
        let got = sock.try_io(Interest::READABLE, || {
            let mut iovs = bufs.each_mut().map(|b| [IoSliceMut::new(b)]);
            let results = recvmmsg(
                fd,
                &mut rx_headers,
                iovs.iter_mut(),
                MsgFlags::MSG_DONTWAIT,
                None,
            )
            .map_err(std::io::Error::from)?;
            let mut n = 0;
            for (slot, r) in received.iter_mut().zip(results) {
                *slot = (r.bytes, r.address);
                n += 1;
            }
            Ok(n)
        });
        let n = match got {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "UDP receive failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let mut replies = 0;
        for (i, (len, addr)) in received[..n].iter().enumerate() {
            let Some(addr) = addr else { continue };
            let packet = &bufs[i][..(*len).min(RX_BUF)];
            match pipeline.fast(packet, Transport::Udp, &mut outs[replies]) {
                Step::Reply => {
                    dests[replies] = Some(*addr);
                    replies += 1;
                }
                Step::Drop => {}
                Step::Miss(miss) => {
                    let Some(peer) = to_std(addr) else { continue };
                    let (pipeline, sock) = (pipeline.clone(), sock.clone());
                    in_flight.spawn(async move {
                        let mut out = Vec::new();
                        pipeline.miss(miss, &mut out).await;
                        if !out.is_empty()
                            && let Err(e) = sock.try_send_to(&out, peer)
                        {
                            tracing::debug!(error = %e, %peer, "UDP send failed");
                        }
                    });
                }
            }
        }
        if replies > 0 {
            send_batch(&sock, &mut tx_headers, &outs[..replies], &dests[..replies]);
        }
        if n == BATCH {
            // More may be queued: let this thread's miss tasks run first.
            tokio::task::yield_now().await;
        }
    }
}

fn send_batch(
    sock: &tokio::net::UdpSocket,
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
            && let Err(e) = sock.try_send_to(out, peer)
        {
            tracing::debug!(error = %e, %peer, "UDP send failed");
        }
    }
}
