//! The glibc resolver as a pod sees it: resolv.conf with `nameserver` on port 53, the pod's
//! search path and `ndots:5`, inside private network and mount namespaces this test creates
//! (needs root, `unshare` and `ip`; CI runs as root).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use testkit::bin::{path, workspace_root};
use testkit::proc::is_root;

#[test]
fn getent_resolves_like_a_pod() {
    if !is_root() {
        eprintln!("skipped: needs root for network and mount namespaces (CI runs it)");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let script = workspace_root().join("testkit/tests/glibc/pod-in-netns.sh");
    let out = Command::new("unshare")
        .args(["--net", "--mount", "--"])
        .arg(&script)
        .env("KUBEDNS", path("kubedns"))
        .env("NANNY", path("nanny"))
        .env("DNSCACHE", path("dnscache"))
        .env("MANIFESTS", workspace_root().join("deploy/examples"))
        .env("WORK", work.path())
        .env(
            "QUERIES",
            "hosts:my-nginx hosts:nginx-svc.nginx-ns ahosts:dual hosts:nope-not-there",
        )
        .output()
        .expect("run unshare (util-linux)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let result = |q: &str| -> String {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("RESULT {q}: ")))
            .unwrap_or_else(|| panic!("no result for {q}"))
            .to_string()
    };
    // Short name from namespace default: found through the first search domain.
    let nginx = result("hosts my-nginx");
    assert!(
        nginx.contains("my-nginx.default.svc.cluster.local"),
        "{nginx}"
    );
    // Across namespaces: <svc>.<ns> through the second search domain.
    let cross = result("hosts nginx-svc.nginx-ns");
    assert!(
        cross.contains("nginx-svc.nginx-ns.svc.cluster.local"),
        "{cross}"
    );
    // Dual-stack: getent ahosts lists both families.
    let dual = result("ahosts dual");
    assert!(
        dual.contains(':')
            && dual
                .split_whitespace()
                .any(|w| w.parse::<std::net::Ipv4Addr>().is_ok()),
        "{dual}"
    );
    assert_eq!(result("hosts nope-not-there").trim(), "");
}
