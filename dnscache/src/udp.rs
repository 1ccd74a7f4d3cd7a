//! The UDP worker loop: one blocking socket per thread, batched with `recvmmsg`
//! (`MSG_WAITFORONE`: block for one datagram, take whatever else is queued) and `sendmmsg`.
//!
//! Owns: the hit path's system calls. At low rates a query costs one `recvmmsg` and one
//! `sendmmsg`; under load both are amortised over up to [`BATCH`] queries. Misses become
//! tasks on the async runtime (tracked for the drain) that send their own reply. The loop
//! checks for shutdown at least every [`UDP_POLL`] (the socket's read timeout), so after
//! SIGTERM it stops reading and a process sharing the socket gets the new queries.
//! Must not decide answers (the pipeline does).

use std::io::{IoSlice, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{
    ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg,
};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::pipeline::{Pipeline, Step, Transport};

/// How long a worker blocks before checking for shutdown.
pub const UDP_POLL: Duration = Duration::from_millis(50);
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

/// Serves `sock` on the calling thread until `stop` is cancelled.
pub fn worker(
    sock: UdpSocket,
    pipeline: Arc<Pipeline>,
    rt: tokio::runtime::Handle,
    tracker: TaskTracker,
    stop: CancellationToken,
) {
    if let Err(e) = sock
        .set_nonblocking(false)
        .and_then(|()| sock.set_read_timeout(Some(UDP_POLL)))
    {
        tracing::error!(error = %e, "cannot configure UDP socket");
        return;
    }
    let sock = Arc::new(sock);
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
                    tracker.spawn_on(
                        async move {
                            let mut out = Vec::new();
                            pipeline.miss(miss, &mut out).await;
                            if !out.is_empty()
                                && let Err(e) = sock.send_to(&out, peer)
                            {
                                tracing::debug!(error = %e, %peer, "UDP send failed");
                            }
                        },
                        &rt,
                    );
                }
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
