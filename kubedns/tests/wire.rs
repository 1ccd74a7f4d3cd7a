//! DNS over real UDP and TCP sockets against kubedns running in-process on a manifests
//! directory: protocol rules (EDNS, FORMERR, NOTIMP, malformed packets, sync state), the
//! acceptance queries on the example objects, negative answers, case, truncation and TCP.

mod support;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use support::{CLUSTER, Kubedns, answers, q, q_tcp};
use testkit::dns::{exchange_raw_udp, exchange_tcp, exchange_udp, make_query};

const IN: hickory_proto::rr::DNSClass = hickory_proto::rr::DNSClass::IN;

#[tokio::test]
async fn before_sync_servfail_in_zone_refused_outside_then_ready() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("cluster.yaml");
    let kd = Kubedns::start_on(dir, Some(file.clone()), &[]).await;
    let (status, _) = support::http_get(kd.healthz, "/readiness")
        .await
        .expect("http");
    assert_eq!(status, 503);
    let (status, _) = support::http_get(kd.healthz, "/healthz")
        .await
        .expect("http");
    assert_eq!(status, 200);
    for (name, rcode) in [
        (
            "my-nginx.default.svc.cluster.local.",
            ResponseCode::ServFail,
        ),
        ("cluster.local.", ResponseCode::ServFail),
        ("1.0.96.10.in-addr.arpa.", ResponseCode::ServFail),
        ("example.com.", ResponseCode::Refused),
    ] {
        let m = q(kd.dns, name, RecordType::A).await;
        assert_eq!(m.metadata.response_code, rcode, "{name}");
    }
    std::fs::write(&file, CLUSTER).expect("write");
    kd.ready().await;
    let (_, body) = support::http_get(kd.healthz, "/readiness")
        .await
        .expect("http");
    assert_eq!(body, "ok\n");
    kd.stop().await.expect("clean stop");
}

#[tokio::test]
async fn edns_is_echoed_with_capped_payload() {
    let kd = Kubedns::start(&[("c.yaml", CLUSTER)], &[]).await;
    kd.ready().await;
    for (asked, echoed) in [(4096, 1232), (1232, 1232), (700, 700), (100, 512)] {
        let mut m = make_query("dns-version.cluster.local.", RecordType::TXT, IN);
        let mut e = Edns::new();
        e.set_max_payload(asked);
        m.set_edns(e);
        let r = exchange_udp(kd.dns, &m).await.expect("answer");
        let got = r.edns.as_ref().map(|e| e.max_payload());
        assert_eq!(got, Some(echoed), "client payload {asked}");
    }
    let mut m = make_query("dns-version.cluster.local.", RecordType::TXT, IN);
    m.edns = None;
    let r = exchange_udp(kd.dns, &m).await.expect("answer");
    assert!(r.edns.is_none(), "no OPT without a client OPT");
    let mut m = make_query("dns-version.cluster.local.", RecordType::TXT, IN);
    let mut e = Edns::new();
    e.set_version(1);
    m.set_edns(e);
    let r = exchange_udp(kd.dns, &m).await.expect("answer");
    // BADVERS and BADSIG share the value 16; the decoder names it BADSIG.
    assert_eq!(u16::from(r.metadata.response_code), 16);
    kd.stop().await.expect("clean stop");
}

#[tokio::test]
async fn formerr_notimp_and_garbage_do_not_hurt() {
    let kd = Kubedns::start(&[("c.yaml", CLUSTER)], &[]).await;
    kd.ready().await;
    // qdcount 0 and 2: FORMERR over UDP and TCP.
    let mut none = make_query("x.cluster.local.", RecordType::A, IN);
    none.queries.clear();
    let mut two = make_query("x.cluster.local.", RecordType::A, IN);
    two.add_query(Query::query(
        Name::from_ascii("y.cluster.local.").expect("name"),
        RecordType::A,
    ));
    for m in [&none, &two] {
        let r = exchange_udp(kd.dns, m).await.expect("udp answer");
        assert_eq!(r.metadata.response_code, ResponseCode::FormErr);
        assert_eq!(r.metadata.message_type, MessageType::Response);
        let r = exchange_tcp(kd.dns, m).await.expect("tcp answer");
        assert_eq!(r.metadata.response_code, ResponseCode::FormErr);
    }
    // Other opcodes: NOTIMP.
    for op in [OpCode::Notify, OpCode::Update, OpCode::Status] {
        let mut m = make_query("x.cluster.local.", RecordType::SOA, IN);
        m.metadata.op_code = op;
        let r = exchange_udp(kd.dns, &m).await.expect("answer");
        assert_eq!(r.metadata.response_code, ResponseCode::NotImp, "{op:?}");
    }
    // Garbage: random bytes, a short header, a header promising a question that is not there.
    let junk: Vec<u8> = (0..200u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let good = make_query("x.cluster.local.", RecordType::A, IN)
        .to_vec()
        .expect("encode");
    for bytes in [
        &junk[..],
        &good[..7],
        &good[..12],
        &good[..good.len() - 3],
        &[][..],
    ] {
        if let Some(reply) = exchange_raw_udp(kd.dns, bytes).await.expect("send") {
            let m = Message::from_vec(&reply).expect("a reply to garbage is a valid message");
            assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
        }
    }
    // Still serving.
    let r = q(kd.dns, "dns-version.cluster.local.", RecordType::TXT).await;
    assert_ne!(r.metadata.response_code, ResponseCode::ServFail);
    kd.stop().await.expect("clean stop");
}

#[tokio::test]
async fn acceptance_queries_over_udp_and_tcp() {
    let kd = Kubedns::start(&[("c.yaml", CLUSTER)], &[]).await;
    kd.ready().await;
    for tcp in [false, true] {
        let ask = |name: &'static str, t: RecordType| async move {
            if tcp {
                q_tcp(kd.dns, name, t).await
            } else {
                q(kd.dns, name, t).await
            }
        };
        let m = ask("my-nginx.default.svc.cluster.local.", RecordType::A).await;
        assert_eq!(
            answers(&m),
            ["my-nginx.default.svc.cluster.local. 30 IN A 10.96.0.50"]
        );
        assert!(m.metadata.authoritative);
        let m = ask("_web80._tcp.web.coocla.svc.cluster.local.", RecordType::SRV).await;
        assert_eq!(
            answers(&m),
            [
                "_web80._tcp.web.coocla.svc.cluster.local. 30 IN SRV 10 100 7878 web.coocla.svc.cluster.local."
            ]
        );
        assert!(
            m.additionals
                .iter()
                .any(|r| r.data == RData::A("10.96.0.78".parse().expect("ip")))
        );
        let m = ask("50.0.96.10.in-addr.arpa.", RecordType::PTR).await;
        assert_eq!(
            answers(&m),
            ["50.0.96.10.in-addr.arpa. 30 IN PTR my-nginx.default.svc.cluster.local."]
        );
        let m = ask("client-svc.default.svc.cluster.local.", RecordType::A).await;
        let rendered: Vec<String> = m.answers.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            rendered,
            [
                "client-svc.default.svc.cluster.local. 30 IN CNAME nginx-svc.nginx-ns.svc.cluster.local.",
                "nginx-svc.nginx-ns.svc.cluster.local. 30 IN A 10.96.0.60",
            ]
        );
        let m = ask("dns-version.cluster.local.", RecordType::TXT).await;
        assert_eq!(answers(&m), ["dns-version.cluster.local. 30 IN TXT 1.1.0"]);
    }
    kd.stop().await.expect("clean stop");
}

#[tokio::test]
async fn nxdomain_and_nodata_carry_the_soa() {
    let kd = Kubedns::start(&[("c.yaml", CLUSTER)], &["--neg-ttl=7"]).await;
    kd.ready().await;
    let nx = q(kd.dns, "nope.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    let nodata = q(
        kd.dns,
        "my-nginx.default.svc.cluster.local.",
        RecordType::TXT,
    )
    .await;
    assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
    assert!(nodata.answers.is_empty());
    for m in [&nx, &nodata] {
        assert!(m.metadata.authoritative);
        let soa = m
            .authorities
            .iter()
            .find(|r| r.record_type() == RecordType::SOA)
            .expect("SOA");
        assert_eq!(soa.ttl, 7);
        assert_eq!(soa.name.to_ascii(), "cluster.local.");
    }
    let refused = q(kd.dns, "example.com.", RecordType::A).await;
    assert_eq!(refused.metadata.response_code, ResponseCode::Refused);
    kd.stop().await.expect("clean stop");
}

#[tokio::test]
async fn owner_names_keep_the_question_spelling() {
    let kd = Kubedns::start(&[("c.yaml", CLUSTER)], &[]).await;
    kd.ready().await;
    let name = "My-NGINX.Default.SVC.Cluster.Local.";
    let m = q(kd.dns, name, RecordType::A).await;
    assert_eq!(m.queries[0].name().to_ascii(), name);
    assert_eq!(m.answers.len(), 1);
    assert_eq!(m.answers[0].name.to_ascii(), name);
    kd.stop().await.expect("clean stop");
}

#[tokio::test]
async fn big_answers_truncate_over_udp_and_come_whole_over_tcp() {
    let big = support::headless(1000);
    let kd = Kubedns::start(&[("big.yaml", &big)], &[]).await;
    kd.ready().await;
    let name = "big.default.svc.cluster.local.";
    let udp = q(kd.dns, name, RecordType::A).await;
    assert!(udp.metadata.truncation, "TC must be set");
    assert!(udp.to_vec().expect("encode").len() <= 1232);
    let tcp = q_tcp(kd.dns, name, RecordType::A).await;
    assert!(!tcp.metadata.truncation);
    assert_eq!(tcp.answers.len(), 1000);
    // No EDNS: the 512-byte limit applies.
    let mut m = make_query(name, RecordType::A, IN);
    m.edns = None;
    let r = exchange_udp(kd.dns, &m).await.expect("answer");
    assert!(r.metadata.truncation);
    assert!(r.to_vec().expect("encode").len() <= 512);
    kd.stop().await.expect("clean stop");
}
