//! `--add-subnet` over real sockets: the client's address reaches the cluster route's server and
//! no other; the option never reaches the client; a reply with a scope above 0 is served only to
//! the client it was computed for, a scope-0 reply is shared. Clients are told apart by their
//! loopback source address (127.0.0.2, 127.0.0.3).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Edns, Message};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::{DNSClass, RecordType};
use support::{addrs, qname, route, server, start};
use testkit::dns::make_query;
use testkit::upstream::{MockUpstream, Reply, reply_a};

type Seen = Arc<Mutex<Vec<(String, Option<ClientSubnet>)>>>;

fn subnet(m: &Message) -> Option<ClientSubnet> {
    match m.edns.as_ref()?.option(EdnsCode::Subnet)? {
        EdnsOption::Subnet(s) => Some(*s),
        _ => None,
    }
}

/// A server that records the subnet of each query and answers A `10.0.0.<last octet of the
/// client>`, with scope 32, except for names starting with `shared.` (10.0.0.1, scope 0).
async fn kubedns_like(seen: Seen) -> MockUpstream {
    MockUpstream::start(move |req| {
        let s = subnet(req);
        seen.lock().unwrap().push((qname(req), s));
        let name = qname(req);
        let (last, scope) = match s.map(|s| s.addr()) {
            _ if name.starts_with("shared.") => (1, 0),
            Some(IpAddr::V4(a)) => (a.octets()[3], 32),
            _ => (99, 0),
        };
        let mut m = reply_a(req, Ipv4Addr::new(10, 0, 0, last), 30);
        let mut e = Edns::new();
        e.set_max_payload(1232);
        if let Some(mut s) = s {
            s.set_scope_prefix(scope);
            e.options_mut().insert(EdnsOption::Subnet(s));
        }
        m.edns = Some(e);
        Reply::Msg(m)
    })
    .await
}

/// Asks `name` A from source address `from` (EDNS, no options).
async fn ask_from(from: &str, to: SocketAddr, name: &str) -> Message {
    ask(from, to, name, true).await
}

async fn ask(from: &str, to: SocketAddr, name: &str, edns: bool) -> Message {
    let sock = tokio::net::UdpSocket::bind(format!("{from}:0"))
        .await
        .unwrap();
    let mut q = make_query(name, RecordType::A, DNSClass::IN);
    if !edns {
        q.edns = None;
    }
    sock.send_to(&q.to_vec().unwrap(), to).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(3), sock.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    Message::from_vec(&buf[..n]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_address_goes_to_the_cluster_route_only_and_never_back() {
    let (cluster_seen, world_seen): (Seen, Seen) = Default::default();
    let cluster = kubedns_like(cluster_seen.clone()).await;
    let world = kubedns_like(world_seen.clone()).await;
    let s = start(&[
        route("cluster.local", cluster.addr()),
        server(world.addr()),
        "--add-subnet".into(),
    ])
    .await;
    let r = ask_from("127.0.0.2", s.addr, "web.default.svc.cluster.local.").await;
    assert_eq!(addrs(&r), [Ipv4Addr::new(10, 0, 0, 2)]);
    assert_eq!(subnet(&r), None, "the client asked for no subnet: {r:?}");
    let r = ask(
        "127.0.0.2",
        s.addr,
        "other.default.svc.cluster.local.",
        false,
    )
    .await;
    assert_eq!(addrs(&r), [Ipv4Addr::new(10, 0, 0, 2)]);
    assert!(r.edns.is_none(), "the client sent no EDNS: {r:?}");
    let sent = cluster_seen.lock().unwrap()[0]
        .1
        .expect("client subnet sent");
    assert_eq!(
        (sent.addr(), sent.source_prefix()),
        ("127.0.0.2".parse().unwrap(), 32)
    );
    let r = ask_from("127.0.0.2", s.addr, "www.example.org.").await;
    assert_eq!(addrs(&r), [Ipv4Addr::new(10, 0, 0, 99)]);
    assert_eq!(
        world_seen.lock().unwrap()[0].1,
        None,
        "no client address outside"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_client_answers_stay_with_their_client() {
    let seen: Seen = Default::default();
    let cluster = kubedns_like(seen.clone()).await;
    let s = start(&[
        route("cluster.local", cluster.addr()),
        "--add-subnet".into(),
        "--cache-size=100".into(),
    ])
    .await;
    let name = "api.example.test.default.svc.cluster.local.";
    let a = ask_from("127.0.0.2", s.addr, name).await;
    assert_eq!(addrs(&a), [Ipv4Addr::new(10, 0, 0, 2)]);
    // The other client gets its own answer, computed for it.
    let b = ask_from("127.0.0.3", s.addr, name).await;
    assert_eq!(addrs(&b), [Ipv4Addr::new(10, 0, 0, 3)]);
    assert_eq!(cluster.count(), 2);
    // Each is cached for its client.
    let a = ask_from("127.0.0.2", s.addr, name).await;
    assert_eq!(addrs(&a), [Ipv4Addr::new(10, 0, 0, 2)]);
    let b = ask_from("127.0.0.3", s.addr, name).await;
    assert_eq!(addrs(&b), [Ipv4Addr::new(10, 0, 0, 3)]);
    assert_eq!(cluster.count(), 2);
    // A scope-0 answer is shared: the second client is served from the cache.
    let shared = "shared.default.svc.cluster.local.";
    ask_from("127.0.0.2", s.addr, shared).await;
    let b = ask_from("127.0.0.3", s.addr, shared).await;
    assert_eq!(addrs(&b), [Ipv4Addr::new(10, 0, 0, 1)]);
    assert_eq!(cluster.count(), 3);
}
