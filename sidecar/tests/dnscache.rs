//! The sidecar against the real dnscache binary: dnscache answers the CHAOS
//! `*.bind.` queries, the `kubedns_dnsmasq_*` counters appear and grow, and restarting the
//! cache (its own counters start again at zero) does not make them decrease.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;
use std::time::Duration;

use hickory_proto::rr::RecordType;
use testkit::dns::{eventually, query};
use testkit::proc::Proc;
use testkit::upstream::{MockUpstream, Reply, reply_a};

mod support;
use support::{Sidecar, WAIT, sample};

const NAMES: [&str; 5] = [
    "kubedns_dnsmasq_hits",
    "kubedns_dnsmasq_misses",
    "kubedns_dnsmasq_evictions",
    "kubedns_dnsmasq_insertions",
    "kubedns_dnsmasq_max_size",
];

/// dnscache on 127.0.0.1:`port` (0: any) forwarding everything to `upstream`.
fn dnscache(port: u16, upstream: SocketAddr) -> (Proc, SocketAddr) {
    let mut cmd = Command::new(testkit::bin::path("dnscache"));
    cmd.args([
        "-k",
        "--listen-address=127.0.0.1",
        "--no-resolv",
        "--cache-size=1337",
    ])
    .arg(format!("--port={port}"))
    .arg(format!("--server={}#{}", upstream.ip(), upstream.port()));
    let p = Proc::spawn(cmd).unwrap();
    let addr = p
        .listening("udp", Duration::from_secs(20))
        .expect("dnscache logs listening on udp");
    (p, addr)
}

async fn counters(sc: &Sidecar) -> Option<[f64; 5]> {
    let (_, body) = sc.get("/metrics").await;
    let mut out = [0.0; 5];
    for (slot, name) in out.iter_mut().zip(NAMES) {
        *slot = sample(&body, name)?;
    }
    Some(out)
}

/// Waits until the counters satisfy `ok`; returns them.
async fn wait_for(sc: &Sidecar, what: &str, ok: impl Fn(&[f64; 5]) -> bool) -> [f64; 5] {
    match eventually(WAIT, || async { counters(sc).await.filter(|c| ok(c)) }).await {
        Some(c) => c,
        None => panic!("{what}: last counters {:?}", counters(sc).await),
    }
}

/// Asks each name twice: one miss and insertion, then one hit, per name.
async fn traffic(cache: SocketAddr, names: &[&str]) {
    for _ in 0..2 {
        for name in names {
            let reply = query(cache, name, RecordType::A).await.unwrap();
            assert_eq!(reply.answers.len(), 1, "{name}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_appear_grow_and_survive_a_dnscache_restart() {
    let up =
        MockUpstream::start(|req| Reply::Msg(reply_a(req, Ipv4Addr::new(10, 1, 2, 3), 300))).await;
    let (mut cache, addr) = tokio::task::block_in_place(|| dnscache(0, up.addr()));
    let sc = Sidecar::start(&[], addr).await;

    let first = wait_for(&sc, "counters appear", |c| c[4] == 1337.0).await;
    traffic(addr, &["a.example.", "b.example.", "c.example."]).await;
    let grown = wait_for(&sc, "counters grow", |c| {
        c[0] >= first[0] + 3.0 && c[1] >= first[1] + 3.0 && c[3] >= first[3] + 3.0
    })
    .await;

    // Restart dnscache on the same port: its counters start again from zero.
    cache.signal(15);
    assert!(tokio::task::block_in_place(|| cache.wait_timeout(Duration::from_secs(10))).is_some());
    drop(cache);
    let (_cache, again) = tokio::task::block_in_place(|| dnscache(addr.port(), up.addr()));
    assert_eq!(again, addr);
    // Sample while the sidecar scrapes the fresh cache (200 ms polls): nothing may go down.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = counters(&sc).await.unwrap();
        for i in 0..5 {
            assert!(
                now[i] >= grown[i],
                "{} went down: {} -> {}",
                NAMES[i],
                grown[i],
                now[i]
            );
        }
    }

    // New traffic after the restart is added on top (which also shows the sidecar saw the
    // reset: had it kept the old base, 2 new hits would stay below it and add nothing).
    traffic(addr, &["d.example.", "e.example."]).await;
    let after = wait_for(&sc, "counters grow after the restart", |c| {
        c[0] >= grown[0] + 2.0 && c[1] >= grown[1] + 2.0 && c[3] >= grown[3] + 2.0
    })
    .await;
    assert_eq!(
        after[4], 1337.0,
        "max_size is exported like kube-dns (a counter, not summed)"
    );
    sc.stop().await;
}
