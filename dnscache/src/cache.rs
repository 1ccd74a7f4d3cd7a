//! The answer cache (moka): entries are upstream replies in wire form, keyed by the lowercased
//! question name, type, class and the DO/CD/EDNS bits (see [`crate::wire::Query::key`]).
//!
//! Owns: the lifetime policy (smallest answer TTL clamped by `--min/max-cache-ttl`; negative
//! answers per RFC 2308 §5 capped by `--neg-ttl`; nothing for `--no-negcache`), TTL decay on
//! read (RFC 1035 §7.4), rendering an entry for one client (ID, RD, question case, TTLs,
//! truncation), and the dnsmasq counters. Eviction is moka's (TinyLFU, O(1) per insert).
//! Must not do I/O. Serve-stale (RFC 8767) keeps entries `stale_window` past their lifetime.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::notification::RemovalCause;

use crate::metrics::Metrics;
use crate::wire::{self, Query, ReplyInfo, TtlSlot};

/// TTL of a stale answer served when every upstream failed (RFC 8767 §4: 30 s).
pub const STALE_TTL: u32 = 30;

/// Lifetime policy, from the dnsmasq flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// `--cache-size`: entries; 0 disables the cache.
    pub capacity: u64,
    /// `--neg-ttl`: cap for negative answers (and their lifetime when no SOA came along).
    pub neg_ttl: u32,
    /// `--min-cache-ttl`.
    pub min_ttl: u32,
    /// `--max-cache-ttl`.
    pub max_ttl: u32,
    /// `--no-negcache`.
    pub no_negcache: bool,
    /// How long past expiry an entry may be served when upstreams fail (0: serve-stale off).
    pub stale_window: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            capacity: 150,
            neg_ttl: 5,
            min_ttl: 0,
            max_ttl: u32::MAX,
            no_negcache: false,
            stale_window: Duration::ZERO,
        }
    }
}

/// One reply in canonical form: ID 0, TTLs as at `born`.
#[derive(Debug)]
pub struct Entry {
    bytes: Box<[u8]>,
    ttls: Box<[TtlSlot]>,
    born: Instant,
    /// Seconds the entry answers from the cache (0: not cacheable).
    lifetime: u32,
}

impl Entry {
    /// Builds an entry from an upstream reply, applying `policy` to every TTL.
    pub fn from_reply(mut bytes: Vec<u8>, info: &ReplyInfo, policy: &Policy) -> Entry {
        let negative = info.rcode == wire::rcode::NXDOMAIN
            || (info.rcode == wire::rcode::NOERROR && info.answers == 0);
        let lifetime = if info.rcode != wire::rcode::NOERROR && !negative {
            0
        } else if negative {
            if policy.no_negcache {
                0
            } else {
                info.soa_negative_ttl
                    .unwrap_or(policy.neg_ttl)
                    .min(policy.neg_ttl)
            }
        } else {
            info.min_answer_ttl
                .unwrap_or(0)
                .max(policy.min_ttl)
                .min(policy.max_ttl)
        };
        let ttls: Box<[TtlSlot]> = info
            .ttls
            .iter()
            .map(|s| {
                let ttl = if negative {
                    s.ttl.min(lifetime)
                } else {
                    s.ttl.max(policy.min_ttl).min(policy.max_ttl)
                };
                let at = usize::from(s.at);
                bytes[at..at + 4].copy_from_slice(&ttl.to_be_bytes());
                TtlSlot { at: s.at, ttl }
            })
            .collect();
        bytes[0] = 0;
        bytes[1] = 0;
        Entry {
            bytes: bytes.into_boxed_slice(),
            ttls,
            born: Instant::now(),
            lifetime,
        }
    }

    /// Seconds this entry may answer from the cache.
    pub fn lifetime(&self) -> u32 {
        self.lifetime
    }

    /// Whole seconds since the entry was created.
    fn age(&self, now: Instant) -> u32 {
        u32::try_from(now.saturating_duration_since(self.born).as_secs()).unwrap_or(u32::MAX)
    }

    /// True while the entry answers without asking upstream.
    pub fn fresh(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.born) < Duration::from_secs(u64::from(self.lifetime))
    }

    /// Response code of the stored reply.
    pub fn rcode(&self) -> u8 {
        self.bytes
            .get(3)
            .map_or(wire::rcode::SERVFAIL, |b| b & 0x0F)
    }

    /// The stored reply (ID 0, TTLs as at creation).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Writes the reply for `q` into `out`: client ID, RD and question bytes, TTLs aged by
    /// `now` (or set to [`STALE_TTL`] when `stale`), truncated to `limit` bytes with TC.
    pub fn render(
        &self,
        q: &Query<'_>,
        now: Instant,
        stale: bool,
        limit: usize,
        out: &mut Vec<u8>,
    ) {
        if self.bytes.len() > limit {
            wire::write_error(q, self.rcode(), true, out);
            return;
        }
        out.clear();
        out.extend_from_slice(&self.bytes);
        out[0..2].copy_from_slice(&q.id.to_be_bytes());
        out[2] = (out[2] & !0x01) | u8::from(q.rd);
        let qlen = q.question.len();
        if out.len() >= wire::HEADER + qlen {
            out[wire::HEADER..wire::HEADER + qlen].copy_from_slice(q.question);
        }
        let age = self.age(now);
        if age == 0 && !stale {
            return;
        }
        for s in self.ttls.iter() {
            let ttl = if stale {
                STALE_TTL
            } else {
                s.ttl.saturating_sub(age)
            };
            let at = usize::from(s.at);
            out[at..at + 4].copy_from_slice(&ttl.to_be_bytes());
        }
    }
}

/// Result of a lookup.
pub enum Lookup {
    /// A fresh entry.
    Hit(Arc<Entry>),
    /// Nothing fresh; an expired entry is kept for serve-stale.
    Miss(Option<Arc<Entry>>),
}

/// The cache; cheap to share (`Arc` inside moka).
#[derive(Clone)]
pub struct Cache {
    inner: Option<moka::sync::Cache<Box<[u8]>, Arc<Entry>>>,
    policy: Policy,
    metrics: Arc<Metrics>,
}

struct Lifetime(Duration);

impl moka::Expiry<Box<[u8]>, Arc<Entry>> for Lifetime {
    fn expire_after_create(
        &self,
        _key: &Box<[u8]>,
        value: &Arc<Entry>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(Duration::from_secs(u64::from(value.lifetime)) + self.0)
    }
}

impl Cache {
    /// A cache following `policy`; `capacity` 0 gives a cache that stores nothing.
    pub fn new(policy: Policy, metrics: Arc<Metrics>) -> Cache {
        let inner = (policy.capacity > 0).then(|| {
            let m = metrics.clone();
            moka::sync::Cache::builder()
                .max_capacity(policy.capacity)
                .expire_after(Lifetime(policy.stale_window))
                .eviction_listener(move |_k, _v, cause| {
                    if cause == RemovalCause::Size {
                        m.evictions.inc();
                    }
                })
                .build()
        });
        Cache {
            inner,
            policy,
            metrics,
        }
    }

    /// The lifetime policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Looks `key` up; counts a hit or a miss.
    pub fn lookup(&self, key: &[u8], now: Instant) -> Lookup {
        let found = self.inner.as_ref().and_then(|c| c.get(key));
        match found {
            Some(e) if e.fresh(now) => {
                self.metrics.hits.inc();
                Lookup::Hit(e)
            }
            other => {
                self.metrics.misses.inc();
                Lookup::Miss(other)
            }
        }
    }

    /// Looks `key` up without counting (used by CNAME completion and coalescing).
    pub fn peek(&self, key: &[u8], now: Instant) -> Option<Arc<Entry>> {
        self.inner
            .as_ref()
            .and_then(|c| c.get(key))
            .filter(|e| e.fresh(now))
    }

    /// Stores `entry` under `key` when it has a lifetime.
    pub fn insert(&self, key: &[u8], entry: Arc<Entry>) {
        if let Some(c) = &self.inner
            && entry.lifetime > 0
        {
            self.metrics.insertions.inc();
            c.insert(key.into(), entry);
        }
    }

    /// Entries currently held (approximate, as moka counts).
    pub fn len(&self) -> u64 {
        self.inner.as_ref().map_or(0, |c| c.entry_count())
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs moka's pending maintenance (tests and metrics scrapes).
    pub fn sync(&self) {
        if let Some(c) = &self.inner {
            c.run_pending_tasks();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
