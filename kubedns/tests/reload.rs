//! The `--manifests` source end to end (re-read on change, a broken file keeps the last good
//! objects), `/metrics` names, and the acceptance queries against deploy/examples.

#![allow(clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use support::{BOUND, CLUSTER, Kubedns, answers, q};

const NGINX: &str = "my-nginx.default.svc.cluster.local.";

async fn eventually_answer(kd: &Kubedns, want: &str) {
    let got = testkit::dns::eventually(BOUND, || async {
        let m = testkit::dns::query(kd.dns, NGINX, RecordType::A)
            .await
            .ok()?;
        (answers(&m) == [want]).then_some(())
    })
    .await;
    assert!(got.is_some(), "{NGINX} never answered {want}");
}

async fn metric(kd: &Kubedns, line_prefix: &str) -> Option<f64> {
    let (_, body) = support::http_get(kd.metrics, "/metrics").await.ok()?;
    body.lines()
        .find(|l| l.starts_with(line_prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn serial(kd: &Kubedns) -> u32 {
    let m = q(kd.dns, "cluster.local.", RecordType::SOA).await;
    match m.answers.first().map(|r| &r.data) {
        Some(hickory_proto::rr::RData::SOA(soa)) => soa.serial,
        other => panic!("no SOA at the apex: {other:?}"),
    }
}

#[tokio::test]
async fn changes_are_picked_up_and_broken_files_keep_the_last_good_zone() {
    let kd = Kubedns::start(&[("cluster.yaml", CLUSTER)], &[]).await;
    kd.ready().await;
    eventually_answer(
        &kd,
        "my-nginx.default.svc.cluster.local. 30 IN A 10.96.0.50",
    )
    .await;
    let first = serial(&kd).await;

    std::fs::write(
        kd.path().join("cluster.yaml"),
        CLUSTER.replace("10.96.0.50", "10.96.0.51"),
    )
    .expect("rewrite");
    eventually_answer(
        &kd,
        "my-nginx.default.svc.cluster.local. 30 IN A 10.96.0.51",
    )
    .await;
    assert!(
        serial(&kd).await > first,
        "serial increases with every snapshot"
    );

    // A broken file: counted, logged, and the last good zone keeps serving.
    std::fs::write(
        kd.path().join("broken.yaml"),
        "kind: Service\nspec: [oops\n",
    )
    .expect("write");
    let counted = testkit::dns::eventually(BOUND, || async {
        (metric(&kd, "kubedns_manifests_errors_total").await? >= 1.0).then_some(())
    })
    .await;
    assert!(counted.is_some(), "broken file not counted");
    let m = q(kd.dns, NGINX, RecordType::A).await;
    assert_eq!(
        answers(&m),
        ["my-nginx.default.svc.cluster.local. 30 IN A 10.96.0.51"]
    );

    // Fixed again: the new content is served.
    std::fs::remove_file(kd.path().join("broken.yaml")).expect("remove");
    std::fs::write(
        kd.path().join("cluster.yaml"),
        CLUSTER.replace("10.96.0.50", "10.96.0.52"),
    )
    .expect("rewrite");
    eventually_answer(
        &kd,
        "my-nginx.default.svc.cluster.local. 30 IN A 10.96.0.52",
    )
    .await;
    kd.stop().await.expect("clean stop");
}

#[tokio::test]
async fn metrics_keep_the_kube_dns_names() {
    let kd = Kubedns::start(&[("cluster.yaml", CLUSTER)], &[]).await;
    kd.ready().await;
    q(kd.dns, NGINX, RecordType::A).await;
    q(kd.dns, "nope.default.svc.cluster.local.", RecordType::A).await;
    q(kd.dns, "50.0.96.10.in-addr.arpa.", RecordType::PTR).await;
    // Let the zone metrics settle (published right after the snapshot).
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (status, body) = support::http_get(kd.metrics, "/metrics")
        .await
        .expect("scrape");
    assert_eq!(status, 200);
    for name in [
        "skydns_skydns_dns_request_count_total{system=\"auth\"} 2",
        "skydns_skydns_dns_request_count_total{system=\"reverse\"} 1",
        "skydns_skydns_dns_request_duration_seconds_bucket{system=\"auth\",le=\"0.001\"}",
        "skydns_skydns_dns_request_duration_seconds_bucket{system=\"auth\",le=\"0.003\"}",
        "skydns_skydns_dns_request_duration_seconds_bucket{system=\"auth\",le=\"10\"}",
        "skydns_skydns_dns_error_count_total{cause=\"nxdomain\",system=\"auth\"} 1",
        "kubedns_answers_total{qtype=\"A\",rcode=\"NOERROR\"} 1",
        "kubedns_answers_total{qtype=\"PTR\",rcode=\"NOERROR\"} 1",
        "kubedns_zone_generation 1",
        "kubedns_zone_objects{kind=\"Service\"} 5",
        "kubedns_zone_last_rebuild_seconds",
        "kubedns_zone_serial",
        "kubedns_manifests_loads_total 1",
    ] {
        assert!(body.contains(name), "missing {name:?} in\n{body}");
    }
    // kube-dns also served /metrics on the readiness port.
    let (status, body2) = support::http_get(kd.healthz, "/metrics")
        .await
        .expect("scrape");
    assert_eq!(status, 200);
    assert!(body2.contains("skydns_skydns_dns_request_count_total"));
    kd.stop().await.expect("clean stop");
}

#[tokio::test]
async fn example_cluster_answers_the_acceptance_queries() {
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/cluster.yaml");
    let Ok(text) = std::fs::read_to_string(&example) else {
        eprintln!("skipping: {} not present", example.display());
        return;
    };
    let kd = Kubedns::start(&[("cluster.yaml", &text)], &[]).await;
    kd.ready().await;
    let nginx = q(kd.dns, NGINX, RecordType::A).await;
    assert_eq!(nginx.metadata.response_code, ResponseCode::NoError);
    let ip = match nginx.answers.first().map(|r| &r.data) {
        Some(hickory_proto::rr::RData::A(a)) => a.0,
        other => panic!("my-nginx has no A: {other:?}"),
    };
    let srv = q(
        kd.dns,
        "_web80._tcp.web.coocla.svc.cluster.local.",
        RecordType::SRV,
    )
    .await;
    assert_eq!(srv.answers.len(), 1, "{srv:?}");
    assert!(answers(&srv)[0].contains(" 7878 web.coocla.svc.cluster.local."));
    let o = ip.octets();
    let ptr_name = format!("{}.{}.{}.{}.in-addr.arpa.", o[3], o[2], o[1], o[0]);
    let ptr = q(kd.dns, &ptr_name, RecordType::PTR).await;
    assert_eq!(answers(&ptr), [format!("{ptr_name} 30 IN PTR {NGINX}")]);
    let client = q(
        kd.dns,
        "client-svc.default.svc.cluster.local.",
        RecordType::A,
    )
    .await;
    let types: Vec<RecordType> = client.answers.iter().map(|r| r.record_type()).collect();
    assert_eq!(types, [RecordType::CNAME, RecordType::A]);
    let txt = q(kd.dns, "dns-version.cluster.local.", RecordType::TXT).await;
    assert_eq!(
        answers(&txt),
        ["dns-version.cluster.local. 30 IN TXT 1.1.0"]
    );
    // The sidecar's liveness probe: SRV at the bare service name.
    let probe = q(
        kd.dns,
        "kubernetes.default.svc.cluster.local.",
        RecordType::SRV,
    )
    .await;
    assert!(!probe.answers.is_empty());
    kd.stop().await.expect("clean stop");
}
