//! The serving layer as a cluster treats it, against the real binaries: clients that hold
//! TCP connections and never read, an IPv6-only node, and SIGTERM under load (lame duck).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use hickory_proto::rr::{DNSClass, RecordType};
use testkit::bin::{path, workspace_root};
use testkit::pod::{free_port, http_get};
use testkit::proc::{Proc, is_root};

const START: Duration = Duration::from_secs(30);

fn raise_nofile() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
}

fn big_headless(dir: &Path, n: usize) {
    std::fs::write(dir.join("big.yaml"), testkit::k8s::big_headless_yaml(n)).unwrap();
}

fn framed_query(name: &str) -> Vec<u8> {
    let q = testkit::dns::make_query(name, RecordType::A, DNSClass::IN)
        .to_vec()
        .unwrap();
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    framed
}

/// One TCP query on a fresh connection; the answer's rcode and record count.
fn tcp_query(addr: SocketAddr, name: &str) -> std::io::Result<usize> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.write_all(&framed_query(name))?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len)?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut buf)?;
    let m = hickory_proto::op::Message::from_vec(&buf).map_err(std::io::Error::other)?;
    Ok(m.answers.len())
}

fn metric(addr: SocketAddr, name: &str) -> f64 {
    let (_, body) = http_get(addr, "/metrics").unwrap();
    body.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Opens `n` connections that each send a query and never read, and `writers` connections
/// that pipeline queries for a big answer and never read (their replies fill the buffers).
fn stall(addr: SocketAddr, n: usize, writers: usize, big: &str) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(n + writers);
    for _ in 0..n {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(&framed_query("my-nginx.default.svc.cluster.local."))
            .unwrap();
        held.push(s);
    }
    let q = framed_query(big);
    for _ in 0..writers {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.set_recv_buffer_size(4096).unwrap();
        s.connect(&addr.into()).unwrap();
        let mut s: TcpStream = s.into();
        s.set_write_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        // Until our own writes block: the server has stopped reading because its replies
        // to us cannot leave.
        for _ in 0..20_000 {
            if s.write_all(&q).is_err() {
                break;
            }
        }
        held.push(s);
    }
    held
}

#[test]
fn tcp_clients_that_never_read_cannot_shut_out_others() {
    raise_nofile();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        workspace_root().join("deploy/examples/cluster.yaml"),
        dir.path().join("cluster.yaml"),
    )
    .unwrap();
    big_headless(dir.path(), 1000);
    let metrics = free_port();
    let mut kd = Command::new(path("kubedns"));
    kd.arg(format!("--manifests={}", dir.path().display()))
        .args([
            "--dns-bind-address=127.0.0.1",
            "--dns-port=0",
            "--healthz-port=0",
        ])
        .arg(format!("--metrics-port={metrics}"))
        .args(["--tcp-write-timeout=1s", "--lameduck=0"]);
    let kd = Proc::spawn(kd).unwrap();
    let kd_addr = kd.listening("tcp", START).unwrap();
    let cache_metrics = free_port();
    let mut dc = Command::new(path("dnscache"));
    dc.args([
        "-p",
        "0",
        "--listen-address=127.0.0.1",
        "--no-resolv",
        "--lameduck=0",
    ])
    .arg(format!(
        "--server=/cluster.local/127.0.0.1#{}",
        kd_addr.port()
    ))
    .arg(format!("--metrics-port={cache_metrics}"))
    .arg("--tcp-write-timeout-ms=1000");
    let dc = Proc::spawn(dc).unwrap();
    let dc_addr = dc.listening("tcp", START).unwrap();
    let big = "big.default.svc.cluster.local.";
    testkit::dns::eventually_blocking(START, || tcp_query(kd_addr, big).ok().filter(|n| *n > 0))
        .expect("kubedns serves");

    for (who, addr, metrics) in [
        (
            "kubedns",
            kd_addr,
            SocketAddr::from(([127, 0, 0, 1], metrics)),
        ),
        (
            "dnscache",
            dc_addr,
            SocketAddr::from(([127, 0, 0, 1], cache_metrics)),
        ),
    ] {
        let held = stall(addr, 1_100, 8, big);
        // A newcomer still gets its answer: the longest-idle connection makes room.
        assert_eq!(
            tcp_query(addr, "my-nginx.default.svc.cluster.local.").unwrap(),
            1,
            "{who}: fresh TCP query answered while 1,108 clients hold connections"
        );
        // The clients whose replies cannot leave are closed within the write timeout.
        let closed = testkit::dns::eventually_blocking(Duration::from_secs(10), || {
            let n = metric(
                metrics,
                &format!("{who}_tcp_connections_closed_total{{cause=\"write_timeout\"}}"),
            );
            (n >= 8.0).then_some(n)
        });
        assert!(
            closed.is_some(),
            "{who}: stalled writers closed by the write timeout"
        );
        let evicted = metric(
            metrics,
            &format!("{who}_tcp_connections_closed_total{{cause=\"evicted\"}}"),
        );
        assert!(
            evicted >= 76.0,
            "{who}: {evicted} idle connections evicted for newcomers"
        );
        drop(held);
    }
    drop((kd, dc));
}

#[test]
fn an_ipv6_only_node_is_served_on_both_families() {
    if !is_root() {
        eprintln!("skipped: needs root for a network namespace (CI runs it)");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let out = Command::new("unshare")
        .args(["--net", "--"])
        .arg(workspace_root().join("testkit/tests/ipv6/dual-stack-netns.sh"))
        .env("KUBEDNS", path("kubedns"))
        .env("NANNY", path("nanny"))
        .env("DNSCACHE", path("dnscache"))
        .env("SIDECAR", path("sidecar"))
        .env("MANIFESTS", workspace_root().join("deploy/examples"))
        .env("WORK", work.path())
        .output()
        .expect("run unshare (util-linux)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let results: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("RESULT "))
        .collect();
    assert_eq!(results.len(), 16, "every question was asked");
    for line in results {
        let (what, answer) = line.split_once(": ").unwrap();
        if what.starts_with("RESULT dns") {
            // my-nginx.default of deploy/examples/cluster.yaml.
            assert_eq!(answer.trim(), "10.96.113.7", "{what}");
        } else {
            assert_eq!(answer.trim(), "200", "{what}");
        }
    }
}

#[test]
fn sigterm_turns_readiness_off_and_keeps_answering_for_the_lame_duck() {
    let healthz = free_port();
    let mut cmd = Command::new(path("kubedns"));
    cmd.arg(format!(
        "--manifests={}",
        workspace_root().join("deploy/examples").display()
    ))
    .args([
        "--dns-bind-address=127.0.0.1",
        "--dns-port=0",
        "--metrics-port=0",
    ])
    .arg(format!("--healthz-port={healthz}"))
    .arg("--lameduck=2s");
    let mut kd = Proc::spawn(cmd).unwrap();
    let dns = kd.listening("udp", START).unwrap();
    let http = SocketAddr::from(([127, 0, 0, 1], healthz));
    testkit::dns::eventually_blocking(START, || {
        http_get(http, "/readiness").ok().filter(|(s, _)| *s == 200)
    })
    .expect("ready");
    // 2,000 queries a second over UDP from 4 threads, each waiting for its answer, for 1 s
    // before SIGTERM and 1.5 s after it (inside the 2 s lame duck).
    let load = std::thread::spawn(move || {
        testkit::load::fixed_rate(dns, 2_000, Duration::from_millis(2_500))
    });
    std::thread::sleep(Duration::from_secs(1));
    let signalled = Instant::now();
    kd.signal(15);
    let not_ready = testkit::dns::eventually_blocking(Duration::from_secs(2), || {
        http_get(http, "/readiness")
            .ok()
            .filter(|(s, _)| *s == 503)
            .map(|_| signalled.elapsed())
    })
    .expect("readiness turns 503");
    eprintln!("readiness 503 {} ms after SIGTERM", not_ready.as_millis());
    let report = load.join().unwrap();
    eprintln!("{report:?}");
    assert!(report.sent >= 4_000, "{report:?}");
    assert_eq!(
        report.lost, 0,
        "no query lost during the lame duck: {report:?}"
    );
    assert_eq!(
        kd.wait_timeout(Duration::from_secs(10))
            .and_then(|s| s.code()),
        Some(0)
    );
}
