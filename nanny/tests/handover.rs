//! What the hand-over keeps across config changes, with the real nanny and dnscache: the
//! metrics port answers through every change, and the cache stays warm for names whose route
//! did not change (and only for those).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::*;
use testkit::pod::{free_port, http_get, write_configmap};
use testkit::upstream::{MockUpstream, Reply, reply_a};

const STUB_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const DEFAULT_IP: Ipv4Addr = Ipv4Addr::new(10, 9, 9, 9);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_answer_through_every_config_change() {
    let stub = mock(STUB_IP).await;
    let default = mock(DEFAULT_IP).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config");
    let port = free_port();
    let mut cmd = nanny_cmd(&cfg, default.addr(), &[]);
    cmd.arg(format!("--metrics-port={port}"));
    let (nanny, addr) = start(cmd);
    let metrics = SocketAddr::from((Ipv4Addr::LOCALHOST, port));

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let scraper = {
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match http_get(metrics, "/metrics") {
                    Ok((200, body)) if body.contains("dnscache_cache_hits_total") => {
                        ok.fetch_add(1, Ordering::Relaxed)
                    }
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        })
    };
    for i in 1..=5 {
        let domain = format!("s{i}.local");
        let stubs = format!(r#"{{"{domain}": ["{}"]}}"#, stub.addr());
        write_configmap(&cfg, &[("stubDomains", &stubs)]);
        assert!(
            eventually_routes(addr, &domain, STUB_IP).await,
            "change {i}"
        );
        wait_ready_count(&nanny, i + 1);
    }
    stop.store(true, Ordering::Relaxed);
    scraper.join().unwrap();
    assert_eq!(count(&nanny, "new dnscache failed"), 0);
    assert!(ok.load(Ordering::Relaxed) > 10);
    assert_eq!(failed.load(Ordering::Relaxed), 0, "scrapes failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_change_keeps_the_cache_warm_for_unchanged_routes() {
    let stub = mock(STUB_IP).await;
    let default = MockUpstream::start(|req| Reply::Msg(reply_a(req, DEFAULT_IP, 300))).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config");
    // The manifest's --cache-size=1000: the names below fill it (LRU may push a few out).
    let (nanny, addr) = start(nanny_cmd(&cfg, default.addr(), &[]));
    let names: Vec<String> = (0..1000).map(|i| format!("n{i}.example.com.")).collect();
    let moving: Vec<String> = (0..10).map(|i| format!("w{i}.acme.local.")).collect();
    for n in names.iter().chain(&moving) {
        assert_eq!(a(addr, n).await, Some(DEFAULT_IP), "{n}");
    }
    let filled = default.count();
    assert_eq!(filled, 1010);

    let stubs = format!(r#"{{"acme.local": ["{}"]}}"#, stub.addr());
    write_configmap(&cfg, &[("stubDomains", &stubs)]);
    wait_ready_count(&nanny, 2);
    let taken = nanny
        .wait_for_line("cache entries taken over", BOUND)
        .expect("the new dnscache took the cache over");
    let field = |k: &str| -> u64 {
        let v = taken.split(&format!("{k}=")).nth(1).unwrap();
        v.split_whitespace().next().unwrap().parse().unwrap()
    };
    assert!(field("kept") >= 950, "{taken}");
    assert!(field("dropped") <= 10, "{taken}");

    for n in &names {
        assert_eq!(a(addr, n).await, Some(DEFAULT_IP), "{n}");
    }
    let again = default.count() - filled;
    assert!(again <= 50, "{again} of 1000 names went upstream again");
    // Names whose route changed were not carried over: the stub answers them now.
    for n in &moving {
        assert_eq!(a(addr, n).await, Some(STUB_IP), "{n}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stub_domain_pointing_at_ourselves_is_refused_under_the_nanny() {
    let default = mock(DEFAULT_IP).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config");
    let (nanny, addr) = start(nanny_cmd(&cfg, default.addr(), &[]));
    let stubs = format!(r#"{{"loop.local": ["127.0.0.1:{}"]}}"#, addr.port());
    write_configmap(&cfg, &[("stubDomains", &stubs)]);
    wait_ready_count(&nanny, 2);
    let line = nanny
        .wait_for_line(
            "refusing an upstream that is this server's own address",
            BOUND,
        )
        .expect("the loop is refused with a log line");
    assert!(line.contains("loop.local"), "{line}");
    // Only the new child serves from here on.
    nanny
        .wait_for_line("old dnscache stopped", BOUND)
        .expect("the old child stops");
    let r = testkit::dns::query(addr, "x.loop.local.", hickory_proto::rr::RecordType::A)
        .await
        .unwrap();
    assert_eq!(
        r.metadata.response_code,
        hickory_proto::op::ResponseCode::ServFail
    );
    assert_eq!(a(addr, "www.example.com.").await, Some(DEFAULT_IP));
}
