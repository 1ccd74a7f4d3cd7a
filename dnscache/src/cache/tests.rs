use super::*;
use crate::key::Flags;
use crate::wire::{self, parse_query};
use hickory_proto::op::{Message, Query as HQuery, ResponseCode};
use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

fn reply(rcode: ResponseCode, answer_ttls: &[u32], soa: Option<(u32, u32)>) -> Vec<u8> {
    let mut m = Message::response(9, hickory_proto::op::OpCode::Query);
    let name = Name::from_ascii("x.example.").unwrap();
    m.add_query(HQuery::query(name.clone(), RecordType::A));
    m.metadata.response_code = rcode;
    for &t in answer_ttls {
        m.add_answer(Record::from_rdata(
            name.clone(),
            t,
            RData::A(A::new(1, 2, 3, 4)),
        ));
    }
    if let Some((ttl, min)) = soa {
        let s = SOA::new(name.clone(), name.clone(), 1, 2, 3, 4, min);
        m.add_authority(Record::from_rdata(name.clone(), ttl, RData::SOA(s)));
    }
    m.to_vec().unwrap()
}

fn entry(bytes: Vec<u8>, policy: &Policy) -> Entry {
    let info = wire::scan_reply(&bytes).unwrap();
    Entry::from_reply(bytes, &info, policy, Flags::default())
}

#[test]
fn lifetimes_follow_the_policy() {
    let p = Policy::default();
    let table: &[(&str, Vec<u8>, Policy, u32)] = &[
        (
            "min answer ttl",
            reply(ResponseCode::NoError, &[30, 10], None),
            p,
            10,
        ),
        (
            "min-cache-ttl",
            reply(ResponseCode::NoError, &[1], None),
            Policy { min_ttl: 60, ..p },
            60,
        ),
        (
            "max-cache-ttl",
            reply(ResponseCode::NoError, &[900], None),
            Policy { max_ttl: 30, ..p },
            30,
        ),
        (
            "nxdomain soa min",
            reply(ResponseCode::NXDomain, &[], Some((60, 3))),
            p,
            3,
        ),
        (
            "nxdomain soa ttl",
            reply(ResponseCode::NXDomain, &[], Some((2, 60))),
            p,
            2,
        ),
        (
            "nxdomain capped",
            reply(ResponseCode::NXDomain, &[], Some((60, 60))),
            p,
            5,
        ),
        (
            "nodata",
            reply(ResponseCode::NoError, &[], Some((60, 60))),
            Policy { neg_ttl: 7, ..p },
            7,
        ),
        ("no soa", reply(ResponseCode::NXDomain, &[], None), p, 5),
        (
            "no-negcache",
            reply(ResponseCode::NXDomain, &[], Some((60, 60))),
            Policy {
                no_negcache: true,
                ..p
            },
            0,
        ),
        ("servfail", reply(ResponseCode::ServFail, &[], None), p, 0),
        ("refused", reply(ResponseCode::Refused, &[], None), p, 0),
    ];
    for (what, bytes, policy, want) in table {
        assert_eq!(entry(bytes.clone(), policy).lifetime(), *want, "{what}");
    }
}

#[test]
fn render_patches_id_case_rd_and_ttls() {
    let e = entry(
        reply(ResponseCode::NoError, &[30], None),
        &Policy::default(),
    );
    let mut qm = Message::query();
    qm.metadata.id = 0x4242;
    qm.metadata.recursion_desired = true;
    qm.add_query(HQuery::query(
        Name::from_ascii("X.Example.").unwrap(),
        RecordType::A,
    ));
    let qb = qm.to_vec().unwrap();
    let q = parse_query(&qb).unwrap();
    let mut out = Vec::new();
    e.render(
        &q,
        e.born() + Duration::from_secs(12),
        Served::Cached,
        512,
        &mut out,
    );
    let m = Message::from_vec(&out).unwrap();
    assert_eq!(m.metadata.id, 0x4242);
    assert!(m.metadata.recursion_desired);
    assert_eq!(m.queries[0].name().to_ascii(), "X.Example.");
    assert_eq!(m.answers[0].ttl, 18);
    e.render(
        &q,
        e.born() + Duration::from_secs(99),
        Served::Stale,
        512,
        &mut out,
    );
    assert_eq!(Message::from_vec(&out).unwrap().answers[0].ttl, STALE_TTL);
    e.render(&q, e.born(), Served::Cached, 20, &mut out);
    let t = Message::from_vec(&out).unwrap();
    assert!(t.metadata.truncation);
    assert!(t.answers.is_empty());
}

#[test]
fn capacity_is_bounded_and_evictions_counted() {
    let m = Arc::new(Metrics::register(&prometheus::Registry::new()).unwrap());
    let c = Cache::new(
        Policy {
            capacity: 100,
            ..Policy::default()
        },
        m.clone(),
    );
    let bytes = reply(ResponseCode::NoError, &[300], None);
    for i in 0..1000u32 {
        let name = format!("\x08{i:08}\x00");
        let key = Key::new(name.as_bytes(), 1, 1, Flags::default()).unwrap();
        c.insert(&key, entry(bytes.clone(), c.policy()));
    }
    c.sync();
    assert!(c.len() <= 100, "{}", c.len());
    assert_eq!(m.insertions.get(), 1000);
    assert!(m.evictions.get() > 0);
}

#[test]
fn hash_hits_are_checked_against_the_question_and_flags() {
    let m = Arc::new(Metrics::register(&prometheus::Registry::new()).unwrap());
    let c = Cache::new(Policy::default(), m);
    let e = entry(reply(ResponseCode::NoError, &[300], None), c.policy());
    let k = |name: &[u8], qtype, flags| Key::new(name, qtype, 1, flags).unwrap();
    let key = k(b"\x01x\x07example\x00", 1, Flags::default());
    assert!(e.answers(&key));
    assert!(!e.answers(&k(b"\x01y\x07example\x00", 1, Flags::default())));
    assert!(!e.answers(&k(
        b"\x01x\x07example\x00",
        1,
        Flags::new(true, false, true)
    )));
    c.insert(&key, e);
    assert!(c.peek(&key, Instant::now()).is_some());
    let aaaa = k(b"\x01x\x07example\x00", 28, Flags::default());
    assert!(c.peek(&aaaa, Instant::now()).is_none());
}
