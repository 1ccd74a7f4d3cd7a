//! One shutdown story, in two steps.
//!
//! 1. **Lame duck**: the first SIGTERM or SIGINT cancels [`Shutdown::lame_duck`] at once.
//!    Readiness endpoints report not-ready from then on, but DNS keeps answering: the
//!    kubelet's readiness probe and then kube-proxy take seconds to stop sending traffic to
//!    a terminating pod, and a server that stopped at once would drop those queries (clients
//!    then wait out their 5 s timeout). CoreDNS's `lameduck` does the same.
//! 2. **Stop**: after the lame-duck period (or at once on a second signal) [`Shutdown::stop`]
//!    is cancelled; subsystems take `child_token()`s, select on `cancelled()`, stop reading,
//!    finish what is in flight, and `main` waits for them with a bound ([`drain`]).

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// The two moments of a shutdown (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    /// Cancelled when termination was asked for: report not-ready, keep serving.
    pub lame_duck: CancellationToken,
    /// Cancelled when serving must stop.
    pub stop: CancellationToken,
}

impl Shutdown {
    /// A shutdown with no lame duck: both moments are `token`.
    pub fn immediate(token: CancellationToken) -> Self {
        Shutdown {
            lame_duck: token.clone(),
            stop: token,
        }
    }
}

impl From<CancellationToken> for Shutdown {
    fn from(token: CancellationToken) -> Self {
        Shutdown::immediate(token)
    }
}

/// Returns the shutdown of this process: the first SIGTERM or SIGINT starts the lame duck,
/// which lasts `lame_duck` (zero: none) or until a second signal, then serving stops.
///
/// Must be called inside a tokio runtime. If the signal handlers cannot be installed the
/// error is logged and the tokens are only cancelled by the caller.
pub fn on_signals(lame_duck: Duration) -> Shutdown {
    let shutdown = Shutdown::default();
    let s = shutdown.clone();
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (mut term, mut int) = match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(error = %e, "cannot install signal handlers");
                return;
            }
        };
        // Cancel first, log second: nothing that logging does may delay or stop the shutdown.
        let which = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
            _ = s.stop.cancelled() => return,
        };
        s.lame_duck.cancel();
        if lame_duck.is_zero() {
            s.stop.cancel();
            tracing::info!("{which} received, shutting down");
            return;
        }
        tracing::info!(
            lame_duck_ms = lame_duck.as_millis() as u64,
            "{which} received: not ready, still serving for the lame-duck period"
        );
        tokio::select! {
            _ = tokio::time::sleep(lame_duck) => {}
            _ = term.recv() => {}
            _ = int.recv() => {}
            _ = s.stop.cancelled() => {}
        }
        s.stop.cancel();
        tracing::info!("lame duck over, shutting down");
    });
    shutdown
}

/// Returns a token that is cancelled on the first SIGTERM or SIGINT (no lame duck).
///
/// Must be called inside a tokio runtime. If the signal handlers cannot be installed the
/// error is logged and the token is only cancelled by the caller.
pub fn shutdown_token() -> CancellationToken {
    on_signals(Duration::ZERO).stop
}

/// Waits for `fut` at most `grace`; returns false (and logs) when the bound was hit.
pub async fn drain<F: Future>(what: &str, grace: Duration, fut: F) -> bool {
    match tokio::time::timeout(grace, fut).await {
        Ok(_) => true,
        Err(_) => {
            tracing::warn!(
                what,
                grace_ms = grace.as_millis() as u64,
                "drain did not finish in time"
            );
            false
        }
    }
}
