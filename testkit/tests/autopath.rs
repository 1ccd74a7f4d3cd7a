//! Autopath end to end: the glibc resolver of a pod (`getent`, `ndots:5`) through dnscache
//! (`--add-subnet`) to kubedns (`--autopath`, `--pods=verified`), in private network and mount
//! namespaces (needs root, `unshare`, `ip`, `dig`; CI runs as root); and kubedns alone over
//! loopback with `dig` and a `/metrics` scrape (no root needed).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::time::Duration;

use testkit::bin::{path, workspace_root};
use testkit::pod::{dig_full, free_port, http_get};
use testkit::proc::Proc;
use testkit::proc::is_root;

/// Runs the pod script with `AUTOPATH` on or off; returns its stdout.
fn pod_run(autopath: &str, queries: &str, forged: bool) -> String {
    let work = tempfile::tempdir().unwrap();
    let script = workspace_root().join("testkit/tests/glibc/autopath-in-netns.sh");
    let out = Command::new("unshare")
        .args(["--net", "--mount", "--"])
        .arg(&script)
        .env("KUBEDNS", path("kubedns"))
        .env("NANNY", path("nanny"))
        .env("DNSCACHE", path("dnscache"))
        .env("MOCK", path("mock-upstream"))
        .env("MANIFESTS", workspace_root().join("deploy/examples"))
        .env("WORK", work.path())
        .env("AUTOPATH", autopath)
        .env("QUERIES", queries)
        .env("FORGED", if forged { "on" } else { "off" })
        .output()
        .expect("run unshare (util-linux)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

fn line<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{prefix}: ")))
        .unwrap_or_else(|| panic!("no line {prefix:?}"))
}

fn count(stdout: &str, prefix: &str) -> usize {
    line(stdout, prefix).trim().parse().unwrap()
}

const QUERIES: &str = "a:ahosts:api.example.test a:hosts:my-nginx a:hosts:my-nginx.default \
    a:hosts:nope-not-there a:ahosts:api.example.test.default.svc.cluster.local \
    b:ahosts:api.example.test.default.svc.cluster.local b:ahosts:api.example.test \
    b:hosts:my-nginx.default";

#[test]
fn glibc_pod_lookups_take_one_round_trip_with_autopath() {
    if !is_root() {
        eprintln!("skipped: needs root for network and mount namespaces (CI runs it)");
        return;
    }
    let off = pod_run("off", QUERIES, false);
    let on = pod_run("on", QUERIES, true);
    let baseline = count(&off, "CLIENT a ahosts api.example.test");
    eprintln!(
        "baseline without autopath: {baseline} queries for api.example.test; with: {}",
        count(&on, "CLIENT a ahosts api.example.test")
    );
    for out in [&off, &on] {
        // Outside name from namespace default: the mock upstream's addresses.
        let api = line(out, "RESULT a ahosts api.example.test");
        assert!(
            api.contains("10.1.2.3") && api.contains("fd00::1:2:3"),
            "{api}"
        );
        assert_eq!(count(out, "UPSTREAM a ahosts api.example.test"), 2);
        // Services still resolve by short and by <svc>.<ns> names.
        let short = line(out, "RESULT a hosts my-nginx");
        assert!(
            short.contains("my-nginx.default.svc.cluster.local"),
            "{short}"
        );
        let ns = line(out, "RESULT a hosts my-nginx.default");
        assert!(!ns.trim().is_empty(), "{ns}");
        let b_ns = line(out, "RESULT b hosts my-nginx.default");
        assert!(!b_ns.trim().is_empty(), "{b_ns}");
        // A name that exists nowhere still fails.
        assert_eq!(line(out, "RESULT a hosts nope-not-there").trim(), "");
        // Pod b's own search path for the outside name.
        let b_api = line(out, "RESULT b ahosts api.example.test");
        assert!(b_api.contains("10.1.2.3"), "{b_api}");
    }
    // Today: 4 candidates (3 search domains, then the name) times A and AAAA.
    assert_eq!(baseline, 8);
    // Autopath: the first candidate answers, A and AAAA.
    assert_eq!(count(&on, "CLIENT a ahosts api.example.test"), 2);
    assert_eq!(count(&on, "CLIENT b ahosts api.example.test"), 2);
    // Pod a's first search-path name, asked as a name: pod a gets the outside addresses...
    let a_first = line(
        &on,
        "RESULT a ahosts api.example.test.default.svc.cluster.local",
    );
    assert!(a_first.contains("10.1.2.3"), "{a_first}");
    // ...and pod b (namespace other) asking the very same name right after gets its own
    // answer (the name does not exist for it), never pod a's cached one.
    let b_first = line(
        &on,
        "RESULT b ahosts api.example.test.default.svc.cluster.local",
    );
    assert_eq!(b_first.trim(), "", "pod b got pod a's answer: {b_first}");
    // A client subnet forged by a pod is ignored: its own address counts (namespace other).
    let untrusted = line(&on, "FORGED untrusted");
    assert!(
        untrusted.contains("NXDOMAIN") && !untrusted.contains("CNAME"),
        "{untrusted}"
    );
    // The same option from loopback (the cache's place) is trusted, and echoed with a scope.
    let trusted = line(&on, "FORGED trusted");
    assert!(
        trusted.contains("CNAME") && trusted.contains("10.244.1.5/32/32"),
        "{trusted}"
    );
}

/// kubedns alone: the pod's IP is 127.0.0.1 (namespace default), so dig from loopback is the
/// pod unless it sends a client subnet (loopback is trusted by default).
#[test]
fn kubedns_autopath_answers_and_counts_outcomes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("objects.yaml"),
        r#"
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default}
status: {phase: Running, podIP: 127.0.0.1}
---
apiVersion: v1
kind: Service
metadata: {name: my-nginx, namespace: default}
spec: {clusterIP: 10.96.0.20, ports: [{port: 80}]}
"#,
    )
    .unwrap();
    let metrics = free_port();
    let mut cmd = Command::new(path("kubedns"));
    cmd.arg(format!("--manifests={}", dir.path().display()))
        .args(["--dns-bind-address=127.0.0.1", "--dns-port=0"])
        .args(["--pods=verified", "--autopath", "--lameduck=0"])
        .arg(format!("--healthz-port={}", free_port()))
        .arg(format!("--metrics-port={metrics}"));
    let kd = Proc::spawn(cmd).unwrap();
    let addr = kd.listening("udp", Duration::from_secs(30)).unwrap();
    // SERVFAIL until the first snapshot; then the answers.
    let ask = |args: &[&str]| {
        for _ in 0..200 {
            let out = dig_full(addr, args);
            if !out.contains("SERVFAIL") {
                // One space between fields, whatever dig's column alignment.
                return out
                    .lines()
                    .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                    .collect::<Vec<_>>()
                    .join("\n");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("kubedns never answered {args:?}");
    };
    // From the pod: a CNAME to the bare name (the cache completes it), and the in-zone hit.
    let out = ask(&["api.example.test.default.svc.cluster.local", "A"]);
    assert!(out.contains("CNAME api.example.test."), "{out}");
    let out = ask(&["my-nginx.default.default.svc.cluster.local", "A"]);
    assert!(
        out.contains("CNAME my-nginx.default.svc.cluster.local.") && out.contains("10.96.0.20"),
        "{out}"
    );
    // Names that exist: exactly as without autopath.
    let out = ask(&["my-nginx.default.svc.cluster.local", "A"]);
    assert!(
        !out.contains("CNAME") && out.contains("10.96.0.20"),
        "{out}"
    );
    // Another client (by trusted subnet): today's NXDOMAIN, the option echoed with its scope.
    let out = ask(&[
        "+subnet=10.9.9.9/32",
        "api.example.test.default.svc.cluster.local",
        "A",
    ]);
    assert!(
        out.contains("NXDOMAIN") && out.contains("10.9.9.9/32/32"),
        "{out}"
    );
    // A subnet that hides part of the address: nobody in particular.
    let out = ask(&[
        "+subnet=127.0.0.0/24",
        "api.example.test.default.svc.cluster.local",
        "A",
    ]);
    assert!(out.contains("NXDOMAIN"), "{out}");
    // Another namespace's first search domain.
    let out = ask(&["api.example.test.other.svc.cluster.local", "A"]);
    assert!(out.contains("NXDOMAIN"), "{out}");
    let (status, body) = http_get(([127, 0, 0, 1], metrics).into(), "/metrics").unwrap();
    assert_eq!(status, 200);
    for (outcome, n) in [
        ("outside_cname", 1),
        ("in_zone", 1),
        ("not_applied_unknown_client", 1),
        ("not_applied_short_prefix", 1),
        ("not_applied_other_namespace", 1),
    ] {
        let want = format!("kubedns_autopath_answers_total{{outcome=\"{outcome}\"}} {n}");
        assert!(body.contains(&want), "{want} not in:\n{body}");
    }
}

#[test]
fn autopath_without_verified_pods_is_a_usage_error() {
    let out = Command::new(path("kubedns"))
        .args(["--manifests=/nonexistent", "--autopath"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--pods=verified"));
}
