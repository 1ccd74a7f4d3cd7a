//! A child process under test: its stdout and stderr lines are captured (and echoed to the
//! test's stderr for failure diagnosis), `listening on <proto> <addr>` lines give the bound
//! addresses, and the process is stopped (SIGTERM, again after 5 s, SIGKILL after 10 s) and
//! reaped on drop.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A running child process with captured output.
pub struct Proc {
    child: Child,
    name: String,
    lines: Arc<(Mutex<Vec<String>>, Condvar)>,
}

impl Proc {
    /// Spawns `cmd` with piped stdout/stderr, echoing each line to this process's stderr.
    pub fn spawn(cmd: Command) -> std::io::Result<Proc> {
        Self::spawn_with(cmd, true)
    }

    /// Spawns `cmd` with piped stdout/stderr; lines are kept but not echoed (long runs).
    pub fn spawn_quiet(cmd: Command) -> std::io::Result<Proc> {
        Self::spawn_with(cmd, false)
    }

    fn spawn_with(mut cmd: Command, echo: bool) -> std::io::Result<Proc> {
        let name = cmd
            .get_program()
            .to_string_lossy()
            .rsplit('/')
            .next()
            .unwrap_or("proc")
            .to_string();
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        let mut child = cmd.spawn()?;
        let lines = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let out = child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>);
        let err = child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>);
        for stream in [out, err].into_iter().flatten() {
            let lines = lines.clone();
            let name = name.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if echo {
                        eprintln!("[{name}] {line}");
                    }
                    let (l, cv) = &*lines;
                    l.lock().unwrap().push(line);
                    cv.notify_all();
                }
            });
        }
        Ok(Proc { child, name, lines })
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// All lines seen so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.0.lock().unwrap().clone()
    }

    /// Waits until a line containing `needle` appears (or was seen before); returns it.
    pub fn wait_for_line(&self, needle: &str, timeout: Duration) -> Option<String> {
        self.wait_for(timeout, |l| l.contains(needle).then(|| l.to_string()))
    }

    /// Waits for the first line matching `f`.
    pub fn wait_for<T>(&self, timeout: Duration, f: impl Fn(&str) -> Option<T>) -> Option<T> {
        self.wait_for_all(timeout, |lines| lines.iter().find_map(|l| f(l)))
    }

    /// Waits until `f` over all lines seen so far returns `Some`.
    pub fn wait_for_all<T>(
        &self,
        timeout: Duration,
        f: impl Fn(&[String]) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let (l, cv) = &*self.lines;
        let mut guard = l.lock().unwrap();
        loop {
            if let Some(found) = f(&guard) {
                return Some(found);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            guard = cv.wait_timeout(guard, deadline - now).unwrap().0;
        }
    }

    /// The address of the first `listening on <proto> <addr>` line.
    pub fn listening(&self, proto: &str, timeout: Duration) -> Option<SocketAddr> {
        self.listening_all(proto, 1, timeout)
            .and_then(|v| v.into_iter().next())
    }

    /// The addresses of the `listening on <proto> <addr>` lines, once at least `n` appeared.
    pub fn listening_all(
        &self,
        proto: &str,
        n: usize,
        timeout: Duration,
    ) -> Option<Vec<SocketAddr>> {
        let needle = format!("listening on {proto} ");
        self.wait_for_all(timeout, |lines| {
            let all: Vec<SocketAddr> = lines
                .iter()
                .filter_map(|l| parse_listening(l, &needle))
                .collect();
            (all.len() >= n).then_some(all)
        })
    }

    /// Sends signal `signo` (e.g. `libc::SIGTERM` = 15) to the child.
    pub fn signal(&self, signo: i32) {
        let _ = Command::new("kill")
            .arg(format!("-{signo}"))
            .arg(self.pid().to_string())
            .status();
    }

    /// Waits at most `timeout` for the child to exit.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The exit status, if the child has exited (it is reaped then).
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The program name (for messages).
    pub fn name(&self) -> &str {
        &self.name
    }
}

fn parse_listening(line: &str, needle: &str) -> Option<SocketAddr> {
    let rest = &line[line.find(needle)? + needle.len()..];
    let token = rest.split_whitespace().next()?;
    token.trim_matches(|c| c == '"' || c == ',').parse().ok()
}

impl Drop for Proc {
    /// SIGTERM first, so a supervisor (the nanny) stops its own children too; a second SIGTERM
    /// after 5 s ends a lame duck early; SIGKILL when it has still not exited 5 s later. A
    /// supervisor killed outright would leave its children running.
    fn drop(&mut self) {
        for _ in 0..2 {
            if let Ok(None) = self.child.try_wait() {
                self.signal(15);
                if self.wait_timeout(Duration::from_secs(5)).is_some() {
                    break;
                }
            }
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Whether this process runs as root (network and mount namespaces in tests need it; CI
/// runs as root).
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_listening_lines() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo 'INFO listening on udp 127.0.0.1:4053'; echo 'x listening on tcp [::1]:53 more' >&2; sleep 5"]);
        let p = Proc::spawn(cmd).unwrap();
        assert_eq!(
            p.listening("udp", Duration::from_secs(5)),
            Some("127.0.0.1:4053".parse().unwrap())
        );
        assert_eq!(
            p.listening("tcp", Duration::from_secs(5)),
            Some("[::1]:53".parse().unwrap())
        );
        assert_eq!(p.listening("http", Duration::from_millis(100)), None);
    }

    #[test]
    fn drop_ends_a_lame_duck_with_a_second_sigterm_before_sigkill() {
        // Like a server in its lame duck: the first SIGTERM is noted, the second one ends it.
        let dir = tempfile::tempdir().unwrap();
        let script = "trap 'if [ -e first ]; then touch second; exit 0; fi; touch first' TERM; \
                      echo ready; while :; do sleep 0.05; done";
        let mut cmd = Command::new("sh");
        cmd.current_dir(dir.path()).args(["-c", script]);
        let p = Proc::spawn(cmd).unwrap();
        assert!(p.wait_for_line("ready", Duration::from_secs(5)).is_some());
        drop(p);
        assert!(dir.path().join("first").exists());
        assert!(
            dir.path().join("second").exists(),
            "SIGKILLed without a second SIGTERM"
        );
    }
}
