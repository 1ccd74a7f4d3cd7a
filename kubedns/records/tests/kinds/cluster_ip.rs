//! Spec §2.3: ClusterIP A/AAAA, SRV for named ports, SRV at the bare name.

use crate::support::{Case, SOA, run, zone};

const OBJECTS: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ns}
spec:
  clusterIP: 10.96.0.20
  clusterIPs: [10.96.0.20, "fd00::20"]
  ports:
  - {name: http, port: 80, protocol: TCP}
  - {name: dns, port: 53, protocol: UDP}
  - {port: 9090}
---
apiVersion: v1
kind: Service
metadata: {name: solo, namespace: ns}
spec:
  clusterIP: 10.96.0.21
  ports: [{port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: noports, namespace: ns}
spec: {clusterIP: 10.96.0.22}
"#;

#[test]
fn cluster_ip_records() {
    let snap = zone(OBJECTS);
    run(&snap, &[
        Case::ok("web.ns.svc.cluster.local. A", &["web.ns.svc.cluster.local. 30 IN A 10.96.0.20"]),
        Case::ok("web.ns.svc.cluster.local. AAAA", &["web.ns.svc.cluster.local. 30 IN AAAA fd00::20"]),
        Case::ok("web.ns.svc.cluster.local. ANY", &[
            "web.ns.svc.cluster.local. 30 IN A 10.96.0.20",
            "web.ns.svc.cluster.local. 30 IN AAAA fd00::20",
        ]),
        Case::ok("_http._tcp.web.ns.svc.cluster.local. SRV", &[
            "_http._tcp.web.ns.svc.cluster.local. 30 IN SRV 10 100 80 web.ns.svc.cluster.local.",
        ])
        .extra(&["web.ns.svc.cluster.local. 30 IN A 10.96.0.20", "web.ns.svc.cluster.local. 30 IN AAAA fd00::20"]),
        Case::ok("_dns._udp.web.ns.svc.cluster.local. SRV", &[
            "_dns._udp.web.ns.svc.cluster.local. 30 IN SRV 10 100 53 web.ns.svc.cluster.local.",
        ])
        .extra(&["web.ns.svc.cluster.local. 30 IN A 10.96.0.20", "web.ns.svc.cluster.local. 30 IN AAAA fd00::20"]),
        // The bare name: one SRV per port, named or not; weight floor(100/3).
        Case::ok("web.ns.svc.cluster.local. SRV", &[
            "web.ns.svc.cluster.local. 30 IN SRV 10 33 80 web.ns.svc.cluster.local.",
            "web.ns.svc.cluster.local. 30 IN SRV 10 33 53 web.ns.svc.cluster.local.",
            "web.ns.svc.cluster.local. 30 IN SRV 10 33 9090 web.ns.svc.cluster.local.",
        ])
        .extra(&["web.ns.svc.cluster.local. 30 IN A 10.96.0.20", "web.ns.svc.cluster.local. 30 IN AAAA fd00::20"]),
        Case::ok("solo.ns.svc.cluster.local. SRV", &[
            "solo.ns.svc.cluster.local. 30 IN SRV 10 100 8080 solo.ns.svc.cluster.local.",
        ])
        .extra(&["solo.ns.svc.cluster.local. 30 IN A 10.96.0.21"]),
        // IPv4-only: AAAA is NODATA; a Service without ports has no SRV.
        Case::nodata("solo.ns.svc.cluster.local. AAAA"),
        Case::nodata("noports.ns.svc.cluster.local. SRV"),
        Case::nodata("web.ns.svc.cluster.local. TXT"),
        Case::nodata("web.ns.svc.cluster.local. CNAME"),
        // SRV names: wrong type NODATA, the `_tcp` level is an empty non-terminal.
        Case::nodata("_http._tcp.web.ns.svc.cluster.local. A"),
        Case::nodata("_tcp.web.ns.svc.cluster.local. SRV"),
        Case::nodata("_udp.web.ns.svc.cluster.local. A"),
        Case::nxdomain("_sctp.web.ns.svc.cluster.local. SRV"),
        Case::nxdomain("_http._udp.web.ns.svc.cluster.local. SRV"),
        Case::nxdomain("_nope._tcp.web.ns.svc.cluster.local. SRV"),
        Case::nxdomain("http._tcp.web.ns.svc.cluster.local. SRV"),
        Case::nxdomain("x._http._tcp.web.ns.svc.cluster.local. SRV"),
        Case::nxdomain("other.ns.svc.cluster.local. A"),
        // Case-insensitive, spelling of the question kept.
        Case::ok("WeB.Ns.SVC.Cluster.Local. A", &["WeB.Ns.SVC.Cluster.Local. 30 IN A 10.96.0.20"]),
    ]);
    assert_eq!(SOA.split(' ').next(), Some("cluster.local."));
}

#[test]
fn owner_spelling_is_kept() {
    let snap = zone(OBJECTS);
    let a = crate::support::ask(&snap, "_HTTP._Tcp.WEB.ns.svc.cluster.local. SRV");
    assert_eq!(
        a.answers[0].name.to_string(),
        "_HTTP._Tcp.WEB.ns.svc.cluster.local."
    );
    // Targets and additionals keep the zone's own spelling.
    assert_eq!(
        a.additionals[0].name.to_string(),
        "web.ns.svc.cluster.local."
    );
}

/// IPs are read as kube-dns reads them (`net.ParseIP(s).String()`): an IPv4-mapped IPv6
/// address is IPv4, in cluster IPs and endpoint addresses alike (A, dashed name, PTR).
#[test]
fn ipv4_mapped_addresses_are_ipv4() {
    let snap = zone(
        r#"
apiVersion: v1
kind: Service
metadata: {name: mapped, namespace: ns}
spec: {clusterIP: "::ffff:10.96.0.9"}
---
apiVersion: v1
kind: Service
metadata: {name: hl, namespace: ns}
spec: {clusterIP: None}
---
apiVersion: v1
kind: Endpoints
metadata: {name: hl, namespace: ns}
subsets: [{addresses: [{ip: "::ffff:10.0.0.9"}]}]
"#,
    );
    run(
        &snap,
        &[
            Case::ok(
                "mapped.ns.svc.cluster.local. A",
                &["mapped.ns.svc.cluster.local. 30 IN A 10.96.0.9"],
            ),
            Case::nodata("mapped.ns.svc.cluster.local. AAAA"),
            Case::ok(
                "hl.ns.svc.cluster.local. A",
                &["hl.ns.svc.cluster.local. 30 IN A 10.0.0.9"],
            ),
            Case::ok(
                "10-0-0-9.hl.ns.svc.cluster.local. A",
                &["10-0-0-9.hl.ns.svc.cluster.local. 30 IN A 10.0.0.9"],
            ),
            Case::ok(
                "9.0.0.10.in-addr.arpa. PTR",
                &["9.0.0.10.in-addr.arpa. 30 IN PTR 10-0-0-9.hl.ns.svc.cluster.local."],
            ),
            Case::ok(
                "9.0.96.10.in-addr.arpa. PTR",
                &["9.0.96.10.in-addr.arpa. 30 IN PTR mapped.ns.svc.cluster.local."],
            ),
        ],
    );
}

/// Endpoints of a ClusterIP Service are not published (spec §2.4 names endpoints of headless
/// Services only; kube-dns does the same): no endpoint names, no PTR for the pod IPs, and the
/// Service name answers with its cluster IP whatever the endpoints are.
#[test]
fn cluster_ip_endpoints_are_not_published() {
    let snap = zone(
        r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ns}
spec: {clusterIP: 10.96.0.30, ports: [{name: http, port: 80, protocol: TCP}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abc, namespace: ns, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints:
- {addresses: [10.244.1.5], hostname: web-0}
ports: [{name: http, port: 8080, protocol: TCP}]
"#,
    );
    run(
        &snap,
        &[
            Case::ok("web.ns.svc.cluster.local. A", &["web.ns.svc.cluster.local. 30 IN A 10.96.0.30"]),
            Case::nxdomain("10-244-1-5.web.ns.svc.cluster.local. A"),
            Case::nxdomain("web-0.web.ns.svc.cluster.local. A"),
            Case::ok(
                "_http._tcp.web.ns.svc.cluster.local. SRV",
                &["_http._tcp.web.ns.svc.cluster.local. 30 IN SRV 10 100 80 web.ns.svc.cluster.local."],
            )
            .extra(&["web.ns.svc.cluster.local. 30 IN A 10.96.0.30"]),
        ],
    );
    let ptr = crate::support::ask(&snap, "5.1.244.10.in-addr.arpa. PTR");
    assert!(ptr.answers.is_empty(), "{ptr:?}");
}
