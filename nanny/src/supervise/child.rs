//! One dnscache process: the sockets it inherits, the ready pipe it reports on, its output
//! re-logged line by line, and its end (SIGTERM, bounded wait, SIGKILL). Knows nothing about
//! configs or restart policy (that is `supervise`).
//!
//! Descriptors reach the child without `unsafe` and without `pre_exec`: the listening sockets
//! have close-on-exec cleared once when bound; the ready pipe's write end has it cleared just
//! before the spawn and is closed in the parent right after, so only that child holds it.

use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tracing::Level;

use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::unix::pipe;

use super::reap::{Exit, ExitWatch, Reaper};

/// The UDP socket and TCP listener the nanny owns and every child inherits.
#[derive(Debug)]
pub struct Sockets {
    /// Bound UDP socket.
    pub udp: std::net::UdpSocket,
    /// Listening TCP socket.
    pub tcp: std::net::TcpListener,
}

impl Sockets {
    /// Binds UDP and TCP on `addr` with the serving layer's rules (a wildcard serves IPv4
    /// and IPv6; port 0 picks one free port for both), inheritable by children.
    pub fn bind(addr: SocketAddr) -> std::io::Result<Sockets> {
        let dns = ops::net::DnsSockets::bind(addr, 1)
            .map_err(|e| std::io::Error::new(e.source.kind(), e.to_string()))?;
        dns.make_inheritable()?;
        let ops::net::DnsSockets { mut udp, tcp } = dns;
        let udp = udp
            .pop()
            .ok_or_else(|| std::io::Error::other("no UDP socket bound"))?;
        Ok(Sockets { udp, tcp })
    }

    /// The bound address (the same port for UDP and TCP).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.udp.local_addr()
    }
}

/// Why a new child did not become ready.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    /// It exited first.
    #[error("exited before reporting ready ({0})")]
    Exited(Exit),
    /// It closed the ready pipe without writing `ready`.
    #[error("closed the ready descriptor without reporting ready")]
    Closed,
    /// It did not report in time.
    #[error("not ready within {0:?}")]
    Timeout(Duration),
    /// Spawning failed.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// The binary.
        program: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A running (or just ended) child.
#[derive(Debug)]
pub struct Child {
    pid: Pid,
    exit: ExitWatch,
    started: Instant,
}

impl Child {
    /// Spawns `program args` (+ descriptor flags) and returns it with the read end of its
    /// ready pipe. Output lines are re-logged.
    pub fn spawn(
        reaper: &Reaper,
        program: &Path,
        args: &[String],
        sockets: Option<&Sockets>,
    ) -> Result<(Child, pipe::Receiver), NotReady> {
        let spawn_err = |source| NotReady::Spawn {
            program: program.display().to_string(),
            source,
        };
        let (read, write) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| spawn_err(e.into()))?;
        fcntl(write.as_fd(), FcntlArg::F_SETFD(FdFlag::empty()))
            .map_err(|e| spawn_err(e.into()))?;
        let mut cmd = Command::new(program);
        cmd.args(args);
        if let Some(s) = sockets {
            cmd.arg(format!("--inherit-udp-fd={}", s.udp.as_raw_fd()))
                .arg(format!("--inherit-tcp-fd={}", s.tcp.as_raw_fd()));
        }
        // The nanny keeps the lame duck itself (it gets the kubelet's SIGTERM); a child it
        // stops must stop at once, or a hand-over would leave old routes answering.
        cmd.arg(format!("--ready-fd={}", write.as_raw_fd()))
            .arg("--lameduck=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let spawned = reaper.spawn(&mut cmd);
        drop(write);
        let (mut std_child, exit) = spawned.map_err(spawn_err)?;
        let pid = Pid::from_raw(std_child.id() as i32);
        if let Some(out) = std_child.stdout.take() {
            relay(pid, tokio::process::ChildStdout::from_std(out));
        }
        if let Some(err) = std_child.stderr.take() {
            relay(pid, tokio::process::ChildStderr::from_std(err));
        }
        let ready = pipe::Receiver::from_owned_fd(read).map_err(spawn_err);
        let child = Child {
            pid,
            exit,
            started: Instant::now(),
        };
        match ready {
            Ok(r) => Ok((child, r)),
            Err(e) => {
                child.signal(Signal::SIGKILL);
                Err(e)
            }
        }
    }

    /// Its pid.
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// How long it has been running.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Waits until it has exited.
    pub async fn wait(&self) -> Exit {
        let mut rx = self.exit.clone();
        loop {
            if let Some(e) = *rx.borrow_and_update() {
                return e;
            }
            if rx.changed().await.is_err() {
                // The reaper is gone (shutting down): report it as killed.
                return Exit::Signal(Signal::SIGKILL);
            }
        }
    }

    /// Sends `sig` unless it has already been reaped (its pid may belong to someone else).
    pub fn signal(&self, sig: Signal) {
        if self.exit.borrow().is_none()
            && let Err(e) = kill(self.pid, sig)
        {
            tracing::debug!(pid = self.pid(), %sig, error = %e, "kill failed");
        }
    }

    /// Whether it catches or ignores `sig` (from `/proc/<pid>/status`). Signals with a
    /// default action of "terminate" (SIGUSR1) must not be sent to a child that would die of
    /// them.
    pub fn handles(&self, sig: Signal) -> bool {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", self.pid)) else {
            return false;
        };
        let bit = 1u64 << (sig as i32 - 1);
        status.lines().any(|l| {
            let mask = l
                .strip_prefix("SigCgt:")
                .or_else(|| l.strip_prefix("SigIgn:"));
            mask.and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
                .is_some_and(|m| m & bit != 0)
        })
    }

    /// Waits for `ready` on the pipe, at most `timeout`, failing early when the child exits.
    pub async fn wait_ready(
        &self,
        mut ready: pipe::Receiver,
        timeout: Duration,
    ) -> Result<(), NotReady> {
        let read = async {
            let mut buf = Vec::new();
            let _ = (&mut ready).take(64).read_to_end(&mut buf).await;
            buf
        };
        tokio::select! {
            buf = read => {
                if buf.starts_with(b"ready") {
                    Ok(())
                } else {
                    // EOF: it closed the pipe or died; prefer the exit status if it comes.
                    match tokio::time::timeout(Duration::from_millis(200), self.wait()).await {
                        Ok(exit) => Err(NotReady::Exited(exit)),
                        Err(_) => Err(NotReady::Closed),
                    }
                }
            }
            exit = self.wait() => Err(NotReady::Exited(exit)),
            _ = tokio::time::sleep(timeout) => Err(NotReady::Timeout(timeout)),
        }
    }

    /// SIGTERM, wait at most `grace`, then SIGKILL and wait. Returns how it ended.
    pub async fn terminate(&self, grace: Duration) -> Exit {
        self.signal(Signal::SIGTERM);
        if let Ok(exit) = tokio::time::timeout(grace, self.wait()).await {
            return exit;
        }
        tracing::warn!(
            pid = self.pid(),
            grace_ms = grace.as_millis() as u64,
            "dnscache did not stop in time; SIGKILL"
        );
        self.kill().await
    }

    /// SIGKILL and wait.
    pub async fn kill(&self) -> Exit {
        self.signal(Signal::SIGKILL);
        self.wait().await
    }
}

fn relay<R>(pid: Pid, stream: std::io::Result<R>)
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    let Ok(stream) = stream else {
        return;
    };
    let pid = pid.as_raw();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let (level, msg) = split_log_line(&line);
            match level {
                Level::ERROR => tracing::error!(child = pid, "{msg}"),
                Level::WARN => tracing::warn!(child = pid, "{msg}"),
                Level::DEBUG => tracing::debug!(child = pid, "{msg}"),
                Level::TRACE => tracing::trace!(child = pid, "{msg}"),
                _ => tracing::info!(child = pid, "{msg}"),
            }
        }
    });
}

/// A dnscache log line (`<RFC 3339 time>  <LEVEL> <message>`, tracing's format) without its
/// timestamp, at its own level, so re-logging does not stamp it twice. Anything else (a panic
/// message, output of another program) is relayed whole at `info`.
fn split_log_line(line: &str) -> (Level, &str) {
    let mut parts = line.trim_start().splitn(2, char::is_whitespace);
    let (Some(stamp), Some(rest)) = (parts.next(), parts.next()) else {
        return (Level::INFO, line);
    };
    if !(stamp.len() >= 20 && stamp.ends_with('Z') && stamp.as_bytes().get(4) == Some(&b'-')) {
        return (Level::INFO, line);
    }
    let rest = rest.trim_start();
    let (word, msg) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    match word.parse::<Level>() {
        Ok(level) => (level, msg.trim_start()),
        Err(_) => (Level::INFO, rest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_log_lines_lose_their_timestamp_and_keep_their_level() {
        for (line, level, msg) in [
            (
                "2026-11-26T10:45:39.813583Z  WARN ignoring dnsmasq option --log-facility",
                Level::WARN,
                "ignoring dnsmasq option --log-facility",
            ),
            (
                "2026-11-26T10:45:39.819282Z  INFO listening on udp 127.0.0.1:5399",
                Level::INFO,
                "listening on udp 127.0.0.1:5399",
            ),
            (
                "2026-11-26T10:45:39.819282Z ERROR boom",
                Level::ERROR,
                "boom",
            ),
            (
                "thread 'main' panicked at src/main.rs:1:1",
                Level::INFO,
                "thread 'main' panicked at src/main.rs:1:1",
            ),
            (
                "2026-11-26T10:45:39.819282Z  no level here",
                Level::INFO,
                "no level here",
            ),
            ("", Level::INFO, ""),
        ] {
            assert_eq!(split_log_line(line), (level, msg), "{line}");
        }
    }
}
