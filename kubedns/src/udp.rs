//! The UDP workers: one blocking SO_REUSEPORT socket per thread, batched with `recvmmsg`
//! (`MSG_WAITFORONE`: block for one datagram, take whatever else is queued) and `sendmmsg`.
//!
//! Why not hickory-server's UDP loop: it spawns a task per datagram and sends every reply
//! through a channel to the socket task; for an authoritative server whose answer is a
//! lock-free lookup, that overhead is most of the cost. Here a query costs its share of one
//! `recvmmsg` and one `sendmmsg`, one decode and one encode. The loop checks for shutdown at
//! least every [`UDP_POLL`] (the socket's read timeout). Must not decide answers (the
//! handler does). Same pattern as dnscache's worker.

use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::time::Duration;

use hickory_net::xfer::Protocol;
use nix::errno::Errno;
use nix::sys::socket::MsgFlags;
use ops::udp::UdpBatch;
use tokio_util::sync::CancellationToken;

use crate::handler::Handler;

/// How long a worker blocks before checking for shutdown.
pub const UDP_POLL: Duration = Duration::from_millis(50);

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
    let mut batch = UdpBatch::new();
    while !stop.is_cancelled() {
        match batch.recv(fd, MsgFlags::MSG_WAITFORONE) {
            Ok(_) => {}
            Err(Errno::EAGAIN | Errno::EINTR) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "UDP receive failed");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        }
        batch.respond(|packet, peer, out| {
            // Source port 0 cannot be answered (and is a reflection trick).
            peer.port() != 0 && handler.respond(packet, peer, Protocol::Udp, out)
        });
        batch.send(fd);
    }
}
