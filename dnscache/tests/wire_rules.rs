//! A careful resolver's wire rules, over real sockets: header bits (dig's view), reply size
//! caps and truncation, refusing broken upstream replies, TTL limits, records outside a
//! server's route, and coalesced misses across worker runtimes at shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use support::{addrs, route, server, start};
use testkit::dns::{exchange_raw_udp, make_query, query, query_tcp};
use testkit::upstream::{MockUpstream, Reply, reply_a, reply_nxdomain, response_to};

fn dig(addr: SocketAddr, name: &str) -> String {
    testkit::pod::dig_full(addr, &[name, "A"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dig_sees_recursion_available_and_no_aa_from_the_cache() {
    let up = MockUpstream::start(|req| {
        let mut m = reply_a(req, Ipv4Addr::new(10, 0, 0, 1), 300);
        m.metadata.authoritative = true;
        m.metadata.recursion_available = false;
        Reply::Msg(m)
    })
    .await;
    let s = start(&[server(up.addr())]).await;
    let addr = s.addr;
    let (fresh, cached) = tokio::task::spawn_blocking(move || {
        (dig(addr, "web.example.com."), dig(addr, "web.example.com."))
    })
    .await
    .unwrap();
    assert!(fresh.contains("flags: qr aa rd ra;"), "{fresh}");
    assert!(cached.contains("flags: qr rd ra;"), "{cached}");
    for out in [&fresh, &cached] {
        assert!(
            !out.contains("recursion requested but not available"),
            "{out}"
        );
    }
    assert_eq!(up.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negative_soa_ttl_reaches_the_client_with_no_negcache() {
    let up = MockUpstream::start(|req| Reply::Msg(reply_nxdomain(req, 5))).await;
    let s = start(&[server(up.addr()), "--no-negcache".into()]).await;
    let r = query(s.addr, "nope.example.com.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(r.authorities[0].ttl, 5);
}

/// An answer of about 6 KiB: 400 A records.
fn big(req: &Message) -> Message {
    let mut m = response_to(req);
    let owner = req.queries[0].name().clone();
    for i in 0..400u32 {
        let [_, _, hi, lo] = i.to_be_bytes();
        m.add_answer(Record::from_rdata(
            owner.clone(),
            300,
            RData::A(A::new(10, 1, hi, lo)),
        ));
    }
    m
}

fn udp_query(name: &str, edns: Option<u16>) -> Vec<u8> {
    let mut q = make_query(name, RecordType::A, DNSClass::IN);
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        q.set_edns(e);
    }
    q.to_vec().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_replies_are_capped_and_truncated_tcp_gets_everything() {
    let up = MockUpstream::start(|req| Reply::Msg(big(req))).await;
    let s = start(&[server(up.addr())]).await;
    for (edns, cap) in [(Some(65535), 1232), (None, 512), (Some(4096), 1232)] {
        // The first ask of each key is a miss (UDP, then TCP upstream); a loaded machine may
        // take longer than one client wait, and the retry is then answered from the cache.
        let mut raw = None;
        for _ in 0..10 {
            raw = exchange_raw_udp(s.addr, &udp_query("big.example.com.", edns))
                .await
                .unwrap();
            if raw.is_some() {
                break;
            }
        }
        let raw = raw.expect("a UDP reply");
        assert!(raw.len() <= cap, "EDNS {edns:?}: {} bytes", raw.len());
        let m = Message::from_vec(&raw).unwrap();
        assert!(m.metadata.truncation, "EDNS {edns:?}");
    }
    let full = query_tcp(s.addr, "big.example.com.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(full.answers.len(), 400);
    assert!(!full.metadata.truncation);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_upstream_replies_become_servfail() {
    let up = MockUpstream::start(|req| {
        let name = req.queries[0].name().to_ascii();
        let mut m = reply_a(req, Ipv4Addr::new(10, 0, 0, 1), 300);
        if name.starts_with("other") {
            m.queries[0].set_name(Name::from_ascii("elsewhere.example.com.").unwrap());
            return Reply::Msg(m);
        }
        if name.starts_with("opt") {
            m.set_edns(Edns::new());
        }
        let mut b = m.to_vec().unwrap();
        // The answer's owner is a pointer to the question at offset 12.
        let owner = if name.starts_with("opt") {
            b.len() - 27
        } else {
            b.len() - 16
        };
        assert_eq!(&b[owner..owner + 2], &[0xC0, 12]);
        match name.split('.').next().unwrap() {
            "loop" => b[owner + 1] = u8::try_from(owner).unwrap(),
            "rdlength" => b[owner + 11] = 200,
            "opt" => {
                let opt = b[b.len() - 11..].to_vec();
                b.extend_from_slice(&opt);
                b[11] = 2;
            }
            _ => {}
        }
        Reply::Raw(b)
    })
    .await;
    let s = start(&[server(up.addr())]).await;
    let good = query(s.addr, "fine.example.com.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(addrs(&good), [Ipv4Addr::new(10, 0, 0, 1)]);
    for name in [
        "loop.example.com.",
        "rdlength.example.com.",
        "opt.example.com.",
        "other.example.com.",
    ] {
        let r = query(s.addr, name, RecordType::A).await.unwrap();
        assert_eq!(r.metadata.response_code, ResponseCode::ServFail, "{name}");
        assert!(r.answers.is_empty(), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ttl_with_the_top_bit_set_is_not_cached() {
    let up =
        MockUpstream::start(|req| Reply::Msg(reply_a(req, Ipv4Addr::new(10, 0, 0, 1), 1 << 31)))
            .await;
    let s = start(&[server(up.addr())]).await;
    for _ in 0..2 {
        let r = query(s.addr, "huge.example.com.", RecordType::A)
            .await
            .unwrap();
        assert_eq!(r.answers[0].ttl, 0);
    }
    assert_eq!(up.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stub_server_cannot_answer_for_names_outside_its_domain() {
    let evil = Ipv4Addr::new(6, 6, 6, 6);
    let stub = MockUpstream::start(move |req| {
        let mut m = response_to(req);
        let owner = req.queries[0].name().clone();
        let outside = Name::from_ascii("www.example.com.").unwrap();
        m.add_answer(Record::from_rdata(
            owner,
            60,
            RData::CNAME(CNAME(outside.clone())),
        ));
        m.add_answer(Record::from_rdata(outside, 60, RData::A(A(evil))));
        let extra = Name::from_ascii("evil.example.com.").unwrap();
        m.add_additional(Record::from_rdata(extra, 60, RData::A(A(evil))));
        Reply::Msg(m)
    })
    .await;
    let world =
        MockUpstream::start(|req| Reply::Msg(reply_a(req, Ipv4Addr::new(10, 0, 0, 3), 60))).await;
    let s = start(&[route("acme.local", stub.addr()), server(world.addr())]).await;
    let r = query(s.addr, "x.acme.local.", RecordType::A).await.unwrap();
    assert_eq!(addrs(&r), [Ipv4Addr::new(10, 0, 0, 3)], "{r:?}");
    assert!(r.additionals.iter().all(|a| !matches!(a.data, RData::A(_))));
    for name in ["www.example.com.", "evil.example.com."] {
        let r = query(s.addr, name, RecordType::A).await.unwrap();
        assert_eq!(addrs(&r), [Ipv4Addr::new(10, 0, 0, 3)], "{name}");
    }
    assert_eq!(
        world.count(),
        2,
        "the target was resolved once through its own route"
    );
}

/// Two worker threads, each with its own runtime, ask the same name; the one that went
/// upstream first is torn down before the answer comes. The other must answer (SERVFAIL or
/// the answer), never panic.
#[test]
fn a_coalesced_miss_survives_the_runtime_that_started_it() {
    use dnscache::pipeline::{Step, Transport};
    let main = tokio::runtime::Runtime::new().unwrap();
    let up = main.block_on(MockUpstream::start(|req| {
        Reply::Delayed(
            Duration::from_millis(600),
            reply_a(req, Ipv4Addr::new(10, 0, 0, 1), 60),
        )
    }));
    let upstream = format!("127.0.0.1#{}", up.addr().port());
    let cfg = dnscache::Config {
        routes: dnscache::Routes::new(&[dnscache::route::parse_server(&upstream).unwrap()], &[]),
        settings: dnscache::Settings {
            upstream_timeout: Duration::from_secs(3),
            ..dnscache::Settings::default()
        },
        ..dnscache::Config::default()
    };
    let metrics =
        Arc::new(dnscache::metrics::Metrics::register(&prometheus::Registry::new()).unwrap());
    let cache = dnscache::cache::Cache::new(cfg.cache, metrics.clone());
    let p = Arc::new(dnscache::Pipeline::new(
        cache,
        cfg.routes,
        cfg.settings,
        metrics,
    ));
    let packet = udp_query("slow.example.com.", None);
    let ask = |p: Arc<dnscache::Pipeline>, packet: Vec<u8>| async move {
        let mut out = Vec::new();
        match p.fast(&packet, Transport::Udp, &mut out) {
            Step::Miss(m) => p.miss(m, &mut out).await,
            _ => panic!("expected a miss"),
        }
        out
    };
    let first = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    first.spawn(ask(p.clone(), packet.clone()));
    // Let the first miss reach the upstream.
    first.block_on(async { tokio::time::sleep(Duration::from_millis(150)).await });
    let (p2, packet2) = (p.clone(), packet.clone());
    let follower = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(ask(p2, packet2))
    });
    std::thread::sleep(Duration::from_millis(150));
    drop(first);
    let out = follower.join().expect("the follower must not panic");
    let m = Message::from_vec(&out).unwrap();
    assert!(
        matches!(
            m.metadata.response_code,
            ResponseCode::ServFail | ResponseCode::NoError
        ),
        "{m:?}"
    );
    drop(up);
}
