//! Pod records `a-b-c-d.<ns>.pod.<zone>` per `--pods`.

use hickory_proto::op::ResponseCode;
use kubedns_records::PodMode;

use crate::support::{Case, config, run, zone_with};

const OBJECTS: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: ns}
status:
  podIP: 10.244.1.5
  podIPs: [{ip: 10.244.1.5}, {ip: "fd00::15"}]
"#;

#[test]
fn insecure_answers_any_ip_label() {
    let snap = zone_with(OBJECTS, &config());
    run(
        &snap,
        &[
            Case::ok(
                "10-244-9-9.any.pod.cluster.local. A",
                &["10-244-9-9.any.pod.cluster.local. 30 IN A 10.244.9.9"],
            ),
            Case::ok(
                "fd00--15.ns.pod.cluster.local. AAAA",
                &["fd00--15.ns.pod.cluster.local. 30 IN AAAA fd00::15"],
            ),
            Case::nodata("10-244-9-9.any.pod.cluster.local. AAAA"),
            Case::nodata("fd00--15.ns.pod.cluster.local. A"),
            Case::nxdomain("not-an-ip.ns.pod.cluster.local. A"),
            Case::nxdomain("1-2-3-4.x.ns.pod.cluster.local. A"),
            Case::nodata("any.pod.cluster.local. A"),
            Case::nodata("pod.cluster.local. A"),
        ],
    );
}

#[test]
fn verified_needs_the_pod() {
    let mut cfg = config();
    cfg.pods = PodMode::Verified;
    let snap = zone_with(OBJECTS, &cfg);
    run(
        &snap,
        &[
            Case::ok(
                "10-244-1-5.ns.pod.cluster.local. A",
                &["10-244-1-5.ns.pod.cluster.local. 30 IN A 10.244.1.5"],
            ),
            Case::ok(
                "fd00--15.ns.pod.cluster.local. AAAA",
                &["fd00--15.ns.pod.cluster.local. 30 IN AAAA fd00::15"],
            ),
            Case::nxdomain("10-244-1-5.other.pod.cluster.local. A"),
            Case::nxdomain("10-244-1-6.ns.pod.cluster.local. A"),
            Case::nodata("ns.pod.cluster.local. A"),
            Case::nxdomain("other.pod.cluster.local. A"),
        ],
    );
}

#[test]
fn disabled_has_no_pod_subtree() {
    let mut cfg = config();
    cfg.pods = PodMode::Disabled;
    let snap = zone_with(OBJECTS, &cfg);
    run(
        &snap,
        &[
            Case::nxdomain("10-244-1-5.ns.pod.cluster.local. A"),
            Case::nxdomain("pod.cluster.local. A"),
        ],
    );
    assert_eq!(
        crate::support::ask(&snap, "svc.cluster.local. A").rcode,
        ResponseCode::NoError
    );
}

#[test]
fn pod_namespace_knows_only_pods_that_own_their_ip() {
    let objects = format!(
        "{OBJECTS}{}",
        r#"
---
apiVersion: v1
kind: Pod
metadata: {name: host, namespace: kube-system}
spec: {hostNetwork: true}
status: {podIP: 192.168.0.10}
---
apiVersion: v1
kind: Pod
metadata: {name: done, namespace: batch}
status: {phase: Succeeded, podIP: 10.244.1.9}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: one}
status: {podIP: 10.244.1.7}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: two}
status: {podIP: 10.244.1.7}
"#
    );
    let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    let mut cfg = config();
    cfg.pods = PodMode::Verified;
    let snap = zone_with(&objects, &cfg);
    assert_eq!(snap.pod_namespace(ip("10.244.1.5")), Some("ns"));
    assert_eq!(snap.pod_namespace(ip("fd00::15")), Some("ns"));
    assert_eq!(snap.pod_namespace(ip("192.168.0.10")), None, "host network");
    assert_eq!(snap.pod_namespace(ip("10.244.1.9")), None, "finished pod");
    assert_eq!(snap.pod_namespace(ip("10.244.1.7")), None, "ambiguous");
    assert_eq!(snap.pod_namespace(ip("10.244.1.6")), None, "unknown");
    // Without verified pods nothing is watched, so nobody is known.
    let insecure = zone_with(&objects, &config());
    assert_eq!(insecure.pod_namespace(ip("10.244.1.5")), None);
}
