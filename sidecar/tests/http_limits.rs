//! The `sidecar` binary's HTTP port under a flood of idle connections: the kubelet's liveness
//! probes of the whole pod come here, so `/healthcheck/<label>` and `/metrics` must keep
//! answering with 10,000 idle connections (and some stalled request heads) open.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;

use testkit::flood::Flood;
use testkit::pod::http_get;
use testkit::proc::Proc;

#[test]
fn health_and_metrics_answer_with_ten_thousand_idle_connections_open() {
    // A port nothing answers on: the probe fails, so the health check is a 503.
    let dead = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sidecar"));
    cmd.args([
        "--v=2".to_string(),
        "--prometheus-addr=127.0.0.1".into(),
        "--prometheus-port=0".into(),
        format!("--probe=kubedns,{dead},kubernetes.default.svc.cluster.local,5,SRV"),
        format!("--dnsmasq-addr={}", dead.ip()),
        format!("--dnsmasq-port={}", dead.port()),
    ]);
    let p = Proc::spawn(cmd).unwrap();
    let addr = p
        .listening("http", Duration::from_secs(10))
        .expect("listening on http line");

    let flood = Flood::open(addr, 10_000, 100);

    // testkit's client gives up after 5 s: a functional bound, far above a healthy answer.
    let (code, body) = http_get(addr, "/healthcheck/kubedns").unwrap();
    assert_eq!(code, 503, "{body}");
    assert!(body.starts_with(r#"{"IsOk":false"#), "{body}");
    let (code, body) = http_get(addr, "/metrics").unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("kubedns_probe_kubedns_errors"), "{body}");
    // The connections beyond the cap were made room for, oldest idle first, and counted.
    let evicted = evicted(&body);
    let least = (flood.len() - ops::http::Limits::default().max_connections) as u64;
    assert!(evicted >= least, "evicted {evicted} < {least}:\n{body}");
    drop(flood);
    let (code, _) = http_get(addr, "/healthcheck/kubedns").unwrap();
    assert_eq!(code, 503);
}

fn evicted(metrics: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(r#"sidecar_http_connections_closed_total{cause="evicted"} "#))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
