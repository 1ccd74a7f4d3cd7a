//! Private helpers of the nanny's process tests: start the real nanny running the real
//! dnscache on 127.0.0.1 port 0, mock stub and default upstreams, and small DNS checks.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use hickory_proto::rr::{RData, RecordType};
use testkit::proc::Proc;
use testkit::upstream::{MockUpstream, Reply, reply_a};

/// Generous bound for anything that should take well under a second.
pub const BOUND: Duration = Duration::from_secs(20);

/// A mock upstream answering every A query with `ip`.
pub async fn mock(ip: Ipv4Addr) -> MockUpstream {
    MockUpstream::start(move |req| Reply::Msg(reply_a(req, ip, 0))).await
}

/// The kube-dns manifest's nanny arguments (`deploy/kube-dns.yaml`), with `-configDir`, the binary,
/// a short sync interval, and dnscache on 127.0.0.1 port 0 with `default` as its upstream.
pub fn nanny_cmd(config_dir: &Path, default: SocketAddr, extra: &[&str]) -> Command {
    nanny_cmd_port(config_dir, default, extra, 0)
}

/// [`nanny_cmd`] with dnscache's `--port`.
pub fn nanny_cmd_port(
    config_dir: &Path,
    default: SocketAddr,
    extra: &[&str],
    port: u16,
) -> Command {
    let mut cmd = Command::new(testkit::bin::path("nanny"));
    cmd.args(["-v=2", "-logtostderr"])
        .arg(format!("-configDir={}", config_dir.display()))
        .arg("-restartDnsmasq=true")
        .arg("-syncInterval=200ms")
        .arg(format!(
            "-dnsmasqExec={}",
            testkit::bin::path("dnscache").display()
        ))
        .args(extra)
        .arg("--")
        .args([
            "-k",
            "--cache-size=1000",
            "--no-negcache",
            "--dns-loop-detect",
            "--log-facility=-",
        ])
        .args([
            "--server=/cluster.local/127.0.0.1#10053",
            "--server=/in-addr.arpa/127.0.0.1#10053",
        ])
        .args([
            "--server=/ip6.arpa/127.0.0.1#10053",
            "--listen-address=127.0.0.1",
        ])
        .arg(format!("--port={port}"))
        .arg(format!("--server={}#{}", default.ip(), default.port()))
        .arg("--no-resolv")
        .arg("--upstream-timeout-ms=500");
    cmd
}

/// Starts the nanny; returns it with the cache address once the first child is ready.
pub fn start(cmd: Command) -> (Proc, SocketAddr) {
    let p = Proc::spawn(cmd).expect("spawn nanny");
    let addr = p
        .listening("udp", BOUND)
        .expect("nanny reports its udp address");
    p.wait_for_line("dnscache ready", BOUND)
        .expect("dnscache becomes ready");
    (p, addr)
}

/// The A answer for `name` through `addr`, if any.
pub async fn a(addr: SocketAddr, name: &str) -> Option<Ipv4Addr> {
    let reply = testkit::dns::query(addr, name, RecordType::A).await.ok()?;
    reply.answers.iter().find_map(|r| match &r.data {
        RData::A(a) => Some(a.0),
        _ => None,
    })
}

/// Polls fresh names `<n>.<domain>` until one answers `want` (names change so the cache
/// cannot answer from an earlier route).
pub async fn eventually_routes(addr: SocketAddr, domain: &str, want: Ipv4Addr) -> bool {
    let mut n = 0u32;
    testkit::dns::eventually(BOUND, || {
        n += 1;
        let name = format!("q{n}-{}.{domain}.", std::process::id());
        async move { (a(addr, &name).await == Some(want)).then_some(()) }
    })
    .await
    .is_some()
}

/// The pids of the "dnscache ready pid=N" lines so far.
pub fn ready_pids(lines: &[String]) -> Vec<i32> {
    lines
        .iter()
        .filter(|l| l.contains("dnscache ready"))
        .filter_map(|l| {
            l.split("pid=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

/// Waits until at least `n` children have reported ready; returns the newest pid.
pub fn wait_ready_count(p: &Proc, n: usize) -> i32 {
    p.wait_for_all(BOUND, |lines| {
        let pids = ready_pids(lines);
        (pids.len() >= n).then(|| pids[pids.len() - 1])
    })
    .unwrap_or_else(|| panic!("fewer than {n} dnscache children became ready"))
}

/// Lines containing `needle`.
pub fn count(p: &Proc, needle: &str) -> usize {
    p.lines().iter().filter(|l| l.contains(needle)).count()
}

/// Whether `pid` still exists (a zombie counts as existing).
pub fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}
