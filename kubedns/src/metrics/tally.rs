//! Query counts of one UDP worker, summed on its thread and added to the shared metrics once
//! per batch.
//!
//! Why: the shared counters and histograms are atomics every worker writes; touched per
//! query they move between the cores' caches at every answer, and each answer also read the
//! clock twice. Tallied, a batch costs one clock read when its first answer starts, one when
//! its replies have gone, and a few atomic adds. Every query of a batch is observed with the
//! batch's duration, from its first answer to the last reply sent: how long the batch's
//! clients waited on us.

use std::time::Instant;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use prometheus::local::LocalHistogram;

use super::{CAUSES, DnsMetrics, QTYPES, RCODES, SYSTEMS, System, answer_index, cause_of};

/// Counts of the current batch of one worker; [`DnsMetrics::flush`] adds them to the metrics.
#[derive(Debug)]
pub struct Tally {
    since: Option<Instant>,
    requests: [u64; SYSTEMS.len()],
    duration: [LocalHistogram; SYSTEMS.len()],
    errors: [[u64; CAUSES.len()]; SYSTEMS.len()],
    answers: [u64; RCODES.len() * QTYPES.len()],
}

impl Tally {
    /// Notes that an answer starts (the batch's clock starts with its first).
    pub fn start(&mut self) {
        if self.since.is_none() {
            self.since = Some(Instant::now());
        }
    }

    /// Counts one answered request.
    pub fn answered(&mut self, system: System, rcode: ResponseCode, qtype: Option<RecordType>) {
        let s = system as usize;
        if let Some(n) = self.requests.get_mut(s) {
            *n += 1;
        }
        if let Some(n) = self.answers.get_mut(answer_index(rcode, qtype)) {
            *n += 1;
        }
        if let Some(cause) = cause_of(rcode)
            && let Some(n) = self
                .errors
                .get_mut(s)
                .and_then(|e| e.get_mut(cause as usize))
        {
            *n += 1;
        }
    }
}

impl DnsMetrics {
    /// An empty tally for one worker.
    pub fn tally(&self) -> Tally {
        Tally {
            since: None,
            requests: [0; SYSTEMS.len()],
            duration: self.duration.each_ref().map(prometheus::Histogram::local),
            errors: [[0; CAUSES.len()]; SYSTEMS.len()],
            answers: [0; RCODES.len() * QTYPES.len()],
        }
    }

    /// Adds `tally` to the metrics and empties it; the batch's queries are observed with the
    /// time since its first answer started.
    pub fn flush(&self, tally: &mut Tally) {
        let Some(since) = tally.since.take() else {
            return;
        };
        let seconds = since.elapsed().as_secs_f64();
        for (s, n) in tally.requests.iter_mut().enumerate() {
            if *n == 0 {
                continue;
            }
            if let Some(c) = self.requests.get(s) {
                c.inc_by(*n);
            }
            if let Some(h) = tally.duration.get(s) {
                for _ in 0..*n {
                    h.observe(seconds);
                }
                h.flush();
            }
            *n = 0;
        }
        for (s, causes) in tally.errors.iter_mut().enumerate() {
            for (c, n) in causes.iter_mut().enumerate() {
                if *n > 0 {
                    if let Some(counter) = self.errors.get(s).and_then(|e| e.get(c)) {
                        counter.inc_by(*n);
                    }
                    *n = 0;
                }
            }
        }
        for (a, n) in tally.answers.iter_mut().enumerate() {
            if *n > 0 {
                self.answer_counter(a).inc_by(*n);
                *n = 0;
            }
        }
    }
}
