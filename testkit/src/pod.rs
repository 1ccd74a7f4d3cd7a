//! The whole kube-dns pod on loopback for end-to-end tests: kubedns on a manifests source, the
//! nanny running dnscache, the sidecar probing both, each a real process of the workspace's
//! binaries, wired the way `deploy/kube-dns.yaml` wires them (ports apart).

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::bin;
use crate::proc::Proc;

const START: Duration = Duration::from_secs(30);

/// A free TCP port on 127.0.0.1 (bound and released: good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// How to start the pod.
#[derive(Debug, Clone)]
pub struct PodConfig {
    /// `--manifests` of kubedns (file or directory).
    pub manifests: PathBuf,
    /// The nanny's ConfigMap directory.
    pub config_dir: PathBuf,
    /// Default upstream of dnscache (`--server=IP#PORT` + `--no-resolv`); none: resolv.conf.
    pub upstream: Option<SocketAddr>,
    /// Sidecar probe interval, seconds.
    pub probe_interval: u32,
    /// dnscache port (0: any; the nanny reports it).
    pub cache_port: u16,
}

/// The running pod.
pub struct Pod {
    /// kubedns process.
    pub kubedns: Proc,
    /// nanny process (dnscache is its child).
    pub nanny: Proc,
    /// sidecar process.
    pub sidecar: Proc,
    /// kubedns DNS address (udp and tcp).
    pub kubedns_addr: SocketAddr,
    /// kubedns readiness HTTP address.
    pub kubedns_http: SocketAddr,
    /// dnscache DNS address (udp and tcp) as bound by the nanny.
    pub cache_addr: SocketAddr,
    /// sidecar HTTP address.
    pub sidecar_http: SocketAddr,
    cfg: PodConfig,
}

/// Starts kubedns on `manifests`, 127.0.0.1, the given DNS port (0: any).
pub fn start_kubedns(manifests: &Path, dns_port: u16, http_port: u16) -> (Proc, SocketAddr) {
    let mut cmd = Command::new(bin::path("kubedns"));
    cmd.arg(format!("--manifests={}", manifests.display()))
        .args(["--dns-bind-address=127.0.0.1", "--domain=cluster.local."])
        .arg(format!("--dns-port={dns_port}"))
        .arg(format!("--healthz-port={http_port}"))
        .arg(format!("--metrics-port={}", free_port()))
        .arg("--v=2");
    let p = Proc::spawn(cmd).expect("spawn kubedns");
    let addr = p
        .listening("udp", START)
        .expect("kubedns reports its udp address");
    (p, addr)
}

impl Pod {
    /// Starts the three containers and waits until each reports its sockets.
    pub fn start(cfg: PodConfig) -> Pod {
        let kubedns_port = free_port();
        let kubedns_http_port = free_port();
        let (kubedns, kubedns_addr) =
            start_kubedns(&cfg.manifests, kubedns_port, kubedns_http_port);
        let kd = format!("127.0.0.1#{}", kubedns_addr.port());
        let mut cmd = Command::new(bin::path("nanny"));
        cmd.args([
            "-v=2",
            "-logtostderr",
            "-restartDnsmasq=true",
            "-syncInterval=500ms",
        ])
        .arg(format!("-configDir={}", cfg.config_dir.display()))
        .arg(format!("-dnsmasqExec={}", bin::path("dnscache").display()))
        .arg(format!("-kubednsServer={kubedns_addr}"))
        .arg("--")
        .args([
            "-k",
            "--cache-size=1000",
            "--no-negcache",
            "--dns-loop-detect",
            "--log-facility=-",
        ])
        .args([
            "--listen-address=127.0.0.1".to_string(),
            format!("--port={}", cfg.cache_port),
        ])
        .arg(format!("--server=/cluster.local/{kd}"))
        .arg(format!("--server=/in-addr.arpa/{kd}"))
        .arg(format!("--server=/ip6.arpa/{kd}"));
        if let Some(up) = cfg.upstream {
            cmd.arg(format!("--server={}#{}", up.ip(), up.port()))
                .arg("--no-resolv");
        }
        let nanny = Proc::spawn(cmd).expect("spawn nanny");
        let cache_addr = nanny
            .listening("udp", START)
            .expect("nanny reports the cache's udp address");
        nanny.wait_for_line("ready", START);
        let sidecar_port = free_port();
        let iv = cfg.probe_interval;
        let mut cmd = Command::new(bin::path("sidecar"));
        cmd.args(["--v=2", "--logtostderr", "--prometheus-addr=127.0.0.1"])
            .arg(format!("--prometheus-port={sidecar_port}"))
            .arg(format!("--dnsmasq-port={}", cache_addr.port()))
            .arg("--dnsmasq-poll-interval-ms=500")
            .arg(format!(
                "--probe=kubedns,{kubedns_addr},kubernetes.default.svc.cluster.local,{iv},SRV"
            ))
            .arg(format!(
                "--probe=dnsmasq,{cache_addr},kubernetes.default.svc.cluster.local,{iv},SRV"
            ));
        let sidecar = Proc::spawn(cmd).expect("spawn sidecar");
        let sidecar_http = sidecar
            .listening("http", START)
            .expect("sidecar reports its http address");
        let kubedns_http = SocketAddr::from(([127, 0, 0, 1], kubedns_http_port));
        Pod {
            kubedns,
            nanny,
            sidecar,
            kubedns_addr,
            kubedns_http,
            cache_addr,
            sidecar_http,
            cfg,
        }
    }

    /// Stops kubedns (SIGKILL) and leaves it down.
    pub fn stop_kubedns(&mut self) {
        self.kubedns.signal(9);
        self.kubedns.wait_timeout(Duration::from_secs(5));
    }

    /// Starts kubedns again on the same ports.
    pub fn restart_kubedns(&mut self) {
        let (p, addr) = start_kubedns(
            &self.cfg.manifests,
            self.kubedns_addr.port(),
            self.kubedns_http.port(),
        );
        assert_eq!(addr, self.kubedns_addr);
        self.kubedns = p;
    }
}

/// Runs `dig @addr -p port <args> +short +time=2 +tries=1` and returns its stdout lines.
pub fn dig(addr: SocketAddr, args: &[&str]) -> Vec<String> {
    let out = Command::new("dig")
        .arg(format!("@{}", addr.ip()))
        .args([
            "-p",
            &addr.port().to_string(),
            "+short",
            "+time=2",
            "+tries=1",
        ])
        .args(args)
        .output()
        .expect("run dig (Debian package bind9-dnsutils)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect()
}

/// Runs `dig` without `+short` and returns the whole output (for status lines).
pub fn dig_full(addr: SocketAddr, args: &[&str]) -> String {
    let out = Command::new("dig")
        .arg(format!("@{}", addr.ip()))
        .args(["-p", &addr.port().to_string(), "+time=2", "+tries=1"])
        .args(args)
        .output()
        .expect("run dig (Debian package bind9-dnsutils)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// GET `path` on `addr`; returns (status, body). Plain HTTP/1.1 over a std TcpStream.
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// Writes `files` into `dir` the way the kubelet updates a ConfigMap volume: a new timestamped
/// directory, `..data_tmp` pointing at it renamed over `..data`, one symlink per key.
pub fn write_configmap(dir: &Path, files: &[(&str, &str)]) {
    use std::os::unix::fs::symlink;
    std::fs::create_dir_all(dir).expect("configmap dir");
    let stamp = format!(
        "..{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let ts = dir.join(&stamp);
    std::fs::create_dir(&ts).expect("timestamped dir");
    for (k, v) in files {
        std::fs::write(ts.join(k), v).expect("write key");
    }
    let tmp = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    symlink(&stamp, &tmp).expect("..data_tmp");
    std::fs::rename(&tmp, dir.join("..data")).expect("swap ..data");
    for entry in std::fs::read_dir(dir)
        .expect("read configmap dir")
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("..") && name != stamp && name != "..data" {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    // Key symlinks: add the new ones, drop the ones no longer present.
    for entry in std::fs::read_dir(dir)
        .expect("read configmap dir")
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && !files.iter().any(|(k, _)| *k == name) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    for (k, _) in files {
        let link = dir.join(k);
        if std::fs::symlink_metadata(&link).is_err() {
            symlink(format!("..data/{k}"), &link).expect("key symlink");
        }
    }
}
