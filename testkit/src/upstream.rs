//! A programmable mock DNS server (kube-dns's `pkg/test` server, async): UDP and TCP on the
//! same 127.0.0.1 port, a handler closure decides each reply, and every query is counted.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{Name, RData, Record};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio_util::sync::CancellationToken;

/// What the mock does with one query.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Send this message (its ID is set to the query's).
    Msg(Message),
    /// Send nothing.
    Drop,
    /// Send these bytes as they are.
    Raw(Vec<u8>),
    /// Wait, then send the message.
    Delayed(Duration, Message),
}

type Handler = dyn Fn(&Message) -> Reply + Send + Sync;

/// A running mock server; stops when dropped.
pub struct MockUpstream {
    addr: SocketAddr,
    count: Arc<AtomicUsize>,
    names: Arc<Mutex<Vec<String>>>,
    token: CancellationToken,
}

impl MockUpstream {
    /// Starts the mock on 127.0.0.1 (a free port, UDP and TCP).
    pub async fn start(
        handler: impl Fn(&Message) -> Reply + Send + Sync + 'static,
    ) -> MockUpstream {
        Self::start_on("127.0.0.1", handler).await
    }

    /// Starts the mock on `ip` (e.g. `127.0.0.5`), a free port shared by UDP and TCP.
    pub async fn start_on(
        ip: &str,
        handler: impl Fn(&Message) -> Reply + Send + Sync + 'static,
    ) -> MockUpstream {
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind(format!("{ip}:0"))
                .await
                .expect("bind mock udp");
            let port = udp.local_addr().expect("addr").port();
            if let Ok(tcp) = TcpListener::bind(format!("{ip}:{port}")).await {
                break (udp, tcp);
            }
        };
        let addr = udp.local_addr().expect("addr");
        let handler: Arc<Handler> = Arc::new(handler);
        let count = Arc::new(AtomicUsize::new(0));
        let names = Arc::new(Mutex::new(Vec::new()));
        let token = CancellationToken::new();
        let udp = Arc::new(udp);
        {
            let (handler, count, names, token) =
                (handler.clone(), count.clone(), names.clone(), token.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65535];
                loop {
                    let (n, peer) = tokio::select! {
                        _ = token.cancelled() => return,
                        r = udp.recv_from(&mut buf) => match r { Ok(x) => x, Err(_) => continue },
                    };
                    let Some((reply, delay)) = handle(&buf[..n], &*handler, &count, &names) else {
                        continue;
                    };
                    let udp = udp.clone();
                    tokio::spawn(async move {
                        if let Some(d) = delay {
                            tokio::time::sleep(d).await;
                        }
                        let _ = udp.send_to(&reply, peer).await;
                    });
                }
            });
        }
        {
            let (handler, count, names, token) =
                (handler, count.clone(), names.clone(), token.clone());
            tokio::spawn(async move {
                loop {
                    let (mut s, _) = tokio::select! {
                        _ = token.cancelled() => return,
                        r = tcp.accept() => match r { Ok(x) => x, Err(_) => continue },
                    };
                    let (handler, count, names) = (handler.clone(), count.clone(), names.clone());
                    tokio::spawn(async move {
                        loop {
                            let mut len = [0u8; 2];
                            if s.read_exact(&mut len).await.is_err() {
                                return;
                            }
                            let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
                            if s.read_exact(&mut buf).await.is_err() {
                                return;
                            }
                            let Some((reply, delay)) = handle(&buf, &*handler, &count, &names)
                            else {
                                continue;
                            };
                            if let Some(d) = delay {
                                tokio::time::sleep(d).await;
                            }
                            let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                            framed.extend_from_slice(&reply);
                            if s.write_all(&framed).await.is_err() {
                                return;
                            }
                        }
                    });
                }
            });
        }
        MockUpstream {
            addr,
            count,
            names,
            token,
        }
    }

    /// The UDP and TCP address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many queries arrived so far (UDP and TCP).
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// How many queries for `name` (case-insensitive, trailing dot optional) arrived.
    pub fn count_for(&self, name: &str) -> usize {
        let want = name.trim_end_matches('.').to_ascii_lowercase();
        self.names
            .lock()
            .unwrap()
            .iter()
            .filter(|n| **n == want)
            .count()
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

fn handle(
    bytes: &[u8],
    handler: &Handler,
    count: &AtomicUsize,
    names: &Mutex<Vec<String>>,
) -> Option<(Vec<u8>, Option<Duration>)> {
    let req = Message::from_vec(bytes).ok()?;
    count.fetch_add(1, Ordering::SeqCst);
    if let Some(q) = req.queries.first() {
        let n = q.name().to_ascii();
        names
            .lock()
            .unwrap()
            .push(n.trim_end_matches('.').to_ascii_lowercase());
    }
    let (mut msg, delay) = match handler(&req) {
        Reply::Drop => return None,
        Reply::Raw(b) => return Some((b, None)),
        Reply::Msg(m) => (m, None),
        Reply::Delayed(d, m) => (m, Some(d)),
    };
    msg.metadata.id = req.metadata.id;
    Some((msg.to_vec().ok()?, delay))
}

/// A response skeleton for `req`: same ID, question, RD; QR set, RA set.
pub fn response_to(req: &Message) -> Message {
    let mut m = Message::response(req.metadata.id, req.metadata.op_code);
    m.metadata.message_type = MessageType::Response;
    m.metadata.recursion_desired = req.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    m.add_queries(req.queries.clone());
    m
}

fn qname(req: &Message) -> Name {
    req.queries
        .first()
        .map(|q| q.name().clone())
        .unwrap_or_else(Name::root)
}

/// An answer with one A record `ip` at the question name.
pub fn reply_a(req: &Message, ip: Ipv4Addr, ttl: u32) -> Message {
    let mut m = response_to(req);
    m.add_answer(Record::from_rdata(qname(req), ttl, RData::A(A(ip))));
    m
}

/// An SOA for the parent of the question name with minimum `soa_min` (TTL `soa_min` too).
pub fn soa_for(req: &Message, soa_min: u32) -> Record {
    let zone = qname(req).base_name();
    let mname = Name::from_ascii("ns.mock.").expect("static name");
    let rname = Name::from_ascii("hostmaster.mock.").expect("static name");
    Record::from_rdata(
        zone,
        soa_min,
        RData::SOA(SOA::new(mname, rname, 1, 3600, 600, 86400, soa_min)),
    )
}

/// NXDOMAIN with an SOA whose minimum is `soa_min`.
pub fn reply_nxdomain(req: &Message, soa_min: u32) -> Message {
    let mut m = response_to(req);
    m.metadata.response_code = ResponseCode::NXDomain;
    m.add_authority(soa_for(req, soa_min));
    m
}

/// NOERROR with no answer (NODATA) and an SOA whose minimum is `soa_min`.
pub fn reply_nodata(req: &Message, soa_min: u32) -> Message {
    let mut m = response_to(req);
    m.add_authority(soa_for(req, soa_min));
    m
}

/// An empty answer with TC set (the client must retry over TCP).
pub fn reply_truncated(req: &Message) -> Message {
    let mut m = response_to(req);
    m.metadata.truncation = true;
    m
}

/// A reply with the given response code and nothing else.
pub fn reply_rcode(req: &Message, rcode: ResponseCode) -> Message {
    let mut m = response_to(req);
    m.metadata.response_code = rcode;
    m
}
