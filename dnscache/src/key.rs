//! The cache key: which question an entry answers (lowercased name, type, class) and the
//! query bits that change the answer (DO, CD, whether EDNS was used).
//!
//! Owns: the key's layout and its accessors, so no other module reads a key by byte offset.
//! Lives on the stack (no allocation per query). Must not do I/O.

use crate::wire::{self, Query};

/// Longest possible key: a 255-byte name, type, class and flags.
pub const MAX_KEY: usize = 255 + 5;

/// Query bits kept in the key: they select a different upstream answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(u8);

impl Flags {
    const DO: u8 = 1;
    const CD: u8 = 2;
    const EDNS: u8 = 4;

    /// Flags from their parts.
    pub fn new(dnssec_ok: bool, checking_disabled: bool, edns: bool) -> Flags {
        Flags(
            (u8::from(dnssec_ok) * Self::DO)
                | (u8::from(checking_disabled) * Self::CD)
                | (u8::from(edns) * Self::EDNS),
        )
    }

    /// DNSSEC OK was set (RFC 3225).
    pub fn dnssec_ok(self) -> bool {
        self.0 & Self::DO != 0
    }

    /// Checking disabled was set (RFC 4035 §3.2.2).
    pub fn checking_disabled(self) -> bool {
        self.0 & Self::CD != 0
    }

    /// The query carried an OPT record (RFC 6891).
    pub fn edns(self) -> bool {
        self.0 & Self::EDNS != 0
    }

    /// The flags as one byte (for storage next to an entry).
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Flags from [`Flags::bits`]; unknown bits are dropped.
    pub fn from_bits(b: u8) -> Flags {
        Flags(b & (Self::DO | Self::CD | Self::EDNS))
    }
}

/// A cache key: `name | type | class | flags`, the name in lowercased wire form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Key {
    len: u16,
    buf: [u8; MAX_KEY],
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} {:?}",
            wire::name_to_string(self.name()),
            self.qtype(),
            self.qclass(),
            self.flags()
        )
    }
}

impl Key {
    /// The key of a parsed query.
    pub fn of(q: &Query<'_>) -> Key {
        let flags = Flags::new(q.dnssec_ok, q.cd, q.edns_payload.is_some());
        // A parsed query's name is at most 255 bytes, so `new` cannot fail here; fall back to
        // the root rather than panic.
        Key::new(q.name(), q.qtype, q.qclass, flags)
            .unwrap_or_else(|| Key::root(q.qtype, q.qclass, flags))
    }

    fn root(qtype: u16, qclass: u16, flags: Flags) -> Key {
        let mut k = Key {
            len: 6,
            buf: [0; MAX_KEY],
        };
        k.buf[1..3].copy_from_slice(&qtype.to_be_bytes());
        k.buf[3..5].copy_from_slice(&qclass.to_be_bytes());
        k.buf[5] = flags.bits();
        k
    }

    /// A key for `name` (wire form, any case); `None` when the name is longer than 255 bytes.
    pub fn new(name: &[u8], qtype: u16, qclass: u16, flags: Flags) -> Option<Key> {
        let n = name.len();
        if n == 0 || n > 255 {
            return None;
        }
        let mut buf = [0u8; MAX_KEY];
        for (o, b) in buf.iter_mut().zip(name) {
            *o = b.to_ascii_lowercase();
        }
        buf[n..n + 2].copy_from_slice(&qtype.to_be_bytes());
        buf[n + 2..n + 4].copy_from_slice(&qclass.to_be_bytes());
        buf[n + 4] = flags.bits();
        Some(Key {
            len: u16::try_from(n + 5).ok()?,
            buf,
        })
    }

    /// The same question about another name (a CNAME target).
    pub fn with_name(&self, name: &[u8]) -> Option<Key> {
        Key::new(name, self.qtype(), self.qclass(), self.flags())
    }

    /// The whole key (for hashing).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    fn name_len(&self) -> usize {
        usize::from(self.len) - 5
    }

    /// The lowercased name in wire form.
    pub fn name(&self) -> &[u8] {
        &self.buf[..self.name_len()]
    }

    /// Name, type and class: the question section as an upstream query carries it.
    pub fn question(&self) -> &[u8] {
        &self.buf[..self.name_len() + 4]
    }

    /// The query type.
    pub fn qtype(&self) -> u16 {
        let n = self.name_len();
        u16::from_be_bytes([self.buf[n], self.buf[n + 1]])
    }

    /// The query class.
    pub fn qclass(&self) -> u16 {
        let n = self.name_len();
        u16::from_be_bytes([self.buf[n + 2], self.buf[n + 3]])
    }

    /// The query bits.
    pub fn flags(&self) -> Flags {
        Flags::from_bits(self.buf[self.name_len() + 4])
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn parts_round_trip() {
        let k = Key::new(
            b"\x03WeB\x07example\x00",
            28,
            1,
            Flags::new(true, false, true),
        )
        .unwrap();
        assert_eq!(k.name(), b"\x03web\x07example\x00");
        assert_eq!(k.question(), b"\x03web\x07example\x00\x00\x1c\x00\x01");
        assert_eq!((k.qtype(), k.qclass()), (28, 1));
        assert!(k.flags().dnssec_ok() && k.flags().edns() && !k.flags().checking_disabled());
        let t = k.with_name(b"\x01x\x00").unwrap();
        assert_eq!(
            (t.name(), t.qtype(), t.flags()),
            (&b"\x01x\x00"[..], 28, k.flags())
        );
        assert!(Key::new(&[1; 256], 1, 1, Flags::default()).is_none());
    }
}
