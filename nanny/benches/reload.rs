//! Reload benchmark (queries lost per ConfigMap change): a bounded UDP query load through the cache while the
//! ConfigMap changes N times, with the socket hand-over and without it (dnsmasq-nanny's kill
//! and respawn). Reports queries sent / answered / failed / lost, and the time from each
//! `..data` swap to the new route answering (p50 / p99 / max).
//!
//! Modes `warm` and `cold` measure the cache across one change instead: the same load over
//! 2,000 names until they are cached, then a change that adds a stub domain, and the queries
//! the default upstream gets in the 5 s after it (with the warm cache hand-over, and with
//! `--cache-handover=false`).
//!
//! Run through `benches/reload.sh` (release binaries). Settings from the environment:
//! `QPS` (2000), `CHANGES` (20), `GAP_MS` (500, between changes), `MODES`
//! (`handover,kill,warm,cold`),
//! `NANNY_BIN`, `DNSCACHE_BIN` (default: `$CARGO_TARGET_DIR/release/{nanny,dnscache}`).
//! Everything binds 127.0.0.1; the load stops by itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RData, RecordType};
use testkit::pod::{free_port, write_configmap};
use testkit::proc::Proc;
use testkit::upstream::{MockUpstream, Reply, reply_a};
use tokio::net::UdpSocket;
use tokio::sync::Mutex;

const STUB_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const DEFAULT_IP: Ipv4Addr = Ipv4Addr::new(10, 9, 9, 9);
const LOST_AFTER: Duration = Duration::from_secs(2);
const SOCKETS: usize = 4;

fn env_or<T: std::str::FromStr>(k: &str, d: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn bin(var: &str, name: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var) {
        return p.into();
    }
    testkit::bin::target_dir().join("release").join(name)
}

#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    ok: AtomicU64,
    failed: AtomicU64,
}

fn query(id: u16, name: &str) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = id;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    m.to_vec().unwrap()
}

/// Fixed-rate sender plus receiver on `SOCKETS` sockets; returns (sent, ok, failed, lost).
async fn load(addr: SocketAddr, qps: u64, stop: Arc<AtomicBool>) -> (u64, u64, u64, u64) {
    let counts = Arc::new(Counts::default());
    let mut tasks = Vec::new();
    for s in 0..SOCKETS {
        let sock = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let pending: Arc<Mutex<HashMap<u16, Instant>>> = Arc::default();
        let (sock2, pending2, counts2, stop2) =
            (sock.clone(), pending.clone(), counts.clone(), stop.clone());
        let recv = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let got =
                    tokio::time::timeout(Duration::from_millis(100), sock2.recv_from(&mut buf))
                        .await;
                let n = match got {
                    Ok(Ok((n, _))) => n,
                    Ok(Err(_)) => continue,
                    Err(_) if stop2.load(Ordering::Relaxed) && pending2.lock().await.is_empty() => {
                        return;
                    }
                    Err(_) => continue,
                };
                let Ok(m) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                if pending2.lock().await.remove(&m.metadata.id).is_none() {
                    continue;
                }
                let good = m
                    .answers
                    .iter()
                    .any(|r| matches!(&r.data, RData::A(a) if a.0 == DEFAULT_IP));
                let c = if good { &counts2.ok } else { &counts2.failed };
                c.fetch_add(1, Ordering::Relaxed);
            }
        });
        let (counts3, stop3) = (counts.clone(), stop.clone());
        let send = tokio::spawn(async move {
            let per_tick = (qps / SOCKETS as u64 / 100).max(1);
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            let mut id: u16 = 0;
            while !stop3.load(Ordering::Relaxed) {
                tick.tick().await;
                for _ in 0..per_tick {
                    id = id.wrapping_add(1);
                    let name = format!("n{}.s{s}.load.example.", id % 500);
                    pending.lock().await.insert(id, Instant::now());
                    let _ = sock.send_to(&query(id, &name), addr).await;
                    counts3.sent.fetch_add(1, Ordering::Relaxed);
                }
            }
            // Give stragglers their chance, then count what never came back.
            tokio::time::sleep(LOST_AFTER).await;
            let mut p = pending.lock().await;
            let lost = p.len() as u64;
            p.clear();
            lost
        });
        tasks.push((send, recv));
    }
    let mut lost = 0;
    for (send, recv) in tasks {
        lost += send.await.unwrap();
        let _ = recv.await;
    }
    let c = &counts;
    (
        c.sent.load(Ordering::Relaxed),
        c.ok.load(Ordering::Relaxed),
        c.failed.load(Ordering::Relaxed),
        lost,
    )
}

/// Swap to a config with a brand-new stub domain; time until it answers through the cache.
async fn swap_and_time(
    addr: SocketAddr,
    dir: &std::path::Path,
    stub: SocketAddr,
    i: usize,
) -> Duration {
    let domain = format!("r{i}.bench");
    let stubs = format!(r#"{{"{domain}": ["{stub}"]}}"#);
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let start = Instant::now();
    write_configmap(dir, &[("stubDomains", &stubs)]);
    let mut buf = vec![0u8; 4096];
    for k in 0u32.. {
        let id = (k % 60000) as u16;
        sock.send_to(&query(id, &format!("p{k}.{domain}.")), addr)
            .await
            .unwrap();
        if let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_millis(100), sock.recv_from(&mut buf)).await
            && let Ok(m) = Message::from_vec(&buf[..n])
            && m.answers
                .iter()
                .any(|r| matches!(&r.data, RData::A(a) if a.0 == STUB_IP))
        {
            return start.elapsed();
        }
        if start.elapsed() > Duration::from_secs(30) {
            return Duration::from_secs(30);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    unreachable!()
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// Starts the nanny on ConfigMap dir `dir` with `flags`, running dnscache with `cache_flags`
/// on a free port of 127.0.0.1 and `default` as its upstream; returns once dnscache is ready.
fn start_nanny(
    dir: &Path,
    flags: &[&str],
    cache_flags: &[&str],
    default: SocketAddr,
) -> (Proc, u16) {
    let port = free_port();
    let mut cmd = Command::new(bin("NANNY_BIN", "nanny"));
    cmd.args(["-v=2", "-logtostderr", "-restartDnsmasq=true"])
        .arg(format!("-configDir={}", dir.display()))
        .arg(format!(
            "-dnsmasqExec={}",
            bin("DNSCACHE_BIN", "dnscache").display()
        ))
        .args(flags)
        .args(["--", "-k", "--listen-address=127.0.0.1"])
        .args(cache_flags)
        .arg(format!("--port={port}"))
        .arg(format!("--server={}#{}", default.ip(), default.port()))
        .arg("--no-resolv");
    let nanny = Proc::spawn(cmd).unwrap();
    nanny
        .wait_for_line("dnscache ready", Duration::from_secs(20))
        .expect("dnscache ready");
    (nanny, port)
}

/// Upstream queries in the 5 s after one change, with (`warm`) or without (`cold`) the cache
/// hand-over.
async fn run_warmth(mode: &str, qps: u64) {
    let stub = MockUpstream::start(|req| Reply::Msg(reply_a(req, STUB_IP, 300))).await;
    let default = MockUpstream::start(|req| Reply::Msg(reply_a(req, DEFAULT_IP, 300))).await;
    let dir = tempfile::tempdir().unwrap();
    let handover = format!("--cache-handover={}", mode == "warm");
    let (_nanny, port) = start_nanny(
        dir.path(),
        &[],
        &["--cache-size=10000", &handover],
        default.addr(),
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let stop = Arc::new(AtomicBool::new(false));
    let loader = tokio::spawn(load(addr, qps, stop.clone()));
    // 2,000 names (500 per socket) at `qps`: every name is cached well within 3 s.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (filled, at) = (default.count(), Instant::now());
    let swap = swap_and_time(addr, dir.path(), stub.addr(), 0).await;
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(at.elapsed())).await;
    let after = default.count() - filled;
    stop.store(true, Ordering::Relaxed);
    let (sent, ok, failed, lost) = loader.await.unwrap();
    println!(
        "{mode:<9} qps={qps} names=2000 cached_before={filled} upstream_queries_5s_after_change={after} \
         swap_to_route_ms={:.1} sent={sent} ok={ok} failed={failed} lost={lost}",
        swap.as_secs_f64() * 1e3
    );
}

async fn run_mode(mode: &str, qps: u64, changes: usize, gap: Duration) {
    let stub = MockUpstream::start(|req| Reply::Msg(reply_a(req, STUB_IP, 60))).await;
    let default = MockUpstream::start(|req| Reply::Msg(reply_a(req, DEFAULT_IP, 60))).await;
    let dir = tempfile::tempdir().unwrap();
    let handover = format!("--handover={}", mode == "handover");
    let (nanny, port) = start_nanny(
        dir.path(),
        &[&handover],
        &["--cache-size=1000", "--no-negcache"],
        default.addr(),
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let stop = Arc::new(AtomicBool::new(false));
    let loader = tokio::spawn(load(addr, qps, stop.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut times = Vec::new();
    for i in 0..changes {
        times.push(swap_and_time(addr, dir.path(), stub.addr(), i).await);
        tokio::time::sleep(gap).await;
    }
    stop.store(true, Ordering::Relaxed);
    let (sent, ok, failed, lost) = loader.await.unwrap();
    let restarts = nanny
        .lines()
        .iter()
        .filter(|l| l.contains("dnscache ready"))
        .count()
        - 1;
    times.sort();
    println!(
        "{mode:<9} qps={qps} changes={changes} restarts={restarts} sent={sent} ok={ok} failed={failed} lost={lost} \
         swap_to_route_ms p50={:.1} p99={:.1} max={:.1}",
        pct(&times, 0.5),
        pct(&times, 0.99),
        pct(&times, 1.0)
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read from argv.
    let qps = env_or("QPS", 2000u64);
    let changes = env_or("CHANGES", 20usize);
    let gap = Duration::from_millis(env_or("GAP_MS", 500u64));
    let modes = std::env::var("MODES").unwrap_or_else(|_| "handover,kill,warm,cold".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for mode in modes.split(',') {
        match mode {
            "warm" | "cold" => rt.block_on(run_warmth(mode, qps)),
            _ => rt.block_on(run_mode(mode, qps, changes, gap)),
        }
    }
}
