//! The dnsmasq scrape against a mock cache answering CHAOS TXT `*.bind.`:
//! counters appear, grow, never decrease after a cache restart; bad replies and a dead cache
//! count `kubedns_dnsmasq_errors`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use hickory_proto::op::Message;
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{DNSClass, RData, Record};
use testkit::dns::eventually;
use testkit::upstream::{MockUpstream, Reply, response_to};

mod support;
use support::{Sidecar, WAIT, dead_port};

const COUNTERS: [(&str, &str); 5] = [
    ("hits", "kubedns_dnsmasq_hits"),
    ("misses", "kubedns_dnsmasq_misses"),
    ("evictions", "kubedns_dnsmasq_evictions"),
    ("insertions", "kubedns_dnsmasq_insertions"),
    ("cachesize", "kubedns_dnsmasq_max_size"),
];

/// A CHAOS TXT reply holding `strings` for the question name.
fn txt(req: &Message, strings: &[String]) -> Message {
    let mut m = response_to(req);
    let mut rec = Record::from_rdata(
        req.queries[0].name().clone(),
        0,
        RData::TXT(TXT::new(strings.to_vec())),
    );
    rec.dns_class = DNSClass::CH;
    m.add_answer(rec);
    m
}

/// A mock dnsmasq whose `<x>.bind.` values are read from `values` (hits, misses, evictions,
/// insertions, cachesize) at each query.
async fn mock_cache(values: Arc<Mutex<[i64; 5]>>) -> MockUpstream {
    MockUpstream::start(move |req| {
        let q = &req.queries[0];
        assert_eq!(q.query_class(), DNSClass::CH);
        assert!(req.metadata.recursion_desired);
        let name = q.name().to_ascii();
        let v = *values.lock().unwrap();
        match COUNTERS
            .iter()
            .position(|(n, _)| name == format!("{n}.bind."))
        {
            Some(i) => Reply::Msg(txt(req, &[v[i].to_string()])),
            None => Reply::Drop,
        }
    })
    .await
}

async fn counters(sc: &Sidecar) -> Option<[f64; 5]> {
    let (_, body) = sc.get("/metrics").await;
    let mut out = [0.0; 5];
    for (slot, (_, metric)) in out.iter_mut().zip(COUNTERS) {
        *slot = support::sample(&body, metric)?;
    }
    Some(out)
}

async fn wait_counters(sc: &Sidecar, want: [f64; 5]) {
    let got = eventually(WAIT, || async { counters(sc).await.filter(|c| *c == want) }).await;
    assert!(
        got.is_some(),
        "counters never reached {want:?}; last {:?}",
        counters(sc).await
    );
}

#[tokio::test]
async fn counters_appear_grow_and_survive_a_cache_restart() {
    let values = Arc::new(Mutex::new([10, 4, 0, 6, 1000]));
    let cache = mock_cache(values.clone()).await;
    let sc = Sidecar::start(&[], cache.addr()).await;

    wait_counters(&sc, [10.0, 4.0, 0.0, 6.0, 1000.0]).await;
    *values.lock().unwrap() = [25, 5, 1, 8, 1000];
    wait_counters(&sc, [25.0, 5.0, 1.0, 8.0, 1000.0]).await;

    // The cache restarts: its counters start again near zero, ours must not go down.
    *values.lock().unwrap() = [1, 0, 0, 1, 1000];
    let polled = cache.count_for("hits.bind");
    eventually(WAIT, || async {
        (cache.count_for("hits.bind") >= polled + 3).then_some(())
    })
    .await
    .expect("scrape keeps polling");
    assert_eq!(counters(&sc).await, Some([25.0, 5.0, 1.0, 8.0, 1000.0]));

    // Growth after the restart is added on top.
    *values.lock().unwrap() = [6, 2, 0, 1, 1000];
    wait_counters(&sc, [30.0, 7.0, 1.0, 8.0, 1000.0]).await;
    assert_eq!(
        support::sample(&sc.get("/metrics").await.1, "kubedns_dnsmasq_errors"),
        Some(0.0)
    );
    sc.stop().await;
}

#[tokio::test]
async fn bad_replies_and_a_dead_cache_count_errors() {
    // Two TXT strings for misses.bind.: the round is aborted after hits.bind.
    let cache = MockUpstream::start(|req| {
        let name = req.queries[0].name().to_ascii();
        let strings = match name.as_str() {
            "misses.bind." => vec!["1".to_string(), "2".to_string()],
            "evictions.bind." => vec!["many".to_string()],
            _ => vec!["3".to_string()],
        };
        Reply::Msg(txt(req, &strings))
    })
    .await;
    let sc = Sidecar::start(&[], cache.addr()).await;
    let errors = eventually(WAIT, || async {
        let e = support::sample(&sc.get("/metrics").await.1, "kubedns_dnsmasq_errors")?;
        (e >= 2.0).then_some(e)
    })
    .await;
    assert!(errors.is_some(), "errors did not count bad replies");
    assert_eq!(
        cache.count_for("evictions.bind"),
        0,
        "a failed reply aborts the round"
    );
    assert_eq!(
        counters(&sc).await,
        Some([0.0; 5]),
        "nothing exported from an aborted round"
    );
    sc.stop().await;

    let sc = Sidecar::start(&[], dead_port()).await;
    let errors = eventually(WAIT, || async {
        let e = support::sample(&sc.get("/metrics").await.1, "kubedns_dnsmasq_errors")?;
        (e >= 2.0).then_some(e)
    })
    .await;
    assert!(errors.is_some(), "errors did not count a dead cache");
    sc.stop().await;
}
