//! Golden test of the `/metrics` names and types: exactly kube-dns's names,
//! counters without `_total`, the probe histogram with kube-dns's buckets, and the namespace
//! from `--prometheus-namespace`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use support::{Sidecar, dead_port};

fn types(body: &str) -> Vec<String> {
    let mut t: Vec<String> = body
        .lines()
        .filter(|l| l.starts_with("# TYPE "))
        .map(str::to_string)
        .collect();
    t.sort();
    t
}

#[tokio::test]
async fn golden_names_and_types() {
    let dead = dead_port();
    let sc = Sidecar::start(
        &[
            format!("kubedns,{dead},kubernetes.default.svc.cluster.local,3600,SRV"),
            format!("dnsmasq,{dead},kubernetes.default.svc.cluster.local,3600,SRV"),
        ],
        dead,
    )
    .await;
    let (code, body) = sc.get("/metrics").await;
    assert_eq!(code, 200);
    assert_eq!(
        types(&body),
        [
            "# TYPE kubedns_dnsmasq_errors counter",
            "# TYPE kubedns_dnsmasq_evictions counter",
            "# TYPE kubedns_dnsmasq_hits counter",
            "# TYPE kubedns_dnsmasq_insertions counter",
            "# TYPE kubedns_dnsmasq_max_size counter",
            "# TYPE kubedns_dnsmasq_misses counter",
            "# TYPE kubedns_probe_dnsmasq_errors counter",
            "# TYPE kubedns_probe_dnsmasq_latency_ms histogram",
            "# TYPE kubedns_probe_dnsmasq_up gauge",
            "# TYPE kubedns_probe_kubedns_errors counter",
            "# TYPE kubedns_probe_kubedns_latency_ms histogram",
            "# TYPE kubedns_probe_kubedns_up gauge",
            "# TYPE sidecar_http_connections_closed_total counter",
        ]
    );
    // The legacy counters keep kube-dns's names (no `_total` appended); the HTTP server's
    // own counter is ours and follows the Prometheus convention.
    let legacy = body.replace("sidecar_http_connections_closed_total", "");
    assert!(!legacy.contains("_total"), "{body}");
    // kube-dns's ExponentialBuckets(0.25, 2, 16), then +Inf.
    let les: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("kubedns_probe_kubedns_latency_ms_bucket{le=\""))
        .filter_map(|l| l.split('"').next())
        .collect();
    assert_eq!(
        les,
        [
            "0.25", "0.5", "1", "2", "4", "8", "16", "32", "64", "128", "256", "512", "1024",
            "2048", "4096", "8192", "+Inf"
        ]
    );
    assert!(body.contains(
        "# HELP kubedns_dnsmasq_hits Number of DNS cache hits (from start of process)\n"
    ));
    sc.stop().await;
}

#[tokio::test]
async fn namespace_and_path_follow_the_flags() {
    let dead = dead_port();
    let sc = Sidecar::start_with(&[format!("x,{dead},a.b,3600")], dead, "mydns", "/m").await;
    assert_eq!(sc.get("/metrics").await.0, 404);
    let (code, body) = sc.get("/m").await;
    assert_eq!(code, 200);
    assert!(
        body.contains("# TYPE mydns_dnsmasq_hits counter\n"),
        "{body}"
    );
    assert!(
        body.contains("# TYPE mydns_probe_x_latency_ms histogram\n"),
        "{body}"
    );
    assert!(!body.contains("kubedns_"), "{body}");
    sc.stop().await;
}
