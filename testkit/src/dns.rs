//! A tiny DNS client for tests: one question, one answer, over UDP or TCP, with a timeout.
//! What `dig` does, in-process, so tests can assert on parsed [`Message`]s.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// Per-exchange timeout.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// A query message for `name`/`qtype`/`qclass` with RD set and EDNS payload 1232.
pub fn make_query(name: &str, qtype: RecordType, qclass: DNSClass) -> Message {
    let mut msg = Message::query();
    msg.metadata.id = rand_id();
    msg.metadata.recursion_desired = true;
    let name = Name::from_ascii(name).expect("valid query name");
    let mut q = Query::query(name, qtype);
    q.set_query_class(qclass);
    msg.add_query(q);
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    msg.set_edns(edns);
    msg
}

fn rand_id() -> u16 {
    use std::time::{SystemTime, UNIX_EPOCH};
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(7);
    (n ^ (n >> 16)) as u16
}

fn to_io(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// UDP query for `name`/`qtype` class IN.
pub async fn query(addr: SocketAddr, name: &str, qtype: RecordType) -> io::Result<Message> {
    exchange_udp(addr, &make_query(name, qtype, DNSClass::IN)).await
}

/// UDP query with an explicit class (e.g. CHAOS for `hits.bind.`).
pub async fn query_class(
    addr: SocketAddr,
    name: &str,
    qtype: RecordType,
    qclass: DNSClass,
) -> io::Result<Message> {
    exchange_udp(addr, &make_query(name, qtype, qclass)).await
}

/// TCP query for `name`/`qtype` class IN.
pub async fn query_tcp(addr: SocketAddr, name: &str, qtype: RecordType) -> io::Result<Message> {
    exchange_tcp(addr, &make_query(name, qtype, DNSClass::IN)).await
}

/// Sends `msg` over UDP and waits for the reply with the same ID.
pub async fn exchange_udp(addr: SocketAddr, msg: &Message) -> io::Result<Message> {
    let bytes = msg.to_vec().map_err(to_io)?;
    let sock = UdpSocket::bind(if addr.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    })
    .await?;
    sock.connect(addr).await?;
    sock.send(&bytes).await?;
    let mut buf = vec![0u8; 65535];
    tokio::time::timeout(TIMEOUT, async {
        loop {
            let n = sock.recv(&mut buf).await?;
            let reply = Message::from_vec(&buf[..n]).map_err(to_io)?;
            if reply.metadata.id == msg.metadata.id {
                return Ok(reply);
            }
        }
    })
    .await
    .map_err(|_| {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no UDP answer from {addr}"),
        )
    })?
}

/// Sends raw bytes over UDP; returns the raw reply, or `None` when nothing came back in time.
pub async fn exchange_raw_udp(addr: SocketAddr, bytes: &[u8]) -> io::Result<Option<Vec<u8>>> {
    let sock = UdpSocket::bind("127.0.0.1:0").await?;
    sock.connect(addr).await?;
    sock.send(bytes).await?;
    let mut buf = vec![0u8; 65535];
    match tokio::time::timeout(Duration::from_millis(700), sock.recv(&mut buf)).await {
        Ok(Ok(n)) => Ok(Some(buf[..n].to_vec())),
        Ok(Err(e)) => Err(e),
        Err(_) => Ok(None),
    }
}

/// Sends `msg` over TCP (2-byte length framing) and reads one reply.
pub async fn exchange_tcp(addr: SocketAddr, msg: &Message) -> io::Result<Message> {
    let bytes = msg.to_vec().map_err(to_io)?;
    tokio::time::timeout(TIMEOUT, async {
        let mut s = TcpStream::connect(addr).await?;
        let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&bytes);
        s.write_all(&framed).await?;
        let mut len = [0u8; 2];
        s.read_exact(&mut len).await?;
        let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut buf).await?;
        Message::from_vec(&buf).map_err(to_io)
    })
    .await
    .map_err(|_| {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no TCP answer from {addr}"),
        )
    })?
}

/// Polls `f` every 50 ms until it returns `Some` or `timeout` passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `f` every 20 ms on the calling thread until it returns `Some` or `timeout` passes.
pub fn eventually_blocking<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
