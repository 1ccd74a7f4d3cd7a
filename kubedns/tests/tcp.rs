//! TCP specifics: several queries on one connection, the connection cap, the idle timeout;
//! and the handler inside hickory-server's own `Server` (the `RequestHandler` impl).

#![allow(clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, RecordType};
use support::{CLUSTER, Kubedns, answers, q};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn ask(stream: &mut TcpStream, name: &str) -> std::io::Result<Message> {
    let msg = testkit::dns::make_query(name, RecordType::A, DNSClass::IN);
    let bytes = msg.to_vec().map_err(std::io::Error::other)?;
    stream
        .write_all(&(bytes.len() as u16).to_be_bytes())
        .await?;
    stream.write_all(&bytes).await?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).await?;
    Message::from_vec(&buf).map_err(std::io::Error::other)
}

#[tokio::test]
async fn one_connection_many_queries_and_a_connection_cap() {
    let kd = Kubedns::start(&[("c.yaml", CLUSTER)], &["--tcp-max-connections=2"]).await;
    kd.ready().await;
    let mut a = TcpStream::connect(kd.dns).await.expect("connect");
    let mut b = TcpStream::connect(kd.dns).await.expect("connect");
    for _ in 0..3 {
        let m = ask(&mut a, "my-nginx.default.svc.cluster.local.")
            .await
            .expect("answer");
        assert_eq!(
            answers(&m),
            ["my-nginx.default.svc.cluster.local. 30 IN A 10.96.0.50"]
        );
    }
    ask(&mut b, "web.coocla.svc.cluster.local.")
        .await
        .expect("answer");
    // A third connection is over the cap: the longest-idle one (a) makes room for it.
    let mut c = TcpStream::connect(kd.dns).await.expect("connect");
    ask(&mut c, "web.coocla.svc.cluster.local.")
        .await
        .expect("the newcomer is served");
    let mut buf = [0u8; 1];
    let closed = tokio::time::timeout(Duration::from_secs(5), a.read(&mut buf))
        .await
        .expect("the oldest idle connection is closed promptly");
    assert_eq!(closed.expect("clean close"), 0, "a was closed");
    ask(&mut b, "web.coocla.svc.cluster.local.")
        .await
        .expect("b was idle for less time and stays");
    // Two connections in the middle of a query (length sent, body not yet): nothing is idle,
    // so a newcomer is closed at once.
    drop((b, c));
    let mut busy = Vec::new();
    for _ in 0..2 {
        let busy_one = testkit::dns::eventually(support::BOUND, || async {
            let mut s = TcpStream::connect(kd.dns).await.ok()?;
            ask(&mut s, "web.coocla.svc.cluster.local.").await.ok()?;
            s.write_all(&[0, 40]).await.ok()?;
            Some(s)
        })
        .await;
        busy.push(busy_one.expect("a slot frees up"));
    }
    let mut d = TcpStream::connect(kd.dns).await.expect("connect");
    let refused = tokio::time::timeout(
        Duration::from_secs(5),
        ask(&mut d, "web.coocla.svc.cluster.local."),
    )
    .await
    .expect("closed promptly");
    assert!(
        refused.is_err(),
        "served while every slot was busy: {refused:?}"
    );
    kd.stop().await.expect("clean stop");
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let kd = Kubedns::start(&[("c.yaml", CLUSTER)], &["--tcp-idle-timeout=200ms"]).await;
    kd.ready().await;
    let mut s = TcpStream::connect(kd.dns).await.expect("connect");
    ask(&mut s, "web.coocla.svc.cluster.local.")
        .await
        .expect("answer");
    let mut buf = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("closed by the server")
        .unwrap_or(0);
    assert_eq!(n, 0);
    kd.stop().await.expect("clean stop");
}

#[tokio::test]
async fn the_handler_also_runs_inside_hickory_server() {
    use clap::Parser;
    let cfg = kubedns::cli::Cli::try_parse_from(["kubedns", "--manifests=/unused"])
        .expect("flags")
        .config()
        .expect("valid");
    let reg = prometheus::Registry::new();
    let metrics = kubedns::metrics::DnsMetrics::register(&reg).expect("metrics");
    let zone = Arc::new(kubedns::zone::ZoneView::new());
    let objects = kubedns_records::from_yaml_documents(CLUSTER).expect("objects");
    zone.store(Arc::new(kubedns_records::project(&objects, &cfg.zone, 1)));
    let handler = kubedns::handler::Handler::new(zone, &cfg.zone, metrics);
    let mut server = hickory_server::Server::new(handler);
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = udp.local_addr().expect("addr");
    server.register_socket(udp);
    let m = q(addr, "my-nginx.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(
        answers(&m),
        ["my-nginx.default.svc.cluster.local. 30 IN A 10.96.0.50"]
    );
    let m = q(addr, "nope.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    server.shutdown_gracefully().await.expect("shutdown");
}
