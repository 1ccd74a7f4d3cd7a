//! What one HTTP server may hold, and the counter of connections it closed to stay there.
//!
//! Health and metrics ports are reachable by every pod of the cluster, and the kubelet's
//! liveness probes of the whole pod go through them: a client that opens connections and
//! sends nothing must not be able to starve the probes.

use std::time::Duration;

use prometheus::{IntCounterVec, Opts, Registry};

/// Bounds of one HTTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Open connections at most. When full, a new connection closes the longest-idle one
    /// (see [`crate::http::serve_with`]); when none is idle, the new one is closed at once.
    pub max_connections: usize,
    /// A request head (request line and headers) must be complete this long after its first
    /// byte, or after the connection was accepted for its first request.
    pub header_read_timeout: Duration,
    /// A kept-alive connection with no new request for this long is closed; so is a
    /// connection whose response has been in progress this long.
    pub idle_timeout: Duration,
    /// Largest request head in bytes; larger ones get 431 and the connection is closed.
    /// Values below hyper's minimum (8 KiB) are raised to it.
    pub max_request_bytes: usize,
}

impl Default for Limits {
    /// 512 connections, 5 s to send a request head, 30 s keep-alive idle, 16 KiB heads.
    fn default() -> Self {
        Limits {
            max_connections: 512,
            header_read_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            max_request_bytes: 16 * 1024,
        }
    }
}

/// Why the server closed a connection itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// The longest-idle connection, closed to admit a new one.
    Evicted,
    /// A new connection, closed at once: the cap was reached and no connection was idle.
    Refused,
    /// The request head was not complete within the header-read timeout.
    HeaderTimeout,
    /// No new request (or no end of the response) within the idle timeout.
    IdleTimeout,
    /// The request head was larger than the limit (answered 431).
    HeaderTooLarge,
    /// The request carried a body (answered 413); these endpoints take none.
    RequestBody,
}

impl Close {
    const ALL: [Close; 6] = [
        Close::Evicted,
        Close::Refused,
        Close::HeaderTimeout,
        Close::IdleTimeout,
        Close::HeaderTooLarge,
        Close::RequestBody,
    ];

    /// The `cause` label value.
    pub fn label(self) -> &'static str {
        match self {
            Close::Evicted => "evicted",
            Close::Refused => "refused",
            Close::HeaderTimeout => "header_timeout",
            Close::IdleTimeout => "idle_timeout",
            Close::HeaderTooLarge => "header_too_large",
            Close::RequestBody => "request_body",
        }
    }
}

/// `<namespace>_http_connections_closed_total{cause}`: connections an HTTP server closed to
/// stay within its [`Limits`]. One instance per process; every server of the process shares it.
#[derive(Clone, Debug)]
pub struct Metrics {
    // `None` only if the constant name were rejected by `prometheus`; then nothing is counted.
    closed: Option<IntCounterVec>,
}

impl Metrics {
    /// Registers the counter in `registry` under `namespace` (the binary: `kubedns`,
    /// `sidecar`), every cause at 0.
    pub fn register(registry: &Registry, namespace: &str) -> Result<Self, prometheus::Error> {
        let closed = Self::counter(namespace)?;
        registry.register(Box::new(closed.clone()))?;
        Ok(Metrics {
            closed: Some(closed),
        })
    }

    /// The counter, in no registry (for [`crate::http::serve`], whose callers expose none).
    pub fn unregistered() -> Self {
        Metrics {
            closed: Self::counter("unregistered").ok(),
        }
    }

    fn counter(namespace: &str) -> Result<IntCounterVec, prometheus::Error> {
        let closed = IntCounterVec::new(
            Opts::new(
                "http_connections_closed_total",
                "HTTP connections closed by the server to stay within its limits, by cause \
                 (evicted to make room, refused when every connection was busy, header or idle \
                 timeout, header too large, request body).",
            )
            .namespace(namespace),
            &["cause"],
        )?;
        for reason in Close::ALL {
            closed.with_label_values(&[reason.label()]);
        }
        Ok(closed)
    }

    /// Counts one connection closed for `reason`.
    pub fn closed(&self, reason: Close) {
        if let Some(c) = &self.closed {
            c.with_label_values(&[reason.label()]).inc();
        }
    }

    /// How many connections were closed for `reason` so far.
    pub fn closed_count(&self, reason: Close) -> u64 {
        self.closed
            .as_ref()
            .map_or(0, |c| c.with_label_values(&[reason.label()]).get())
    }
}
