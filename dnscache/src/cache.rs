//! The answer cache (moka): entries are upstream replies in wire form, keyed by the lowercased
//! question name, type, class and the DO/CD/EDNS bits (see [`crate::wire::Query::key`]).
//!
//! Owns: the lifetime policy (smallest answer TTL clamped by `--min/max-cache-ttl`; negative
//! answers per RFC 2308 §5 capped by `--neg-ttl`; nothing for `--no-negcache`), TTL decay on
//! read (RFC 1035 §7.4), rendering an entry for one client (ID, RD, question case, TTLs,
//! truncation), and the dnsmasq counters. Eviction is moka's LRU (O(1) per insert).
//! Must not do I/O. Serve-stale (RFC 8767) keeps entries `stale_window` past their lifetime.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use moka::notification::RemovalCause;
use moka::policy::EvictionPolicy;

use crate::metrics::Metrics;
use crate::wire::{self, Query, ReplyInfo};

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

/// Milliseconds since the first cache operation of the process (the entries' clock).
fn millis(at: Instant) -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(at.saturating_duration_since(epoch).as_millis()).unwrap_or(u64::MAX)
}

// Layout of an entry's single allocation (a cache of 100,000 entries must fit in 64 MiB, so
// no per-entry boxes besides this one):
//   [0..8)   creation time, `millis()`, little endian
//   [8..12)  lifetime in seconds
//   [12]     key flags (DO/CD/EDNS), to verify a hash hit
//   [13]     unused
//   [14..16) number of TTL fields n
//   [16..16+2n) offsets of the TTL fields inside the reply
//   [16+2n..)   the reply: ID 0, TTLs as at creation
const META: usize = 16;

/// One reply in canonical form, cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Entry(Arc<[u8]>);

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("lifetime", &self.lifetime())
            .field("len", &self.bytes().len())
            .finish()
    }
}

impl Entry {
    /// Builds an entry from an upstream reply for a query with key `flags`, applying `policy`
    /// to every TTL.
    pub fn from_reply(mut bytes: Vec<u8>, info: &ReplyInfo, policy: &Policy, flags: u8) -> Entry {
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
        let n = info.ttls.len();
        let mut data = Vec::with_capacity(META + 2 * n + bytes.len());
        data.extend_from_slice(&millis(Instant::now()).to_le_bytes());
        data.extend_from_slice(&lifetime.to_le_bytes());
        data.extend_from_slice(&[flags, 0]);
        data.extend_from_slice(&u16::try_from(n).unwrap_or(0).to_le_bytes());
        for s in info.ttls.iter().take(usize::from(u16::MAX)) {
            let ttl = if negative {
                s.ttl.min(lifetime)
            } else {
                s.ttl.max(policy.min_ttl).min(policy.max_ttl)
            };
            let at = usize::from(s.at);
            bytes[at..at + 4].copy_from_slice(&ttl.to_be_bytes());
            data.extend_from_slice(&s.at.to_le_bytes());
        }
        bytes[0] = 0;
        bytes[1] = 0;
        data.extend_from_slice(&bytes);
        Entry(data.into())
    }

    fn born_ms(&self) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.0[..8]);
        u64::from_le_bytes(b)
    }

    /// Seconds this entry may answer from the cache (0: not cacheable).
    pub fn lifetime(&self) -> u32 {
        u32::from_le_bytes([self.0[8], self.0[9], self.0[10], self.0[11]])
    }

    fn slots(&self) -> usize {
        usize::from(u16::from_le_bytes([self.0[14], self.0[15]]))
    }

    /// When the entry was created.
    pub fn born(&self) -> Instant {
        let now = Instant::now();
        let age = Duration::from_millis(millis(now).saturating_sub(self.born_ms()));
        now.checked_sub(age).unwrap_or(now)
    }

    /// Milliseconds since creation.
    fn age_ms(&self, now: Instant) -> u64 {
        millis(now).saturating_sub(self.born_ms())
    }

    /// True while the entry answers without asking upstream.
    pub fn fresh(&self, now: Instant) -> bool {
        self.age_ms(now) < u64::from(self.lifetime()) * 1000
    }

    /// True while the entry may still be served stale (`window` past its lifetime).
    pub fn within(&self, now: Instant, window: Duration) -> bool {
        let window = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        self.age_ms(now) < (u64::from(self.lifetime()) * 1000).saturating_add(window)
    }

    /// The stored reply (ID 0, TTLs as at creation).
    pub fn bytes(&self) -> &[u8] {
        &self.0[META + 2 * self.slots()..]
    }

    /// Response code of the stored reply.
    pub fn rcode(&self) -> u8 {
        self.bytes()
            .get(3)
            .map_or(wire::rcode::SERVFAIL, |b| b & 0x0F)
    }

    /// True when this entry answers cache key `key` (guards against hash collisions).
    pub fn answers(&self, key: &[u8]) -> bool {
        let Some((&flags, question)) = key.split_last() else {
            return false;
        };
        flags == self.0[12]
            && self
                .bytes()
                .get(wire::HEADER..wire::HEADER + question.len())
                .is_some_and(|q| q.eq_ignore_ascii_case(question))
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
        let bytes = self.bytes();
        if bytes.len() > limit {
            wire::write_error(q, self.rcode(), true, out);
            return;
        }
        out.clear();
        out.extend_from_slice(bytes);
        out[0..2].copy_from_slice(&q.id.to_be_bytes());
        out[2] = (out[2] & !0x01) | u8::from(q.rd);
        let qlen = q.question.len();
        if out.len() >= wire::HEADER + qlen {
            out[wire::HEADER..wire::HEADER + qlen].copy_from_slice(q.question);
        }
        let age = u32::try_from(self.age_ms(now) / 1000).unwrap_or(u32::MAX);
        if age == 0 && !stale {
            return;
        }
        let offsets = &self.0[META..META + 2 * self.slots()];
        for pair in offsets.chunks_exact(2) {
            let at = usize::from(u16::from_le_bytes([pair[0], pair[1]]));
            let Some(field) = out.get_mut(at..at + 4) else {
                continue;
            };
            let ttl = if stale {
                STALE_TTL
            } else {
                u32::from_be_bytes([field[0], field[1], field[2], field[3]]).saturating_sub(age)
            };
            field.copy_from_slice(&ttl.to_be_bytes());
        }
    }
}

/// The cache's keys are already SipHash values of the cache key: hashing them again for
/// moka's table would only cost time on every hit.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyIsHash;

/// The [`Hasher`] of [`KeyIsHash`]: passes a `u64` through.
#[derive(Debug, Default)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl BuildHasher for KeyIsHash {
    type Hasher = PassThrough;
    fn build_hasher(&self) -> PassThrough {
        PassThrough::default()
    }
}

/// Result of a lookup.
pub enum Lookup {
    /// A fresh entry.
    Hit(Entry),
    /// Nothing fresh; an expired entry is kept for serve-stale.
    Miss(Option<Entry>),
}

/// The cache; cheap to share (`Arc` inside moka).
///
/// Keys are 64-bit hashes of the cache key (no per-entry key allocation); a hit is confirmed
/// against the question and flags stored in the entry. Expired entries are not removed by a
/// timer: they stay until LRU eviction pushes them out (memory is bounded by `--cache-size`
/// either way), which is also what serve-stale reads.
#[derive(Clone)]
pub struct Cache {
    inner: Option<moka::sync::Cache<u64, Entry, KeyIsHash>>,
    hasher: RandomState,
    policy: Policy,
    metrics: Arc<Metrics>,
}

impl Cache {
    /// A cache following `policy`; `capacity` 0 gives a cache that stores nothing.
    pub fn new(policy: Policy, metrics: Arc<Metrics>) -> Cache {
        let inner = (policy.capacity > 0).then(|| {
            let m = metrics.clone();
            moka::sync::Cache::builder()
                .max_capacity(policy.capacity)
                // Sized up front: no table growth (and rehashing) while the cache fills.
                .initial_capacity(usize::try_from(policy.capacity.min(1 << 20)).unwrap_or(0))
                .eviction_policy(EvictionPolicy::lru())
                .eviction_listener(move |_k, v: Entry, cause| {
                    // dnsmasq counts live entries pushed out to make room.
                    if cause == RemovalCause::Size && v.fresh(Instant::now()) {
                        m.evictions.inc();
                    }
                })
                .build_with_hasher(KeyIsHash)
        });
        Cache {
            inner,
            hasher: RandomState::new(),
            policy,
            metrics,
        }
    }

    /// The lifetime policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    fn get(&self, key: &[u8]) -> Option<Entry> {
        let c = self.inner.as_ref()?;
        c.get(&self.hasher.hash_one(key)).filter(|e| e.answers(key))
    }

    /// Looks `key` up; counts a hit or a miss.
    pub fn lookup(&self, key: &[u8], now: Instant) -> Lookup {
        match self.get(key) {
            Some(e) if e.fresh(now) => {
                self.metrics.hits.inc();
                Lookup::Hit(e)
            }
            other => {
                self.metrics.misses.inc();
                let window = self.policy.stale_window;
                Lookup::Miss(other.filter(|e| !window.is_zero() && e.within(now, window)))
            }
        }
    }

    /// Looks `key` up without counting (used by CNAME completion).
    pub fn peek(&self, key: &[u8], now: Instant) -> Option<Entry> {
        self.get(key).filter(|e| e.fresh(now))
    }

    /// Stores `entry` under `key` when it has a lifetime.
    pub fn insert(&self, key: &[u8], entry: Entry) {
        if let Some(c) = &self.inner
            && entry.lifetime() > 0
        {
            self.metrics.insertions.inc();
            c.insert(self.hasher.hash_one(key), entry);
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
