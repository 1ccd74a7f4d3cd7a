//! Zone-wide rules: dns-version TXT (§2.2), apex SOA/NS with glue, empty non-terminals,
//! NXDOMAIN vs NODATA, REFUSED outside the zone, classes.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, RecordType};

use crate::support::{Case, run, zone};

const OBJECTS: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: quiet}
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system}
spec:
  clusterIP: 10.96.0.10
  ports: [{name: dns, port: 53, protocol: UDP}, {name: dns-tcp, port: 53, protocol: TCP}]
"#;

#[test]
fn zone_rules() {
    let snap = zone(OBJECTS);
    run(&snap, &[
        Case::ok("dns-version.cluster.local. TXT", &[r#"dns-version.cluster.local. 30 IN TXT "1.1.0""#]),
        Case::nodata("dns-version.cluster.local. A"),
        Case::ok("cluster.local. SOA", &[
            "cluster.local. 30 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5",
        ]),
        Case::ok("cluster.local. NS", &["cluster.local. 30 IN NS ns.dns.cluster.local."])
            .extra(&["ns.dns.cluster.local. 30 IN A 10.96.0.10"]),
        Case::ok("cluster.local. ANY", &[
            "cluster.local. 30 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5",
            "cluster.local. 30 IN NS ns.dns.cluster.local.",
        ])
        .extra(&["ns.dns.cluster.local. 30 IN A 10.96.0.10"]),
        Case::ok("ns.dns.cluster.local. A", &["ns.dns.cluster.local. 30 IN A 10.96.0.10"]),
        Case::nodata("cluster.local. A"),
        Case::nodata("dns.cluster.local. A"),
        // Empty non-terminals: svc, a namespace with Services, a Namespace object.
        Case::nodata("svc.cluster.local. A"),
        Case::nodata("kube-system.svc.cluster.local. A"),
        Case::nodata("quiet.svc.cluster.local. SRV"),
        Case::nxdomain("nowhere.svc.cluster.local. A"),
        Case::nxdomain("nothing.cluster.local. A"),
        Case::nxdomain("a.b.c.d.e.f.svc.cluster.local. A"),
        // The liveness probe's question.
        Case::ok("kube-dns.kube-system.svc.cluster.local. SRV", &[
            "kube-dns.kube-system.svc.cluster.local. 30 IN SRV 10 100 53 kube-dns.kube-system.svc.cluster.local.",
        ])
        .extra(&["kube-dns.kube-system.svc.cluster.local. 30 IN A 10.96.0.10"]),
        Case::refused("example.com. A"),
        Case::refused("local. SOA"),
        Case::refused(". NS"),
    ]);
}

#[test]
fn classes_and_serial() {
    let snap = zone(OBJECTS);
    assert_eq!(snap.serial(), 1);
    let name = Name::from_ascii("kube-dns.kube-system.svc.cluster.local.").unwrap();
    assert_eq!(
        snap.answer(&name, RecordType::A, DNSClass::CH).rcode,
        ResponseCode::Refused
    );
    assert_eq!(
        snap.answer(&name, RecordType::A, DNSClass::ANY)
            .answers
            .len(),
        1
    );
    // A relative name is treated as absolute.
    let rel = Name::from_ascii("kube-dns.kube-system.svc.cluster.local").unwrap();
    assert_eq!(
        snap.answer(&rel, RecordType::A, DNSClass::IN).answers.len(),
        1
    );
    let stats = snap.stats();
    assert_eq!(
        (stats.services, stats.cluster_ip_services, stats.namespaces),
        (1, 1, 1)
    );
}

#[test]
fn no_glue_without_dns_service() {
    let snap = zone("");
    run(
        &snap,
        &[
            Case::ok(
                "cluster.local. NS",
                &["cluster.local. 30 IN NS ns.dns.cluster.local."],
            ),
            Case::nodata("ns.dns.cluster.local. A"),
        ],
    );
}

#[test]
fn ttl_flags_and_skipped_objects() {
    let mut cfg = crate::support::config();
    cfg.ttl = 10;
    cfg.neg_ttl = 3;
    let snap = crate::support::zone_with(
        "apiVersion: v1\nkind: Service\nmetadata: {name: nons}\nspec: {clusterIP: 10.96.0.5}\n---\n\
         apiVersion: v1\nkind: Service\nmetadata: {name: Bad_Name, namespace: x}\nspec: {clusterIP: 10.96.0.6}\n---\n\
         apiVersion: v1\nkind: Service\nmetadata: {name: nons, namespace: default}\nspec: {clusterIP: 10.96.0.7}\n",
        &cfg,
    );
    run(&snap, &[
        // No namespace means default; the later duplicate is skipped.
        Case::ok("nons.default.svc.cluster.local. A", &["nons.default.svc.cluster.local. 10 IN A 10.96.0.5"]),
        Case::nxdomain("Bad_Name.x.svc.cluster.local. A")
            .ns(&["cluster.local. 3 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 3"]),
    ]);
    assert_eq!(snap.stats().skipped, 2);
    assert!(snap.is_in_zone(&Name::from_ascii("5.0.96.10.in-addr.arpa.").unwrap()));
    assert!(!snap.is_in_zone(&Name::from_ascii("6.0.96.10.in-addr.arpa.").unwrap()));
    assert!(snap.is_in_zone(&Name::from_ascii("anything.cluster.local.").unwrap()));
    let kinds: Vec<&str> = snap.stats().by_kind().iter().map(|(k, _)| *k).collect();
    assert!(kinds.contains(&"published_endpoints"));
}
