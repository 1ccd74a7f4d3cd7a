//! One dnscache process: the sockets it inherits, the ready pipe it reports on, its output
//! re-logged line by line, and its end (SIGTERM, bounded wait, SIGKILL). Knows nothing about
//! configs or restart policy (that is `supervise`).
//!
//! Descriptors reach the child without `unsafe` and without `pre_exec`: the listening sockets
//! have close-on-exec cleared once when bound; the ready pipe's and the cache pipe's write
//! ends have it cleared just before the spawn and are closed in the parent right after, so
//! only that child holds them. The previous child's cache pipe read end is inheritable only
//! for the duration of the spawn.

use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
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

/// What a child inherits besides the DNS sockets (hand-over mode only).
#[derive(Debug, Default, Clone, Copy)]
pub struct Extras<'a> {
    /// The `/metrics` listener the nanny holds; replaces the child's `--metrics-port`.
    pub metrics: Option<&'a std::net::TcpListener>,
    /// The read end of the previous child's cache pipe (`--cache-load-fd`).
    pub cache_from: Option<&'a OwnedFd>,
}

/// A running (or just ended) child.
#[derive(Debug)]
pub struct Child {
    pid: Pid,
    exit: ExitWatch,
    started: Instant,
    /// Read end of the pipe it writes its cache to on SIGTERM (for its successor).
    cache: Option<OwnedFd>,
}

fn inheritable(fd: &impl AsFd, yes: bool) -> std::io::Result<()> {
    let flags = if yes {
        FdFlag::empty()
    } else {
        FdFlag::FD_CLOEXEC
    };
    fcntl(fd.as_fd(), FcntlArg::F_SETFD(flags))?;
    Ok(())
}

/// `args` without `--metrics-port` (`=N` or ` N`): the child serves the inherited listener.
fn without_metrics_port(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut skip = false;
    for a in args {
        if std::mem::take(&mut skip) {
            continue;
        }
        if a == "--metrics-port" {
            skip = true;
        } else if !a.starts_with("--metrics-port=") {
            out.push(a.clone());
        }
    }
    out
}

/// The `--metrics-port` among dnscache's `args`, if any.
pub fn metrics_port(args: &[String]) -> Option<u16> {
    args.iter().enumerate().find_map(|(i, a)| {
        let v = match a.strip_prefix("--metrics-port") {
            Some("") => args.get(i + 1)?.as_str(),
            Some(rest) => rest.strip_prefix('=')?,
            None => return None,
        };
        v.parse().ok()
    })
}

impl Child {
    /// Spawns `program args` (+ descriptor flags) and returns it with the read end of its
    /// ready pipe. Output lines are re-logged.
    pub fn spawn(
        reaper: &Reaper,
        program: &Path,
        args: &[String],
        sockets: Option<&Sockets>,
        extras: Extras<'_>,
    ) -> Result<(Child, pipe::Receiver), NotReady> {
        let spawn_err = |source| NotReady::Spawn {
            program: program.display().to_string(),
            source,
        };
        let (read, write) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| spawn_err(e.into()))?;
        inheritable(&write, true).map_err(spawn_err)?;
        let mut cmd = Command::new(program);
        let mut cache = None;
        let mut cache_write = None;
        if let Some(s) = sockets {
            match extras.metrics {
                Some(l) => {
                    cmd.args(without_metrics_port(args))
                        .arg(format!("--inherit-metrics-fd={}", l.as_raw_fd()));
                }
                None => {
                    cmd.args(args);
                }
            }
            cmd.arg(format!("--inherit-udp-fd={}", s.udp.as_raw_fd()))
                .arg(format!("--inherit-tcp-fd={}", s.tcp.as_raw_fd()));
            let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| spawn_err(e.into()))?;
            inheritable(&w, true).map_err(spawn_err)?;
            cmd.arg(format!("--cache-dump-fd={}", w.as_raw_fd()));
            (cache, cache_write) = (Some(r), Some(w));
            if let Some(from) = extras.cache_from {
                inheritable(from, true).map_err(spawn_err)?;
                cmd.arg(format!("--cache-load-fd={}", from.as_raw_fd()));
            }
        } else {
            cmd.args(args);
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
        drop(cache_write);
        if let Some(from) = extras.cache_from
            && let Err(e) = inheritable(from, false)
        {
            tracing::warn!(error = %e, "cannot make the cache pipe private again");
        }
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
            cache,
        };
        match ready {
            Ok(r) => Ok((child, r)),
            Err(e) => {
                child.signal(Signal::SIGKILL);
                Err(e)
            }
        }
    }

    /// The read end of the pipe it hands its cache over on (for its successor).
    pub fn cache(&self) -> Option<&OwnedFd> {
        self.cache.as_ref()
    }

    /// Closes our end of its cache pipe: with no successor to read it, its hand-over fails at
    /// once instead of waiting for a reader.
    pub fn no_successor(&mut self) {
        self.cache = None;
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
    fn the_metrics_port_flag_is_found_and_replaced() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for (given, port, rest) in [
            (
                args(&["-k", "--metrics-port=9153"]),
                Some(9153),
                args(&["-k"]),
            ),
            (
                args(&["--metrics-port", "9153", "-k"]),
                Some(9153),
                args(&["-k"]),
            ),
            (
                args(&["-k", "--metrics-portx=1"]),
                None,
                args(&["-k", "--metrics-portx=1"]),
            ),
            (args(&["-k"]), None, args(&["-k"])),
        ] {
            assert_eq!(metrics_port(&given), port, "{given:?}");
            if port.is_some() {
                assert_eq!(without_metrics_port(&given), rest, "{given:?}");
            }
        }
    }

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
