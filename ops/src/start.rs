//! One start-up shape for the four binaries:
//!
//! 1. flags parsed and the configuration validated by the binary (a usage error exits 2
//!    through [`usage_error`], before anything is bound or started);
//! 2. [`serve`]: the descriptor limit raised, the runtime built, the shutdown installed
//!    (signals, lame duck), the sockets bound (a failure exits 1; binding may resolve a
//!    host name, hence async), then
//!    `run(bound, shutdown)`; its error exits 1, its success (after a drain) exits 0.

use std::fmt::Display;
use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use crate::shutdown::{Shutdown, on_signals};

/// Which tokio runtime a binary runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// A multi-thread runtime with this many workers (None: one per CPU).
    MultiThread(Option<usize>),
    /// One thread (the sidecar and the nanny: a few timers and sockets).
    CurrentThread,
}

/// Prints a usage error as `<binary>: <message>` and returns exit code 2.
pub fn usage_error(binary: &str, message: impl Display) -> ExitCode {
    eprintln!("{binary}: {message}");
    ExitCode::from(2)
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit, as Go's runtime does at start: every
/// connection, upstream exchange and child pipe is a descriptor, and the default soft limit
/// (often 1024) is below what a busy server needs. Returns the soft limit now in force.
pub fn raise_nofile_limit() -> Option<u64> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    if soft >= hard {
        return Some(soft);
    }
    match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
        Ok(()) => Some(hard),
        Err(e) => {
            tracing::warn!(error = %e, soft, hard, "cannot raise the descriptor limit");
            Some(soft)
        }
    }
}

/// Runs a server binary after its flags were parsed and validated (see the module docs).
/// `bind` runs inside the runtime (so listeners can be registered with it) but before
/// anything serves; `run` gets what it bound and the shutdown.
pub fn serve<B, BE, RE, BindFut, RunFut>(
    binary: &str,
    runtime: Runtime,
    lame_duck: Duration,
    bind: impl FnOnce() -> BindFut,
    run: impl FnOnce(B, Shutdown) -> RunFut,
) -> ExitCode
where
    BE: Display,
    RE: Display,
    BindFut: Future<Output = Result<B, BE>>,
    RunFut: Future<Output = Result<(), RE>>,
{
    raise_nofile_limit();
    let built = match runtime {
        Runtime::MultiThread(workers) => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            if let Some(n) = workers {
                b.worker_threads(n.max(1));
            }
            b.enable_all().build()
        }
        Runtime::CurrentThread => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    };
    let rt = match built {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "{binary}: cannot start the runtime");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let shutdown = on_signals(lame_duck);
        let bound = match bind().await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!("{binary}: {e}");
                return ExitCode::FAILURE;
            }
        };
        match run(bound, shutdown).await {
            Ok(()) => {
                tracing::info!("{binary} stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                tracing::error!("{binary}: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
