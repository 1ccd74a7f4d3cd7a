//! The fast path against the reference path (hickory decode, `ZoneSnapshot::answer`,
//! hickory encode), message by message: every question of the spec corpus (the record-kind
//! table tests' fixtures and questions, the example cluster and its golden zone, this crate's
//! fixture), in several spellings, types, EDNS sizes and header flags, over UDP and TCP, plus
//! seeded random mutations of the packets. Whenever the fast path answers, its reply must
//! parse to the reference's message (names compared with their case). The one allowed
//! difference: the fast path compresses better, so a reply the reference had to cut (TC) may
//! fit whole; it then holds every record the reference sent and fits the limit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use hickory_net::xfer::Protocol;
use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::{Name, Record, RecordType};
use kubedns::handler::Handler;
use kubedns_records::{ClusterObjects, PodMode, ZoneConfig, from_yaml_documents, project};

const TYPES: [u16; 14] = [1, 28, 33, 12, 16, 6, 2, 5, 255, 15, 252, 0, 65535, 99];

fn records_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/records"))
}

/// The YAML fixtures (raw strings holding `apiVersion`) and the `"<name> <TYPE>"` questions
/// of the record-kind table tests.
fn kinds_corpus() -> (Vec<String>, Vec<String>) {
    let (mut fixtures, mut names) = (Vec::new(), Vec::new());
    for entry in std::fs::read_dir(records_dir().join("tests/kinds")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for raw in text.split("r#\"").skip(1) {
            let body = raw.split("\"#").next().unwrap_or("");
            if body.contains("apiVersion") {
                fixtures.push(body.to_string());
            }
        }
        for quoted in text.split('"').skip(1).step_by(2) {
            if let Some((name, ty)) = quoted.rsplit_once(' ')
                && ty.parse::<RecordType>().is_ok()
                && !name.contains(' ')
                && Name::from_ascii(name).is_ok()
            {
                names.push(name.to_string());
            }
        }
    }
    (fixtures, names)
}

/// Owner names of the golden zone of the example cluster.
fn golden_names() -> Vec<String> {
    let text = std::fs::read_to_string(records_dir().join("testdata/golden/example.zone")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with(';'))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

fn example_objects() -> ClusterObjects {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples");
    let mut objects = ClusterObjects::default();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "yaml") {
            objects.extend(from_yaml_documents(&std::fs::read_to_string(p).unwrap()).unwrap());
        }
    }
    objects
}

fn configs() -> Vec<ZoneConfig> {
    let base = ZoneConfig::new(Name::from_ascii("cluster.local.").unwrap());
    let mut verified = base.clone();
    verified.pods = PodMode::Verified;
    verified.reverse_cidrs = vec!["10.96.0.0/12".parse().unwrap(), "fd00::/8".parse().unwrap()];
    let mut disabled = base.clone();
    disabled.pods = PodMode::Disabled;
    disabled.neg_ttl = 9;
    vec![base, verified, disabled]
}

fn handler(objects: &ClusterObjects, cfg: &ZoneConfig) -> Handler {
    let reg = prometheus::Registry::new();
    let metrics = kubedns::metrics::DnsMetrics::register(&reg).unwrap();
    let zone = Arc::new(kubedns::zone::ZoneView::new());
    zone.store(Arc::new(project(objects, cfg, 3)));
    Handler::new(zone, cfg, metrics)
}

/// Spellings of `name`: as given, upper-case, mixed case, and a few neighbours.
fn spellings(name: &str) -> Vec<String> {
    let mixed: String = name
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    let mut out = vec![name.to_string(), name.to_ascii_uppercase(), mixed];
    if let Some((_, parent)) = name.split_once('.') {
        out.push(parent.to_string());
    }
    out.push(format!("x.{name}"));
    out.push(format!("_http._tcp.{name}"));
    out
}

/// Query packets for `name`: each type, with and without EDNS, with other flags.
fn packets(name: &str, id: u16) -> Vec<Vec<u8>> {
    let Ok(qname) = Name::from_ascii(name) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, ty) in TYPES.iter().enumerate() {
        let mut m = Message::query();
        m.metadata.id = id.wrapping_add(i as u16);
        m.metadata.recursion_desired = i % 2 == 0;
        m.metadata.checking_disabled = i % 3 == 0;
        m.add_query(Query::query(qname.clone(), RecordType::from(*ty)));
        let edns = [None, Some(4096), Some(1232), Some(600), Some(100)][i % 5];
        if let Some(size) = edns {
            let mut e = Edns::new();
            e.set_max_payload(size);
            e.set_dnssec_ok(i % 4 == 0);
            m.set_edns(e);
        }
        out.push(m.to_vec().unwrap());
    }
    out
}

fn render(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| format!("{} {} {} {}", r.name.to_ascii(), r.ttl, r.dns_class, r.data))
        .collect()
}

/// Compares the fast path's reply to `packet` with the reference's; returns whether the
/// fast path answered.
fn check(h: &Handler, packet: &[u8], protocol: Protocol) -> bool {
    let src: SocketAddr = "10.244.0.9:5353".parse().unwrap();
    let (mut fast, mut reference) = (Vec::new(), Vec::new());
    let answered = h.respond_fast(packet, protocol, &mut fast);
    let sent = h.respond_reference(packet, src, protocol, &mut reference, Instant::now());
    if !answered {
        assert!(fast.is_empty());
        return false;
    }
    assert!(sent, "the reference sends a reply to {packet:?}");
    let f = Message::from_vec(&fast).expect("the fast reply parses");
    let r = Message::from_vec(&reference).expect("the reference reply parses");
    let ctx = || format!("{:?} {protocol:?}", r.queries);
    let limit = match (protocol, &r.edns) {
        (Protocol::Udp, Some(e)) => usize::from(e.max_payload()),
        (Protocol::Udp, None) => 512,
        _ => 65535,
    };
    assert!(fast.len() <= limit, "{}: {} > {limit}", ctx(), fast.len());
    assert_eq!(f.edns, r.edns, "{}", ctx());
    assert_eq!(
        f.queries.iter().map(|q| q.to_string()).collect::<Vec<_>>(),
        r.queries.iter().map(|q| q.to_string()).collect::<Vec<_>>(),
        "{}",
        ctx()
    );
    if r.metadata.truncation && !f.metadata.truncation {
        let mut cut = r.metadata;
        cut.truncation = false;
        assert_eq!(f.metadata, cut, "{}", ctx());
        for (fs, rs) in [
            (&f.answers, &r.answers),
            (&f.authorities, &r.authorities),
            (&f.additionals, &r.additionals),
        ] {
            let have = render(fs);
            assert!(render(rs).iter().all(|x| have.contains(x)), "{}", ctx());
        }
        return true;
    }
    assert_eq!(f.metadata, r.metadata, "{}", ctx());
    assert_eq!(render(&f.answers), render(&r.answers), "{}", ctx());
    assert_eq!(render(&f.authorities), render(&r.authorities), "{}", ctx());
    assert_eq!(render(&f.additionals), render(&r.additionals), "{}", ctx());
    true
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn fast_path_matches_the_reference_on_the_corpus() {
    let (fixtures, kind_names) = kinds_corpus();
    assert!(fixtures.len() >= 8, "fixtures found: {}", fixtures.len());
    let mut names = kind_names;
    names.extend(golden_names());
    names.extend([
        "my-nginx.default.svc.cluster.local.".into(),
        "50.0.96.10.in-addr.arpa.".into(),
        "nope.default.svc.cluster.local.".into(),
        "example.com.".into(),
        ".".into(),
    ]);
    names.sort();
    names.dedup();
    let mut zones: Vec<ClusterObjects> = fixtures
        .iter()
        .filter_map(|y| from_yaml_documents(y).ok())
        .collect();
    zones.push(example_objects());
    zones.push(from_yaml_documents(support::CLUSTER).unwrap());
    zones.push(from_yaml_documents(&support::headless(60)).unwrap());
    let (mut fast, mut total) = (0usize, 0usize);
    for objects in &zones {
        for cfg in configs() {
            let h = handler(objects, &cfg);
            for (i, name) in names.iter().enumerate() {
                for (j, spelled) in spellings(name).iter().enumerate() {
                    // A third of the type/EDNS/flag variants per spelling, rotating.
                    let all = packets(spelled, i as u16);
                    for packet in all.iter().skip((i + j) % 3).step_by(3) {
                        for protocol in [Protocol::Udp, Protocol::Tcp] {
                            total += 1;
                            fast += usize::from(check(&h, packet, protocol));
                        }
                    }
                }
            }
        }
    }
    // Every well-formed question of class IN is the fast path's except big UDP replies.
    assert!(fast * 10 >= total * 9, "fast path took {fast} of {total}");
}

#[test]
fn fast_path_matches_the_reference_on_mutated_packets() {
    let objects = example_objects();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let names = golden_names();
    let (mut fast, mut total) = (0usize, 0usize);
    for cfg in configs() {
        let h = handler(&objects, &cfg);
        for _ in 0..4000 {
            let name = &names[rng.below(names.len())];
            let all = packets(name, rng.next() as u16);
            let mut packet = all[rng.below(all.len())].clone();
            for _ in 0..=rng.below(3) {
                if packet.is_empty() {
                    packet.push(0);
                }
                match rng.below(4) {
                    0 => {
                        let at = rng.below(packet.len());
                        packet[at] = rng.next() as u8;
                    }
                    1 => {
                        let at = rng.below(packet.len());
                        packet[at] ^= 1 << rng.below(8);
                    }
                    2 => {
                        let keep = rng.below(packet.len() + 1);
                        packet.truncate(keep);
                    }
                    _ => packet.push(rng.next() as u8),
                }
            }
            for protocol in [Protocol::Udp, Protocol::Tcp] {
                total += 1;
                fast += usize::from(check(&h, &packet, protocol));
            }
        }
    }
    // Mutations that keep the shape (a changed name octet, ID or flag) reach the fast path.
    assert!(fast * 10 >= total, "fast path took {fast} of {total}");
}

#[test]
fn respond_falls_back_for_what_the_fast_path_does_not_take() {
    let objects = from_yaml_documents(&support::headless(1000)).unwrap();
    let cfg = &configs()[0];
    let h = handler(&objects, cfg);
    let src: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let big = packets("big.default.svc.cluster.local.", 7).remove(0);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    assert!(
        !h.respond_fast(&big, Protocol::Udp, &mut a),
        "too big for 512 octets"
    );
    assert!(h.respond(&big, src, Protocol::Udp, &mut a));
    assert!(h.respond_reference(&big, src, Protocol::Udp, &mut b, Instant::now()));
    assert_eq!(a, b, "the reference answers it (TC)");
    assert!(Message::from_vec(&a).unwrap().metadata.truncation);
    assert!(
        h.respond_fast(&big, Protocol::Tcp, &mut a),
        "TCP takes it whole"
    );
    assert_eq!(Message::from_vec(&a).unwrap().answers.len(), 1000);
}

#[test]
fn names_with_more_labels_than_the_fast_path_takes_are_answered_by_the_reference() {
    let objects = example_objects();
    let cfg = &configs()[0];
    let h = handler(&objects, cfg);
    let src: SocketAddr = "127.0.0.1:1".parse().unwrap();
    // 41 and 120 labels below the zone: no such name, answered NXDOMAIN (with the SOA) by
    // the reference path, exactly as it would answer a shorter missing name.
    for extra in [41, 120] {
        let name = format!("{}svc.cluster.local.", "a.".repeat(extra));
        for packet in packets(&name, 9) {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            assert!(!h.respond_fast(&packet, Protocol::Udp, &mut a), "{extra}");
            assert!(h.respond(&packet, src, Protocol::Udp, &mut a));
            assert!(h.respond_reference(&packet, src, Protocol::Udp, &mut b, Instant::now()));
            assert_eq!(a, b);
            let reply = Message::from_vec(&a).unwrap();
            assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
        }
    }
    // An IPv6 PTR name (34 labels) stays on the fast path.
    let ptr = format!("{}ip6.arpa.", "0.".repeat(32));
    let mut out = Vec::new();
    assert!(h.respond_fast(&packets(&ptr, 9)[0], Protocol::Udp, &mut out));
}
