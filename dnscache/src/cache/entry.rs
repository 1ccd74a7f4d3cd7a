//! One cached reply: the upstream's bytes in canonical form plus what rendering needs (where the
//! TTL fields are, when it was stored, how long it lives). Rendering for a client patches the
//! ID, RD, the question's case, the header bits we own and the aged TTLs into a copy.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::{Policy, STALE_TTL};
use crate::key::{Flags, Key};
use crate::wire::{self, Query, Rcode, ReplyInfo, flag};

/// The entries' clock: milliseconds since the first cache operation of the process, plus a
/// bias so that entries handed over from a previous process, born before that, keep their age.
fn millis(at: Instant) -> u64 {
    const BIAS: u64 = 1 << 40;
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    match at.checked_duration_since(epoch) {
        Some(after) => BIAS.saturating_add(ms(after)),
        None => BIAS.saturating_sub(ms(epoch.saturating_duration_since(at))),
    }
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

/// Bytes a cached entry costs besides its own allocation (moka's node and table slot, the
/// `Arc` header, the hashed key), for the byte bound.
pub const OVERHEAD: usize = 160;

/// How an entry is being served, which decides the header bits and TTLs a client sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// Just fetched for this query: the upstream's AA bit stays.
    Fresh,
    /// From the cache: we are not the authority, so AA is cleared (as dnsmasq does).
    Cached,
    /// Past its lifetime, because every upstream failed (RFC 8767): TTLs are [`STALE_TTL`].
    Stale,
}

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

/// True for NXDOMAIN and NODATA (RFC 2308 §1).
fn is_negative(info: &ReplyInfo) -> bool {
    info.rcode == Rcode::NXDOMAIN || (info.rcode == Rcode::NOERROR && info.answers == 0)
}

impl Entry {
    /// Builds an entry from an upstream reply for a query with key `flags`, applying `policy`
    /// to its lifetime and to every positive TTL.
    ///
    /// A negative answer we cache has its TTLs capped by its lifetime here (`--neg-ttl`);
    /// one we do not cache (`--no-negcache`) keeps the TTLs it came with, capped only by
    /// `--max-cache-ttl`: the SOA's TTL is what a downstream cache may keep the NXDOMAIN
    /// for (RFC 2308 §5), and zero would forbid that.
    pub fn from_reply(bytes: Vec<u8>, info: &ReplyInfo, policy: &Policy, flags: Flags) -> Entry {
        Entry::build(bytes, info, policy, flags, Instant::now(), None)
    }

    /// Like [`Entry::from_reply`] for an entry created `age` ago with `lifetime` seconds (an
    /// entry handed over from a previous process; its TTLs are as at creation).
    pub fn restore(
        bytes: Vec<u8>,
        info: &ReplyInfo,
        flags: Flags,
        lifetime: u32,
        age: Duration,
    ) -> Entry {
        let born = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
        let policy = Policy {
            min_ttl: 0,
            max_ttl: u32::MAX,
            ..Policy::default()
        };
        Entry::build(bytes, info, &policy, flags, born, Some(lifetime))
    }

    fn build(
        mut bytes: Vec<u8>,
        info: &ReplyInfo,
        policy: &Policy,
        flags: Flags,
        born: Instant,
        lifetime: Option<u32>,
    ) -> Entry {
        let negative = is_negative(info);
        let lifetime = lifetime.unwrap_or(if info.rcode != Rcode::NOERROR && !negative {
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
        });
        let n = info.ttls.len();
        let mut data = Vec::with_capacity(META + 2 * n + bytes.len());
        data.extend_from_slice(&millis(born).to_le_bytes());
        data.extend_from_slice(&lifetime.to_le_bytes());
        data.extend_from_slice(&[flags.bits(), 0]);
        data.extend_from_slice(&u16::try_from(n).unwrap_or(0).to_le_bytes());
        for s in info.ttls.iter().take(usize::from(u16::MAX)) {
            let ttl = if negative && lifetime > 0 {
                s.ttl.min(lifetime)
            } else if negative {
                s.ttl.min(policy.max_ttl)
            } else {
                s.ttl.max(policy.min_ttl).min(policy.max_ttl)
            };
            let at = usize::from(s.at);
            if let Some(field) = bytes.get_mut(at..at + 4) {
                field.copy_from_slice(&ttl.to_be_bytes());
            }
            data.extend_from_slice(&s.at.to_le_bytes());
        }
        if bytes.len() >= 2 {
            bytes[0] = 0;
            bytes[1] = 0;
        }
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

    /// The key flags of the query this entry answers.
    pub fn flags(&self) -> Flags {
        Flags::from_bits(self.0[12])
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

    /// Time since creation.
    pub fn age(&self, now: Instant) -> Duration {
        Duration::from_millis(self.age_ms(now))
    }

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

    /// Bytes this entry costs in the cache (for the byte bound).
    pub fn weight(&self) -> usize {
        self.0.len() + OVERHEAD
    }

    /// Response code of the stored reply.
    pub fn rcode(&self) -> Rcode {
        Rcode::of(self.bytes()).unwrap_or(Rcode::SERVFAIL)
    }

    /// True when this entry answers `key` (guards against hash collisions).
    pub fn answers(&self, key: &Key) -> bool {
        let question = key.question();
        key.flags() == self.flags()
            && self
                .bytes()
                .get(wire::HEADER..wire::HEADER + question.len())
                .is_some_and(|q| q.eq_ignore_ascii_case(question))
    }

    /// The stored reply with every TTL aged by `now` (for merging into another reply).
    pub fn aged(&self, now: Instant) -> Vec<u8> {
        let mut out = self.bytes().to_vec();
        self.age_ttls(&mut out, now, false);
        out
    }

    fn age_ttls(&self, out: &mut [u8], now: Instant, stale: bool) {
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

    /// Writes the reply for `q` into `out`: client ID, RD and question bytes, RA set (we
    /// recurse for every client), AA cleared unless `served` is [`Served::Fresh`], TTLs aged
    /// by `now` (or [`STALE_TTL`]), and when longer than `limit` a header with TC instead.
    pub fn render(
        &self,
        q: &Query<'_>,
        now: Instant,
        served: Served,
        limit: usize,
        out: &mut Vec<u8>,
    ) {
        let bytes = self.bytes();
        if bytes.len() > limit || bytes.len() < wire::HEADER {
            wire::write_error(q, self.rcode(), true, out);
            return;
        }
        out.clear();
        out.extend_from_slice(bytes);
        out[0..2].copy_from_slice(&q.id.to_be_bytes());
        out[2] = (out[2] & !flag::RD) | u8::from(q.rd);
        if served != Served::Fresh {
            out[2] &= !flag::AA;
        }
        out[3] |= flag::RA;
        let qlen = q.question.len();
        if out.len() >= wire::HEADER + qlen {
            out[wire::HEADER..wire::HEADER + qlen].copy_from_slice(q.question);
        }
        self.age_ttls(out, now, served == Served::Stale);
    }
}
