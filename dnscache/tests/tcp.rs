//! TCP hygiene (RFC 7766 §6.2): idle timeout, connection cap, oversize frames refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::Ipv4Addr;
use std::time::Duration;

use hickory_proto::rr::RecordType;
use support::{addrs, server, start};
use testkit::dns::query_tcp;
use testkit::upstream::{MockUpstream, Reply, reply_a};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until EOF (true) or the bound passes (false).
async fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 512];
    matches!(
        tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

async fn upstream() -> MockUpstream {
    MockUpstream::start(|req| Reply::Msg(reply_a(req, Ipv4Addr::new(10, 3, 3, 3), 30))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_and_undersize_frames_close_the_connection() {
    let up = upstream().await;
    let s = start(&[server(up.addr())]).await;
    let mut c = TcpStream::connect(s.tcp).await.unwrap();
    c.write_all(&[0xFF, 0xFF, 1, 2, 3]).await.unwrap();
    assert!(closed_by_server(&mut c).await);
    let mut c = TcpStream::connect(s.tcp).await.unwrap();
    c.write_all(&[0, 3, 1, 2, 3]).await.unwrap();
    assert!(closed_by_server(&mut c).await);
    let r = query_tcp(s.tcp, "ok.example.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(addrs(&r), [Ipv4Addr::new(10, 3, 3, 3)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed() {
    let up = upstream().await;
    let s = start(&[server(up.addr()), "--tcp-idle-timeout-ms=200".into()]).await;
    let mut c = TcpStream::connect(s.tcp).await.unwrap();
    assert!(closed_by_server(&mut c).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_cap_the_longest_idle_connection_makes_room() {
    let up = upstream().await;
    let s = start(&[server(up.addr()), "--tcp-max-connections=1".into()]).await;
    // An idle connection holds the only slot.
    let mut held = TcpStream::connect(s.tcp).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A newcomer is served, and the idle one is closed for it.
    let r = query_tcp(s.tcp, "ok.example.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(addrs(&r), [Ipv4Addr::new(10, 3, 3, 3)]);
    assert!(closed_by_server(&mut held).await);
    // A connection in the middle of a query (length sent, not the body) is never taken:
    // with it holding the slot, the next newcomer is closed at once.
    let mut busy = TcpStream::connect(s.tcp).await.unwrap();
    busy.write_all(&[0, 40]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut extra = TcpStream::connect(s.tcp).await.unwrap();
    assert!(closed_by_server(&mut extra).await);
}
