//! One shutdown story: SIGTERM or SIGINT cancels a [`CancellationToken`]; subsystems take
//! `child_token()`s, select on `cancelled()`, and `main` waits for them with a bound.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Returns a token that is cancelled on the first SIGTERM or SIGINT.
///
/// Must be called inside a tokio runtime. If the signal handlers cannot be installed the
/// error is logged and the token is only cancelled by the caller.
pub fn shutdown_token() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
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
            _ = t.cancelled() => return,
        };
        t.cancel();
        tracing::info!("{which} received, shutting down");
    });
    token
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
