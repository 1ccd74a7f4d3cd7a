//! CHAOS-class statistics, as dnsmasq answers them (dnsmasq ≥ 2.76; read by the sidecar,
//! kube-dns `pkg/dnsmasq/metrics.go`): a TXT query of class CH for `cachesize.bind.`,
//! `insertions.bind.`, `evictions.bind.`, `misses.bind.` or `hits.bind.` gets one TXT record
//! with one string holding the decimal counter.
//!
//! Owns: recognising those names and writing the reply. Other CHAOS queries are REFUSED and
//! never forwarded. Must not do I/O.

use crate::metrics::Metrics;
use crate::wire::{self, Query};

const TYPE_TXT: u16 = 16;
const TYPE_ANY: u16 = 255;

/// The counter a CHAOS name asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    /// `cachesize.bind.`
    CacheSize,
    /// `insertions.bind.`
    Insertions,
    /// `evictions.bind.`
    Evictions,
    /// `misses.bind.`
    Misses,
    /// `hits.bind.`
    Hits,
}

impl Stat {
    /// The stat named by a wire-form name (any case).
    pub fn from_wire_name(name: &[u8]) -> Option<Stat> {
        const NAMES: [(&[u8], Stat); 5] = [
            (b"\x09cachesize\x04bind\x00", Stat::CacheSize),
            (b"\x0ainsertions\x04bind\x00", Stat::Insertions),
            (b"\x09evictions\x04bind\x00", Stat::Evictions),
            (b"\x06misses\x04bind\x00", Stat::Misses),
            (b"\x04hits\x04bind\x00", Stat::Hits),
        ];
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, s)| *s)
    }

    /// Its current value.
    pub fn value(self, m: &Metrics) -> u64 {
        match self {
            Stat::CacheSize => u64::try_from(m.cache_size.get()).unwrap_or(0),
            Stat::Insertions => m.insertions.get(),
            Stat::Evictions => m.evictions.get(),
            Stat::Misses => m.misses.get(),
            Stat::Hits => m.hits.get(),
        }
    }
}

/// Writes the reply to a CHAOS-class query `q` into `out`.
pub fn answer(q: &Query<'_>, m: &Metrics, out: &mut Vec<u8>) {
    let stat = Stat::from_wire_name(q.name());
    let Some(stat) = stat.filter(|_| matches!(q.qtype, TYPE_TXT | TYPE_ANY)) else {
        wire::write_error(q, wire::Rcode::REFUSED, false, out);
        return;
    };
    let text = stat.value(m).to_string();
    wire::write_error(q, wire::Rcode::NOERROR, false, out);
    out[2] |= wire::flag::AA;
    out[7] = 1; // ANCOUNT
    out.extend_from_slice(&[0xC0, 0x0C]);
    out.extend_from_slice(&TYPE_TXT.to_be_bytes());
    out.extend_from_slice(&wire::CLASS_CH.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    let len = text.len() as u8; // a u64 has at most 20 digits
    out.extend_from_slice(&(u16::from(len) + 1).to_be_bytes());
    out.push(len);
    out.extend_from_slice(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_any_case() {
        assert_eq!(
            Stat::from_wire_name(b"\x04HITS\x04Bind\x00"),
            Some(Stat::Hits)
        );
        assert_eq!(
            Stat::from_wire_name(b"\x09cachesize\x04bind\x00"),
            Some(Stat::CacheSize)
        );
        assert_eq!(Stat::from_wire_name(b"\x07version\x04bind\x00"), None);
    }
}
