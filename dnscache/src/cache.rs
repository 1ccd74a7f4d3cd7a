//! The answer cache (moka): entries are upstream replies in wire form, keyed by the lowercased
//! question name, type, class and the DO/CD/EDNS bits (see [`crate::wire::Query::key`]).
//!
//! Owns: the lifetime policy (smallest answer TTL clamped by `--min/max-cache-ttl`; negative
//! answers per RFC 2308 §5 capped by `--neg-ttl`; nothing for `--no-negcache`), TTL decay on
//! read (RFC 1035 §7.4), rendering an entry for one client (ID, RD, question case, TTLs,
//! truncation), and the dnsmasq counters. Eviction is moka's LRU (O(1) per insert).
//! Must not do I/O. Serve-stale (RFC 8767) keeps entries `stale_window` past their lifetime.

mod entry;

use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::notification::RemovalCause;
use moka::policy::EvictionPolicy;

pub use entry::{Entry, OVERHEAD, Served};

use crate::key::Key;
use crate::metrics::Metrics;

/// TTL of a stale answer served when every upstream failed (RFC 8767 §4: 30 s).
pub const STALE_TTL: u32 = 30;

/// Default `--max-cache-ttl`: one day, as unbound's `cache-max-ttl`.
pub const DEFAULT_MAX_TTL: u32 = 86_400;

/// Default `--cache-max-bytes`: 100,000 typical entries (a few records, ~200 bytes) fit in it
/// with room to spare, and the process stays under 64 MiB RSS.
pub const DEFAULT_MAX_BYTES: u64 = 40 << 20;

/// Lifetime policy, from the dnsmasq flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// `--cache-size`: entries; 0 disables the cache.
    pub capacity: u64,
    /// `--cache-max-bytes`: bound on the bytes the entries take (0: entries only).
    pub max_bytes: u64,
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
            max_bytes: DEFAULT_MAX_BYTES,
            neg_ttl: 5,
            min_ttl: 0,
            max_ttl: DEFAULT_MAX_TTL,
            no_negcache: false,
            stale_window: Duration::ZERO,
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

/// Both bounds as one moka weight: an entry weighs its bytes, but at least `max_bytes /
/// capacity`. The total weight stays under `max_bytes`, so the bytes do, and no more than
/// `capacity` entries fit. Without a byte bound every entry weighs 1.
#[derive(Debug, Clone, Copy)]
struct Bound {
    capacity: u64,
    floor: u64,
    by_bytes: bool,
}

impl Bound {
    fn of(p: &Policy) -> Bound {
        if p.max_bytes == 0 || p.capacity == 0 {
            return Bound {
                capacity: p.capacity,
                floor: 1,
                by_bytes: false,
            };
        }
        Bound {
            capacity: p.max_bytes,
            floor: (p.max_bytes / p.capacity).max(1),
            by_bytes: true,
        }
    }

    fn weight(&self, e: &Entry) -> u32 {
        if !self.by_bytes {
            return 1;
        }
        let w = u64::try_from(e.weight())
            .unwrap_or(u64::MAX)
            .max(self.floor);
        u32::try_from(w).unwrap_or(u32::MAX)
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
        let bound = Bound::of(&policy);
        let inner = (policy.capacity > 0).then(|| {
            let m = metrics.clone();
            moka::sync::Cache::builder()
                .max_capacity(bound.capacity)
                .weigher(move |_k, v: &Entry| bound.weight(v))
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

    fn get(&self, key: &Key) -> Option<Entry> {
        let c = self.inner.as_ref()?;
        c.get(&self.hash(key)).filter(|e| e.answers(key))
    }

    fn hash(&self, key: &Key) -> u64 {
        self.hasher.hash_one(key.as_bytes())
    }

    /// Looks `key` up; counts a hit or a miss.
    pub fn lookup(&self, key: &Key, now: Instant) -> Lookup {
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
    pub fn peek(&self, key: &Key, now: Instant) -> Option<Entry> {
        self.get(key).filter(|e| e.fresh(now))
    }

    /// Stores `entry` under `key` when it has a lifetime.
    pub fn insert(&self, key: &Key, entry: Entry) {
        if let Some(c) = &self.inner
            && entry.lifetime() > 0
        {
            self.metrics.insertions.inc();
            c.insert(self.hash(key), entry);
        }
    }

    /// Stores `entry` unless a fresh entry for `key` is already there (a handed-over entry
    /// must not replace one this process fetched itself).
    pub fn restore(&self, key: &Key, entry: Entry) {
        if let Some(c) = &self.inner
            && entry.fresh(Instant::now())
        {
            let now = Instant::now();
            c.entry(self.hash(key)).and_compute_with(|have| match have {
                Some(e) if e.value().answers(key) && e.value().fresh(now) => {
                    moka::ops::compute::Op::Nop
                }
                _ => moka::ops::compute::Op::Put(entry),
            });
        }
    }

    /// Every fresh entry (for the hand-over to the next process).
    pub fn fresh_entries(&self, now: Instant) -> Vec<Entry> {
        self.inner.as_ref().map_or_else(Vec::new, |c| {
            c.iter().map(|(_, e)| e).filter(|e| e.fresh(now)).collect()
        })
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
