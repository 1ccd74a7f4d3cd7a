//! End to end: the kubedns binary with `--kube-master-url` pointed at testkit's fake API server,
//! answering over UDP while the fake creates, changes and deletes objects and misbehaves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};
use testkit::apiserver::{FakeApiServer, Resource};
use testkit::k8s::{endpoints_for, pod, slice_for, svc};
use testkit::proc::Proc;

const BOUND: Duration = Duration::from_secs(20);

/// Starts kubedns against `api`; returns the process and its UDP address.
fn kubedns(api: &FakeApiServer, extra: &[&str]) -> (Proc, SocketAddr) {
    // The binary cargo built for these tests: `testkit::bin::path` would run a nested
    // `cargo build` whose feature set differs (no dev-dependencies) and rebuild kube each run.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubedns"));
    cmd.args(["--kube-master-url", &api.url(), "--dns-port", "0"])
        .args(["--dns-bind-address", "127.0.0.1", "--healthz-port", "0"])
        .args(["--metrics-port", "0", "-v", "2"])
        .args(extra);
    let proc = Proc::spawn(cmd).unwrap();
    let addr = tokio::task::block_in_place(|| proc.listening("udp", BOUND)).expect("udp listener");
    (proc, addr)
}

/// Rcode and A addresses of `name`.
async fn lookup(dns: SocketAddr, name: &str) -> Option<(ResponseCode, Vec<Ipv4Addr>)> {
    let msg = testkit::dns::query(dns, name, RecordType::A).await.ok()?;
    let mut ips: Vec<Ipv4Addr> = msg
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect();
    ips.sort();
    Some((msg.metadata.response_code, ips))
}

/// Polls until `name` answers `rcode` with exactly `ips`.
async fn until(dns: SocketAddr, name: &str, rcode: ResponseCode, ips: &[&str]) {
    let want: Vec<Ipv4Addr> = ips.iter().map(|i| i.parse().unwrap()).collect();
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        let got = lookup(dns, name).await;
        if got
            .as_ref()
            .is_some_and(|(rc, got)| *rc == rcode && *got == want)
        {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("{name}: wanted {rcode:?} {want:?}, last answer {got:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const WEB: &str = "web.ns.svc.cluster.local.";
const HEADLESS: &str = "db.ns.svc.cluster.local.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_follow_creates_updates_and_deletes() {
    let api = FakeApiServer::start().await;
    let (_kubedns, dns) = kubedns(&api, &[]);
    let web = svc("ns", "web")
        .cluster_ip("10.0.0.10")
        .port("http", 80, "TCP");
    api.create(&web);
    api.create(&slice_for(&web).ready("10.1.0.5"));
    let db = svc("ns", "db").headless().port("pg", 5432, "TCP");
    api.create(&db);
    api.create(&slice_for(&db).ready("10.1.0.7").hostname("db-0"));
    until(dns, WEB, ResponseCode::NoError, &["10.0.0.10"]).await;
    until(dns, HEADLESS, ResponseCode::NoError, &["10.1.0.7"]).await;

    api.update(&web.clone().cluster_ip("10.0.0.11"));
    api.update(&slice_for(&db).ready("10.1.0.8").ready("10.1.0.9"));
    until(dns, WEB, ResponseCode::NoError, &["10.0.0.11"]).await;
    until(
        dns,
        HEADLESS,
        ResponseCode::NoError,
        &["10.1.0.8", "10.1.0.9"],
    )
    .await;

    api.delete(&web);
    api.delete(&slice_for(&web));
    api.delete(&db);
    until(dns, WEB, ResponseCode::NXDomain, &[]).await;
    until(dns, HEADLESS, ResponseCode::NXDomain, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_keeps_answers_and_relist_forgets_deleted_names() {
    let api = FakeApiServer::start().await;
    let keep = svc("ns", "keep")
        .cluster_ip("10.0.0.1")
        .port("http", 80, "TCP");
    let gone = svc("ns", "gone")
        .cluster_ip("10.0.0.2")
        .port("http", 80, "TCP");
    for s in [&keep, &gone] {
        api.create(s);
        api.create(&slice_for(s).ready("10.1.0.1"));
    }
    let (_kubedns, dns) = kubedns(&api, &[]);
    until(
        dns,
        "gone.ns.svc.cluster.local.",
        ResponseCode::NoError,
        &["10.0.0.2"],
    )
    .await;

    api.set_down(true);
    api.delete(&gone);
    api.delete(&slice_for(&gone));
    api.compact();
    // The API is unreachable: the last snapshot keeps answering.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let keep_answer = lookup(dns, "keep.ns.svc.cluster.local.").await;
        assert_eq!(
            keep_answer,
            Some((ResponseCode::NoError, vec![Ipv4Addr::new(10, 0, 0, 1)]))
        );
    }
    let lists_before = api.requests_for(Resource::Services, false).len();

    api.set_down(false);
    until(
        dns,
        "gone.ns.svc.cluster.local.",
        ResponseCode::NXDomain,
        &[],
    )
    .await;
    until(
        dns,
        "keep.ns.svc.cluster.local.",
        ResponseCode::NoError,
        &["10.0.0.1"],
    )
    .await;
    assert!(
        api.requests_for(Resource::Services, false).len() > lists_before,
        "no relist"
    );
}

/// A Service created while the API server is away resolves within a few seconds of its
/// return: the watchers' retry delay is capped low (`watch/backoff.rs`). With kube-rs's default
/// (jittered doubling from 0.8 s to 30 s) the next retry after a 12 s outage often comes
/// several seconds after recovery (after a 20 s outage we saw up to 18 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_created_during_an_outage_resolves_soon_after_recovery() {
    const OUTAGE: Duration = Duration::from_secs(12);
    const RECOVERY: Duration = Duration::from_secs(4);
    let api = FakeApiServer::start().await;
    api.create(&svc("ns", "web").cluster_ip("10.0.0.10"));
    let (_kubedns, dns) = kubedns(&api, &[]);
    until(dns, WEB, ResponseCode::NoError, &["10.0.0.10"]).await;

    api.set_down(true);
    let new = svc("ns", "new").cluster_ip("10.0.0.20");
    api.create(&new);
    api.create(&slice_for(&new).ready("10.1.0.20"));
    tokio::time::sleep(OUTAGE).await;
    let name = "new.ns.svc.cluster.local.";
    assert_eq!(
        lookup(dns, name).await,
        Some((ResponseCode::NXDomain, vec![])),
        "the API was down: nothing new can be known"
    );
    api.set_down(false);
    let back = tokio::time::Instant::now();
    let want = Some((ResponseCode::NoError, vec![Ipv4Addr::new(10, 0, 0, 20)]));
    while lookup(dns, name).await != want {
        assert!(
            back.elapsed() < RECOVERY,
            "{name} not answered {RECOVERY:?} after the API server came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_bookmarks_and_watches_closed_every_second() {
    let api = FakeApiServer::start().await;
    api.close_watches_every(Some(Duration::from_secs(1)));
    api.bookmark_every(Some(Duration::from_millis(300)));
    for i in 0..1100 {
        api.create(&svc("ns", &format!("s{i:04}")).cluster_ip("10.0.0.1"));
    }
    let (_kubedns, dns) = kubedns(&api, &[]);
    until(
        dns,
        "s1099.ns.svc.cluster.local.",
        ResponseCode::NoError,
        &["10.0.0.1"],
    )
    .await;
    assert!(
        api.requests_for(Resource::Services, false).len() >= 3,
        "not paginated"
    );

    tokio::time::sleep(Duration::from_millis(2500)).await; // watches closed and resumed
    let web = svc("ns", "web").cluster_ip("10.0.0.10");
    api.create(&web);
    until(dns, WEB, ResponseCode::NoError, &["10.0.0.10"]).await;
    assert!(
        api.requests_for(Resource::Services, true).len() >= 3,
        "watches not resumed"
    );
    assert_eq!(
        api.requests_for(Resource::Services, false).len(),
        3,
        "relisted after a clean close"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servfail_until_synced_then_answers() {
    let api = FakeApiServer::start().await;
    api.set_unavailable(true);
    let web = svc("ns", "web").cluster_ip("10.0.0.10");
    api.create(&web);
    let (_kubedns, dns) = kubedns(&api, &[]);
    until(dns, WEB, ResponseCode::ServFail, &[]).await;
    api.set_unavailable(false);
    until(dns, WEB, ResponseCode::NoError, &["10.0.0.10"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_sync_timeout_exits_non_zero() {
    let api = FakeApiServer::start().await;
    api.set_down(true);
    let (mut kubedns, _dns) = kubedns(&api, &["--initial-sync-timeout", "2s"]);
    let status = tokio::task::block_in_place(|| kubedns.wait_timeout(BOUND)).expect("exits");
    assert!(!status.success(), "{status:?}");
    let said = kubedns
        .lines()
        .into_iter()
        .any(|l| l.contains("initial sync"));
    assert!(said, "no clear message: {:?}", kubedns.lines());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_endpoints_and_verified_pods() {
    let api = FakeApiServer::start().await;
    let db = svc("ns", "db").headless().port("pg", 5432, "TCP");
    api.create(&db);
    api.create(&endpoints_for(&db).ready("10.1.0.7").hostname("db-0"));
    api.create(&pod("ns", "db-0").ip("10.1.0.7"));
    let flags = ["--endpoints-api", "endpoints", "--pods", "verified"];
    let (_kubedns, dns) = kubedns(&api, &flags);
    until(dns, HEADLESS, ResponseCode::NoError, &["10.1.0.7"]).await;
    let pod_name = "10-1-0-7.ns.pod.cluster.local.";
    until(dns, pod_name, ResponseCode::NoError, &["10.1.0.7"]).await;
    until(
        dns,
        "10-1-0-8.ns.pod.cluster.local.",
        ResponseCode::NXDomain,
        &[],
    )
    .await;
    api.delete(&pod("ns", "db-0"));
    until(dns, pod_name, ResponseCode::NXDomain, &[]).await;
    assert!(api.requests_for(Resource::EndpointSlices, false).is_empty());
}
