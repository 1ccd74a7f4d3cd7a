//! Spec §2.5: ExternalName CNAME, chased inside the zone (bounded, loop-safe).

use hickory_proto::op::ResponseCode;

use crate::support::{Case, SOA, run, zone};

const OBJECTS: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: target, namespace: b}
spec: {clusterIP: 10.96.0.30, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: inside, namespace: a}
spec: {type: ExternalName, externalName: Target.b.svc.cluster.local}
---
apiVersion: v1
kind: Service
metadata: {name: twice, namespace: a}
spec: {type: ExternalName, externalName: inside.a.svc.cluster.local.}
---
apiVersion: v1
kind: Service
metadata: {name: outside, namespace: a}
spec: {type: ExternalName, externalName: www.example.com}
---
apiVersion: v1
kind: Service
metadata: {name: gone, namespace: a}
spec: {type: ExternalName, externalName: missing.b.svc.cluster.local}
---
apiVersion: v1
kind: Service
metadata: {name: loop1, namespace: a}
spec: {type: ExternalName, externalName: loop2.a.svc.cluster.local}
---
apiVersion: v1
kind: Service
metadata: {name: loop2, namespace: a}
spec: {type: ExternalName, externalName: loop1.a.svc.cluster.local}
"#;

#[test]
fn external_name_records() {
    let snap = zone(OBJECTS);
    run(
        &snap,
        &[
            Case::ok(
                "outside.a.svc.cluster.local. A",
                &["outside.a.svc.cluster.local. 30 IN CNAME www.example.com."],
            ),
            Case::ok(
                "outside.a.svc.cluster.local. CNAME",
                &["outside.a.svc.cluster.local. 30 IN CNAME www.example.com."],
            ),
            Case::ok(
                "outside.a.svc.cluster.local. ANY",
                &["outside.a.svc.cluster.local. 30 IN CNAME www.example.com."],
            ),
            Case::ok(
                "inside.a.svc.cluster.local. A",
                &[
                    "inside.a.svc.cluster.local. 30 IN CNAME target.b.svc.cluster.local.",
                    "target.b.svc.cluster.local. 30 IN A 10.96.0.30",
                ],
            ),
            Case::ok(
                "twice.a.svc.cluster.local. A",
                &[
                    "twice.a.svc.cluster.local. 30 IN CNAME inside.a.svc.cluster.local.",
                    "inside.a.svc.cluster.local. 30 IN CNAME target.b.svc.cluster.local.",
                    "target.b.svc.cluster.local. 30 IN A 10.96.0.30",
                ],
            ),
            Case::ok(
                "inside.a.svc.cluster.local. SRV",
                &[
                    "inside.a.svc.cluster.local. 30 IN CNAME target.b.svc.cluster.local.",
                    "target.b.svc.cluster.local. 30 IN SRV 10 100 80 target.b.svc.cluster.local.",
                ],
            )
            .extra(&["target.b.svc.cluster.local. 30 IN A 10.96.0.30"]),
            Case::nxdomain("x.outside.a.svc.cluster.local. A"),
            Case::nxdomain("_http._tcp.outside.a.svc.cluster.local. SRV"),
        ],
    );
    // CNAME chain ending in a missing name: NXDOMAIN with the CNAME kept (RFC 6604).
    let a = crate::support::ask(&snap, "gone.a.svc.cluster.local. A");
    assert_eq!(a.rcode, ResponseCode::NXDomain);
    assert_eq!(a.answers.len(), 1);
    assert_eq!(a.authority.len(), 1);
    // CNAME to an existing name without the type: NODATA with the chain.
    let a = crate::support::ask(&snap, "inside.a.svc.cluster.local. AAAA");
    assert_eq!((a.rcode, a.answers.len()), (ResponseCode::NoError, 1));
    assert_eq!(kubedns_records::record_text(&a.authority[0]), SOA);
    // A loop ends after each name once, with no error.
    let a = crate::support::ask(&snap, "loop1.a.svc.cluster.local. A");
    assert_eq!((a.rcode, a.answers.len()), (ResponseCode::NoError, 2));
    // Out-of-zone target: the server may chase it.
    let a = crate::support::ask(&snap, "outside.a.svc.cluster.local. A");
    assert_eq!(
        a.dangling_cname().map(|n| n.to_string()).as_deref(),
        Some("www.example.com.")
    );
}
