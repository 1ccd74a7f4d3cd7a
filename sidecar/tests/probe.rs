//! Probes against a real DNS server (testkit's MockUpstream), observed over real HTTP:
//! `/healthcheck/<label>`, and the histogram and error counters on `/metrics`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use hickory_proto::rr::{DNSClass, RecordType};

use testkit::dns::eventually;
use testkit::upstream::{MockUpstream, Reply, reply_a, reply_nodata, reply_nxdomain};

mod support;
use support::{Sidecar, WAIT, dead_port};

/// Answers `ok.*` only when asked the way kube-dns's probe asks (type A, class IN, RD=1),
/// so a healthy `ok` probe also proves the question's shape.
async fn mock() -> MockUpstream {
    MockUpstream::start(|req| {
        let q = &req.queries[0];
        let name = q.name().to_ascii();
        let shaped = q.query_type() == RecordType::A
            && q.query_class() == DNSClass::IN
            && req.metadata.recursion_desired;
        match name.split('.').next().unwrap_or("") {
            "ok" if shaped => Reply::Msg(reply_a(req, Ipv4Addr::new(10, 0, 0, 1), 30)),
            "nx" => Reply::Msg(reply_nxdomain(req, 60)),
            _ => Reply::Msg(reply_nodata(req, 60)),
        }
    })
    .await
}

#[tokio::test]
async fn answering_name_is_healthy_nxdomain_nodata_and_dead_are_not() {
    let up = mock().await;
    let a = up.addr();
    let dead = dead_port();
    let sc = Sidecar::start(
        &[
            format!("ok,{a},ok.test,1,A"),
            format!("nx,{a},nx.test,1,A"),
            format!("nodata,{a},nodata.test,1,AAAA"),
            format!("dead,{dead},ok.test,1,A"),
        ],
        dead,
    )
    .await;

    let body = sc.wait_health("ok", 200).await;
    assert!(
        body.starts_with(r#"{"IsOk":true,"LatencySeconds":"#),
        "{body}"
    );
    assert!(body.ends_with(r#","Err":""}"#), "{body}");
    for (label, err) in [
        ("nx", r#""Err":"no RRs for domain \"nx.test.\"""#),
        ("nodata", r#""Err":"no RRs for domain \"nodata.test.\"""#),
        ("dead", "refused"),
    ] {
        let body = eventually(WAIT, || async {
            let (c, body) = sc.get(&format!("/healthcheck/{label}")).await;
            (c == 503 && !body.contains("waiting for first probe")).then_some(body)
        })
        .await
        .unwrap_or_else(|| panic!("{label} never failed a probe"));
        assert!(
            body.starts_with(r#"{"IsOk":false,"LatencySeconds":0,"#),
            "{body}"
        );
        assert!(body.contains(err), "{label}: {body}");
    }

    let ok_count = sc
        .metric("kubedns_probe_ok_latency_ms_count")
        .await
        .unwrap();
    assert!(ok_count >= 1.0);
    assert_eq!(sc.metric("kubedns_probe_ok_errors").await, Some(0.0));
    assert_eq!(sc.metric("kubedns_probe_ok_up").await, Some(1.0));
    for label in ["nx", "nodata", "dead"] {
        let errors = sc
            .metric(&format!("kubedns_probe_{label}_errors"))
            .await
            .unwrap();
        assert!(errors >= 1.0, "{label}: {errors}");
        assert_eq!(
            sc.metric(&format!("kubedns_probe_{label}_latency_ms_count"))
                .await,
            Some(0.0)
        );
        assert_eq!(
            sc.metric(&format!("kubedns_probe_{label}_up")).await,
            Some(0.0)
        );
    }
    // The probes reached the server (the question's shape is checked by `mock`).
    assert!(up.count_for("ok.test") >= 1);
    assert!(up.count_for("nodata.test") >= 1);

    // The histogram keeps moving while the name answers.
    let more = eventually(WAIT, || async {
        let n = sc.metric("kubedns_probe_ok_latency_ms_count").await?;
        (n > ok_count).then_some(n)
    })
    .await;
    assert!(more.is_some(), "the latency histogram did not move");
    sc.stop().await;
}

#[tokio::test]
async fn health_starts_waiting_then_flips_both_ways() {
    let answering = Arc::new(AtomicBool::new(true));
    let flag = answering.clone();
    let up = MockUpstream::start(move |req| {
        if flag.load(Ordering::SeqCst) {
            Reply::Msg(reply_a(req, Ipv4Addr::new(10, 0, 0, 2), 30))
        } else {
            Reply::Msg(reply_nxdomain(req, 60))
        }
    })
    .await;
    let a = up.addr();
    // A probe with a one-hour interval has (almost surely) not run yet.
    let sc = Sidecar::start(
        &[
            format!("flip,{a},flip.test,1,A"),
            format!("later,{a},flip.test,3600,A"),
        ],
        dead_port(),
    )
    .await;
    assert_eq!(
        sc.get("/healthcheck/later").await,
        (
            503,
            r#"{"IsOk":false,"LatencySeconds":0,"Err":"waiting for first probe"}"#.to_string()
        )
    );

    sc.wait_health("flip", 200).await;
    answering.store(false, Ordering::SeqCst);
    let body = sc.wait_health("flip", 503).await;
    assert!(body.contains("no RRs for domain"), "{body}");
    let errors = sc.metric("kubedns_probe_flip_errors").await.unwrap();
    assert!(errors >= 1.0);
    answering.store(true, Ordering::SeqCst);
    sc.wait_health("flip", 200).await;
    assert_eq!(sc.metric("kubedns_probe_flip_up").await, Some(1.0));

    let (code, body) = sc.get("/healthz").await;
    assert_eq!(code, 200);
    assert!(
        body.starts_with("ok (") && body.ends_with(" UTC)\n"),
        "{body:?}"
    );
    assert_eq!(sc.get("/healthcheck/unknown").await.0, 404);
    sc.stop().await;
}
