//! A fixed-rate UDP query load whose every query waits for its answer: what a test needs to
//! say "no query was lost" (dnsperf measures rates; this counts each query).

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::Message;
use hickory_proto::rr::{DNSClass, RecordType};

/// What a load run saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Queries sent.
    pub sent: u64,
    /// Queries answered (any rcode) within the answer timeout.
    pub answered: u64,
    /// Queries with no answer within the timeout.
    pub lost: u64,
}

const THREADS: u32 = 4;
const ANSWER_TIMEOUT: Duration = Duration::from_secs(1);
const NAME: &str = "my-nginx.default.svc.cluster.local.";

/// Sends `qps` A queries a second to `addr` for `duration`, from [`THREADS`] sockets, each
/// query waiting for its answer (a late answer to an earlier query is skipped by ID).
pub fn fixed_rate(addr: SocketAddr, qps: u32, duration: Duration) -> LoadReport {
    let per_thread = (qps / THREADS).max(1);
    let workers: Vec<_> = (0..THREADS)
        .map(|t| std::thread::spawn(move || one_sender(addr, per_thread, duration, t as u16)))
        .collect();
    let mut total = LoadReport::default();
    for w in workers {
        let r = w.join().unwrap_or_default();
        total.sent += r.sent;
        total.answered += r.answered;
        total.lost += r.lost;
    }
    total
}

fn one_sender(addr: SocketAddr, qps: u32, duration: Duration, seed: u16) -> LoadReport {
    let bind: SocketAddr = if addr.is_ipv4() {
        "127.0.0.1:0".parse().unwrap()
    } else {
        "[::1]:0".parse().unwrap()
    };
    let sock = UdpSocket::bind(bind).unwrap();
    let mut report = LoadReport::default();
    let interval = Duration::from_secs(1) / qps;
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    let mut id = seed.wrapping_mul(16_000);
    while start.elapsed() < duration {
        let due = start + interval * u32::try_from(report.sent).unwrap_or(u32::MAX);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        id = id.wrapping_add(1);
        let mut q = crate::dns::make_query(NAME, RecordType::A, DNSClass::IN);
        q.metadata.id = id;
        let bytes = q.to_vec().unwrap();
        report.sent += 1;
        if sock.send_to(&bytes, addr).is_err() {
            report.lost += 1;
            continue;
        }
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        let answered = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || sock.set_read_timeout(Some(left)).is_err() {
                break false;
            }
            match sock.recv(&mut buf) {
                Ok(n) => match Message::from_vec(&buf[..n]) {
                    Ok(m) if m.metadata.id == id => break true,
                    _ => continue,
                },
                Err(_) => break false,
            }
        };
        if answered {
            report.answered += 1;
        } else {
            report.lost += 1;
        }
    }
    report
}
