use super::*;
use hickory_proto::op::{Edns, Message, Query as HQuery};
use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

fn query_bytes(name: &str, edns: Option<(u16, bool)>) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = 0x1234;
    m.metadata.recursion_desired = true;
    m.add_query(HQuery::query(
        Name::from_ascii(name).unwrap(),
        RecordType::AAAA,
    ));
    if let Some((size, dnssec)) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        e.set_dnssec_ok(dnssec);
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

#[test]
fn parses_question_and_edns() {
    let b = query_bytes("Web.Example.COM.", Some((4096, true)));
    let q = parse_query(&b).unwrap();
    assert_eq!(q.id, 0x1234);
    assert!(q.rd);
    assert_eq!(q.qtype, 28);
    assert_eq!(q.qclass, 1);
    assert_eq!(q.edns_payload, Some(4096));
    assert!(q.dnssec_ok);
    assert_eq!(q.udp_limit(65535), 4096);
    assert_eq!(q.udp_limit(1232), 1232);
    let k = Key::of(&q);
    assert_eq!(
        k.as_bytes(),
        b"\x03web\x07example\x03com\x00\x00\x1c\x00\x01\x05"
    );
    let pb = query_bytes("web.example.com.", None);
    let plain = parse_query(&pb).unwrap();
    assert_eq!(plain.udp_limit(1232), 512);
    assert_eq!(Key::of(&plain).flags(), crate::key::Flags::default());
    let tiny = query_bytes("web.example.com.", Some((100, false)));
    assert_eq!(parse_query(&tiny).unwrap().udp_limit(1232), 512);
}

#[test]
fn bad_packets_are_classified() {
    let good = query_bytes("a.example.", None);
    assert_eq!(parse_query(&good[..5]).unwrap_err(), WireError::Drop);
    let mut response = good.clone();
    response[2] |= 0x80;
    assert_eq!(parse_query(&response).unwrap_err(), WireError::Drop);
    let mut two = good.clone();
    two[5] = 2;
    assert_eq!(parse_query(&two).unwrap_err(), WireError::FormErr);
    assert_eq!(
        parse_query(&good[..good.len() - 3]).unwrap_err(),
        WireError::FormErr
    );
    let mut notify = good.clone();
    notify[2] |= 4 << 3;
    assert_eq!(parse_query(&notify).unwrap_err(), WireError::NotImp);
    let mut pointer = good.clone();
    pointer[12] = 0xC0;
    assert_eq!(parse_query(&pointer).unwrap_err(), WireError::FormErr);
}

#[test]
fn scan_finds_ttls_soa_and_min() {
    let mut m = Message::response(7, hickory_proto::op::OpCode::Query);
    let name = Name::from_ascii("x.example.").unwrap();
    m.add_query(HQuery::query(name.clone(), RecordType::A));
    m.add_answer(Record::from_rdata(
        name.clone(),
        30,
        RData::A(A::new(1, 2, 3, 4)),
    ));
    m.add_answer(Record::from_rdata(
        name.clone(),
        10,
        RData::A(A::new(1, 2, 3, 5)),
    ));
    let soa = SOA::new(name.clone(), name.clone(), 1, 2, 3, 4, 7);
    m.add_authority(Record::from_rdata(name, 60, RData::SOA(soa)));
    m.set_edns(Edns::new());
    let b = m.to_vec().unwrap();
    let info = scan_reply(&b).unwrap();
    assert_eq!(info.answers, 2);
    assert_eq!(info.min_answer_ttl, Some(10));
    assert_eq!(info.soa_negative_ttl, Some(7));
    assert_eq!(info.ttls.len(), 3, "OPT has no TTL slot");
    for s in &info.ttls {
        let at = usize::from(s.at);
        assert_eq!(u32::from_be_bytes(b[at..at + 4].try_into().unwrap()), s.ttl);
    }
    assert!(scan_reply(&b[..b.len() - 2]).is_none());
}

#[test]
fn upstream_query_round_trips() {
    let qb = query_bytes("A.b.", Some((512, true)));
    let q = parse_query(&qb).unwrap();
    let mut out = Vec::new();
    build_upstream_query(0xBEEF, &Key::of(&q), 1232, &mut out);
    let m = Message::from_vec(&out).unwrap();
    assert_eq!(m.metadata.id, 0xBEEF);
    assert_eq!(m.queries[0].name().to_ascii(), "a.b.");
    assert!(m.edns.as_ref().unwrap().flags().dnssec_ok);
    assert!(same_question(&out, &query_bytes("a.B.", None)));
    assert!(!same_question(&out, &query_bytes("a.c.", None)));
}

#[test]
fn names_print_with_a_trailing_dot() {
    assert_eq!(name_to_string(b"\x03www\x07example\x00"), "www.example.");
    assert_eq!(name_to_string(b"\x00"), ".");
}
