//! One HTTP connection's phase, and the clock that closes it when a phase lasts too long.
//!
//! hyper sees the bytes but not the phases we bound, so the socket and the response body are
//! wrapped to report them: the first byte of a request head ([`Tracked`]), the request handed
//! to the router ([`Activity::on_request`]) and the response body done with
//! ([`ResponseBody`]'s drop). hyper's own header-read timer is not used: in hyper 1 it starts
//! when the connection begins waiting for the next request, so it would also cut every
//! kept-alive connection at the header-read timeout.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::slots::Slot;

use super::limits::{Close, Limits};

/// Where a connection is, and since when.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for a request head to complete: since accept, or since the first byte of a
    /// later request.
    Head(Instant),
    /// Inside a request: routed, response not finished.
    Busy(Instant),
    /// Kept alive between requests, nothing received yet.
    Idle(Instant),
}

/// A connection's shared state: its phase, and its slot under the connection cap (evictable
/// unless the phase is [`Phase::Busy`]).
#[derive(Debug)]
pub(crate) struct Activity {
    phase: Mutex<(Phase, Slot)>,
    /// Wakes [`Activity::expired`] on a phase change: the new phase may end sooner.
    changed: Notify,
    /// Cancelled when the cap takes this connection's slot for a newer one.
    pub(crate) evicted: CancellationToken,
}

impl Activity {
    /// A connection accepted now, holding `slot`; until its first request it may be evicted.
    pub(crate) fn new(mut slot: Slot) -> Arc<Self> {
        slot.idle();
        Arc::new(Activity {
            evicted: slot.eviction_token(),
            phase: Mutex::new((Phase::Head(Instant::now()), slot)),
            changed: Notify::new(),
        })
    }

    fn with_phase<R>(&self, f: impl FnOnce(&mut Phase) -> R) -> R {
        let mut guard = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard.0)
    }

    fn set_phase(&self, phase: Phase) {
        {
            let mut guard = self.phase.lock().unwrap_or_else(|e| e.into_inner());
            let (current, slot) = &mut *guard;
            *current = phase;
            match phase {
                // An evicted connection is closed by its task; the request still gets its
                // answer if hyper writes it first.
                Phase::Busy(_) => drop(slot.busy()),
                Phase::Head(_) | Phase::Idle(_) => slot.idle(),
            }
        }
        self.changed.notify_one();
    }

    /// Bytes arrived: on an idle connection they start the next request head.
    fn on_bytes_read(&self) {
        if self.with_phase(|p| matches!(p, Phase::Idle(_))) {
            self.set_phase(Phase::Head(Instant::now()));
        }
    }

    /// The request head is complete and routed.
    pub(crate) fn on_request(&self) {
        self.set_phase(Phase::Busy(Instant::now()));
    }

    /// The response is finished; the connection waits for the next request.
    fn on_response_done(&self) {
        self.set_phase(Phase::Idle(Instant::now()));
    }

    /// When the current phase runs out, and why the connection is then closed.
    fn deadline(&self, limits: &Limits) -> (Instant, Close) {
        self.with_phase(|p| match *p {
            Phase::Head(t) => (t + limits.header_read_timeout, Close::HeaderTimeout),
            Phase::Busy(t) | Phase::Idle(t) => (t + limits.idle_timeout, Close::IdleTimeout),
        })
    }

    /// Resolves when the connection's current phase has outlasted its limit.
    pub(crate) async fn expired(&self, limits: &Limits) -> Close {
        loop {
            let (deadline, _) = self.deadline(limits);
            tokio::select! {
                // A phase change: compute the new deadline.
                _ = self.changed.notified() => continue,
                _ = tokio::time::sleep_until(deadline) => {}
            }
            // The phase may have changed without the permit being seen yet; only a phase
            // that is still over its limit closes the connection.
            let (deadline, reason) = self.deadline(limits);
            if deadline <= Instant::now() {
                return reason;
            }
        }
    }
}

/// The accepted socket, reporting the first byte of each request head to its [`Activity`].
pub(crate) struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl Tracked {
    pub(crate) fn new(inner: TcpStream, activity: Arc<Activity>) -> Self {
        Tracked { inner, activity }
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.on_bytes_read();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A response body that marks its connection idle again when hyper is done with it.
pub(crate) struct ResponseBody {
    inner: Full<Bytes>,
    activity: Arc<Activity>,
}

impl ResponseBody {
    pub(crate) fn new(body: Bytes, activity: Arc<Activity>) -> Self {
        ResponseBody {
            inner: Full::new(body),
            activity,
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        self.activity.on_response_done();
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
