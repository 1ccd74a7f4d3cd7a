//! Stub nameservers given as names (kubernetes/dns#82): cluster names are
//! asked of kubedns (`-kubednsServer`), other names of the system resolver, failures pass
//! the name through unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use nanny::Config;
use nanny::resolve::Resolver;
use testkit::upstream::{MockUpstream, Reply, reply_a, reply_nxdomain};

fn stubs(servers: &[&str]) -> Config {
    Config {
        stub_domains: BTreeMap::from([(
            "acme.local".to_string(),
            servers.iter().map(|s| s.to_string()).collect(),
        )]),
        ..Config::default()
    }
}

#[tokio::test]
async fn names_are_resolved_through_kubedns_or_the_system() {
    let kubedns = MockUpstream::start(|req| {
        let name = req.queries[0].name().to_ascii();
        if name.starts_with("dns.kube-system.svc.cluster.local") {
            Reply::Msg(reply_a(req, Ipv4Addr::new(10, 1, 2, 3), 30))
        } else {
            Reply::Msg(reply_nxdomain(req, 30))
        }
    })
    .await;
    let r = Resolver {
        kubedns: kubedns.addr(),
        cluster_domain: "cluster.local".into(),
        timeout: Duration::from_secs(2),
    };
    let cfg = stubs(&[
        "dns.kube-system.svc.cluster.local",
        "missing.kube-system.svc.cluster.local",
        "1.2.3.4",
        "1.2.3.4:5353",
        "[2001:db8::1]:53",
        "localhost",
    ]);
    let got = r.resolve_stubs(&cfg).await;
    let servers = &got.stub_domains["acme.local"];
    assert_eq!(servers[0], "10.1.2.3");
    assert_eq!(servers[1], "missing.kube-system.svc.cluster.local");
    assert_eq!(servers[2..5], cfg.stub_domains["acme.local"][2..5]);
    assert!(
        servers[5] == "127.0.0.1" || servers[5] == "::1",
        "{}",
        servers[5]
    );
    assert_eq!(kubedns.count_for("dns.kube-system.svc.cluster.local."), 1);
    // The unresolvable cluster name was asked for A, then AAAA.
    assert_eq!(
        kubedns.count_for("missing.kube-system.svc.cluster.local."),
        2
    );
    assert_eq!(
        nanny::render::routes(&got),
        [
            "--server=/acme.local/10.1.2.3",
            "--server=/acme.local/missing.kube-system.svc.cluster.local",
            "--server=/acme.local/1.2.3.4",
            "--server=/acme.local/1.2.3.4#5353",
            "--server=/acme.local/[2001:db8::1]#53",
            &format!("--server=/acme.local/{}", servers[5]),
        ]
    );
}

#[tokio::test]
async fn silent_kubedns_times_out_and_passes_the_name() {
    let kubedns = MockUpstream::start(|_| Reply::Drop).await;
    let r = Resolver {
        kubedns: kubedns.addr(),
        cluster_domain: "cluster.local".into(),
        timeout: Duration::from_millis(200),
    };
    let cfg = stubs(&["dns.kube-system.svc.cluster.local"]);
    assert_eq!(r.resolve_stubs(&cfg).await, cfg);
}
