use super::*;
use crate::cache::{Policy, Served};
use crate::metrics::Metrics;
use crate::route::parse_server;
use hickory_proto::op::{Message, OpCode, Query as HQuery};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::sync::Arc;

fn cache() -> Cache {
    let m = Arc::new(Metrics::register(&prometheus::Registry::new()).unwrap());
    Cache::new(
        Policy {
            capacity: 100,
            ..Policy::default()
        },
        m,
    )
}

fn routes(args: &[&str]) -> Routes {
    let args: Vec<_> = args.iter().map(|a| parse_server(a).unwrap()).collect();
    Routes::new(&args, &[])
}

fn put(c: &Cache, name: &str) -> Key {
    let n = Name::from_ascii(name).unwrap();
    let mut m = Message::response(0, OpCode::Query);
    m.add_query(HQuery::query(n.clone(), RecordType::A));
    m.add_answer(Record::from_rdata(
        n.clone(),
        300,
        RData::A(A::new(1, 2, 3, 4)),
    ));
    let bytes = m.to_vec().unwrap();
    let info = wire::scan_reply(&bytes).unwrap();
    let key = Key::new(
        &n.to_lowercase().to_bytes().unwrap(),
        1,
        1,
        Flags::default(),
    )
    .unwrap();
    let born = Instant::now() - Duration::from_secs(100);
    c.insert(
        &key,
        Entry::restore(bytes, &info, Flags::default(), 300, Instant::now() - born),
    );
    key
}

use hickory_proto::serialize::binary::BinEncodable;

#[test]
fn entries_keep_their_remaining_lifetime_unless_their_route_changed() {
    let old = cache();
    let before = routes(&["10.0.0.1"]);
    let stays = put(&old, "www.example.com.");
    let moves = put(&old, "x.acme.local.");
    let mut stream = Vec::new();
    assert_eq!(dump(&old, &before, &mut stream).unwrap(), 2);

    let new = cache();
    let after = routes(&["10.0.0.1", "/acme.local/10.0.0.2"]);
    let loaded = load(&new, &after, stream.as_slice()).unwrap();
    assert_eq!(
        loaded,
        Loaded {
            kept: 1,
            dropped: 1
        }
    );
    assert!(new.peek(&moves, Instant::now()).is_none());
    let e = new.peek(&stays, Instant::now()).expect("kept");
    let q = Message::query()
        .add_query(HQuery::query(
            Name::from_ascii("www.example.com.").unwrap(),
            RecordType::A,
        ))
        .to_vec()
        .unwrap();
    let mut out = Vec::new();
    e.render(
        &wire::parse_query(&q).unwrap(),
        Instant::now(),
        Served::Cached,
        512,
        &mut out,
    );
    let ttl = Message::from_vec(&out).unwrap().answers[0].ttl;
    assert!((199..=201).contains(&ttl), "{ttl}");

    // A broken stream keeps what came before the damage.
    let mut broken = stream.clone();
    broken.extend_from_slice(&[0, 0, 0, 3, 1, 2, 3]);
    assert!(matches!(
        load(&cache(), &after, broken.as_slice()),
        Err(LoadError::Malformed(_))
    ));
}
