//! The pod the soak runs, and the kubelet's part: kubedns with the kube source against the
//! fake API server, the nanny running dnscache on a ConfigMap directory, and the sidecar probing
//! both, as `deploy/kube-dns.yaml` wires them (loopback, fixed free ports so a restarted
//! container gets the same ones). A container that exits is started again (restartPolicy
//! Always: at once the first time, then 10 s doubling up to 5 min, reset after 10 min up).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::cluster::{CLUSTER_TTL, REVERSE_CIDR};
use super::record::{Recorder, Sample};
use crate::pod::{free_port, http_get};
use crate::proc::Proc;
use crate::procfs::{children_of, usage};

const START: Duration = Duration::from_secs(60);
const BACKOFF_FIRST: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
const BACKOFF_RESET: Duration = Duration::from_secs(600);

/// Where the containers' binaries and inputs are.
#[derive(Debug, Clone)]
pub struct PodSpec {
    /// Directory of the four binaries; `None`: the debug build (`testkit::bin::path`).
    pub bin_dir: Option<PathBuf>,
    /// The fake API server's URL.
    pub api_url: String,
    /// The nanny's ConfigMap directory.
    pub config_dir: PathBuf,
    /// dnscache's default upstream.
    pub upstream: SocketAddr,
    /// An empty resolv file for dnscache: upstreams come from `--server` only, and none from
    /// the machine's resolv.conf (whose nameservers are not on loopback).
    pub resolv_file: PathBuf,
}

/// The ports the pod uses (fixed for the run).
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    /// kubedns DNS (udp and tcp).
    pub kubedns_dns: SocketAddr,
    /// kubedns `/readiness`.
    pub kubedns_http: SocketAddr,
    /// dnscache DNS (udp and tcp), bound by the nanny.
    pub cache: SocketAddr,
    /// Sidecar HTTP.
    pub sidecar_http: SocketAddr,
}

fn binary(dir: &Option<PathBuf>, name: &str) -> PathBuf {
    match dir {
        Some(d) => d.join(name),
        None => crate::bin::path(name),
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// One container.
struct Container {
    name: &'static str,
    program: PathBuf,
    args: Vec<String>,
    proc: Option<Proc>,
    started: Instant,
    restarts: u32,
    backoff: Duration,
    restart_at: Option<Instant>,
}

impl Container {
    fn new(name: &'static str, program: PathBuf, args: Vec<String>) -> Container {
        Container {
            name,
            program,
            args,
            proc: None,
            started: Instant::now(),
            restarts: 0,
            backoff: Duration::ZERO,
            restart_at: None,
        }
    }

    fn start(&mut self) -> std::io::Result<()> {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args);
        self.proc = Some(Proc::spawn_quiet(cmd)?);
        self.started = Instant::now();
        Ok(())
    }
}

/// What the kubelet did (for the report).
#[derive(Debug, Clone)]
pub struct Restart {
    /// When the exit was noticed.
    pub at: Instant,
    /// Container name.
    pub container: &'static str,
    /// How it ended.
    pub exit: String,
}

/// The running pod and its kubelet.
pub struct Kubelet {
    containers: Vec<Container>,
    /// The pod's ports.
    pub ports: Ports,
    /// Every restart so far.
    pub restarts: Vec<Restart>,
}

impl Kubelet {
    /// Starts the three containers and waits until each reports its sockets.
    pub fn start(spec: &PodSpec) -> std::io::Result<Kubelet> {
        let ports = Ports {
            kubedns_dns: loopback(free_port()),
            kubedns_http: loopback(free_port()),
            cache: loopback(free_port()),
            sidecar_http: loopback(free_port()),
        };
        let kd = ports.kubedns_dns;
        let kubedns = vec![
            format!("--kube-master-url={}", spec.api_url),
            "--dns-bind-address=127.0.0.1".into(),
            format!("--dns-port={}", kd.port()),
            format!("--healthz-port={}", ports.kubedns_http.port()),
            format!("--metrics-port={}", free_port()),
            "--domain=cluster.local.".into(),
            format!("--ttl={CLUSTER_TTL}"),
            format!("--reverse-cidrs={REVERSE_CIDR}"),
            "--v=1".into(),
        ];
        let kds = format!("127.0.0.1#{}", kd.port());
        let up = spec.upstream;
        let mut nanny: Vec<String> = ["-v=1", "-logtostderr", "-restartDnsmasq=true"]
            .map(String::from)
            .to_vec();
        nanny.extend([
            format!("-configDir={}", spec.config_dir.display()),
            format!(
                "-dnsmasqExec={}",
                binary(&spec.bin_dir, "dnscache").display()
            ),
            format!("-kubednsServer={kd}"),
            "--".into(),
            "-k".into(),
            "--cache-size=1000".into(),
            "--no-negcache".into(),
            "--dns-loop-detect".into(),
            "--log-facility=-".into(),
            "--serve-stale".into(),
            "--listen-address=127.0.0.1".into(),
            format!("--port={}", ports.cache.port()),
            format!("--server=/cluster.local/{kds}"),
            format!("--server=/in-addr.arpa/{kds}"),
            format!("--server=/ip6.arpa/{kds}"),
            format!("--server={}#{}", up.ip(), up.port()),
            // Not `--no-resolv`: the nanny adds it with upstreamNameservers, and dnscache
            // refuses it twice.
            format!("--resolv-file={}", spec.resolv_file.display()),
        ]);
        let probe = "dual.soak.svc.cluster.local,1,A";
        let sidecar = vec![
            "--v=1".into(),
            "--logtostderr".into(),
            "--prometheus-addr=127.0.0.1".into(),
            format!("--prometheus-port={}", ports.sidecar_http.port()),
            format!("--dnsmasq-port={}", ports.cache.port()),
            format!("--probe=kubedns,{kd},{probe}"),
            format!("--probe=dnsmasq,{},{probe}", ports.cache),
        ];
        let mut k = Kubelet {
            containers: vec![
                Container::new("kubedns", binary(&spec.bin_dir, "kubedns"), kubedns),
                Container::new("nanny", binary(&spec.bin_dir, "nanny"), nanny),
                Container::new("sidecar", binary(&spec.bin_dir, "sidecar"), sidecar),
            ],
            ports,
            restarts: Vec::new(),
        };
        for c in &mut k.containers {
            c.start()?;
            let proto = if c.name == "sidecar" { "http" } else { "udp" };
            let p = c.proc.as_ref().map(|p| p.listening(proto, START));
            if p.flatten().is_none() {
                return Err(std::io::Error::other(format!(
                    "{} did not report its {proto} address; last lines: {:?}",
                    c.name,
                    c.proc.as_ref().map(|p| last_lines(p, 20))
                )));
            }
        }
        Ok(k)
    }

    /// Restarts what exited (call every few tens of milliseconds).
    pub fn tick(&mut self, now: Instant) {
        for c in &mut self.containers {
            if let Some(p) = c.proc.as_mut()
                && let Some(status) = p.try_exit()
            {
                self.restarts.push(Restart {
                    at: now,
                    container: c.name,
                    exit: status.to_string(),
                });
                c.proc = None;
                if now.duration_since(c.started) > BACKOFF_RESET {
                    c.backoff = Duration::ZERO;
                }
                c.restart_at = Some(now + c.backoff);
                c.backoff = (c.backoff * 2).clamp(BACKOFF_FIRST, BACKOFF_MAX);
            }
            if c.proc.is_none() && c.restart_at.is_some_and(|t| now >= t) {
                c.restart_at = None;
                c.restarts += 1;
                let _ = c.start();
            }
        }
    }

    /// The pid of `container` while it runs.
    pub fn pid(&self, container: &str) -> Option<u32> {
        self.containers
            .iter()
            .find(|c| c.name == container)?
            .proc
            .as_ref()
            .map(Proc::pid)
    }

    /// Restarts per container.
    pub fn restart_counts(&self) -> Vec<(&'static str, u32)> {
        self.containers
            .iter()
            .map(|c| (c.name, c.restarts))
            .collect()
    }

    /// The last `n` log lines of `container`.
    pub fn last_lines(&self, container: &str, n: usize) -> Vec<String> {
        self.containers
            .iter()
            .find(|c| c.name == container)
            .and_then(|c| c.proc.as_ref())
            .map(|p| last_lines(p, n))
            .unwrap_or_default()
    }
}

impl Drop for Kubelet {
    /// SIGTERM to every container at once; each `Proc` then ends its lame duck with a second
    /// SIGTERM and reaps it, so the pod stops in parallel rather than one lame duck after another.
    fn drop(&mut self) {
        for p in self.containers.iter().filter_map(|c| c.proc.as_ref()) {
            p.signal(15);
        }
    }
}

fn last_lines(p: &Proc, n: usize) -> Vec<String> {
    let l = p.lines();
    l[l.len().saturating_sub(n)..].to_vec()
}

/// Whether kubedns's `/readiness` answers 200.
pub fn kubedns_ready(ports: &Ports) -> bool {
    http_get(ports.kubedns_http, "/readiness").is_ok_and(|(code, _)| code == 200)
}

/// Writes the nanny's ConfigMap keys kubelet-style (see [`crate::pod::write_configmap`]).
pub fn write_config(dir: &Path, stub: &str, upstreams: &str) {
    crate::pod::write_configmap(
        dir,
        &[("stubDomains", stub), ("upstreamNameservers", upstreams)],
    );
}

/// A process is sampled only after it has run this long: one just started (a restarted
/// container, the nanny's new dnscache during a hand-over) has not opened its sockets yet, and
/// counting it would read as a drop, then a rise, of descriptors that is no drift at all.
const SETTLE: Duration = Duration::from_secs(2);

/// The pids seen so far per process, with when each was first seen.
#[derive(Debug, Default)]
struct Seen(Vec<(&'static str, u32, Instant)>);

impl Seen {
    /// Whether `pid` of `process` has been seen for at least [`SETTLE`].
    fn settled(&mut self, process: &'static str, pid: u32, now: Instant) -> bool {
        match self.0.iter_mut().find(|(p, ..)| *p == process) {
            Some((_, seen, since)) if *seen == pid => now.duration_since(*since) >= SETTLE,
            Some(entry) => {
                *entry = (process, pid, now);
                false
            }
            None => {
                self.0.push((process, pid, now));
                false
            }
        }
    }
}

/// The kubelet loop: restarts exited containers every 20 ms and samples each settled
/// process's RSS and open descriptors every second, until `stop`. dnscache is sampled only
/// while it is the nanny's one child (during a hand-over the old and the new run side by side).
pub fn watch_pod(k: &Mutex<Kubelet>, rec: &Mutex<Recorder>, stop: &AtomicBool) {
    let mut next_sample = Instant::now();
    let mut seen = Seen::default();
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        let pids = {
            let mut k = k.lock().unwrap_or_else(|e| e.into_inner());
            k.tick(now);
            ["kubedns", "nanny", "sidecar"].map(|c| k.pid(c))
        };
        if now >= next_sample {
            next_sample += Duration::from_secs(1);
            let cache = pids[1].and_then(|nanny| match children_of(nanny).as_slice() {
                [one] => Some(*one),
                _ => None,
            });
            let procs = [
                ("kubedns", pids[0]),
                ("nanny", pids[1]),
                ("dnscache", cache),
                ("sidecar", pids[2]),
            ];
            let mut rec = rec.lock().unwrap_or_else(|e| e.into_inner());
            let at = rec.offset(now);
            for (process, pid) in procs {
                let Some(pid) = pid.filter(|&pid| seen.settled(process, pid, now)) else {
                    continue;
                };
                if let Some(usage) = usage(pid) {
                    rec.samples.push(Sample { at, process, usage });
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_is_sampled_once_it_has_settled() {
        let t0 = Instant::now();
        let mut seen = Seen::default();
        assert!(!seen.settled("dnscache", 10, t0));
        assert!(!seen.settled("dnscache", 10, t0 + Duration::from_secs(1)));
        assert!(seen.settled("dnscache", 10, t0 + SETTLE));
        assert!(!seen.settled("kubedns", 11, t0 + SETTLE), "its own clock");
        // A new pid (restart, hand-over) starts settling again.
        assert!(!seen.settled("dnscache", 12, t0 + SETTLE));
        assert!(seen.settled("dnscache", 12, t0 + SETTLE * 2));
    }
}
