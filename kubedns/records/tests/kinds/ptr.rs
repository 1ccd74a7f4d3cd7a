//! Spec §2.3.3 and §2.4.3: PTR for cluster IPs and endpoints; NXDOMAIN vs REFUSED by
//! `--reverse-cidrs`.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::Name;

use crate::support::{Case, config, run, zone, zone_with};

const OBJECTS: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: dual, namespace: ns}
spec: {clusterIP: 10.96.0.40, clusterIPs: [10.96.0.40, "2001:db8::8a2e:370:7334"]}
---
apiVersion: v1
kind: Service
metadata: {name: sts, namespace: ns}
spec: {clusterIP: None}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: sts-1
  namespace: ns
  labels: {kubernetes.io/service-name: sts}
addressType: IPv4
endpoints:
- {addresses: [10.244.0.7], hostname: sts-0}
- {addresses: [10.244.0.8]}
"#;

const REV_SOA: &str =
    "10.in-addr.arpa. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5";

#[test]
fn ptr_records() {
    let snap = zone(OBJECTS);
    run(
        &snap,
        &[
            Case::ok(
                "40.0.96.10.in-addr.arpa. PTR",
                &["40.0.96.10.in-addr.arpa. 30 IN PTR dual.ns.svc.cluster.local."],
            ),
            Case::ok(
                "4.3.3.7.0.7.3.0.e.2.a.8.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. PTR",
                &[
                    "4.3.3.7.0.7.3.0.e.2.a.8.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 30 IN PTR dual.ns.svc.cluster.local.",
                ],
            ),
            Case::ok(
                "7.0.244.10.in-addr.arpa. PTR",
                &["7.0.244.10.in-addr.arpa. 30 IN PTR sts-0.sts.ns.svc.cluster.local."],
            ),
            Case::ok(
                "8.0.244.10.IN-ADDR.ARPA. PTR",
                &["8.0.244.10.IN-ADDR.ARPA. 30 IN PTR 10-244-0-8.sts.ns.svc.cluster.local."],
            ),
            // Without --reverse-cidrs, unknown IPs and partial names are not ours.
            Case::refused("9.0.244.10.in-addr.arpa. PTR"),
            Case::refused("0.244.10.in-addr.arpa. PTR"),
            Case::refused("010.0.96.10.in-addr.arpa. PTR"),
        ],
    );
    let a = crate::support::ask(&snap, "40.0.96.10.in-addr.arpa. A");
    assert_eq!(
        (a.rcode, a.answers.len(), a.authority.len()),
        (ResponseCode::NoError, 0, 1)
    );
}

#[test]
fn reverse_cidrs_make_unknown_ips_nxdomain() {
    let mut cfg = config();
    cfg.reverse_cidrs = vec![
        "10.96.0.0/12".parse().unwrap(),
        "fd00::/64".parse().unwrap(),
    ];
    let snap = zone_with(OBJECTS, &cfg);
    run(
        &snap,
        &[
            Case::nxdomain("41.0.96.10.in-addr.arpa. PTR").ns(&[REV_SOA]),
            Case::nodata("0.96.10.in-addr.arpa. PTR").ns(&[REV_SOA]),
            Case::nxdomain("1.96.10.in-addr.arpa. PTR").ns(&[REV_SOA]),
            Case::nodata("96.10.in-addr.arpa. PTR").ns(&[REV_SOA]),
            Case::ok(
                "10.in-addr.arpa. SOA",
                &[
                    "10.in-addr.arpa. 30 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5",
                ],
            ),
            Case::ok(
                "10.in-addr.arpa. NS",
                &["10.in-addr.arpa. 30 IN NS ns.dns.cluster.local."],
            ),
            Case::nodata("10.in-addr.arpa. A").ns(&[REV_SOA]),
            // Inside the apex zone but outside the CIDR: not ours.
            Case::refused("1.0.0.10.in-addr.arpa. PTR"),
            Case::refused("1.0.168.192.in-addr.arpa. PTR"),
            Case::refused("in-addr.arpa. SOA"),
        ],
    );
    let zone_cfg = &cfg;
    for (name, ours) in [
        ("41.0.96.10.in-addr.arpa.", true),
        ("1.0.0.10.in-addr.arpa.", false),
        ("web.ns.svc.cluster.local.", true),
        ("cluster.local.", true),
        ("example.com.", false),
        (
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.",
            true,
        ),
    ] {
        assert_eq!(
            zone_cfg.is_in_zone(&Name::from_ascii(name).unwrap()),
            ours,
            "{name}"
        );
    }
}
