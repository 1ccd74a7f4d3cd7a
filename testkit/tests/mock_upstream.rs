//! The mock upstream and the dns client agree over UDP and TCP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::Ipv4Addr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};
use testkit::dns;
use testkit::upstream::{MockUpstream, Reply, reply_a, reply_nxdomain};

#[tokio::test]
async fn answers_and_counts_over_udp_and_tcp() {
    let up = MockUpstream::start(|req| {
        let name = req.queries[0].name().to_ascii();
        if name.starts_with("nx.") {
            Reply::Msg(reply_nxdomain(req, 7))
        } else {
            Reply::Msg(reply_a(req, Ipv4Addr::new(10, 0, 0, 1), 30))
        }
    })
    .await;
    let udp = dns::query(up.addr(), "a.example.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(udp.answers.len(), 1);
    assert!(matches!(udp.answers[0].data, RData::A(a) if a.0 == Ipv4Addr::new(10, 0, 0, 1)));
    let tcp = dns::query_tcp(up.addr(), "nx.example.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(tcp.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(tcp.authorities.len(), 1);
    assert_eq!(up.count(), 2);
    assert_eq!(up.count_for("A.example"), 1);
}

#[tokio::test]
async fn drop_means_timeout() {
    let up = MockUpstream::start(|_| Reply::Drop).await;
    let err = dns::query(up.addr(), "a.example.", RecordType::A)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    assert_eq!(up.count(), 1);
}
