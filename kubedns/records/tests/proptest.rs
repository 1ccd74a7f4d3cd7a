//! `answer()` never panics, whatever the name, type and class.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, RecordType};
use kubedns_records::{ZoneConfig, ZoneSnapshot, from_yaml_documents, project};
use proptest::prelude::*;

fn snapshot() -> ZoneSnapshot {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/examples/cluster.yaml"
    ))
    .unwrap();
    let mut cfg = ZoneConfig::new(Name::from_ascii("cluster.local.").unwrap());
    cfg.reverse_cidrs = vec!["10.96.0.0/12".parse().unwrap(), "fd00::/8".parse().unwrap()];
    project(&from_yaml_documents(&text).unwrap(), &cfg, 1)
}

/// Labels drawn from the zone's vocabulary, plus arbitrary bytes.
fn label() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::sample::select(vec![
            "cluster",
            "local",
            "svc",
            "pod",
            "default",
            "coocla",
            "web",
            "web-sts",
            "web-0",
            "_tcp",
            "_udp",
            "_web80",
            "_http",
            "client-svc",
            "dns",
            "ns",
            "dns-version",
            "in-addr",
            "ip6",
            "arpa",
            "10",
            "96",
            "0",
            "1",
            "a",
            "f",
            "10-244-1-5",
            "fd00--1",
            "KUBERNETES",
            "*",
            "-",
            "256",
            "01",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 1..20),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn answer_never_panics(labels in prop::collection::vec(label(), 0..10), qtype in any::<u16>(), class in prop::sample::select(vec![1u16, 3, 254, 255, 42])) {
        let snap = snapshot_cached();
        let Ok(mut name) = Name::from_labels(labels) else { return Ok(()) };
        name.set_fqdn(true);
        let a = snap.answer(&name, RecordType::from(qtype), DNSClass::from(class));
        if a.rcode == ResponseCode::Refused {
            prop_assert!(a.answers.is_empty() && !a.authoritative);
        }
        let mut zone_suffixed = name.clone();
        if let Ok(n) = name.append_domain(&Name::from_ascii("svc.cluster.local.").unwrap()) {
            zone_suffixed = n;
        }
        let _ = snap.answer(&zone_suffixed, RecordType::from(qtype), DNSClass::IN);
    }
}

fn snapshot_cached() -> &'static ZoneSnapshot {
    static SNAP: std::sync::OnceLock<ZoneSnapshot> = std::sync::OnceLock::new();
    SNAP.get_or_init(snapshot)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// Any IP's reverse name (or a prefix of it): PTR when owned, NXDOMAIN inside the
    /// reverse CIDRs, REFUSED outside; never a panic.
    #[test]
    fn reverse_names_follow_the_cidr_rule(v4 in any::<u32>(), v6 in any::<u128>(), near in 0u32..4096, cut in 0usize..33) {
        let snap = snapshot_cached();
        let ips: [std::net::IpAddr; 3] = [
            std::net::Ipv4Addr::from(v4).into(),
            std::net::Ipv4Addr::from(0x0a60_0000 + near).into(),
            std::net::Ipv6Addr::from(v6).into(),
        ];
        for ip in ips {
            let name = kubedns_records::name::reverse_name(ip).unwrap();
            let a = snap.answer(&name, RecordType::PTR, DNSClass::IN);
            let inside = ["10.96.0.0/12", "fd00::/8"].iter().any(|c| c.parse::<ipnet::IpNet>().unwrap().contains(&ip));
            match a.rcode {
                ResponseCode::NoError => prop_assert_eq!(a.answers.len(), 1),
                ResponseCode::NXDomain => prop_assert!(inside),
                ResponseCode::Refused => prop_assert!(!inside),
                other => prop_assert!(false, "unexpected {:?}", other),
            }
            let labels: Vec<&[u8]> = name.iter().collect();
            let keep = labels.len().saturating_sub(cut.min(labels.len()));
            if let Ok(mut partial) = Name::from_labels(labels[labels.len() - keep..].to_vec()) {
                partial.set_fqdn(true);
                let _ = snap.answer(&partial, RecordType::ANY, DNSClass::IN);
            }
        }
    }
}
