//! `mock-upstream`: the testkit's [`MockUpstream`] as a process, for tests that run inside a
//! network namespace of their own (where an in-process server cannot be reached).
//!
//! `mock-upstream <ip> <zone> <seconds>`: listens on `<ip>` (a free port, UDP and TCP), answers
//! A `10.1.2.3` and AAAA `fd00::1:2:3` (TTL 300) for every name under `<zone>`, NXDOMAIN for
//! other names; prints `listening on udp <addr>` once, then `query <name> <type>` per query.
//! Exits on SIGTERM or after `<seconds>`, so it never outlives its test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use testkit::upstream::{MockUpstream, Reply, reply_nxdomain, response_to};

fn answer(req: &Message, zone: &Name) -> Reply {
    let Some(q) = req.queries.first() else {
        return Reply::Drop;
    };
    println!("query {} {}", q.name(), q.query_type());
    let _ = std::io::stdout().flush();
    if !zone.zone_of(&q.name().to_lowercase()) {
        return Reply::Msg(reply_nxdomain(req, 60));
    }
    let mut m = response_to(req);
    let data = match q.query_type() {
        RecordType::A => Some(RData::A(A(Ipv4Addr::new(10, 1, 2, 3)))),
        RecordType::AAAA => Some(RData::AAAA(AAAA(Ipv6Addr::new(
            0xfd00, 0, 0, 0, 0, 1, 2, 3,
        )))),
        _ => None,
    };
    if let Some(data) = data {
        m.add_answer(Record::from_rdata(q.name().clone(), 300, data));
    }
    Reply::Msg(m)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, ip, zone, secs] = &args[..] else {
        eprintln!("usage: mock-upstream <ip> <zone> <seconds>");
        std::process::exit(2);
    };
    let zone = Name::from_ascii(zone).expect("zone").to_lowercase();
    let secs: u64 = secs.parse().expect("seconds");
    let up = MockUpstream::start_on(ip, move |req| answer(req, &zone)).await;
    println!("listening on udp {}", up.addr());
    let _ = std::io::stdout().flush();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::time::sleep(Duration::from_secs(secs)) => {}
    }
}
