//! Benchmark drivers for the kube source (ignored in normal test runs; run through
//! `kubedns/benches/kube_*.sh`, which build in release). Each starts testkit's fake API server
//! in this process and the kubedns binary cargo built for these tests, and prints one
//! `RESULT key=value ...` line. Sizes come from the environment:
//!
//! - `bench_propagation`: `KUBE_BENCH_CHANGES` (1000) ClusterIP updates, each timed from the
//!   fake API writing the event to the first UDP answer carrying the new address; p50/p99/max.
//! - `bench_initial_sync`: `KUBE_BENCH_SERVICES` (10000) Services with
//!   `KUBE_BENCH_ENDPOINTS` (10) ready endpoints each: time from spawn to the last Service
//!   answering, and kubedns's VmRSS after (plus the zone's generation and rebuild time).
//!   `KUBE_BENCH_HEADLESS=1` makes every Service headless, so every endpoint is kept (ClusterIP
//!   Services' endpoints are not stored at all, see `watch/trim.rs`).
//! - `bench_churn_server`: the kit's cluster zone (`svc-S.ns-N`, 100 x 100, A 10.96.x.y) served
//!   from the fake; kubedns on `KUBE_BENCH_ADDR:KUBE_BENCH_PORT`, pid in `$WORK/kubedns.bgpid`;
//!   `KUBE_BENCH_RATE` (100) endpoint changes per second until `$WORK/kube-churn.stop` exists
//!   (or `KUBE_BENCH_MAX_SECS`, 600); `$WORK/kube-churn.ready` once answering.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};
use testkit::apiserver::FakeApiServer;
use testkit::cluster::Cluster;
use testkit::k8s::{SliceBuilder, slice_for, svc};
use testkit::proc::Proc;

fn env_num(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn spawn(api: &FakeApiServer, addr: &str, port: &str) -> (Proc, SocketAddr) {
    spawn_with(&["--kube-master-url", &api.url()], addr, port)
}

/// Spawns kubedns, under `KUBE_BENCH_WRAP` (a command line, e.g. `heaptrack -o /tmp/h`) when
/// set: memory figures are then the wrapper's, so wrap only to profile.
fn spawn_with(source: &[&str], addr: &str, port: &str) -> (Proc, SocketAddr) {
    let bin = env!("CARGO_BIN_EXE_kubedns");
    let wrap = std::env::var("KUBE_BENCH_WRAP").unwrap_or_default();
    let mut cmd = match wrap.split_whitespace().collect::<Vec<_>>().split_first() {
        Some((program, args)) => {
            let mut cmd = Command::new(program);
            cmd.args(args).arg(bin);
            cmd
        }
        None => Command::new(bin),
    };
    cmd.args(source)
        .args(["--dns-port", port])
        .args([
            "--dns-bind-address",
            addr,
            "--healthz-port",
            "0",
            "--metrics-port",
            "0",
        ])
        .args(["--initial-sync-timeout", "300s"]);
    let proc = Proc::spawn(cmd).unwrap();
    let bound = Duration::from_secs(60);
    let dns = tokio::task::block_in_place(|| proc.listening("udp", bound)).expect("udp listener");
    (proc, dns)
}

async fn a_answer(dns: SocketAddr, name: &str) -> Option<(ResponseCode, Vec<Ipv4Addr>)> {
    let msg = testkit::dns::query(dns, name, RecordType::A).await.ok()?;
    let ips = msg.answers.iter().filter_map(|r| match &r.data {
        RData::A(a) => Some(a.0),
        _ => None,
    });
    Some((msg.metadata.response_code, ips.collect()))
}

/// Polls (tight loop) until `name` answers exactly `want`; panics after `bound`.
async fn until_ip(dns: SocketAddr, name: &str, want: Ipv4Addr, bound: Duration) {
    let deadline = Instant::now() + bound;
    while a_answer(dns, name).await != Some((ResponseCode::NoError, vec![want])) {
        assert!(Instant::now() < deadline, "{name} never answered {want}");
        tokio::task::yield_now().await;
    }
}

/// Polls (tight loop) until `name` answers NOERROR with `want` among its addresses.
async fn until_ip_in(dns: SocketAddr, name: &str, want: Ipv4Addr, bound: Duration) {
    let deadline = Instant::now() + bound;
    loop {
        if let Some((ResponseCode::NoError, ips)) = a_answer(dns, name).await
            && ips.contains(&want)
        {
            return;
        }
        assert!(Instant::now() < deadline, "{name} never answered {want}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

/// A `kB` field of `/proc/PID/status` (`VmRSS:`, `VmHWM:`).
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or("x: 0 kB");
    line.split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn ip(k: u64) -> Ipv4Addr {
    Ipv4Addr::new(10, 96, (k / 250) as u8, (k % 250 + 1) as u8)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: kubedns/benches/kube_propagation.sh"]
async fn bench_propagation() {
    let changes = env_num("KUBE_BENCH_CHANGES", 1000);
    let api = FakeApiServer::start().await;
    for i in 0..100 {
        let s = svc("ns", &format!("bg-{i}"))
            .cluster_ip(&ip(20_000 + i).to_string())
            .port("http", 80, "TCP");
        api.create(&s);
        api.create(&slice_for(&s).ready("10.1.0.1"));
    }
    let web = svc("ns", "web").port("http", 80, "TCP");
    api.create(&web.clone().cluster_ip(&ip(0).to_string()));
    let (_kubedns, dns) = spawn(&api, "127.0.0.1", "0");
    let name = "web.ns.svc.cluster.local.";
    until_ip(dns, name, ip(0), Duration::from_secs(60)).await;
    let mut took = Vec::with_capacity(changes as usize);
    for k in 1..=changes {
        let want = ip(k % 60_000);
        let t0 = Instant::now();
        api.update(&web.clone().cluster_ip(&want.to_string()));
        until_ip(dns, name, want, Duration::from_secs(10)).await;
        took.push(t0.elapsed());
        tokio::time::sleep(Duration::from_millis(5 + k % 20)).await;
    }
    took.sort();
    println!(
        "RESULT bench=propagation changes={changes} p50_ms={:.2} p99_ms={:.2} max_ms={:.2}",
        percentile(&took, 0.5),
        percentile(&took, 0.99),
        percentile(&took, 1.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: kubedns/benches/kube_initial_sync.sh"]
async fn bench_initial_sync() {
    let services = env_num("KUBE_BENCH_SERVICES", 10_000);
    let per = env_num("KUBE_BENCH_ENDPOINTS", 10);
    let headless = env_num("KUBE_BENCH_HEADLESS", 0) == 1;
    let api = FakeApiServer::start().await;
    for s in 0..services {
        let ip_or_none = if headless {
            "None".to_string()
        } else {
            ip(s).to_string()
        };
        let svc = svc(&format!("ns-{}", s / 100), &format!("svc-{}", s % 100))
            .cluster_ip(&ip_or_none)
            .port("http", 80, "TCP");
        api.create(&svc);
        let slice = (0..per).fold(slice_for(&svc), |b: SliceBuilder, e| {
            b.ready(&Ipv4Addr::from(0x0a80_0000 + (s * per + e) as u32).to_string())
        });
        api.create(&slice);
    }
    let t0 = Instant::now();
    let (kubedns, dns) = spawn(&api, "127.0.0.1", "0");
    let last = services - 1;
    let name = format!("svc-{}.ns-{}.svc.cluster.local.", last % 100, last / 100);
    let want = if headless {
        Ipv4Addr::from(0x0a80_0000 + (last * per) as u32)
    } else {
        ip(last)
    };
    until_ip_in(dns, &name, want, Duration::from_secs(300)).await;
    let ready = t0.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The zone's own figures (rebuild count and time) from whichever HTTP port serves /metrics.
    let https = kubedns
        .listening_all("http", 2, Duration::from_secs(5))
        .unwrap_or_default();
    let metrics =
        https
            .into_iter()
            .find_map(|http| match testkit::pod::http_get(http, "/metrics") {
                Ok((200, body)) => Some(body),
                _ => None,
            });
    let wanted = [
        "kubedns_zone_generation",
        "kubedns_zone_last_rebuild_seconds",
    ];
    for line in metrics.unwrap_or_default().lines() {
        if wanted.iter().any(|w| line.starts_with(w)) {
            println!("METRIC {line}");
        }
    }
    println!(
        "RESULT bench=initial_sync services={services} headless={headless} endpoints={} ready_s={:.2} rss_mib={:.1}",
        services * per,
        ready.as_secs_f64(),
        rss_kib(kubedns.pid()) as f64 / 1024.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: kubedns/benches/kube_churn.sh"]
async fn bench_churn_server() {
    let work = PathBuf::from(std::env::var("WORK").unwrap_or_else(|_| "/tmp/dnsbench".into()));
    let rate = env_num("KUBE_BENCH_RATE", 100);
    let max = Duration::from_secs(env_num("KUBE_BENCH_MAX_SECS", 600));
    let addr = std::env::var("KUBE_BENCH_ADDR").unwrap_or_else(|_| "127.0.0.5".into());
    let port = std::env::var("KUBE_BENCH_PORT").unwrap_or_else(|_| "5357".into());
    let (stop, ready) = (work.join("kube-churn.stop"), work.join("kube-churn.ready"));
    std::fs::create_dir_all(&work).unwrap();
    std::fs::remove_file(&stop).ok();
    std::fs::remove_file(&ready).ok();
    let api = FakeApiServer::start().await;
    let mut slices = Vec::new();
    for k in 0..10_000u64 {
        let s = svc(&format!("ns-{}", k / 100), &format!("svc-{}", k % 100))
            .cluster_ip(&ip(k).to_string())
            .port("http", 80, "TCP");
        api.create(&s);
        let slice = slice_for(&s).ready("10.128.0.1").ready("10.128.0.2");
        api.create(&slice);
        slices.push(s);
    }
    let (kubedns, dns) = spawn(&api, &addr, &port);
    std::fs::write(work.join("kubedns.bgpid"), kubedns.pid().to_string()).unwrap();
    until_ip(
        dns,
        "svc-99.ns-99.svc.cluster.local.",
        ip(9_999),
        Duration::from_secs(120),
    )
    .await;
    std::fs::write(&ready, dns.to_string()).unwrap();
    let t0 = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(1) as f64));
    let mut n = 0u64;
    while !stop.exists() && t0.elapsed() < max {
        tick.tick().await;
        if rate == 0 {
            continue;
        }
        let s = &slices[(n * 7919 % 10_000) as usize];
        let ep = Ipv4Addr::from(0x0a80_0000 + (n % 60_000) as u32 + 3).to_string();
        api.update(&slice_for(s).ready("10.128.0.1").ready(&ep));
        n += 1;
    }
    println!(
        "RESULT bench=churn changes={n} secs={:.1} rate={:.1}",
        t0.elapsed().as_secs_f64(),
        n as f64 / t0.elapsed().as_secs_f64()
    );
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The zone metrics line `name` from kubedns's `/metrics`.
fn zone_metric(kubedns: &Proc, name: &str) -> String {
    let https = kubedns
        .listening_all("http", 2, Duration::from_secs(5))
        .unwrap_or_default();
    let body = https
        .into_iter()
        .find_map(|http| match testkit::pod::http_get(http, "/metrics") {
            Ok((200, body)) => Some(body),
            _ => None,
        });
    let line = body
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(name))
        .map(str::to_string);
    line.and_then(|l| l.split_whitespace().last().map(str::to_string))
        .unwrap_or_default()
}

fn bench_cluster() -> Cluster {
    Cluster {
        services: env_num("KUBE_BENCH_SERVICES", 10_000) as u32,
        endpoints: env_num("KUBE_BENCH_ENDPOINTS", 10) as u32,
        headless_percent: env_num("KUBE_BENCH_HEADLESS_PERCENT", 30) as u32,
    }
}

/// Waits until the last Service of `c` answers (its cluster IP, or its first endpoint).
async fn until_last(dns: SocketAddr, c: &Cluster) {
    let last = c.services - 1;
    let (ns, name) = Cluster::name(last);
    let want = match c.headless(last) {
        true => c.endpoint_ip(last, 0),
        false => Cluster::cluster_ip(last),
    };
    let qname = format!("{name}.{ns}.svc.cluster.local.");
    until_ip_in(dns, &qname, want, Duration::from_secs(300)).await;
}

/// Memory and start-up of kubedns for a generated cluster with kubectl's metadata
/// (`KUBE_BENCH_SERVICES`, `KUBE_BENCH_ENDPOINTS` per Service, `KUBE_BENCH_HEADLESS_PERCENT`),
/// from `KUBE_BENCH_SOURCE` = `api` (the fake API server) or `file` (one `kind: List` YAML).
/// Ready is spawn to the last Service answering; RSS at ready and 10 s later; VmHWM (peak).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: kubedns/benches/memory.sh"]
async fn bench_memory() {
    let c = bench_cluster();
    let source = std::env::var("KUBE_BENCH_SOURCE").unwrap_or_else(|_| "api".into());
    let api = FakeApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cluster.yaml");
    let args: Vec<String> = if source == "file" {
        std::fs::write(&file, c.kubectl_yaml()).unwrap();
        vec!["--manifests".into(), file.display().to_string()]
    } else {
        c.objects().for_each(|o| {
            api.create(&o);
        });
        vec!["--kube-master-url".into(), api.url()]
    };
    let file_mib = std::fs::metadata(&file)
        .map(|m| m.len() / 1024)
        .unwrap_or(0);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let t0 = Instant::now();
    let (kubedns, dns) = spawn_with(&args, "127.0.0.1", "0");
    until_last(dns, &c).await;
    let ready = t0.elapsed();
    let rss_ready = rss_kib(kubedns.pid());
    tokio::time::sleep(Duration::from_secs(10)).await;
    println!(
        "RESULT bench=memory source={source} services={} headless_pct={} endpoints={} file_mib={:.1} ready_s={:.2} rss_ready_mib={:.1} rss_10s_mib={:.1} hwm_mib={:.1} rebuild_s={}",
        c.services,
        c.headless_percent,
        c.services * c.endpoints,
        mib(file_mib),
        ready.as_secs_f64(),
        mib(rss_ready),
        mib(rss_kib(kubedns.pid())),
        mib(status_kib(kubedns.pid(), "VmHWM:")),
        zone_metric(&kubedns, "kubedns_zone_last_rebuild_seconds"),
    );
}

/// `KUBE_BENCH_CYCLES` (100,000) Service create/delete cycles through the fake API with the
/// cluster of [`bench_memory`] in place; kubedns's RSS 10 s after ready and 10 s after the
/// last cycle was answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: kubedns/benches/memory.sh churn"]
async fn bench_service_churn_memory() {
    let c = bench_cluster();
    let cycles = env_num("KUBE_BENCH_CYCLES", 100_000);
    let api = FakeApiServer::start().await;
    c.objects().for_each(|o| {
        api.create(&o);
    });
    let (kubedns, dns) = spawn(&api, "127.0.0.1", "0");
    until_last(dns, &c).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let before = rss_kib(kubedns.pid());
    let t0 = Instant::now();
    for n in 0..cycles {
        let s = svc("churn", &format!("c-{n}")).cluster_ip(&ip(n % 10_000).to_string());
        api.create(&s);
        api.delete(&s);
        if n % 1000 == 999 {
            tokio::task::yield_now().await;
        }
    }
    let done = svc("churn", "done").cluster_ip("10.99.0.1");
    api.create(&done);
    until_ip(
        dns,
        "done.churn.svc.cluster.local.",
        Ipv4Addr::new(10, 99, 0, 1),
        Duration::from_secs(300),
    )
    .await;
    let secs = t0.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after = rss_kib(kubedns.pid());
    println!(
        "RESULT bench=service_churn cycles={cycles} secs={secs:.1} rss_before_mib={:.1} rss_after_mib={:.1} growth_pct={:.1} hwm_mib={:.1}",
        mib(before),
        mib(after),
        (after as f64 / before as f64 - 1.0) * 100.0,
        mib(status_kib(kubedns.pid(), "VmHWM:")),
    );
}
