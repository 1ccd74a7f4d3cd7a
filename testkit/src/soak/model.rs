//! What the cluster held, and when: per question (name, type) the history of expected answers,
//! each with the time the change was made at the API server (or the ConfigMap) and the
//! deadline by which the pod must show it. An answer is judged against that history:
//!
//! - **ok**: it equals a state that was current when the answer was fetched from its source
//!   (receive time minus the TTL the cache already used up), or a newer one whose deadline has
//!   not passed yet;
//! - **stale**: it equals an older state although a newer, different one was past its deadline
//!   when the answer was fetched;
//! - **wrong**: it equals no state this question ever had up to the receive time.
//!
//! Pure: times are passed in.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

/// One question.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// Lowercase, fully qualified.
    pub name: String,
    /// Question type.
    pub qtype: RecordType,
}

impl Key {
    /// Key for `name` (a trailing dot is added) and `qtype`.
    pub fn new(name: &str, qtype: RecordType) -> Key {
        let mut name = name.to_ascii_lowercase();
        if !name.ends_with('.') {
            name.push('.');
        }
        Key { name, qtype }
    }
}

/// Where the answer comes from, which decides when SERVFAIL is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Answered by kubedns (the cluster zone and its reverse range).
    Cluster,
    /// A cluster name whose answer also needs the outside upstream (ExternalName).
    ExternalName,
    /// Answered by the outside upstreams.
    Outside,
    /// Answered by the stub-domain server.
    Stub,
}

/// An answer reduced to what is compared: rcode and the answer section's `TYPE rdata` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// Response code.
    pub rcode: ResponseCode,
    /// Sorted, lowercase `TYPE rdata` lines of the answer section.
    pub data: Vec<String>,
}

impl Expect {
    /// NOERROR with these answer lines (`"A 10.0.0.1"`).
    pub fn records(lines: impl IntoIterator<Item = String>) -> Expect {
        let mut data: Vec<String> = lines.into_iter().map(|l| l.to_ascii_lowercase()).collect();
        data.sort();
        Expect {
            rcode: ResponseCode::NoError,
            data,
        }
    }

    /// NXDOMAIN.
    pub fn nxdomain() -> Expect {
        Expect {
            rcode: ResponseCode::NXDomain,
            data: Vec::new(),
        }
    }

    /// The reduced form of a reply, and the lowest TTL of its answer section.
    pub fn of(msg: &Message) -> (Expect, Option<u32>) {
        let lines = msg
            .answers
            .iter()
            .map(|r| format!("{} {}", r.record_type(), r.data));
        let ttl = msg.answers.iter().map(|r| r.ttl).min();
        let mut e = Expect::records(lines);
        e.rcode = msg.metadata.response_code;
        (e, ttl)
    }
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}]", self.rcode, self.data.join(", "))
    }
}

/// The judgement of one answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// A state the pod may show at that moment.
    Ok,
    /// An older state, this long after the newer state's deadline.
    Stale(Duration),
    /// A state the question never had.
    Wrong,
}

#[derive(Debug, Clone)]
struct Entry {
    at: Instant,
    deadline: Instant,
    expect: Expect,
}

#[derive(Debug)]
struct History {
    class: Class,
    ttl: u32,
    entries: VecDeque<Entry>,
}

/// Entries kept per question: a headless Service changing every second keeps over an hour, so
/// an answer from long ago is still told stale (matches an old state), not wrong.
const KEEP: usize = 4096;
/// TTLs have one-second resolution: an answer's fetch time is known to within a second.
const TTL_SLACK: Duration = Duration::from_secs(1);

/// Every question's history.
#[derive(Debug, Default)]
pub struct Model {
    keys: HashMap<Key, History>,
    recent_ptr: VecDeque<Key>,
}

/// Reverse questions remembered for traffic (addresses given out recently).
const RECENT_PTR: usize = 512;

impl Model {
    /// Remembers a reverse question of a recently given-out address.
    pub fn note_ptr(&mut self, key: Key) {
        if self.recent_ptr.len() >= RECENT_PTR {
            self.recent_ptr.pop_front();
        }
        self.recent_ptr.push_back(key);
    }

    /// The `n`-th remembered reverse question, modulo their number.
    pub fn recent_ptr(&self, n: usize) -> Option<&Key> {
        let len = self.recent_ptr.len();
        (len > 0).then(|| &self.recent_ptr[n % len.max(1)])
    }

    /// Declares `key` with its class, the TTL its source gives, and its state at `at`.
    pub fn define(&mut self, key: Key, class: Class, ttl: u32, at: Instant, expect: Expect) {
        let entries = VecDeque::from([Entry {
            at,
            deadline: at,
            expect,
        }]);
        self.keys.insert(
            key,
            History {
                class,
                ttl,
                entries,
            },
        );
    }

    /// Records that `key` changed to `expect` at `at`, to be visible by `deadline`.
    /// Ignored for undeclared keys and when nothing changes.
    pub fn set(&mut self, key: &Key, expect: Expect, at: Instant, deadline: Instant) {
        let Some(h) = self.keys.get_mut(key) else {
            return;
        };
        if h.entries.back().is_some_and(|e| e.expect == expect) {
            return;
        }
        if h.entries.len() >= KEEP {
            h.entries.pop_front();
        }
        h.entries.push_back(Entry {
            at,
            deadline,
            expect,
        });
    }

    /// Whether `key` is declared.
    pub fn knows(&self, key: &Key) -> bool {
        self.keys.contains_key(key)
    }

    /// The class of `key`.
    pub fn class(&self, key: &Key) -> Option<Class> {
        self.keys.get(key).map(|h| h.class)
    }

    /// The newest expected answer of `key`.
    pub fn current(&self, key: &Key) -> Option<&Expect> {
        self.keys.get(key)?.entries.back().map(|e| &e.expect)
    }

    /// Judges `got` (lowest answer TTL `ttl`), received at `recv`.
    pub fn judge(&self, key: &Key, got: &Expect, ttl: Option<u32>, recv: Instant) -> Verdict {
        let Some(h) = self.keys.get(key) else {
            return Verdict::Wrong;
        };
        let used = ttl.map_or(0, |t| h.ttl.saturating_sub(t));
        let fetched = recv
            .checked_sub(Duration::from_secs(used.into()) + TTL_SLACK)
            .unwrap_or(recv);
        let Some(j) = h
            .entries
            .iter()
            .rposition(|e| e.at <= recv && e.expect == *got)
        else {
            return Verdict::Wrong;
        };
        let late = h
            .entries
            .iter()
            .skip(j + 1)
            .filter(|e| e.expect != *got && e.deadline < fetched)
            .map(|e| fetched - e.deadline)
            .max();
        match late {
            Some(late) => Verdict::Stale(late),
            None => Verdict::Ok,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(ip: &str) -> Expect {
        Expect::records([format!("A {ip}")])
    }

    #[test]
    fn judges_ok_stale_and_wrong_with_the_ttl_already_used() {
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        let key = Key::new("web.ns.svc.cluster.local", RecordType::A);
        let mut m = Model::default();
        m.define(key.clone(), Class::Cluster, 30, t0, Expect::nxdomain());
        m.set(&key, a("10.0.0.1"), s(10), s(11));
        m.set(&key, a("10.0.0.2"), s(20), s(21));

        assert_eq!(m.judge(&key, &a("10.0.0.2"), Some(30), s(20)), Verdict::Ok);
        // The old address right after the change: inside the bound.
        assert_eq!(m.judge(&key, &a("10.0.0.1"), Some(30), s(21)), Verdict::Ok);
        // Fresh from the source 5 s later: 4 s past the deadline (less one second of TTL slack).
        assert_eq!(
            m.judge(&key, &a("10.0.0.1"), Some(30), s(26)),
            Verdict::Stale(Duration::from_secs(4))
        );
        // From the cache, fetched 15 s ago (before the change): fine.
        assert_eq!(m.judge(&key, &a("10.0.0.1"), Some(15), s(30)), Verdict::Ok);
        assert_eq!(m.judge(&key, &Expect::nxdomain(), None, s(12)), Verdict::Ok);
        assert!(matches!(
            m.judge(&key, &Expect::nxdomain(), None, s(30)),
            Verdict::Stale(_)
        ));
        assert_eq!(
            m.judge(&key, &a("10.9.9.9"), Some(30), s(30)),
            Verdict::Wrong
        );
        // A state from the future is not one the pod could have seen.
        assert_eq!(
            m.judge(&key, &a("10.0.0.2"), Some(30), s(15)),
            Verdict::Wrong
        );
    }

    #[test]
    fn a_reply_reduces_to_sorted_lowercase_lines() {
        let mut msg = Message::query();
        msg.metadata.response_code = ResponseCode::NoError;
        for ip in ["10.0.0.9", "10.0.0.3"] {
            msg.answers.push(hickory_proto::rr::Record::from_rdata(
                hickory_proto::rr::Name::from_ascii("Web.ns.").unwrap(),
                12,
                hickory_proto::rr::RData::A(ip.parse().unwrap()),
            ));
        }
        let (e, ttl) = Expect::of(&msg);
        assert_eq!(e.data, ["a 10.0.0.3", "a 10.0.0.9"]);
        assert_eq!(ttl, Some(12));
    }
}
