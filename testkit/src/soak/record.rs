//! What the run observed, as it happens: per-second buckets of queries sent and answered with
//! their latencies, every answer that was not plainly right (judged later against the fault
//! windows), the faults with their real start and end, and per-process resource samples.

use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;

use super::model::{Class, Key};
use crate::procfs::Usage;

/// How a query ended, when not plainly right.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// No reply in time.
    Lost,
    /// SERVFAIL.
    ServFail,
    /// An older state past its deadline (by this much).
    Stale(Duration),
    /// A state the question never had.
    Wrong,
    /// Another rcode (REFUSED, FORMERR, ...).
    Rcode(ResponseCode),
}

/// One query that was not plainly right.
#[derive(Debug, Clone)]
pub struct Bad {
    /// Sent, from the start of traffic.
    pub sent: Duration,
    /// When its fate was known: the reply, or the moment it was given up as lost. A fault that
    /// began while the query was in flight may take it down, so windows are matched against
    /// the whole span `[sent, until]`.
    pub until: Duration,
    /// The question.
    pub key: Key,
    /// Its class (for the allowed windows).
    pub class: Class,
    /// What happened.
    pub outcome: Outcome,
    /// What came back, for the report.
    pub detail: String,
}

/// One second of traffic.
#[derive(Debug, Clone, Default)]
pub struct Bucket {
    /// Queries sent.
    pub sent: u64,
    /// Replies received (any rcode).
    pub answered: u64,
    /// Latencies of the replies, microseconds.
    pub latency_us: Vec<u32>,
}

/// A fault as it really happened.
#[derive(Debug, Clone)]
pub struct Mark {
    /// Label (`kill -9 kubedns`, ...).
    pub label: &'static str,
    /// Start, from the start of traffic.
    pub start: Duration,
    /// End of its effect (recovery), from the start of traffic.
    pub end: Duration,
    /// Extra facts (recovery time, pids).
    pub note: String,
}

/// One resource sample of one process.
#[derive(Debug, Clone)]
pub struct Sample {
    /// From the start of traffic.
    pub at: Duration,
    /// `kubedns`, `nanny`, `dnscache`, `sidecar`.
    pub process: &'static str,
    /// Resident memory and open descriptors.
    pub usage: Usage,
}

/// Everything recorded.
#[derive(Debug)]
pub struct Recorder {
    /// Start of traffic.
    pub start: Instant,
    /// One per second.
    pub buckets: Vec<Bucket>,
    /// Queries not plainly right.
    pub bad: Vec<Bad>,
    /// Faults.
    pub marks: Vec<Mark>,
    /// Resource samples.
    pub samples: Vec<Sample>,
    /// API writes made by the churn.
    pub writes: u64,
    /// Sends skipped because the harness itself fell behind (descheduled).
    pub skipped: u64,
    /// Replies the kernel dropped at the harness's sockets (its receive buffers were full).
    pub client_drops: u64,
    /// Queries the kernel dropped at the cache's UDP socket (its receive buffer was full).
    pub server_drops: u64,
}

impl Recorder {
    /// Starts recording at `start`.
    pub fn new(start: Instant) -> Recorder {
        Recorder {
            start,
            buckets: Vec::new(),
            bad: Vec::new(),
            marks: Vec::new(),
            samples: Vec::new(),
            writes: 0,
            skipped: 0,
            client_drops: 0,
            server_drops: 0,
        }
    }

    /// Offset of `t` from the start.
    pub fn offset(&self, t: Instant) -> Duration {
        t.saturating_duration_since(self.start)
    }

    fn bucket(&mut self, t: Instant) -> &mut Bucket {
        let i = self.offset(t).as_secs() as usize;
        if self.buckets.len() <= i {
            self.buckets.resize_with(i + 1, Bucket::default);
        }
        &mut self.buckets[i]
    }

    /// A query went out at `t`.
    pub fn sent(&mut self, t: Instant) {
        self.bucket(t).sent += 1;
    }

    /// The query sent at `sent` got a reply at `recv`.
    pub fn answered(&mut self, sent: Instant, recv: Instant) {
        let us = recv.saturating_duration_since(sent).as_micros();
        let b = self.bucket(sent);
        b.answered += 1;
        b.latency_us.push(us.min(u32::MAX as u128) as u32);
    }

    /// A query sent at `sent` and settled at `until` was not plainly right.
    pub fn bad(
        &mut self,
        sent: Instant,
        until: Instant,
        key: Key,
        class: Class,
        outcome: Outcome,
        detail: String,
    ) {
        let sent = self.offset(sent);
        let until = self.offset(until).max(sent);
        self.bad.push(Bad {
            sent,
            until,
            key,
            class,
            outcome,
            detail,
        });
    }
}
