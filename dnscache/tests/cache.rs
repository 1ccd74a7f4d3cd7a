//! Cache behaviour over real sockets: one upstream query per TTL, decaying TTLs, negative
//! caching (RFC 2308) and `--no-negcache`, coalescing, CHAOS counters.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::Ipv4Addr;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, RData, RecordType};
use support::{addrs, server, start, ttls};
use testkit::dns::{query, query_class, query_tcp};
use testkit::upstream::{MockUpstream, Reply, reply_a, reply_nxdomain};

const IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_question_reaches_upstream_once_until_ttl_runs_out() {
    let up = MockUpstream::start(|req| Reply::Msg(reply_a(req, IP, 1))).await;
    let s = start(&[server(up.addr())]).await;
    for _ in 0..3 {
        let r = query(s.addr, "web.example.com.", RecordType::A)
            .await
            .unwrap();
        assert_eq!(addrs(&r), [IP]);
    }
    let r = query_tcp(s.tcp, "WEB.example.com.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(addrs(&r), [IP]);
    assert_eq!(r.queries[0].name().to_ascii(), "WEB.example.com.");
    assert_eq!(up.count(), 1);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    query(s.addr, "web.example.com.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(up.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttls_decrease_with_age() {
    let up = MockUpstream::start(|req| Reply::Msg(reply_a(req, IP, 30))).await;
    let s = start(&[server(up.addr())]).await;
    let first = query(s.addr, "web.example.com.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(ttls(&first), [30]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later = query(s.addr, "web.example.com.", RecordType::A)
        .await
        .unwrap();
    assert!(ttls(&later)[0] < 30, "ttl {:?}", ttls(&later));
    assert!(ttls(&later)[0] >= 27);
    assert_eq!(up.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nxdomain_is_cached_for_soa_minimum_capped_by_neg_ttl() {
    let up = MockUpstream::start(|req| Reply::Msg(reply_nxdomain(req, 60))).await;
    let s = start(&[server(up.addr()), "--neg-ttl=1".into()]).await;
    for _ in 0..3 {
        let r = query(s.addr, "nope.example.com.", RecordType::A)
            .await
            .unwrap();
        assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
        assert!(r.authorities.iter().all(|a| a.ttl <= 1));
    }
    assert_eq!(up.count(), 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    query(s.addr, "nope.example.com.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(up.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soa_minimum_below_neg_ttl_wins() {
    let up = MockUpstream::start(|req| Reply::Msg(reply_nxdomain(req, 1))).await;
    let s = start(&[server(up.addr()), "--neg-ttl=3600".into()]).await;
    query(s.addr, "nope.example.com.", RecordType::A)
        .await
        .unwrap();
    query(s.addr, "nope.example.com.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(up.count(), 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    query(s.addr, "nope.example.com.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(up.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_negcache_forwards_every_negative_question() {
    let up = MockUpstream::start(|req| Reply::Msg(reply_nxdomain(req, 60))).await;
    let s = start(&[server(up.addr()), "--no-negcache".into()]).await;
    for _ in 0..3 {
        let r = query(s.addr, "nope.example.com.", RecordType::A)
            .await
            .unwrap();
        assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    }
    assert_eq!(up.count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_size_zero_disables_the_cache() {
    let up = MockUpstream::start(|req| Reply::Msg(reply_a(req, IP, 300))).await;
    let s = start(&[server(up.addr()), "--cache-size=0".into()]).await;
    query(s.addr, "web.example.com.", RecordType::A)
        .await
        .unwrap();
    query(s.addr, "web.example.com.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(up.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_concurrent_misses_are_coalesced() {
    let up =
        MockUpstream::start(|req| Reply::Delayed(Duration::from_millis(100), reply_a(req, IP, 30)))
            .await;
    let s = start(&[server(up.addr())]).await;
    let all = futures::future::join_all(
        (0..8).map(|_| query(s.addr, "slow.example.com.", RecordType::A)),
    )
    .await;
    for r in all {
        assert_eq!(addrs(&r.unwrap()), [IP]);
    }
    assert_eq!(up.count(), 1);
}

async fn stat(addr: std::net::SocketAddr, name: &str) -> u64 {
    let r = query_class(addr, name, RecordType::TXT, DNSClass::CH)
        .await
        .unwrap();
    assert_eq!(r.answers.len(), 1, "{name}");
    match &r.answers[0].data {
        RData::TXT(t) => {
            assert_eq!(t.txt_data.len(), 1);
            std::str::from_utf8(&t.txt_data[0])
                .unwrap()
                .parse()
                .unwrap()
        }
        other => panic!("not TXT: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_txt_reports_dnsmasq_counters() {
    let up = MockUpstream::start(|req| Reply::Msg(reply_a(req, IP, 30))).await;
    let s = start(&[server(up.addr()), "--cache-size=1000".into()]).await;
    query(s.addr, "a.example.com.", RecordType::A)
        .await
        .unwrap();
    query(s.addr, "a.example.com.", RecordType::A)
        .await
        .unwrap();
    query(s.addr, "a.example.com.", RecordType::A)
        .await
        .unwrap();
    query(s.addr, "b.example.com.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(stat(s.addr, "cachesize.bind.").await, 1000);
    assert_eq!(stat(s.addr, "hits.bind.").await, 2);
    assert_eq!(stat(s.addr, "misses.bind.").await, 2);
    assert_eq!(stat(s.addr, "insertions.bind.").await, 2);
    assert_eq!(stat(s.addr, "evictions.bind.").await, 0);
    assert_eq!(stat(s.addr, "HITS.BIND.").await, 2);
    let other = query_class(s.addr, "version.bind.", RecordType::TXT, DNSClass::CH)
        .await
        .unwrap();
    assert_eq!(other.metadata.response_code, ResponseCode::Refused);
    assert_eq!(up.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_stale_answers_from_expired_entries_only_when_enabled() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let down = Arc::new(AtomicBool::new(false));
    let d = down.clone();
    let up = MockUpstream::start(move |req| {
        if d.load(Ordering::SeqCst) {
            Reply::Drop
        } else {
            Reply::Msg(reply_a(req, IP, 1))
        }
    })
    .await;
    let stale = start(&[server(up.addr()), "--serve-stale".into()]).await;
    let strict = start(&[server(up.addr())]).await;
    for s in [&stale, &strict] {
        query(s.addr, "web.example.com.", RecordType::A)
            .await
            .unwrap();
    }
    down.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let r = query(stale.addr, "web.example.com.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(addrs(&r), [IP]);
    assert_eq!(ttls(&r), [30]);
    let r = query(strict.addr, "web.example.com.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
}
