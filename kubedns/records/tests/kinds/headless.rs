//! Spec §2.4: headless A/AAAA, endpoint names, SRV per endpoint, readiness, merged slices,
//! core/v1 Endpoints, NXDOMAIN without ready endpoints.

use crate::support::{Case, run, zone};

const OBJECTS: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: db, namespace: ns}
spec:
  clusterIP: None
  ports: [{name: pg, port: 5432}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: db-1
  namespace: ns
  labels: {kubernetes.io/service-name: db}
addressType: IPv4
endpoints:
- {addresses: [10.244.0.1], hostname: db-0}
- {addresses: [10.244.0.2], hostname: db-1, conditions: {ready: true}}
- {addresses: [10.244.0.3], hostname: db-2, conditions: {ready: false}}
ports: [{name: pg, port: 5432, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: db-2
  namespace: ns
  labels: {kubernetes.io/service-name: db}
addressType: IPv4
endpoints:
- {addresses: [10.244.0.4]}
ports: [{name: pg, port: 5432, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: db-3
  namespace: ns
  labels: {kubernetes.io/service-name: db}
addressType: IPv6
endpoints:
- {addresses: ["fd00::4"], hostname: db-0}
ports: [{name: pg, port: 5432, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: warm, namespace: ns}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: warm-1
  namespace: ns
  labels: {kubernetes.io/service-name: warm}
addressType: IPv4
endpoints:
- {addresses: [10.244.1.1], conditions: {ready: false}}
---
apiVersion: v1
kind: Service
metadata: {name: empty, namespace: ns}
spec: {clusterIP: None}
---
apiVersion: v1
kind: Service
metadata: {name: cold, namespace: ns}
spec: {clusterIP: None}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: cold-1
  namespace: ns
  labels: {kubernetes.io/service-name: cold}
addressType: IPv4
endpoints:
- {addresses: [10.244.2.1], conditions: {ready: false}}
---
# kube-dns TestHeadlessServiceWithDelayedEndpointsAddition-style subsets with their own ports.
apiVersion: v1
kind: Service
metadata: {name: legacy, namespace: ns}
spec: {clusterIP: None}
---
apiVersion: v1
kind: Endpoints
metadata: {name: legacy, namespace: ns}
subsets:
- addresses: [{ip: 10.0.0.1}, {ip: 10.0.0.2}]
  ports: [{name: http1, port: 80}, {name: http2, port: 81}]
- addresses: [{ip: 10.0.0.3}]
  notReadyAddresses: [{ip: 10.0.0.4}]
  ports: [{name: https, port: 443}]
"#;

#[test]
fn headless_records() {
    let snap = zone(OBJECTS);
    run(&snap, &[
        // Ready or unset conditions are published, not-ready left out; slices merged.
        Case::ok("db.ns.svc.cluster.local. A", &[
            "db.ns.svc.cluster.local. 30 IN A 10.244.0.1",
            "db.ns.svc.cluster.local. 30 IN A 10.244.0.2",
            "db.ns.svc.cluster.local. 30 IN A 10.244.0.4",
        ]),
        Case::ok("db.ns.svc.cluster.local. AAAA", &["db.ns.svc.cluster.local. 30 IN AAAA fd00::4"]),
        // A hostname shared by two IPs: one record per IP.
        Case::ok("db-0.db.ns.svc.cluster.local. A", &["db-0.db.ns.svc.cluster.local. 30 IN A 10.244.0.1"]),
        Case::ok("db-0.db.ns.svc.cluster.local. AAAA", &["db-0.db.ns.svc.cluster.local. 30 IN AAAA fd00::4"]),
        Case::ok("10-244-0-4.db.ns.svc.cluster.local. A", &["10-244-0-4.db.ns.svc.cluster.local. 30 IN A 10.244.0.4"]),
        Case::nodata("10-244-0-4.db.ns.svc.cluster.local. AAAA"),
        Case::nxdomain("db-2.db.ns.svc.cluster.local. A"),
        Case::nxdomain("10-244-0-3.db.ns.svc.cluster.local. A"),
        Case::ok("_pg._tcp.db.ns.svc.cluster.local. SRV", &[
            "_pg._tcp.db.ns.svc.cluster.local. 30 IN SRV 10 33 5432 db-0.db.ns.svc.cluster.local.",
            "_pg._tcp.db.ns.svc.cluster.local. 30 IN SRV 10 33 5432 db-1.db.ns.svc.cluster.local.",
            "_pg._tcp.db.ns.svc.cluster.local. 30 IN SRV 10 33 5432 10-244-0-4.db.ns.svc.cluster.local.",
        ])
        .extra(&[
            "db-0.db.ns.svc.cluster.local. 30 IN A 10.244.0.1",
            "db-0.db.ns.svc.cluster.local. 30 IN AAAA fd00::4",
            "db-1.db.ns.svc.cluster.local. 30 IN A 10.244.0.2",
            "10-244-0-4.db.ns.svc.cluster.local. 30 IN A 10.244.0.4",
        ]),
        Case::ok("db.ns.svc.cluster.local. SRV", &[
            "db.ns.svc.cluster.local. 30 IN SRV 10 33 5432 db-0.db.ns.svc.cluster.local.",
            "db.ns.svc.cluster.local. 30 IN SRV 10 33 5432 db-1.db.ns.svc.cluster.local.",
            "db.ns.svc.cluster.local. 30 IN SRV 10 33 5432 10-244-0-4.db.ns.svc.cluster.local.",
        ])
        .extra(&[
            "db-0.db.ns.svc.cluster.local. 30 IN A 10.244.0.1",
            "db-0.db.ns.svc.cluster.local. 30 IN AAAA fd00::4",
            "db-1.db.ns.svc.cluster.local. 30 IN A 10.244.0.2",
            "10-244-0-4.db.ns.svc.cluster.local. 30 IN A 10.244.0.4",
        ]),
        Case::nodata("_tcp.db.ns.svc.cluster.local. A"),
        // publishNotReadyAddresses publishes not-ready endpoints; no ports: bare SRV port 0.
        Case::ok("warm.ns.svc.cluster.local. A", &["warm.ns.svc.cluster.local. 30 IN A 10.244.1.1"]),
        Case::ok("warm.ns.svc.cluster.local. SRV", &[
            "warm.ns.svc.cluster.local. 30 IN SRV 10 100 0 10-244-1-1.warm.ns.svc.cluster.local.",
        ])
        .extra(&["10-244-1-1.warm.ns.svc.cluster.local. 30 IN A 10.244.1.1"]),
        // No ready endpoint (or no endpoints at all): the name does not exist.
        Case::nxdomain("empty.ns.svc.cluster.local. A"),
        Case::nxdomain("cold.ns.svc.cluster.local. A"),
        Case::nxdomain("cold.ns.svc.cluster.local. SRV"),
        // core/v1 Endpoints: subsets with their own ports, notReadyAddresses left out.
        Case::ok("legacy.ns.svc.cluster.local. A", &[
            "legacy.ns.svc.cluster.local. 30 IN A 10.0.0.1",
            "legacy.ns.svc.cluster.local. 30 IN A 10.0.0.2",
            "legacy.ns.svc.cluster.local. 30 IN A 10.0.0.3",
        ]),
        Case::ok("_http2._tcp.legacy.ns.svc.cluster.local. SRV", &[
            "_http2._tcp.legacy.ns.svc.cluster.local. 30 IN SRV 10 50 81 10-0-0-1.legacy.ns.svc.cluster.local.",
            "_http2._tcp.legacy.ns.svc.cluster.local. 30 IN SRV 10 50 81 10-0-0-2.legacy.ns.svc.cluster.local.",
        ])
        .extra(&[
            "10-0-0-1.legacy.ns.svc.cluster.local. 30 IN A 10.0.0.1",
            "10-0-0-2.legacy.ns.svc.cluster.local. 30 IN A 10.0.0.2",
        ]),
        Case::ok("_https._tcp.legacy.ns.svc.cluster.local. SRV", &[
            "_https._tcp.legacy.ns.svc.cluster.local. 30 IN SRV 10 100 443 10-0-0-3.legacy.ns.svc.cluster.local.",
        ])
        .extra(&["10-0-0-3.legacy.ns.svc.cluster.local. 30 IN A 10.0.0.3"]),
        Case::nxdomain("10-0-0-4.legacy.ns.svc.cluster.local. A"),
    ]);
}

#[test]
fn large_headless_service_answers_every_endpoint() {
    let mut yaml = String::from(
        "apiVersion: v1\nkind: Service\nmetadata: {name: big, namespace: ns}\nspec: {clusterIP: None}\n---\n\
         apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: big-1\n  namespace: ns\n  \
         labels: {kubernetes.io/service-name: big}\naddressType: IPv4\nendpoints:\n",
    );
    for i in 0..1000 {
        yaml.push_str(&format!(
            "- addresses: [10.1.{}.{}]\n",
            i / 250,
            i % 250 + 1
        ));
    }
    let snap = zone(&yaml);
    let a = crate::support::ask(&snap, "big.ns.svc.cluster.local. A");
    assert_eq!(a.answers.len(), 1000);
    let a = crate::support::ask(&snap, "big.ns.svc.cluster.local. SRV");
    assert_eq!(a.answers.len(), 1000);
    // weight floor(100/1000) = 0
    assert!(kubedns_records::record_text(&a.answers[0]).contains(" SRV 10 0 0 "));
    assert_eq!(a.additionals.len(), 1000);
    let a = crate::support::ask(&snap, "10-1-3-250.big.ns.svc.cluster.local. A");
    assert_eq!(a.answers.len(), 1);
}

#[test]
fn slices_win_over_endpoints_and_legacy_annotation_publishes() {
    let snap = zone(
        r#"
apiVersion: v1
kind: Service
metadata:
  name: both
  namespace: ns
spec: {clusterIP: None}
---
apiVersion: v1
kind: Endpoints
metadata: {name: both, namespace: ns}
subsets: [{addresses: [{ip: 10.9.9.9}]}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: both-1, namespace: ns, labels: {kubernetes.io/service-name: both}}
addressType: IPv4
endpoints: [{addresses: [10.1.1.1]}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: both-2, namespace: ns, labels: {kubernetes.io/service-name: both}}
addressType: FQDN
endpoints: [{addresses: [example.com]}]
---
apiVersion: v1
kind: Service
metadata:
  name: tolerant
  namespace: ns
  annotations: {service.alpha.kubernetes.io/tolerate-unready-endpoints: "true"}
spec: {clusterIP: None}
---
apiVersion: v1
kind: Endpoints
metadata: {name: tolerant, namespace: ns}
subsets: [{notReadyAddresses: [{ip: 10.2.2.2, hostname: t-0}]}]
"#,
    );
    run(
        &snap,
        &[
            Case::ok(
                "both.ns.svc.cluster.local. A",
                &["both.ns.svc.cluster.local. 30 IN A 10.1.1.1"],
            ),
            Case::ok(
                "t-0.tolerant.ns.svc.cluster.local. A",
                &["t-0.tolerant.ns.svc.cluster.local. 30 IN A 10.2.2.2"],
            ),
            Case::ok(
                "2.2.2.10.in-addr.arpa. PTR",
                &["2.2.2.10.in-addr.arpa. 30 IN PTR t-0.tolerant.ns.svc.cluster.local."],
            ),
        ],
    );
}

/// The same address (same hostname) in two slices with different ports: one endpoint whose
/// SRV names answer the ports of both slices, and one A record.
#[test]
fn an_address_in_two_slices_keeps_the_ports_of_both() {
    let snap = zone(
        r#"
apiVersion: v1
kind: Service
metadata: {name: multi, namespace: ns}
spec: {clusterIP: None}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: multi-a, namespace: ns, labels: {kubernetes.io/service-name: multi}}
addressType: IPv4
endpoints: [{addresses: [10.0.0.1], hostname: m-0}]
ports: [{name: http, port: 80, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: multi-b, namespace: ns, labels: {kubernetes.io/service-name: multi}}
addressType: IPv4
endpoints: [{addresses: [10.0.0.1], hostname: m-0}]
ports: [{name: metrics, port: 9090, protocol: TCP}]
"#,
    );
    let extra = &["m-0.multi.ns.svc.cluster.local. 30 IN A 10.0.0.1"];
    run(&snap, &[
        Case::ok("multi.ns.svc.cluster.local. A", &["multi.ns.svc.cluster.local. 30 IN A 10.0.0.1"]),
        Case::ok("_http._tcp.multi.ns.svc.cluster.local. SRV", &[
            "_http._tcp.multi.ns.svc.cluster.local. 30 IN SRV 10 100 80 m-0.multi.ns.svc.cluster.local.",
        ])
        .extra(extra),
        Case::ok("_metrics._tcp.multi.ns.svc.cluster.local. SRV", &[
            "_metrics._tcp.multi.ns.svc.cluster.local. 30 IN SRV 10 100 9090 m-0.multi.ns.svc.cluster.local.",
        ])
        .extra(extra),
        Case::ok("multi.ns.svc.cluster.local. SRV", &[
            "multi.ns.svc.cluster.local. 30 IN SRV 10 50 80 m-0.multi.ns.svc.cluster.local.",
            "multi.ns.svc.cluster.local. 30 IN SRV 10 50 9090 m-0.multi.ns.svc.cluster.local.",
        ])
        .extra(extra),
    ]);
}
