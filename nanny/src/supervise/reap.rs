//! The one reaper of the process: the nanny is PID 1 in its container, so every zombie that
//! reaches it (its own children and orphans re-parented to it) must be collected. A single
//! SIGCHLD-driven `waitpid(-1, WNOHANG)` loop does it and hands each exit status to whoever
//! spawned that pid. Children are therefore spawned through [`Reaper::spawn`], never
//! `tokio::process` (its own per-child `waitpid` would race this loop). Outside a container
//! the nanny makes itself a child subreaper so orphans of dnscache still come here.

use std::collections::HashMap;
use std::fmt;
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// `exit(code)`.
    Code(i32),
    /// Killed by a signal.
    Signal(Signal),
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit code {c}"),
            Exit::Signal(s) => write!(f, "signal {s}"),
        }
    }
}

/// Receives the exit of one child (`None` while it runs).
pub type ExitWatch = watch::Receiver<Option<Exit>>;

type Table = HashMap<i32, watch::Sender<Option<Exit>>>;

/// Spawns children and reaps every process that ends below us.
#[derive(Clone)]
pub struct Reaper {
    table: Arc<Mutex<Table>>,
}

impl Reaper {
    /// Installs the SIGCHLD handler and starts the reaping task (stops with `token`).
    pub fn start(token: CancellationToken) -> std::io::Result<Reaper> {
        if std::process::id() != 1
            && let Err(e) = nix::sys::prctl::set_child_subreaper(true)
        {
            tracing::debug!(error = %e, "cannot become a child subreaper");
        }
        let mut sigchld = signal(SignalKind::child())?;
        let reaper = Reaper {
            table: Arc::new(Mutex::new(HashMap::new())),
        };
        let r = reaper.clone();
        tokio::spawn(async move {
            loop {
                r.reap_all();
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = sigchld.recv() => {}
                    // A safety net: signals coalesce, and a handler is process-wide.
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        });
        Ok(reaper)
    }

    /// Spawns `cmd` and registers its pid before any SIGCHLD for it can be handled.
    pub fn spawn(&self, cmd: &mut Command) -> std::io::Result<(std::process::Child, ExitWatch)> {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let child = cmd.spawn()?;
        let (tx, rx) = watch::channel(None);
        table.insert(child.id() as i32, tx);
        Ok((child, rx))
    }

    /// Collects every zombie now.
    pub fn reap_all(&self) {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let (pid, exit) = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid, Exit::Code(code)),
                Ok(WaitStatus::Signaled(pid, sig, _)) => (pid, Exit::Signal(sig)),
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "waitpid failed");
                    return;
                }
            };
            match table.remove(&pid.as_raw()) {
                Some(tx) => {
                    let _ = tx.send(Some(exit));
                }
                None => tracing::debug!(pid = pid.as_raw(), %exit, "reaped an orphan"),
            }
        }
    }
}
