//! End-to-end tests of the whole pod: kubedns (manifests source, the example cluster), the
//! nanny running dnscache, the sidecar, all real processes on loopback; real clients (`dig`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use testkit::bin::workspace_root;
use testkit::pod::{
    Pod, PodConfig, dig, dig_full, free_port, http_get, start_kubedns, write_configmap,
};
use testkit::upstream::{MockUpstream, Reply, reply_a, reply_nxdomain};

fn example_cluster() -> PathBuf {
    workspace_root().join("deploy/examples")
}

async fn outside_upstream() -> MockUpstream {
    MockUpstream::start(|req| {
        let name = req.queries[0].name().to_ascii().to_ascii_lowercase();
        if name.starts_with("outside.example.") || name.starts_with("www.acme.local.") {
            Reply::Msg(reply_a(req, Ipv4Addr::new(192, 0, 2, 1), 60))
        } else {
            Reply::Msg(reply_nxdomain(req, 5))
        }
    })
    .await
}

fn start_pod(upstream: &MockUpstream, config_dir: PathBuf, probe_interval: u32) -> Pod {
    Pod::start(PodConfig {
        manifests: example_cluster(),
        config_dir,
        upstream: Some(upstream.addr()),
        probe_interval,
        cache_port: 0,
    })
}

/// Polls `f` until it is true or `bound` passes; returns whether it became true.
fn within(bound: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + bound;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dig_through_the_cache() {
    let up = outside_upstream().await;
    let cm = tempfile::tempdir().unwrap();
    let pod = tokio::task::block_in_place(|| start_pod(&up, cm.path().to_path_buf(), 1));
    let c = pod.cache_addr;
    tokio::task::block_in_place(|| {
        assert!(within(Duration::from_secs(10), || !dig(
            c,
            &["my-nginx.default.svc.cluster.local"]
        )
        .is_empty()));
        let a = dig(c, &["my-nginx.default.svc.cluster.local", "A"]);
        assert!(a.iter().all(|l| l.parse::<Ipv4Addr>().is_ok()), "{a:?}");

        let aaaa = dig(c, &["dual.default.svc.cluster.local", "AAAA"]);
        assert!(
            aaaa.iter().any(|l| l.parse::<std::net::Ipv6Addr>().is_ok()),
            "{aaaa:?}"
        );

        let srv = dig(c, &["SRV", "_web80._tcp.web.coocla.svc.cluster.local"]);
        assert_eq!(srv, ["10 100 7878 web.coocla.svc.cluster.local."]);

        let ptr = dig(c, &["-x", "10.96.0.1"]);
        assert_eq!(ptr, ["kubernetes.default.svc.cluster.local."]);

        let cname = dig(c, &["client-svc.default.svc.cluster.local", "A"]);
        assert_eq!(
            cname.first().map(String::as_str),
            Some("nginx-svc.nginx-ns.svc.cluster.local."),
            "{cname:?}"
        );
        assert!(
            cname.iter().skip(1).any(|l| l.parse::<Ipv4Addr>().is_ok()),
            "CNAME then A: {cname:?}"
        );

        let nx = dig_full(c, &["nope.default.svc.cluster.local", "A"]);
        assert!(nx.contains("status: NXDOMAIN"), "{nx}");

        let out = dig(c, &["outside.example", "A"]);
        assert_eq!(out, ["192.0.2.1"]);
    });

    // A stub domain added through the ConfigMap directory, served by its own mock server.
    let stub =
        MockUpstream::start(|req| Reply::Msg(reply_a(req, Ipv4Addr::new(198, 51, 100, 7), 30)))
            .await;
    let stub_json = format!(
        r#"{{"acme.local": ["{}:{}"]}}"#,
        stub.addr().ip(),
        stub.addr().port()
    );
    write_configmap(cm.path(), &[("stubDomains", &stub_json)]);
    tokio::task::block_in_place(|| {
        assert!(
            within(Duration::from_secs(15), || dig(c, &["db.acme.local", "A"])
                == ["198.51.100.7"]),
            "stub domain never answered through the cache"
        );
    });
    assert!(stub.count_for("db.acme.local") >= 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn sidecar_health_follows_kubedns() {
    let up = outside_upstream().await;
    let cm = tempfile::tempdir().unwrap();
    let mut pod = tokio::task::block_in_place(|| start_pod(&up, cm.path().to_path_buf(), 1));
    tokio::task::block_in_place(|| {
        let s = pod.sidecar_http;
        let healthy = |label: &str| {
            http_get(s, &format!("/healthcheck/{label}"))
                .map(|(c, _)| c == 200)
                .unwrap_or(false)
        };
        assert!(
            within(Duration::from_secs(15), || healthy("kubedns")
                && healthy("dnsmasq")),
            "probes never healthy"
        );

        let hits = || -> f64 {
            let (_, body) = http_get(s, "/metrics").unwrap();
            body.lines()
                .find_map(|l| {
                    l.strip_prefix("kubedns_dnsmasq_hits ")
                        .and_then(|v| v.trim().parse().ok())
                })
                .unwrap_or(0.0)
        };
        let before = hits();
        for _ in 0..20 {
            dig(pod.cache_addr, &["my-nginx.default.svc.cluster.local"]);
        }
        assert!(
            within(Duration::from_secs(10), || hits() >= before + 10.0),
            "kubedns_dnsmasq_hits did not grow"
        );

        pod.stop_kubedns();
        // Two probe intervals (1 s each) plus the probe's own timeout.
        assert!(
            within(Duration::from_secs(5), || http_get(
                s,
                "/healthcheck/kubedns"
            )
            .map(|(c, _)| c == 503)
            .unwrap_or(false)),
            "healthcheck/kubedns did not turn 503"
        );
        let (code, body) = http_get(s, "/healthcheck/kubedns").unwrap();
        assert_eq!(code, 503);
        assert!(body.contains("\"IsOk\":false"), "{body}");
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn cache_keeps_answering_through_a_kubedns_restart() {
    let up = outside_upstream().await;
    let cm = tempfile::tempdir().unwrap();
    let mut pod = tokio::task::block_in_place(|| start_pod(&up, cm.path().to_path_buf(), 5));
    tokio::task::block_in_place(|| {
        let c = pod.cache_addr;
        assert!(within(Duration::from_secs(10), || !dig(
            c,
            &["my-nginx.default.svc.cluster.local"]
        )
        .is_empty()));
        let cached = dig(c, &["my-nginx.default.svc.cluster.local"]);

        pod.stop_kubedns();
        assert_eq!(
            dig(c, &["my-nginx.default.svc.cluster.local"]),
            cached,
            "cached name lost while kubedns is down"
        );
        let fresh = dig_full(c, &["nginx-svc.nginx-ns.svc.cluster.local"]);
        assert!(
            !fresh.contains("status: NOERROR"),
            "uncached name answered with kubedns down: {fresh}"
        );

        pod.restart_kubedns();
        assert!(
            within(Duration::from_secs(15), || !dig(
                c,
                &["nginx-svc.nginx-ns.svc.cluster.local"]
            )
            .is_empty()),
            "fresh names did not recover after kubedns came back"
        );
        assert_eq!(dig(c, &["my-nginx.default.svc.cluster.local"]), cached);
    });
}

/// The acceptance queries (one per Service kind and record type), with `dig` straight at
/// kubedns on the example cluster.
#[test]
fn dig_against_kubedns_alone() {
    let (_kubedns, addr) = start_kubedns(&example_cluster(), 0, free_port());
    assert!(within(Duration::from_secs(10), || !dig(
        addr,
        &["my-nginx.default.svc.cluster.local"]
    )
    .is_empty()));
    assert_eq!(
        dig(addr, &["my-nginx.default.svc.cluster.local"]),
        ["10.96.113.7"]
    );
    assert_eq!(
        dig(addr, &["SRV", "_web80._tcp.web.coocla.svc.cluster.local"]),
        ["10 100 7878 web.coocla.svc.cluster.local."]
    );
    assert_eq!(
        dig(addr, &["-x", "10.96.113.7"]),
        ["my-nginx.default.svc.cluster.local."]
    );
    assert_eq!(
        dig(addr, &["client-svc.default.svc.cluster.local"]),
        ["nginx-svc.nginx-ns.svc.cluster.local.", "10.104.13.251"]
    );
    assert_eq!(
        dig(addr, &["TXT", "dns-version.cluster.local"]),
        ["\"1.1.0\""]
    );
    // Over TCP too.
    assert_eq!(
        dig(addr, &["+tcp", "my-nginx.default.svc.cluster.local"]),
        ["10.96.113.7"]
    );
    let full = dig_full(addr, &["nope.default.svc.cluster.local"]);
    assert!(
        full.contains("status: NXDOMAIN") && full.contains("flags: qr aa rd"),
        "{full}"
    );
}
