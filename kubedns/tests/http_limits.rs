//! The kubedns binary's HTTP ports under a flood of idle connections: the kubelet's
//! readiness probe (`/readiness` on 8081) and Prometheus (`/metrics` on 10055) must keep
//! getting answers with 10,000 idle connections (and some stalled request heads) open.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use testkit::flood::Flood;
use testkit::pod::http_get;
use testkit::proc::Proc;

const START: Duration = Duration::from_secs(60);
const CONNECTIONS: usize = 10_000;
const STALLED: usize = 100;

#[test]
fn readiness_and_metrics_answer_with_ten_thousand_idle_connections_open() {
    let cluster = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/examples/cluster.yaml"
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubedns"));
    cmd.args([
        "--dns-bind-address=127.0.0.1",
        "--dns-port=0",
        "--healthz-port=0",
        "--metrics-port=0",
        "--udp-sockets=1",
        &format!("--manifests={cluster}"),
    ]);
    let p = Proc::spawn(cmd).unwrap();
    let http = p.listening_all("http", 2, START).expect("two http lines");
    let (healthz, metrics) = (http[0], http[1]);
    wait_ready(healthz);

    let flood = Flood::open(healthz, CONNECTIONS, STALLED);
    // testkit's client gives up after 5 s: a functional bound, far above a healthy answer.
    assert_eq!(
        http_get(healthz, "/readiness").unwrap(),
        (200, "ok\n".into())
    );
    drop(flood);

    let flood = Flood::open(metrics, CONNECTIONS, STALLED);
    let (code, body) = http_get(metrics, "/metrics").unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains("skydns_skydns_dns_request_count_total"),
        "{body}"
    );
    // Both floods went beyond the cap; the server made room by closing the oldest idle
    // connections, and counted them.
    let least = (2 * (flood.len() - ops::http::Limits::default().max_connections)) as u64;
    let evicted = evicted(&body);
    assert!(evicted >= least, "evicted {evicted} < {least}:\n{body}");
}

fn wait_ready(addr: SocketAddr) {
    let deadline = Instant::now() + START;
    while Instant::now() < deadline {
        if matches!(http_get(addr, "/readiness"), Ok((200, _))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("/readiness never answered 200");
}

fn evicted(metrics: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(r#"kubedns_http_connections_closed_total{cause="evicted"} "#))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
