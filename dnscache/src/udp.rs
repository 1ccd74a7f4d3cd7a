//! The UDP worker loop: one socket per thread (`SO_REUSEPORT` sibling or a duplicate of the
//! inherited socket), a single-threaded runtime per thread, batches of `recvmmsg`/`sendmmsg`.
//!
//! Owns: the hit path's system calls. At low rates a query costs one `epoll_wait`, one
//! `recvmmsg` and one `sendmmsg`; under load all three are amortised over up to [`BATCH`]
//! queries. Misses become tasks on the same thread (no hand-off) that send their own reply.
//! On shutdown the loop stops reading at once, so a process sharing the socket gets the new
//! queries, and the thread finishes its in-flight misses. Must not decide answers.

use std::io::ErrorKind;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::socket::MsgFlags;
use ops::udp::{BATCH, UdpBatch};
use tokio::io::Interest;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::pipeline::{Pipeline, Step, Transport};

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
    let mut batch = UdpBatch::new();
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => return Ok(()),
            r = sock.readable() => r?,
        };
        // A non-blocking recvmmsg takes what is queued, up to BATCH. Fewer than BATCH means
        // the queue was empty at that instant: report WouldBlock so tokio clears the readiness
        // now, instead of a second recvmmsg that only returns EAGAIN (one syscall per query
        // saved at low rates). A datagram arriving after the recvmmsg raises a new readiness
        // event (tokio only clears the readiness it observed), so no wake-up is lost.
        let mut n = 0;
        let got = sock.try_io(Interest::READABLE, || {
            n = batch
                .recv(fd, MsgFlags::MSG_DONTWAIT)
                .map_err(std::io::Error::from)?;
            if n < BATCH {
                return Err(ErrorKind::WouldBlock.into());
            }
            Ok(())
        });
        match got {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock && n > 0 => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "UDP receive failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        }
        batch.respond(|packet, peer, out| {
            match pipeline.fast_from(packet, Transport::Udp, Some(peer.ip()), out) {
                Step::Reply => true,
                Step::Drop => false,
                Step::Miss(miss) => {
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
                    false
                }
            }
        });
        batch.send(fd);
        if n == BATCH {
            // More may be queued: let this thread's miss tasks run first.
            tokio::task::yield_now().await;
        }
    }
}
