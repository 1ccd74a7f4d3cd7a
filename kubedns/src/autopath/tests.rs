//! Table tests of [`decide`]: a pod in `default` (10.244.1.5) and one in `other`
//! (10.244.2.7); a ClusterIP Service `my-nginx` in `default`, an ExternalName `ext` in
//! `default`, a ClusterIP `shared` in `other`.

use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, RecordType};
use kubedns_records::{
    PodMode, ZoneConfig, ZoneSnapshot, from_yaml_documents, project, record_text,
};

use super::{Client, Decision, decide};
use crate::metrics::AutopathOutcome;

const OBJECTS: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
status: {podIP: 10.244.1.5, podIPs: [{ip: 10.244.1.5}, {ip: "fd00::5"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: other}
status: {podIP: 10.244.2.7}
---
apiVersion: v1
kind: Service
metadata: {name: my-nginx, namespace: default}
spec: {clusterIP: 10.96.0.20, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: default}
spec: {type: ExternalName, externalName: www.example.org}
---
apiVersion: v1
kind: Service
metadata: {name: shared, namespace: other}
spec: {clusterIP: 10.96.0.30, ports: [{port: 80}]}
"#;

fn zone() -> ZoneSnapshot {
    let mut cfg = ZoneConfig::new(Name::from_ascii("cluster.local.").unwrap());
    cfg.pods = PodMode::Verified;
    project(&from_yaml_documents(OBJECTS).unwrap(), &cfg, 1)
}

fn ask(snap: &ZoneSnapshot, q: &str, client: &str) -> Decision {
    let (name, qtype) = q.split_once(' ').unwrap();
    let name = Name::from_ascii(name).unwrap();
    let qtype: RecordType = qtype.parse().unwrap();
    let asked = snap.answer(&name, qtype, DNSClass::IN);
    let client = match client {
        "subnet" => Client::Subnet,
        ip => Client::Addr(ip.parse::<IpAddr>().unwrap()),
    };
    decide(snap, &name, qtype, DNSClass::IN, asked, client)
}

/// `(rcode, outcome, answer lines)`; outcome `None` when untouched.
fn run(q: &str, client: &str) -> (ResponseCode, Option<AutopathOutcome>, Vec<String>) {
    let snap = zone();
    let (answer, outcome) = match ask(&snap, q, client) {
        Decision::Untouched(a) => (a, None),
        Decision::Depends { answer, outcome } => (answer, Some(outcome)),
    };
    let lines = answer.answers.iter().map(record_text).collect();
    (answer.rcode, outcome, lines)
}

/// `(question, client, rcode, outcome, answer lines)`.
type Case = (
    &'static str,
    &'static str,
    ResponseCode,
    Option<AutopathOutcome>,
    &'static [&'static str],
);

#[test]
fn table() {
    use AutopathOutcome::*;
    use ResponseCode::{NXDomain, NoError};
    let pod = "10.244.1.5";
    #[rustfmt::skip]
    let cases: &[Case] = &[
        // An outside name: CNAME to the bare name, for the cache to complete.
        ("api.example.test.default.svc.cluster.local. A", pod, NoError, Some(OutsideCname),
         &["api.example.test.default.svc.cluster.local. 5 IN CNAME api.example.test."]),
        // The same through the pod's IPv6 address, and through its IPv4-mapped spelling.
        ("api.example.test.default.svc.cluster.local. AAAA", "fd00::5", NoError, Some(OutsideCname),
         &["api.example.test.default.svc.cluster.local. 5 IN CNAME api.example.test."]),
        ("api.example.test.default.svc.cluster.local. A", "::ffff:10.244.1.5", NoError, Some(OutsideCname),
         &["api.example.test.default.svc.cluster.local. 5 IN CNAME api.example.test."]),
        // <svc>.<ns> from the pod: found at the second search domain.
        ("my-nginx.default.default.svc.cluster.local. A", pod, NoError, Some(InZone),
         &["my-nginx.default.default.svc.cluster.local. 5 IN CNAME my-nginx.default.svc.cluster.local.",
           "my-nginx.default.svc.cluster.local. 30 IN A 10.96.0.20"]),
        // A name that exists but has no data of the type: still the first that exists.
        ("my-nginx.default.default.svc.cluster.local. AAAA", pod, NoError, Some(InZone),
         &["my-nginx.default.default.svc.cluster.local. 5 IN CNAME my-nginx.default.svc.cluster.local."]),
        // The third search domain: <base>.<zone>.
        ("svc.default.svc.cluster.local. SOA", pod, NoError, Some(InZone),
         &["svc.default.svc.cluster.local. 5 IN CNAME svc.cluster.local."]),
        // An ExternalName found through the search path: both CNAMEs.
        ("ext.default.default.svc.cluster.local. A", pod, NoError, Some(InZone),
         &["ext.default.default.svc.cluster.local. 5 IN CNAME ext.default.svc.cluster.local.",
           "ext.default.svc.cluster.local. 30 IN CNAME www.example.org."]),
        // A bare name inside the zone is answered here (NXDOMAIN behind the CNAME).
        ("nope.cluster.local.default.svc.cluster.local. A", pod, NXDomain, Some(OutsideCname),
         &["nope.cluster.local.default.svc.cluster.local. 5 IN CNAME nope.cluster.local."]),
        // Names that exist: untouched, whoever asks.
        ("my-nginx.default.svc.cluster.local. A", pod, NoError, None,
         &["my-nginx.default.svc.cluster.local. 30 IN A 10.96.0.20"]),
        // The second search domain reads as `<api.example>.<test>.svc`: another namespace.
        ("api.example.test.svc.cluster.local. A", pod, NXDomain, Some(OtherNamespace), &[]),
        // Not the first search domain's shape: untouched.
        ("api.example.test.cluster.local. A", pod, NXDomain, None, &[]),
        ("default.svc.cluster.local. A", pod, NoError, None, &[]),
        ("nope.default.pod.cluster.local. A", pod, NXDomain, None, &[]),
        // Not the pod's namespace, an unknown client, a short subnet: today's answer.
        ("api.example.test.other.svc.cluster.local. A", pod, NXDomain, Some(OtherNamespace), &[]),
        ("api.example.test.default.svc.cluster.local. A", "10.244.2.7", NXDomain, Some(OtherNamespace), &[]),
        ("api.example.test.default.svc.cluster.local. A", "192.168.0.1", NXDomain, Some(UnknownClient), &[]),
        ("api.example.test.default.svc.cluster.local. A", "subnet", NXDomain, Some(ShortPrefix), &[]),
        // The second pod gets its own namespace's search path.
        ("shared.other.svc.cluster.local. A", "10.244.2.7", NoError, None,
         &["shared.other.svc.cluster.local. 30 IN A 10.96.0.30"]),
        ("shared.other.other.svc.cluster.local. A", "10.244.2.7", NoError, Some(InZone),
         &["shared.other.other.svc.cluster.local. 5 IN CNAME shared.other.svc.cluster.local.",
           "shared.other.svc.cluster.local. 30 IN A 10.96.0.30"]),
        // Question spelling is kept on the owner.
        ("API.Example.Test.Default.SVC.cluster.local. A", pod, NoError, Some(OutsideCname),
         &["API.Example.Test.Default.SVC.cluster.local. 5 IN CNAME API.Example.Test."]),
    ];
    for (q, client, rcode, outcome, lines) in cases {
        let got = run(q, client);
        assert_eq!(
            got,
            (
                *rcode,
                *outcome,
                lines.iter().map(|s| s.to_string()).collect()
            ),
            "{q} from {client}"
        );
    }
}

#[test]
fn other_classes_are_untouched() {
    let snap = zone();
    let name = Name::from_ascii("x.default.svc.cluster.local.").unwrap();
    let asked = snap.answer(&name, RecordType::A, DNSClass::CH);
    let pod = Client::Addr("10.244.1.5".parse().unwrap());
    let d = decide(&snap, &name, RecordType::A, DNSClass::CH, asked, pod);
    assert!(matches!(d, Decision::Untouched(_)));
}
