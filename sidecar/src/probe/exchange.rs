//! The one UDP exchange used by the probes and the dnsmasq scrape: one query,
//! one reply with the same ID, within kube-dns's `dns.Client` default of 2 s.
//!
//! Owns address resolution of Go-style `host:port` strings too. Must not interpret replies:
//! deciding what a reply means (healthy, a counter value) is the caller's job.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use tokio::net::UdpSocket;

/// Time allowed for one exchange (miekg/dns `Client` default read timeout).
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// A failed exchange.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// The server string is not `host:port`.
    #[error("address {server}: missing or invalid port")]
    BadServer {
        /// The string given.
        server: String,
    },
    /// The host part did not resolve.
    #[error("cannot resolve {server}: {source}")]
    Resolve {
        /// The string given.
        server: String,
        /// Why.
        source: io::Error,
    },
    /// A socket operation failed (e.g. `connection refused`).
    #[error("{op} udp {server}: {source}")]
    Io {
        /// `dial`, `write` or `read`.
        op: &'static str,
        /// The peer.
        server: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// No reply with our ID within [`TIMEOUT`].
    #[error("read udp {server}: i/o timeout")]
    Timeout {
        /// The peer.
        server: SocketAddr,
    },
    /// The query could not be encoded.
    #[error("cannot encode query: {0}")]
    Encode(#[from] hickory_proto::ProtoError),
    /// The reply could not be decoded.
    #[error("bad reply from {server}: {source}")]
    Decode {
        /// The peer.
        server: SocketAddr,
        /// Why.
        source: hickory_proto::serialize::binary::DecodeError,
    },
}

/// A query for `name`/`qtype`/`qclass` with a random ID and RD=1 (no EDNS, like miekg's
/// `dns.Msg` built by kube-dns).
pub fn query(name: Name, qtype: RecordType, qclass: DNSClass) -> Message {
    let mut msg = Message::query();
    msg.metadata.id = rand::random();
    msg.metadata.recursion_desired = true;
    let mut q = Query::query(name, qtype);
    q.set_query_class(qclass);
    msg.add_query(q);
    msg
}

/// Splits a Go-style `host:port` (`[::1]:53` for IPv6) into its parts.
pub fn split_host_port(server: &str) -> Option<(&str, u16)> {
    let (host, port) = match server.strip_prefix('[') {
        Some(rest) => {
            let (host, port) = rest.split_once("]:")?;
            (host, port)
        }
        None => {
            let (host, port) = server.rsplit_once(':')?;
            if host.contains(':') {
                return None;
            }
            (host, port)
        }
    };
    Some((host, port.parse().ok()?))
}

/// Resolves a Go-style `host:port`; IP literals need no lookup.
pub async fn resolve(server: &str) -> Result<SocketAddr, ExchangeError> {
    let (host, port) = split_host_port(server).ok_or_else(|| ExchangeError::BadServer {
        server: server.to_string(),
    })?;
    resolve_parts(host, port)
        .await
        .map_err(|source| ExchangeError::Resolve {
            server: server.to_string(),
            source,
        })
}

/// Resolves `host` (an IP literal or a name) and `port`, within [`TIMEOUT`] (Go's dialer
/// timeout covers the lookup too; a stuck resolver must not stall a probe loop).
pub async fn resolve_parts(host: &str, port: u16) -> io::Result<SocketAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    tokio::time::timeout(TIMEOUT, tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "lookup timed out"))??
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no addresses"))
}

/// Sends `msg` to `server` over UDP and waits for the reply carrying its ID.
pub async fn exchange(server: SocketAddr, msg: &Message) -> Result<Message, ExchangeError> {
    let bytes = msg.to_vec()?;
    let io = |op| move |source| ExchangeError::Io { op, server, source };
    let local: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let sock = UdpSocket::bind(local).await.map_err(io("dial"))?;
    sock.connect(server).await.map_err(io("dial"))?;
    sock.send(&bytes).await.map_err(io("write"))?;
    let mut buf = vec![0u8; 65535];
    let read = async {
        loop {
            let n = sock.recv(&mut buf).await.map_err(io("read"))?;
            let reply = Message::from_vec(&buf[..n])
                .map_err(|source| ExchangeError::Decode { server, source })?;
            if reply.metadata.id == msg.metadata.id {
                return Ok(reply);
            }
            tracing::debug!(%server, id = reply.metadata.id, "ignoring reply with a foreign ID");
        }
    };
    tokio::time::timeout(TIMEOUT, read)
        .await
        .map_err(|_| ExchangeError::Timeout { server })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_host_port() {
        assert_eq!(split_host_port("127.0.0.1:53"), Some(("127.0.0.1", 53)));
        assert_eq!(
            split_host_port("[127.0.0.1]:10053"),
            Some(("127.0.0.1", 10053))
        );
        assert_eq!(split_host_port("[::1]:53"), Some(("::1", 53)));
        assert_eq!(split_host_port("dns.local:5353"), Some(("dns.local", 5353)));
        assert_eq!(split_host_port("::1:53"), None);
        assert_eq!(split_host_port("127.0.0.1:x"), None);
        assert_eq!(split_host_port("127.0.0.1"), None);
    }

    #[tokio::test]
    async fn resolves_literals_without_lookup() {
        assert_eq!(
            resolve("[::1]:53").await.unwrap(),
            "[::1]:53".parse::<SocketAddr>().unwrap()
        );
        assert!(matches!(
            resolve("nope").await,
            Err(ExchangeError::BadServer { .. })
        ));
    }
}
