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
