//! Client traffic at a fixed rate through dnscache: a realistic mix of cluster questions
//! (Services A/AAAA/SRV, headless endpoints, PTR, ExternalName, NXDOMAIN) and outside and
//! stub-domain names, mostly over UDP (a few sockets, many queries in flight, as a node's
//! clients look to the cache) and some over TCP. Every reply is judged against the [`Model`]
//! at once; a query with no reply after [`LOST_AFTER`] is lost.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::DNSClass;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::model::{Class, Expect, Key, Model, Verdict};
use super::record::{Outcome, Recorder};
use super::schedule::Rng;
use crate::dns::make_query;

/// A query with no reply after this long is lost (longer than dnscache's two upstream
/// timeouts of 2 s before it answers SERVFAIL).
pub const LOST_AFTER: Duration = Duration::from_secs(6);
const SOCKETS: usize = 4;

/// The static questions of the mix, by group.
#[derive(Debug, Default)]
pub struct Questions {
    /// `(weight, questions)`; an empty list means "a recent reverse question".
    pub groups: Vec<(u32, Vec<Key>)>,
}

impl Questions {
    fn pick(&self, rng: &mut Rng, model: &Model) -> Option<Key> {
        let total: u32 = self.groups.iter().map(|(w, _)| w).sum();
        let mut r = rng.below(total.into()) as u32;
        for (w, keys) in &self.groups {
            if r < *w {
                let n = rng.below(u64::MAX) as usize;
                return if keys.is_empty() {
                    model.recent_ptr(n).cloned()
                } else {
                    keys.get(n % keys.len()).cloned()
                };
            }
            r -= w;
        }
        None
    }
}

/// Traffic settings.
#[derive(Debug, Clone)]
pub struct Load {
    /// dnscache's address.
    pub target: SocketAddr,
    /// Queries per second.
    pub qps: u32,
    /// Out of 1000 queries, how many go over TCP.
    pub tcp_per_mille: u32,
    /// How long to send.
    pub duration: Duration,
    /// Seed of the mix.
    pub seed: u64,
}

struct Pending {
    key: Key,
    sent: Instant,
}

type Table = Arc<Mutex<HashMap<u16, Pending>>>;

struct Shared {
    model: Arc<Mutex<Model>>,
    rec: Arc<Mutex<Recorder>>,
}

impl Shared {
    fn judge(&self, key: Key, sent: Instant, recv: Instant, msg: &Message) {
        let (got, ttl) = Expect::of(msg);
        let (class, verdict) = {
            let m = self.model.lock().unwrap_or_else(|e| e.into_inner());
            let class = m.class(&key).unwrap_or(Class::Cluster);
            let verdict = match got.rcode {
                ResponseCode::NoError | ResponseCode::NXDomain => {
                    Some(m.judge(&key, &got, ttl, recv))
                }
                _ => None,
            };
            let want = m.current(&key).map(|e| e.to_string()).unwrap_or_default();
            (class, verdict.map(|v| (v, want)))
        };
        let mut rec = self.rec.lock().unwrap_or_else(|e| e.into_inner());
        rec.answered(sent, recv);
        let outcome = match (got.rcode, verdict) {
            (_, Some((Verdict::Ok, _))) => return,
            (_, Some((Verdict::Stale(late), want))) => (Outcome::Stale(late), want),
            (_, Some((Verdict::Wrong, want))) => (Outcome::Wrong, want),
            (ResponseCode::ServFail, None) => (Outcome::ServFail, String::new()),
            (rc, None) => (Outcome::Rcode(rc), String::new()),
        };
        let detail = format!("got {got} ttl {ttl:?}; now {}", outcome.1);
        rec.bad(sent, recv, key, class, outcome.0, detail);
    }

    fn lost(&self, key: Key, sent: Instant, why: &str) {
        let class = {
            let m = self.model.lock().unwrap_or_else(|e| e.into_inner());
            m.class(&key).unwrap_or(Class::Cluster)
        };
        let mut rec = self.rec.lock().unwrap_or_else(|e| e.into_inner());
        rec.bad(
            sent,
            Instant::now(),
            key,
            class,
            Outcome::Lost,
            why.to_string(),
        );
    }
}

/// Sends the load and judges every reply; returns when the last query is answered or lost.
pub async fn run(
    load: Load,
    questions: Arc<Questions>,
    model: Arc<Mutex<Model>>,
    rec: Arc<Mutex<Recorder>>,
) -> std::io::Result<()> {
    let shared = Arc::new(Shared { model, rec });
    let mut socks = Vec::new();
    let mut tables: Vec<Table> = Vec::new();
    let stop = tokio_util::sync::CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..SOCKETS {
        let sock = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
        sock.connect(load.target).await?;
        let table: Table = Arc::default();
        tasks.spawn(receive(
            sock.clone(),
            table.clone(),
            shared.clone(),
            stop.clone(),
        ));
        socks.push(sock);
        tables.push(table);
    }
    let start = Instant::now();
    let mut rng = Rng::new(load.seed.wrapping_add(2));
    let mut ids = [0u16; SOCKETS];
    let mut sent: u64 = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(2));
    let mut last_sweep = Instant::now();
    loop {
        tick.tick().await;
        let now = Instant::now();
        let elapsed = now - start;
        if elapsed >= load.duration {
            break;
        }
        if now - last_sweep > Duration::from_millis(250) {
            sweep(&tables, &shared, now, LOST_AFTER);
            last_sweep = now;
        }
        let due = (elapsed.as_secs_f64() * f64::from(load.qps)) as u64;
        // A harness that was descheduled does not make up for it in one burst (a burst is
        // load the pod never sees in practice): at most 50 ms of queries are sent late.
        let catch_up = u64::from(load.qps / 20).max(1);
        if due > sent + catch_up {
            let skipped = due - sent - catch_up;
            shared.rec.lock().unwrap_or_else(|e| e.into_inner()).skipped += skipped;
            sent += skipped;
        }
        while sent < due {
            sent += 1;
            let key = {
                let m = shared.model.lock().unwrap_or_else(|e| e.into_inner());
                questions.pick(&mut rng, &m)
            };
            let Some(key) = key else { continue };
            let mut msg = make_query(&key.name, key.qtype, DNSClass::IN);
            let t = Instant::now();
            shared.rec.lock().unwrap_or_else(|e| e.into_inner()).sent(t);
            if rng.below(1000) < u64::from(load.tcp_per_mille) {
                tokio::spawn(tcp_query(load.target, msg, key, shared.clone()));
                continue;
            }
            let s = (sent as usize) % SOCKETS;
            ids[s] = ids[s].wrapping_add(1);
            msg.metadata.id = ids[s];
            let Ok(bytes) = msg.to_vec() else { continue };
            let old = tables[s]
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(ids[s], Pending { key, sent: t });
            if let Some(old) = old {
                shared.lost(old.key, old.sent, "id reused before a reply");
            }
            if let Err(e) = socks[s].send(&bytes).await {
                // The kernel refused the datagram (e.g. ICMP unreachable while nothing is bound).
                if let Some(p) = tables[s]
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&ids[s])
                {
                    shared.lost(p.key, p.sent, &format!("send: {e}"));
                }
            }
        }
    }
    tokio::time::sleep(LOST_AFTER).await;
    let ports: Vec<u16> = socks
        .iter()
        .filter_map(|s| s.local_addr().ok())
        .map(|a| a.port())
        .collect();
    shared
        .rec
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .client_drops = udp_drops(&ports);
    stop.cancel();
    while tasks.join_next().await.is_some() {}
    sweep(&tables, &shared, Instant::now() + LOST_AFTER, LOST_AFTER);
    // TCP queries still in flight end by their own timeout.
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(())
}

fn sweep(tables: &[Table], shared: &Shared, now: Instant, after: Duration) {
    for table in tables {
        let expired: Vec<Pending> = {
            let mut t = table.lock().unwrap_or_else(|e| e.into_inner());
            let ids: Vec<u16> = t
                .iter()
                .filter(|(_, p)| now.saturating_duration_since(p.sent) >= after)
                .map(|(id, _)| *id)
                .collect();
            ids.into_iter().filter_map(|id| t.remove(&id)).collect()
        };
        for p in expired {
            shared.lost(p.key, p.sent, "no UDP reply");
        }
    }
}

async fn receive(
    sock: Arc<UdpSocket>,
    table: Table,
    shared: Arc<Shared>,
    stop: tokio_util::sync::CancellationToken,
) {
    let mut buf = vec![0u8; 65535];
    loop {
        let n = tokio::select! {
            _ = stop.cancelled() => return,
            r = sock.recv(&mut buf) => match r {
                Ok(n) => n,
                // ICMP errors while nothing listens: the query stays pending and is lost.
                Err(_) => continue,
            },
        };
        let recv = Instant::now();
        let Ok(msg) = Message::from_vec(&buf[..n]) else {
            continue;
        };
        let pending = table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&msg.metadata.id);
        let Some(p) = pending else { continue };
        let same = msg.queries.first().is_some_and(|q| {
            q.query_type() == p.key.qtype && q.name().to_ascii().eq_ignore_ascii_case(&p.key.name)
        });
        if same {
            shared.judge(p.key, p.sent, recv, &msg);
        } else {
            shared.lost(p.key, p.sent, "reply to another question with this id");
        }
    }
}

async fn tcp_query(target: SocketAddr, msg: Message, key: Key, shared: Arc<Shared>) {
    let sent = Instant::now();
    let exchange = async {
        let bytes = msg.to_vec().map_err(std::io::Error::other)?;
        let mut s = TcpStream::connect(target).await?;
        let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&bytes);
        s.write_all(&framed).await?;
        let mut len = [0u8; 2];
        s.read_exact(&mut len).await?;
        let mut buf = vec![0u8; u16::from_be_bytes(len).into()];
        s.read_exact(&mut buf).await?;
        Message::from_vec(&buf).map_err(std::io::Error::other)
    };
    match tokio::time::timeout(LOST_AFTER, exchange).await {
        Ok(Ok(reply)) => shared.judge(key, sent, Instant::now(), &reply),
        Ok(Err(e)) => shared.lost(key, sent, &format!("tcp: {e}")),
        Err(_) => shared.lost(key, sent, "no TCP reply"),
    }
}

/// Datagrams the kernel dropped on the UDP sockets bound to these local ports (full receive
/// buffers), from the `drops` column of `/proc/net/udp`.
pub fn udp_drops(ports: &[u16]) -> u64 {
    let Ok(table) = std::fs::read_to_string("/proc/net/udp") else {
        return 0;
    };
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let port = u16::from_str_radix(cols.get(1)?.rsplit(':').next()?, 16).ok()?;
            ports
                .contains(&port)
                .then(|| cols.last()?.parse::<u64>().ok())
                .flatten()
        })
        .sum()
}
