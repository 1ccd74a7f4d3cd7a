//! `ops::http` limits over real sockets: the cap closes the oldest idle connection for a new
//! one, slow request heads and idle keep-alive connections are closed, big heads get 431,
//! bodies 413, and every closing is counted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::Duration;

use hyper::{Method, StatusCode};
use ops::http::{Close, Limits, Metrics, Reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// A functional bound: the client gives up after this long.
const CLIENT: Duration = Duration::from_secs(5);

async fn server(limits: Limits) -> (SocketAddr, Metrics, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let metrics = Metrics::register(&prometheus::Registry::new(), "test").unwrap();
    let token = CancellationToken::new();
    let route = |_: &Method, path: &str| Reply::text(StatusCode::OK, format!("{path}\n"));
    tokio::spawn(ops::http::serve_with(
        listener,
        route,
        limits,
        metrics.clone(),
        token.clone(),
    ));
    (addr, metrics, token)
}

/// Reads until the response to one request is complete (bodies here are one line) or EOF.
async fn read_response(s: &mut TcpStream) -> String {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(CLIENT, s.read(&mut buf))
            .await
            .expect("response within the client timeout")
            .unwrap_or(0);
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw);
        if n == 0
            || text
                .split_once("\r\n\r\n")
                .is_some_and(|(_, b)| b.ends_with('\n'))
        {
            return text.into_owned();
        }
    }
}

async fn get(s: &mut TcpStream, path: &str) -> String {
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    read_response(s).await
}

/// True when the server closed `s` (EOF or reset) within the client timeout.
async fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(CLIENT, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn a_full_server_closes_its_oldest_idle_connection_for_a_new_one() {
    let limits = Limits {
        max_connections: 3,
        ..Limits::default()
    };
    let (addr, metrics, _token) = server(limits).await;
    let mut idle = Vec::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        // A served request makes sure the server has admitted it before the next one.
        assert!(get(&mut s, "/warm").await.starts_with("HTTP/1.1 200"));
        idle.push(s);
    }
    let mut fresh = TcpStream::connect(addr).await.unwrap();
    let resp = get(&mut fresh, "/healthz").await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.ends_with("/healthz\n"), "{resp}");
    assert!(
        closed_by_server(&mut idle[0]).await,
        "the oldest was closed"
    );
    assert_eq!(metrics.closed_count(Close::Evicted), 1);
    // The others are still served on their kept-alive connections.
    assert!(get(&mut idle[1], "/again").await.ends_with("/again\n"));
    assert!(get(&mut idle[2], "/again").await.ends_with("/again\n"));
}

#[tokio::test]
async fn a_stalled_request_head_is_closed_after_the_header_read_timeout() {
    let limits = Limits {
        header_read_timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let (addr, metrics, _token) = server(limits).await;
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut half = TcpStream::connect(addr).await.unwrap();
    half.write_all(b"GET /metr").await.unwrap();
    assert!(closed_by_server(&mut half).await);
    assert!(closed_by_server(&mut silent).await);
    assert_eq!(metrics.closed_count(Close::HeaderTimeout), 2);
    assert_eq!(metrics.closed_count(Close::IdleTimeout), 0);
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let limits = Limits {
        idle_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let (addr, metrics, _token) = server(limits).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    assert!(get(&mut s, "/one").await.ends_with("/one\n"));
    assert!(get(&mut s, "/two").await.ends_with("/two\n"));
    assert!(closed_by_server(&mut s).await);
    assert_eq!(metrics.closed_count(Close::IdleTimeout), 1);
    assert_eq!(metrics.closed_count(Close::HeaderTimeout), 0);
}

#[tokio::test]
async fn an_oversized_request_head_gets_431() {
    let (addr, metrics, _token) = server(Limits::default()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let big = "a".repeat(64 * 1024);
    let req = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
    // The server may close before reading all of it.
    let _ = s.write_all(req.as_bytes()).await;
    let resp = read_response(&mut s).await;
    assert!(resp.starts_with("HTTP/1.1 431"), "{resp}");
    assert!(closed_by_server(&mut s).await);
    assert_eq!(metrics.closed_count(Close::HeaderTooLarge), 1);
}

#[tokio::test]
async fn a_request_body_gets_413_and_the_connection_closes() {
    let (addr, metrics, _token) = server(Limits::default()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        .await
        .unwrap();
    let resp = read_response(&mut s).await;
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
    assert!(closed_by_server(&mut s).await);
    assert_eq!(metrics.closed_count(Close::RequestBody), 1);
}

#[tokio::test]
async fn the_counter_is_exposed_with_every_reason() {
    let registry = prometheus::Registry::new();
    Metrics::register(&registry, "test").unwrap();
    let text = ops::metrics::encode(&registry);
    for reason in ["evicted", "refused", "header_timeout", "idle_timeout"] {
        let line = format!("test_http_connections_closed_total{{cause=\"{reason}\"}} 0");
        assert!(text.contains(&line), "{text}");
    }
}
