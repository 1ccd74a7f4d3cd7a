//! Runs dnscache and keeps it running, as dnsmasq-nanny runs dnsmasq. The policy lives here;
//! one process is `child.rs`, reaping is `reap.rs`.
//!
//! - Start: spawn on the nanny's sockets, wait for `ready` on the ready pipe (bounded).
//! - New routes with hand-over: start the new child on the same sockets, wait until it is
//!   ready, then SIGTERM the old one (it stops reading, drains, exits; SIGKILL after the
//!   grace period). The kernel queues datagrams on the shared socket meanwhile, so no query
//!   is lost. If the new child fails, the old one keeps serving the previous routes and the
//!   new ones are retried with backoff (not counted as a crash: DNS is up). Without hand-over
//!   (dnsmasq-nanny's way): SIGKILL the old child, then start the new one on its own sockets.
//! - A child that dies on its own is restarted with exponential backoff; `crash_loop_max`
//!   failures within `crash_loop_window` end the nanny with an error (the kubelet restarts it).
//! - Shutdown (the token): SIGTERM to every child, bounded wait, SIGKILL.
//! - With hand-over, the nanny also holds dnscache's `--metrics-port` listener (a new child
//!   could not bind it while the old one drains) and passes each child the read end of its
//!   predecessor's cache pipe, so a config change starts warm.

mod child;
mod reap;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use child::{Child, Extras, NotReady, Sockets, metrics_port};
pub use reap::{Exit, Reaper};

/// What the child should run with; sent by the config side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// dnscache arguments (without descriptor flags).
    pub args: Vec<String>,
    /// Why these args (for the restart log line), e.g. `config version 3f2a…`.
    pub cause: String,
}

/// Supervision settings (from the command line).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The dnscache binary.
    pub program: PathBuf,
    /// Restart the child when the desired args change (`-restartDnsmasq`).
    pub restart_on_change: bool,
    /// Bound on a new child's start.
    pub ready_timeout: Duration,
    /// Bound on an old child's drain after SIGTERM.
    pub grace: Duration,
    /// Failures within `crash_loop_window` that end the nanny.
    pub crash_loop_max: u32,
    /// See `crash_loop_max`.
    pub crash_loop_window: Duration,
    /// SIGUSR1 period (zero: never).
    pub log_interval: Duration,
}

/// Why supervision ended with an error.
#[derive(Debug, thiserror::Error)]
pub enum SuperviseError {
    /// The child keeps failing.
    #[error("dnscache failed {failures} times within {window:?}; giving up (last: {last})")]
    CrashLoop {
        /// Failures counted in the window.
        failures: usize,
        /// The window.
        window: Duration,
        /// The last failure.
        last: String,
    },
    /// SIGCHLD handling could not be installed.
    #[error("cannot install the child reaper: {0}")]
    Reaper(std::io::Error),
}

struct Supervisor {
    settings: Settings,
    sockets: Option<Sockets>,
    /// dnscache's `/metrics` listener, held here in hand-over mode.
    metrics: Option<std::net::TcpListener>,
    reaper: Reaper,
    failures: Vec<Instant>,
    backoff: Duration,
    /// When to try again to apply routes whose new child failed (the old one still serves).
    retry: Option<tokio::time::Instant>,
    retry_backoff: Duration,
    token: CancellationToken,
}

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// Supervises dnscache until `token` is cancelled (Ok) or it crash-loops (Err). `sockets`
/// `None` means no hand-over: the child binds its own sockets.
pub async fn run(
    settings: Settings,
    sockets: Option<Sockets>,
    mut desired: watch::Receiver<Desired>,
    token: CancellationToken,
) -> Result<(), SuperviseError> {
    // The reaper outlives the shutdown token: children are reaped while they drain.
    let reaper_token = CancellationToken::new();
    let _stop_reaper = reaper_token.clone().drop_guard();
    let reaper = Reaper::start(reaper_token).map_err(SuperviseError::Reaper)?;
    let metrics = bind_metrics(sockets.as_ref(), &desired.borrow().args);
    let mut sup = Supervisor {
        settings,
        sockets,
        metrics,
        reaper,
        failures: Vec::new(),
        backoff: BACKOFF_MIN,
        retry: None,
        retry_backoff: BACKOFF_MIN,
        token: token.clone(),
    };
    let mut draining: JoinSet<()> = JoinSet::new();
    let mut current: Option<Child> = None;
    let mut log_tick = sup.log_ticker();
    let mut config_open = true;
    let result = loop {
        if token.is_cancelled() {
            break Ok(());
        }
        let Some(child) = current.as_ref() else {
            let want = desired.borrow_and_update().clone();
            match sup.start(&want.args, None).await {
                Ok(c) => current = Some(c),
                Err(e) => {
                    if let Err(fatal) = sup.failed(format!("start: {e}")).await {
                        break Err(fatal);
                    }
                }
            }
            continue;
        };
        let (pid, uptime) = (child.pid(), child.uptime());
        let event = tokio::select! {
            _ = token.cancelled() => Event::Cancelled,
            exit = child.wait() => Event::Exited(exit),
            changed = desired.changed(), if config_open => Event::Changed(changed.is_ok()),
            _ = tick(&mut log_tick) => Event::LogTick,
            Some(_) = draining.join_next() => Event::Drained,
            _ = sleep_until(sup.retry) => Event::Retry,
        };
        match event {
            Event::Cancelled => break Ok(()),
            Event::Changed(false) => {
                tracing::error!("the config side stopped; dnscache keeps its current routes");
                config_open = false;
            }
            Event::Exited(exit) => {
                tracing::warn!(pid, %exit, uptime_ms = uptime.as_millis() as u64, "dnscache exited on its own; restarting");
                current = None;
                if uptime > sup.settings.crash_loop_window {
                    sup.backoff = BACKOFF_MIN;
                }
                if let Err(fatal) = sup.failed(format!("pid {pid} ended with {exit}")).await {
                    break Err(fatal);
                }
            }
            Event::Changed(true) => {
                let want = desired.borrow_and_update().clone();
                if !sup.settings.restart_on_change {
                    tracing::info!(cause = %want.cause, "not restarting dnscache (-restartDnsmasq=false); the new routes apply at the next start");
                    continue;
                }
                current = sup.restart(current.take(), &want, &mut draining).await;
            }
            Event::LogTick if child.handles(Signal::SIGUSR1) => child.signal(Signal::SIGUSR1),
            Event::LogTick => {
                tracing::debug!(pid, "dnscache does not handle SIGUSR1; not sending it");
            }
            Event::Drained => {}
            Event::Retry => {
                sup.retry = None;
                desired.mark_changed();
            }
        }
    };
    sup.shutdown(current, draining).await;
    result
}

/// Binds dnscache's `--metrics-port` (on the DNS sockets' address) for every child to
/// inherit; `None` without hand-over or without the flag (the child binds it, as before).
fn bind_metrics(sockets: Option<&Sockets>, args: &[String]) -> Option<std::net::TcpListener> {
    let ip = sockets?.local_addr().ok()?.ip();
    let addr = std::net::SocketAddr::new(ip, metrics_port(args)?);
    let bound = ops::net::bind_http(addr).and_then(|l| {
        use std::os::fd::AsFd;
        nix::fcntl::fcntl(
            l.as_fd(),
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        )
        .map_err(|e| ops::net::BindError {
            what: "http",
            addr,
            source: e.into(),
        })?;
        Ok(l)
    });
    match bound {
        Ok(l) => Some(l),
        Err(e) => {
            tracing::warn!(error = %e, "cannot hold dnscache's metrics port; each child binds it");
            None
        }
    }
}

enum Event {
    Cancelled,
    Exited(Exit),
    Changed(bool),
    LogTick,
    Drained,
    Retry,
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn tick(t: &mut Option<tokio::time::Interval>) {
    match t {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

impl Supervisor {
    fn log_ticker(&self) -> Option<tokio::time::Interval> {
        let every = self.settings.log_interval;
        (!every.is_zero()).then(|| {
            let mut t = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        })
    }

    /// Spawns a child (warmed from `cache_from`, its predecessor's cache pipe) and waits until
    /// it is ready; a child that is not ready is killed.
    async fn start(
        &self,
        args: &[String],
        cache_from: Option<&std::os::fd::OwnedFd>,
    ) -> Result<Child, NotReady> {
        let extras = Extras {
            metrics: self.metrics.as_ref(),
            cache_from,
        };
        let (child, ready) = Child::spawn(
            &self.reaper,
            &self.settings.program,
            args,
            self.sockets.as_ref(),
            extras,
        )?;
        tracing::info!(pid = child.pid(), program = %self.settings.program.display(), ?args, "dnscache started");
        let outcome = tokio::select! {
            r = child.wait_ready(ready, self.settings.ready_timeout) => Some(r),
            _ = self.token.cancelled() => None,
        };
        match outcome {
            // Shutting down: hand it back so that shutdown stops it.
            None => Ok(child),
            Some(Ok(())) => {
                tracing::info!(pid = child.pid(), "dnscache ready");
                Ok(child)
            }
            Some(Err(e)) => {
                tracing::warn!(pid = child.pid(), error = %e, "dnscache did not start");
                child.kill().await;
                Err(e)
            }
        }
    }

    /// Replaces `old` by a child running `want`. Returns the child that serves afterwards.
    async fn restart(
        &mut self,
        old: Option<Child>,
        want: &Desired,
        draining: &mut JoinSet<()>,
    ) -> Option<Child> {
        let Some(old) = old else {
            return self.start(&want.args, None).await.ok();
        };
        if self.sockets.is_none() {
            tracing::info!(old_pid = old.pid(), cause = %want.cause, "restarting dnscache: kill, then respawn (no hand-over)");
            old.kill().await;
            return match self.start(&want.args, None).await {
                Ok(new) => {
                    tracing::info!(old_pid = old.pid(), new_pid = new.pid(), cause = %want.cause, "dnscache restarted");
                    Some(new)
                }
                Err(_) => None,
            };
        }
        match self.start(&want.args, old.cache()).await {
            Ok(new) => {
                self.retry = None;
                self.retry_backoff = BACKOFF_MIN;
                tracing::info!(old_pid = old.pid(), new_pid = new.pid(), cause = %want.cause, "dnscache restarted with hand-over; draining the old one");
                let grace = self.settings.grace;
                draining.spawn(async move {
                    let exit = old.terminate(grace).await;
                    tracing::info!(pid = old.pid(), %exit, "old dnscache stopped");
                });
                Some(new)
            }
            Err(e) => {
                let wait = self.retry_backoff;
                self.retry_backoff = (wait * 2).min(BACKOFF_MAX);
                self.retry = Some(tokio::time::Instant::now() + wait);
                tracing::warn!(pid = old.pid(), cause = %want.cause, error = %e, retry_in_ms = wait.as_millis() as u64, "new dnscache failed; the running one keeps serving the previous routes");
                Some(old)
            }
        }
    }

    /// Counts a failure, gives up on a crash loop, else sleeps the backoff.
    async fn failed(&mut self, what: String) -> Result<(), SuperviseError> {
        let now = Instant::now();
        let window = self.settings.crash_loop_window;
        self.failures.retain(|t| now.duration_since(*t) < window);
        self.failures.push(now);
        if self.failures.len() >= self.settings.crash_loop_max as usize {
            return Err(SuperviseError::CrashLoop {
                failures: self.failures.len(),
                window,
                last: what,
            });
        }
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        tracing::warn!(failure = %what, retry_in_ms = wait.as_millis() as u64, failures = self.failures.len(), "dnscache failed");
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = self.token.cancelled() => {}
        }
        Ok(())
    }

    async fn shutdown(&self, current: Option<Child>, mut draining: JoinSet<()>) {
        let grace = self.settings.grace;
        if let Some(mut child) = current {
            child.no_successor();
            tracing::info!(pid = child.pid(), "stopping dnscache");
            draining.spawn(async move {
                let exit = child.terminate(grace).await;
                tracing::info!(pid = child.pid(), %exit, "dnscache stopped");
            });
        }
        // terminate() is bounded by grace plus the SIGKILL wait.
        ops::shutdown::drain("dnscache children", grace + Duration::from_secs(2), async {
            while draining.join_next().await.is_some() {}
        })
        .await;
        self.reaper.reap_all();
    }
}
