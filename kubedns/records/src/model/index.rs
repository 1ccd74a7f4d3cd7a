//! The Service index of a snapshot: `(namespace, name)` to the Service's position, an
//! open-addressing hash table of positions only. The key is never stored: a slot matches when
//! the Service it points to has that name (its name's first two labels), so the index is one
//! allocation whatever the number of Services (boxed `"<ns>/<name>"` keys were one small
//! allocation each, see `pool`). Lookups hash the key once and probe a few slots (at most
//! half the slots are used).
//!
//! Each slot also keeps 32 bits of its key's hash: a probe compares those first and reads
//! the Service (a cache miss in a big zone) only when they match, so a lookup reads about
//! one Service whether it finds the name or not. The hash is foldhash with a seed drawn per
//! index: fast on short keys, and not predictable by whoever chooses Service names, so
//! they cannot pile their keys onto one run of slots.

use std::hash::{BuildHasher, Hasher};

use foldhash::fast::RandomState;

/// An empty slot.
const EMPTY: u64 = u64::MAX;

/// `(namespace, name)` to a Service position.
#[derive(Debug, Default)]
pub(crate) struct KeyIndex {
    /// `tag << 32 | position`, `EMPTY` where free; the length is zero or a power of two.
    slots: Box<[u64]>,
    hasher: RandomState,
}

impl KeyIndex {
    /// An index with room for `n` Services.
    pub(crate) fn with_capacity(n: usize) -> KeyIndex {
        let len = n.saturating_mul(2).max(1).next_power_of_two();
        KeyIndex {
            slots: vec![EMPTY; len].into_boxed_slice(),
            hasher: RandomState::default(),
        }
    }

    /// The tag of `ns`/`name` and the slots to probe for it, in order: linear probing from
    /// the slot its hash picks, each slot once (none when the index has no slots).
    fn probe(&self, ns: &[u8], name: &[u8]) -> (u64, impl Iterator<Item = usize> + use<>) {
        let mut h = self.hasher.build_hasher();
        h.write(ns);
        h.write_u8(b'/');
        h.write(name);
        let h = h.finish();
        let (len, mask) = (self.slots.len(), self.slots.len().wrapping_sub(1));
        // The low bits pick the first slot, the high 32 bits are the tag; truncating is the point.
        #[allow(clippy::cast_possible_truncation)]
        let first = h as usize;
        (h >> 32, (0..len).map(move |k| first.wrapping_add(k) & mask))
    }

    /// The position of the Service `ns`/`name`; `is(position)` tells whether the Service at a
    /// position has that name.
    pub(crate) fn get(&self, ns: &[u8], name: &[u8], is: impl Fn(u32) -> bool) -> Option<u32> {
        let (tag, slots) = self.probe(ns, name);
        for i in slots {
            let slot = *self.slots.get(i)?;
            if slot == EMPTY {
                return None;
            }
            let pos = position(slot);
            if slot >> 32 == tag && is(pos) {
                return Some(pos);
            }
        }
        None
    }

    /// Records `pos` as the position of `ns`/`name` (not already present: the caller asks
    /// [`KeyIndex::get`] first). False when the index is full (more Services than its
    /// capacity), the Service then left out.
    pub(crate) fn insert(&mut self, ns: &[u8], name: &[u8], pos: u32) -> bool {
        let (tag, slots) = self.probe(ns, name);
        for i in slots {
            if let Some(slot) = self.slots.get_mut(i)
                && *slot == EMPTY
            {
                *slot = tag << 32 | u64::from(pos);
                return true;
            }
        }
        false
    }
}

/// The position a slot holds (its low 32 bits).
fn position(slot: u64) -> u32 {
    #[allow(clippy::cast_possible_truncation)]
    let pos = slot as u32;
    pos
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_was_inserted_and_nothing_else() {
        let keys: Vec<(String, String)> = (0..500)
            .map(|i| (format!("ns-{}", i / 7), format!("svc-{i}")))
            .collect();
        let mut index = KeyIndex::with_capacity(keys.len());
        for (pos, (ns, name)) in keys.iter().enumerate() {
            let pos = u32::try_from(pos).unwrap();
            assert!(index.insert(ns.as_bytes(), name.as_bytes(), pos));
        }
        let is = |ns: &str, name: &str, pos: u32| {
            keys.get(pos as usize)
                .is_some_and(|(n, m)| n == ns && m == name)
        };
        for (pos, (ns, name)) in keys.iter().enumerate() {
            let got = index.get(ns.as_bytes(), name.as_bytes(), |p| is(ns, name, p));
            assert_eq!(got, Some(u32::try_from(pos).unwrap()));
        }
        let missing = index.get(b"ns-0", b"svc-9", |p| is("ns-0", "svc-9", p));
        assert_eq!(missing, None);
        assert_eq!(KeyIndex::default().get(b"a", b"b", |_| true), None);
    }

    #[test]
    fn a_lookup_reads_the_service_it_finds_and_no_other() {
        let keys: Vec<(String, String)> = (0..2000)
            .map(|i| (format!("ns-{}", i / 100), format!("svc-{i}")))
            .collect();
        let mut index = KeyIndex::with_capacity(keys.len());
        for (pos, (ns, name)) in keys.iter().enumerate() {
            assert!(index.insert(ns.as_bytes(), name.as_bytes(), u32::try_from(pos).unwrap()));
        }
        let reads = std::cell::Cell::new(0usize);
        let is = |ns: &str, name: &str, pos: u32| {
            reads.set(reads.get() + 1);
            keys.get(pos as usize)
                .is_some_and(|(n, m)| n == ns && m == name)
        };
        for (ns, name) in &keys {
            assert!(
                index
                    .get(ns.as_bytes(), name.as_bytes(), |p| is(ns, name, p))
                    .is_some()
            );
        }
        // One read per hit (a tag collision, one in 2^32 probes, would add one).
        assert!(reads.get() <= keys.len() + 1, "{} reads", reads.get());
        reads.set(0);
        for i in 0..2000 {
            let (ns, name) = (format!("ns-{i}"), format!("missing-{i}"));
            assert_eq!(
                index.get(ns.as_bytes(), name.as_bytes(), |p| is(&ns, &name, p)),
                None
            );
        }
        assert!(reads.get() <= 1, "{} reads for misses", reads.get());
    }
}
