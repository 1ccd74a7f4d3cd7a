use super::*;
use crate::key::Flags;
use crate::route::parse_server;
use hickory_proto::op::{Edns, Message, OpCode, Query};
use hickory_proto::rr::rdata::{A, CNAME};
use hickory_proto::rr::{Name, RData, Record, RecordType};

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn key(q: &str) -> Key {
    let wire = name(q).to_lowercase().to_bytes().unwrap();
    Key::new(&wire, 1, 1, Flags::default()).unwrap()
}

fn a(owner: &str, last: u8) -> Record {
    Record::from_rdata(name(owner), 60, RData::A(A::new(10, 0, 0, last)))
}

fn cname(owner: &str, target: &str) -> Record {
    Record::from_rdata(name(owner), 60, RData::CNAME(CNAME(name(target))))
}

fn reply(q: &str, answers: Vec<Record>, additionals: Vec<Record>) -> Vec<u8> {
    let mut m = Message::response(1, OpCode::Query);
    m.add_query(Query::query(name(q), RecordType::A));
    m.answers = answers;
    m.additionals = additionals;
    m.to_vec().unwrap()
}

/// Default upstreams plus a stub domain `acme.local` on another server.
fn routes() -> Routes {
    let args = [
        parse_server("10.0.0.1").unwrap(),
        parse_server("/acme.local/10.0.0.2").unwrap(),
    ];
    Routes::new(&args, &[])
}

fn stub(r: &Routes) -> RouteId {
    r.lookup(key("x.acme.local.").name())
}

#[test]
fn broken_replies_are_refused_whole() {
    let r = routes();
    let k = key("x.acme.local.");
    let good = reply("x.acme.local.", vec![a("x.acme.local.", 1)], vec![]);
    assert!(scrub(good.clone(), &k, stub(&r), &r).is_ok());
    // The answer's owner is a pointer to the question (offset 12); make it point at itself.
    let owner = good.len() - 16;
    assert_eq!(&good[owner..owner + 2], &[0xC0, 12]);
    let mut looped = good.clone();
    looped[owner + 1] = u8::try_from(owner).unwrap();
    let mut forward_ptr = good.clone();
    forward_ptr[owner + 1] = 0xFF;
    let mut long_rdlen = good.clone();
    long_rdlen[owner + 11] = 5;
    let mut short_a = good.clone();
    short_a[owner + 11] = 3;
    short_a.pop();
    let mut trailing = good.clone();
    trailing.push(0);
    let mut opt_in_answer = Message::response(1, OpCode::Query);
    opt_in_answer.add_query(Query::query(name("x.acme.local."), RecordType::A));
    opt_in_answer.set_edns(Edns::new());
    let mut opt_in_answer = opt_in_answer.to_vec().unwrap();
    // Move the OPT record from the additional to the answer section.
    opt_in_answer[7] = 1;
    opt_in_answer[11] = 0;
    for (what, bytes) in [
        ("pointer loop", looped),
        ("forward pointer", forward_ptr),
        ("rdlength beyond the packet", long_rdlen),
        ("A of 3 bytes", short_a),
        ("trailing bytes", trailing),
        ("OPT in the answer section", opt_in_answer),
    ] {
        assert_eq!(
            scrub(bytes, &k, stub(&r), &r).unwrap_err(),
            BadReply::Malformed,
            "{what}"
        );
    }
    let other = reply("y.acme.local.", vec![a("y.acme.local.", 1)], vec![]);
    assert_eq!(
        scrub(other, &k, stub(&r), &r).unwrap_err(),
        BadReply::QuestionMismatch
    );
}

#[test]
fn records_outside_the_route_are_dropped() {
    let r = routes();
    let k = key("x.acme.local.");
    let bytes = reply(
        "x.acme.local.",
        vec![a("x.acme.local.", 1), a("www.example.com.", 6)],
        vec![a("ns.acme.local.", 2), a("evil.example.com.", 6)],
    );
    let s = scrub(bytes, &k, stub(&r), &r).unwrap();
    assert_eq!(s.dropped, 2);
    let m = Message::from_vec(&s.bytes).unwrap();
    assert_eq!(m.answers, vec![a("x.acme.local.", 1)]);
    assert_eq!(m.additionals, vec![a("ns.acme.local.", 2)]);
    assert!(s.dangling.is_none());
}

#[test]
fn an_out_of_route_cname_target_is_left_for_its_own_route() {
    let r = routes();
    let k = key("x.acme.local.");
    let bytes = reply(
        "x.acme.local.",
        vec![
            cname("x.acme.local.", "y.acme.local."),
            cname("y.acme.local.", "www.example.com."),
            a("www.example.com.", 6),
        ],
        vec![],
    );
    let s = scrub(bytes, &k, stub(&r), &r).unwrap();
    let m = Message::from_vec(&s.bytes).unwrap();
    assert_eq!(
        m.answers.len(),
        2,
        "the chain stays, the volunteered A goes"
    );
    assert_eq!(
        s.dangling.as_deref(),
        Some(&b"\x03www\x07example\x03com\x00"[..])
    );
    // The default route may not speak for the stub domain either.
    let k = key("www.example.com.");
    let bytes = reply(
        "www.example.com.",
        vec![
            cname("www.example.com.", "x.acme.local."),
            a("x.acme.local.", 6),
        ],
        vec![],
    );
    let s = scrub(bytes, &k, RouteId::Default, &r).unwrap();
    assert_eq!(Message::from_vec(&s.bytes).unwrap().answers.len(), 1);
    assert!(s.dangling.is_some());
}

#[test]
fn a_ttl_with_the_top_bit_set_counts_as_zero() {
    let r = routes();
    let k = key("www.example.com.");
    let mut rec = a("www.example.com.", 1);
    rec.ttl = 1 << 31;
    let s = scrub(
        reply("www.example.com.", vec![rec], vec![]),
        &k,
        RouteId::Default,
        &r,
    )
    .unwrap();
    assert_eq!(s.info.min_answer_ttl, Some(0));
    assert_eq!(s.info.ttls[0].ttl, 0);
}
