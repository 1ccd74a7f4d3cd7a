use std::net::IpAddr;

use hickory_proto::op::{Edns, Message, MessageType, Query};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::{Name, RecordType};

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn key(name: &str, edns: bool) -> Key {
    let name = route::domain_to_wire(name).unwrap();
    Key::new(&name, 1, 1, key::Flags::new(false, false, edns)).unwrap()
}

use crate::route;

fn subnet_of(query: &[u8]) -> ClientSubnet {
    let msg = Message::from_vec(query).unwrap();
    match msg.edns.as_ref().and_then(|e| e.option(EdnsCode::Subnet)) {
        Some(EdnsOption::Subnet(s)) => *s,
        other => panic!("no client subnet: {other:?}"),
    }
}

#[test]
fn prefixes_follow_dnsmasq_spelling() {
    assert_eq!(parse_prefixes(""), Ok((32, 128)));
    assert_eq!(parse_prefixes("24"), Ok((24, 128)));
    assert_eq!(parse_prefixes("24,56"), Ok((24, 56)));
    assert_eq!(parse_prefixes("0,0"), Ok((0, 0)));
    assert!(parse_prefixes("33").is_err());
    assert!(parse_prefixes("24,129").is_err());
    assert!(
        parse_prefixes("1.2.3.0/24")
            .unwrap_err()
            .contains("fixed address")
    );
    assert!(parse_prefixes("x").is_err());
}

#[test]
fn only_listed_routes_get_the_client_and_mapped_addresses_are_ipv4() {
    let add = AddSubnet {
        v4_prefix: 32,
        v6_prefix: 128,
        routes: vec![RouteId::Domain(0)],
    };
    assert_eq!(add.for_route(RouteId::Default, ip("10.0.0.1")), None);
    assert_eq!(add.for_route(RouteId::Domain(1), ip("10.0.0.1")), None);
    let s = add
        .for_route(RouteId::Domain(0), ip("::ffff:10.244.1.5"))
        .unwrap();
    assert_eq!(
        s,
        Subnet {
            addr: ip("10.244.1.5"),
            prefix: 32
        }
    );
}

#[test]
fn queries_carry_the_option_hickory_reads() {
    for edns in [false, true] {
        let mut q = Vec::new();
        wire::build_upstream_query(7, &key("a.default.svc.cluster.local", edns), 1232, &mut q);
        add(
            &mut q,
            Subnet {
                addr: ip("10.244.1.5"),
                prefix: 32,
            },
        );
        let s = subnet_of(&q);
        assert_eq!(
            (s.addr(), s.source_prefix(), s.scope_prefix()),
            (ip("10.244.1.5"), 32, 0)
        );
        let msg = Message::from_vec(&q).unwrap();
        assert_eq!(msg.additionals.len(), 0, "OPT is EDNS, not a record");
    }
    // A short prefix sends only the covered bytes, with the rest of the bits cleared.
    let mut q = Vec::new();
    wire::build_upstream_query(7, &key("x.cluster.local", false), 1232, &mut q);
    add(
        &mut q,
        Subnet {
            addr: ip("fd00::1:2:3"),
            prefix: 20,
        },
    );
    let s = subnet_of(&q);
    assert_eq!((s.addr(), s.source_prefix()), (ip("fd00::"), 20));
}

fn reply_with(scope: Option<u8>, other_option: bool) -> Vec<u8> {
    let mut m = Message::new(9, MessageType::Response, hickory_proto::op::OpCode::Query);
    m.add_query(Query::query(
        Name::from_ascii("a.cluster.local.").unwrap(),
        RecordType::A,
    ));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    if let Some(scope) = scope {
        e.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(
            ip("10.244.1.5"),
            32,
            scope,
        )));
    }
    if other_option {
        e.options_mut()
            .insert(EdnsOption::Unknown(65001, vec![1, 2, 3]));
    }
    m.edns = Some(e);
    m.to_vec().unwrap()
}

#[test]
fn strip_returns_the_scope_and_removes_the_option() {
    let mut r = reply_with(Some(32), true);
    assert_eq!(strip(&mut r, true), Some(32));
    let m = Message::from_vec(&r).unwrap();
    let e = m.edns.expect("OPT kept for an EDNS client");
    assert!(e.option(EdnsCode::Subnet).is_none());
    assert!(
        e.option(EdnsCode::Unknown(65001)).is_some(),
        "other options stay"
    );

    let mut r = reply_with(Some(0), false);
    assert_eq!(strip(&mut r, false), Some(0));
    let m = Message::from_vec(&r).unwrap();
    assert!(m.edns.is_none(), "no OPT for a client without EDNS");
    assert_eq!(wire::scan_reply(&r).unwrap().rcode, wire::Rcode::NOERROR);

    let mut r = reply_with(None, false);
    assert_eq!(strip(&mut r, true), Some(0));
    let mut short = vec![0u8; 5];
    assert_eq!(strip(&mut short, true), None);
}

#[test]
fn client_cache_serves_only_its_client() {
    let c = ClientCache::new(100);
    let k = key("a.default.svc.cluster.local", false);
    let reply = {
        let mut r = reply_with(None, false);
        strip(&mut r, false);
        // One answer so the entry has a lifetime.
        let mut m = Message::from_vec(&r).unwrap();
        m.add_answer(hickory_proto::rr::Record::from_rdata(
            Name::from_ascii("a.cluster.local.").unwrap(),
            30,
            hickory_proto::rr::RData::A("10.0.0.1".parse().unwrap()),
        ));
        m.to_vec().unwrap()
    };
    let info = wire::scan_reply(&reply).unwrap();
    let entry = Entry::from_reply(
        reply,
        &info,
        &crate::cache::Policy::default(),
        key::Flags::default(),
    );
    c.insert(&k, ip("::ffff:10.244.1.5"), entry);
    let now = Instant::now();
    assert!(c.get(&k, ip("10.244.1.5"), now).is_some());
    assert!(c.get(&k, ip("10.244.2.7"), now).is_none());
    assert!(
        c.get(
            &key("b.default.svc.cluster.local", false),
            ip("10.244.1.5"),
            now
        )
        .is_none()
    );
}
