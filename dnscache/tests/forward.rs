//! Routing and upstream exchange over real sockets: suffix routes, reverse REFUSED
//! fallthrough, failover, TC → TCP, SERVFAIL when all fail, anti-spoofing, the forward limit,
//! CNAME completion across routes and its loop guard, malformed input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use support::{addrs, qname, reply_cname, reply_ptr, route, server, start};
use testkit::dns::{exchange_raw_udp, query, query_tcp};
use testkit::upstream::{
    MockUpstream, Reply, reply_a, reply_nxdomain, reply_rcode, reply_truncated,
};

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, last)
}

async fn answering(last: u8) -> MockUpstream {
    MockUpstream::start(move |req| Reply::Msg(reply_a(req, ip(last), 30))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_by_longest_suffix_else_default_upstreams() {
    let (cluster, svc, default) = (answering(1).await, answering(2).await, answering(3).await);
    let s = start(&[
        route("cluster.local", cluster.addr()),
        route("svc.cluster.local", svc.addr()),
        server(default.addr()),
    ])
    .await;
    let cases = [
        ("web.default.svc.cluster.local.", 2),
        ("1-2-3-4.default.pod.cluster.local.", 1),
        ("www.example.com.", 3),
        ("cluster.local.example.com.", 3),
    ];
    for (name, want) in cases {
        let r = query(s.addr, name, RecordType::A).await.unwrap();
        assert_eq!(addrs(&r), [ip(want)], "{name}");
    }
    assert_eq!((cluster.count(), svc.count(), default.count()), (1, 1, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_reverse_name_falls_through_to_default_upstreams() {
    let kubedns =
        MockUpstream::start(|req| Reply::Msg(reply_rcode(req, ResponseCode::Refused))).await;
    let world = MockUpstream::start(|req| Reply::Msg(reply_ptr(req, "dns.google."))).await;
    let s = start(&[
        route("in-addr.arpa", kubedns.addr()),
        route("cluster.local", kubedns.addr()),
        server(world.addr()),
    ])
    .await;
    let r = query(s.addr, "8.8.8.8.in-addr.arpa.", RecordType::PTR)
        .await
        .unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(matches!(&r.answers[0].data, RData::PTR(p) if p.0.to_ascii() == "dns.google."));
    assert_eq!((kubedns.count(), world.count()), (1, 1));
    // Only reverse names fall through: a refused cluster name stays refused.
    let r = query(s.addr, "x.cluster.local.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    assert_eq!(world.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stub_domain_fails_over_in_order_after_a_timeout() {
    let dead = MockUpstream::start(|_| Reply::Drop).await;
    let good = answering(7).await;
    let s = start(&[
        route("acme.local", dead.addr()),
        route("acme.local", good.addr()),
    ])
    .await;
    let r = query(s.addr, "db.acme.local.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(addrs(&r), [ip(7)]);
    assert_eq!((dead.count(), good.count()), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servfail_from_one_server_moves_to_the_next() {
    let sick =
        MockUpstream::start(|req| Reply::Msg(reply_rcode(req, ResponseCode::ServFail))).await;
    let good = answering(8).await;
    let s = start(&[server(sick.addr()), server(good.addr())]).await;
    let r = query(s.addr, "a.example.", RecordType::A).await.unwrap();
    assert_eq!(addrs(&r), [ip(8)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_upstreams_down_gives_servfail() {
    let (a, b) = (
        MockUpstream::start(|_| Reply::Drop).await,
        MockUpstream::start(|_| Reply::Drop).await,
    );
    let s = start(&[server(a.addr()), server(b.addr())]).await;
    let r = query(s.addr, "a.example.", RecordType::A).await.unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
    assert_eq!((a.count(), b.count()), (1, 1));
    let none = start(&[]).await;
    let r = query(none.addr, "a.example.", RecordType::A).await.unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_udp_reply_is_retried_over_tcp() {
    let n = Arc::new(AtomicUsize::new(0));
    let seen = n.clone();
    let up = MockUpstream::start(move |req| {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::Msg(reply_truncated(req))
        } else {
            Reply::Msg(reply_a(req, ip(9), 30))
        }
    })
    .await;
    let s = start(&[server(up.addr())]).await;
    let r = query(s.addr, "big.example.", RecordType::A).await.unwrap();
    assert!(!r.metadata.truncation);
    assert_eq!(addrs(&r), [ip(9)]);
    assert_eq!(up.count(), 2);
}

/// An upstream that first sends forged replies (wrong ID, wrong question, wrong source
/// port), then the real one.
async fn spoofed_upstream() -> SocketAddr {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let other = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let (n, peer) = sock.recv_from(&mut buf).await.unwrap();
            let req = Message::from_vec(&buf[..n]).unwrap();
            let forged = reply_a(&req, Ipv4Addr::new(6, 6, 6, 6), 300);
            let mut wrong_id = forged.clone();
            wrong_id.metadata.id = req.metadata.id.wrapping_add(1);
            sock.send_to(&wrong_id.to_vec().unwrap(), peer)
                .await
                .unwrap();
            let mut q2 = req.clone();
            q2.queries[0].set_name("evil.example.".parse().unwrap());
            let wrong_q = reply_a(&q2, Ipv4Addr::new(6, 6, 6, 6), 300);
            sock.send_to(&wrong_q.to_vec().unwrap(), peer)
                .await
                .unwrap();
            other
                .send_to(&forged.to_vec().unwrap(), peer)
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            let real = reply_a(&req, Ipv4Addr::new(1, 2, 3, 4), 30);
            sock.send_to(&real.to_vec().unwrap(), peer).await.unwrap();
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofed_replies_are_ignored() {
    let up = spoofed_upstream().await;
    let s = start(&[server(up)]).await;
    let r = query(s.addr, "bank.example.", RecordType::A).await.unwrap();
    assert_eq!(addrs(&r), [Ipv4Addr::new(1, 2, 3, 4)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_limit_refuses_then_recovers() {
    let up = MockUpstream::start(|req| {
        Reply::Delayed(Duration::from_millis(150), reply_a(req, ip(5), 30))
    })
    .await;
    let s = start(&[server(up.addr()), "--dns-forward-max=2".into()]).await;
    let names: Vec<String> = (0..6).map(|i| format!("n{i}.example.")).collect();
    let all =
        futures::future::join_all(names.iter().map(|n| query(s.addr, n, RecordType::A))).await;
    let codes: Vec<ResponseCode> = all
        .into_iter()
        .map(|r| r.unwrap().metadata.response_code)
        .collect();
    let refused = codes
        .iter()
        .filter(|c| **c == ResponseCode::Refused)
        .count();
    assert!(refused >= 1, "{codes:?}");
    assert!(refused <= 4, "{codes:?}");
    let r = query(s.addr, "later.example.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(addrs(&r), [ip(5)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cname_into_another_route_is_completed() {
    let kubedns = MockUpstream::start(|req| match qname(req).as_str() {
        "ext.default.svc.cluster.local." => Reply::Msg(reply_cname(req, "db.acme.local.", 30)),
        "out.default.svc.cluster.local." => Reply::Msg(reply_cname(req, "www.example.com.", 30)),
        _ => Reply::Msg(reply_nxdomain(req, 60)),
    })
    .await;
    let stub = answering(11).await;
    let world = answering(12).await;
    let s = start(&[
        route("cluster.local", kubedns.addr()),
        route("acme.local", stub.addr()),
        server(world.addr()),
    ])
    .await;
    let r = query(s.addr, "ext.default.svc.cluster.local.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert_eq!(r.answers[0].record_type(), RecordType::CNAME);
    assert_eq!(addrs(&r), [ip(11)]);
    let r = query_tcp(s.tcp, "out.default.svc.cluster.local.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(addrs(&r), [ip(12)]);
    assert_eq!(
        (
            stub.count_for("db.acme.local"),
            world.count_for("www.example.com")
        ),
        (1, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cname_loop_across_routes_ends_in_servfail() {
    let kubedns =
        MockUpstream::start(|req| Reply::Msg(reply_cname(req, "b.acme.local.", 30))).await;
    let stub =
        MockUpstream::start(|req| Reply::Msg(reply_cname(req, "a.default.svc.cluster.local.", 30)))
            .await;
    let s = start(&[
        route("cluster.local", kubedns.addr()),
        route("acme.local", stub.addr()),
    ])
    .await;
    let r = query(s.addr, "a.default.svc.cluster.local.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
    assert_eq!((kubedns.count(), stub.count()), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_queries_get_formerr_or_nothing() {
    let up = answering(1).await;
    let s = start(&[server(up.addr())]).await;
    assert_eq!(
        exchange_raw_udp(s.addr, b"\x01\x02\x03").await.unwrap(),
        None
    );
    // Header says two questions: FORMERR with the same ID.
    let bad = [0xAB, 0xCD, 0x01, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1, b'a', 0];
    let r = exchange_raw_udp(s.addr, &bad).await.unwrap().unwrap();
    assert_eq!(&r[..2], &[0xAB, 0xCD]);
    assert_eq!(r[3] & 0x0F, 1);
    // A response sent to us is dropped.
    let mut resp = bad;
    resp[2] |= 0x80;
    assert_eq!(exchange_raw_udp(s.addr, &resp).await.unwrap(), None);
    // Still serving.
    let r = query(s.addr, "ok.example.", RecordType::A).await.unwrap();
    assert_eq!(addrs(&r), [ip(1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_upstream_query_has_its_own_source_port_and_id() {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let (n, peer) = sock.recv_from(&mut buf).await.unwrap();
            let req = Message::from_vec(&buf[..n]).unwrap();
            record.lock().unwrap().push((peer.port(), req.metadata.id));
            let reply = reply_a(&req, ip(4), 30).to_vec().unwrap();
            sock.send_to(&reply, peer).await.unwrap();
        }
    });
    let s = start(&[server(addr)]).await;
    for i in 0..4 {
        query(s.addr, &format!("n{i}.example."), RecordType::A)
            .await
            .unwrap();
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4);
    let ports: std::collections::HashSet<u16> = seen.iter().map(|s| s.0).collect();
    let ids: std::collections::HashSet<u16> = seen.iter().map(|s| s.1).collect();
    assert!(ports.len() >= 2, "{seen:?}");
    assert!(ids.len() >= 2, "{seen:?}");
}
