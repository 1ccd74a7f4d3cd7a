//! DNS wire format, just enough for the hot path (RFC 1035 §4.1, RFC 6891 §6.1).
//!
//! Owns: parsing a query's header, question and OPT record without allocating; building the
//! cache key; walking a reply's records to find TTL fields, the SOA and the response code;
//! writing small synthesised replies (errors, truncation). It must not do I/O or keep state,
//! and it never builds hickory `Message`s: this is what the cache-hit path runs per packet.

use thiserror::Error;

use crate::key::Key;

/// Length of the fixed header.
pub const HEADER: usize = 12;
/// Type code of the OPT pseudo-record.
pub const TYPE_OPT: u16 = 41;
/// Type code of SOA.
pub const TYPE_SOA: u16 = 6;
/// Type code of CNAME.
pub const TYPE_CNAME: u16 = 5;
/// Class CHAOS.
pub const CLASS_CH: u16 = 3;
/// A response code (RFC 1035 §4.1.1, the low four bits of header byte 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rcode(u8);

impl Rcode {
    /// No error.
    pub const NOERROR: Rcode = Rcode(0);
    /// Format error.
    pub const FORMERR: Rcode = Rcode(1);
    /// Server failure.
    pub const SERVFAIL: Rcode = Rcode(2);
    /// Name does not exist.
    pub const NXDOMAIN: Rcode = Rcode(3);
    /// Not implemented.
    pub const NOTIMP: Rcode = Rcode(4);
    /// Refused.
    pub const REFUSED: Rcode = Rcode(5);

    /// The response code in a message's header; `None` when shorter than a header.
    pub fn of(message: &[u8]) -> Option<Rcode> {
        message.get(3).map(|b| Rcode(b & 0x0F))
    }

    /// The four-bit value.
    pub fn value(self) -> u8 {
        self.0
    }
}

/// Header flag bits of bytes 2 and 3 (RFC 1035 §4.1.1).
pub mod flag {
    /// Byte 2: this is a response.
    pub const QR: u8 = 0x80;
    /// Byte 2: authoritative answer.
    pub const AA: u8 = 0x04;
    /// Byte 2: truncated.
    pub const TC: u8 = 0x02;
    /// Byte 2: recursion desired.
    pub const RD: u8 = 0x01;
    /// Byte 3: recursion available.
    pub const RA: u8 = 0x80;
    /// Byte 3: checking disabled.
    pub const CD: u8 = 0x10;
}
/// Why a packet could not be parsed.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// Shorter than a header, or a response: drop silently.
    #[error("not a query")]
    Drop,
    /// Parsable header but a broken or unsupported body: answer FORMERR.
    #[error("malformed query")]
    FormErr,
    /// An opcode other than QUERY: answer NOTIMP.
    #[error("opcode not implemented")]
    NotImp,
}

/// A parsed query; borrows the packet.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    /// Message ID.
    pub id: u16,
    /// Recursion desired.
    pub rd: bool,
    /// Checking disabled.
    pub cd: bool,
    /// The question section (name, type, class) exactly as sent.
    pub question: &'a [u8],
    /// Length of the name inside `question`.
    pub name_len: usize,
    /// Query type.
    pub qtype: u16,
    /// Query class.
    pub qclass: u16,
    /// EDNS UDP payload size when an OPT record was present.
    pub edns_payload: Option<u16>,
    /// DNSSEC OK.
    pub dnssec_ok: bool,
}

impl<'a> Query<'a> {
    /// The name in wire form (original case).
    pub fn name(&self) -> &'a [u8] {
        &self.question[..self.name_len]
    }

    /// Largest UDP reply for this client: 512 without EDNS (RFC 1035 §4.2.1), else the
    /// payload size it announced (at least 512, RFC 6891 §6.2.5) capped by `cap`
    /// (`--edns-packet-max`; 1232 avoids IP fragmentation, DNS Flag Day 2020).
    pub fn udp_limit(&self, cap: u16) -> usize {
        self.edns_payload
            .map_or(512, |p| usize::from(p.min(cap).max(512)))
    }
}

/// The big-endian `u16` at `at`.
pub fn u16_at(p: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*p.get(at)?, *p.get(at + 1)?]))
}

fn u32_at(p: &[u8], at: usize) -> Option<u32> {
    let b = p.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Length of an uncompressed name starting at `at` (labels only, no pointers).
pub fn plain_name_len(p: &[u8], at: usize) -> Option<usize> {
    let mut i = at;
    loop {
        let len = usize::from(*p.get(i)?);
        if len == 0 {
            let total = i + 1 - at;
            return (total <= 255).then_some(total);
        }
        if len > 63 {
            return None;
        }
        i += 1 + len;
    }
}

/// A wire-form name (no compression) as text with a trailing dot, for logs.
pub fn name_to_string(name: &[u8]) -> String {
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    while let Some(&len) = name.get(i) {
        if len == 0 || len > 63 {
            break;
        }
        let label = name
            .get(i + 1..i + 1 + usize::from(len))
            .unwrap_or_default();
        out.push_str(&String::from_utf8_lossy(label));
        out.push('.');
        i += 1 + usize::from(len);
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

/// Skips a possibly compressed name; returns the offset after it.
pub(crate) fn skip_name(p: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let len = *p.get(i)?;
        match len {
            0 => return Some(i + 1),
            l if l & 0xC0 == 0xC0 => return p.get(i + 1).map(|_| i + 2),
            l if l > 63 => return None,
            l => i += 1 + usize::from(l),
        }
    }
}

/// Parses a query packet.
pub fn parse_query(p: &[u8]) -> Result<Query<'_>, WireError> {
    if p.len() < HEADER || p[2] & 0x80 != 0 {
        return Err(WireError::Drop);
    }
    let id = u16::from_be_bytes([p[0], p[1]]);
    if (p[2] >> 3) & 0x0F != 0 {
        return Err(WireError::NotImp);
    }
    let counts = (
        u16_at(p, 4).unwrap_or(0),
        u16_at(p, 6).unwrap_or(0),
        u16_at(p, 8).unwrap_or(0),
        u16_at(p, 10).unwrap_or(0),
    );
    if counts.0 != 1 || counts.1 != 0 || counts.2 != 0 || counts.3 > 1 {
        return Err(WireError::FormErr);
    }
    let name_len = plain_name_len(p, HEADER).ok_or(WireError::FormErr)?;
    let qend = HEADER + name_len + 4;
    let question = p.get(HEADER..qend).ok_or(WireError::FormErr)?;
    let qtype = u16_at(p, HEADER + name_len).ok_or(WireError::FormErr)?;
    let qclass = u16_at(p, HEADER + name_len + 2).ok_or(WireError::FormErr)?;
    let mut q = Query {
        id,
        rd: p[2] & 0x01 != 0,
        cd: p[3] & 0x10 != 0,
        question,
        name_len,
        qtype,
        qclass,
        edns_payload: None,
        dnssec_ok: false,
    };
    if counts.3 == 1 {
        // The only additional record we accept is OPT at the root (RFC 6891 §6.1.1).
        if p.get(qend) != Some(&0) || u16_at(p, qend + 1) != Some(TYPE_OPT) {
            return Err(WireError::FormErr);
        }
        let payload = u16_at(p, qend + 3).ok_or(WireError::FormErr)?;
        let ttl = u32_at(p, qend + 5).ok_or(WireError::FormErr)?;
        let rdlen = usize::from(u16_at(p, qend + 9).ok_or(WireError::FormErr)?);
        if p.len() < qend + 11 + rdlen {
            return Err(WireError::FormErr);
        }
        q.edns_payload = Some(payload);
        q.dnssec_ok = ttl & 0x8000 != 0;
    }
    if matches!(qtype, 251 | 252) {
        // IXFR/AXFR are not forwarded.
        return Err(WireError::NotImp);
    }
    Ok(q)
}

/// Offset of one TTL field and the TTL stored there when the entry was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtlSlot {
    /// Byte offset of the 32-bit TTL.
    pub at: u16,
    /// Value at creation (already clamped).
    pub ttl: u32,
}

/// What the cache needs to know about an upstream reply.
#[derive(Debug, Clone, Default)]
pub struct ReplyInfo {
    /// Response code.
    pub rcode: Rcode,
    /// TC bit.
    pub truncated: bool,
    /// Records in the answer section.
    pub answers: u16,
    /// Smallest TTL in the answer section.
    pub min_answer_ttl: Option<u32>,
    /// `min(SOA TTL, SOA MINIMUM)` of the first SOA in the authority section (RFC 2308 §5).
    pub soa_negative_ttl: Option<u32>,
    /// Every TTL field except OPT's.
    pub ttls: Vec<TtlSlot>,
    /// Answer records of type CNAME.
    pub cnames: u16,
}

/// Walks all records of a reply. `None` when it is malformed.
pub fn scan_reply(p: &[u8]) -> Option<ReplyInfo> {
    if p.len() < HEADER {
        return None;
    }
    let qd = u16_at(p, 4)?;
    let an = u16_at(p, 6)?;
    let ns = u16_at(p, 8)?;
    let ar = u16_at(p, 10)?;
    let mut info = ReplyInfo {
        rcode: Rcode(p[3] & 0x0F),
        truncated: p[2] & 0x02 != 0,
        answers: an,
        ..ReplyInfo::default()
    };
    let mut i = HEADER;
    for _ in 0..qd {
        i = skip_name(p, i)? + 4;
    }
    let total = u32::from(an) + u32::from(ns) + u32::from(ar);
    for n in 0..total {
        i = skip_name(p, i)?;
        let rtype = u16_at(p, i)?;
        // A TTL with the top bit set counts as zero (RFC 2181 §8).
        let ttl = u32_at(p, i + 4).map(|t| if t >= 1 << 31 { 0 } else { t })?;
        let rdlen = usize::from(u16_at(p, i + 8)?);
        let rdata = i + 10;
        if p.len() < rdata + rdlen {
            return None;
        }
        if rtype != TYPE_OPT {
            let at = u16::try_from(i + 4).ok()?;
            info.ttls.push(TtlSlot { at, ttl });
        }
        if n < u32::from(an) {
            info.min_answer_ttl = Some(info.min_answer_ttl.map_or(ttl, |m| m.min(ttl)));
            if rtype == TYPE_CNAME {
                info.cnames += 1;
            }
        } else if n < u32::from(an) + u32::from(ns)
            && rtype == TYPE_SOA
            && info.soa_negative_ttl.is_none()
            && rdlen >= 20
        {
            let minimum = u32_at(p, rdata + rdlen - 4)?;
            info.soa_negative_ttl = Some(ttl.min(minimum));
        }
        i = rdata + rdlen;
    }
    Some(info)
}

/// True when the question sections of `a` and `b` (after their headers) are equal, ignoring
/// ASCII case.
pub fn same_question(a: &[u8], b: &[u8]) -> bool {
    let (Some(la), Some(lb)) = (plain_name_len(a, HEADER), plain_name_len(b, HEADER)) else {
        return false;
    };
    if la != lb || u16_at(a, 4) != Some(1) || u16_at(b, 4) != Some(1) {
        return false;
    }
    match (
        a.get(HEADER..HEADER + la + 4),
        b.get(HEADER..HEADER + lb + 4),
    ) {
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
        _ => false,
    }
}

/// Writes a header-plus-question reply for `q` with `rcode` (and TC when `truncated`).
pub fn write_error(q: &Query<'_>, rcode: Rcode, truncated: bool, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&q.id.to_be_bytes());
    let mut b2 = flag::QR | u8::from(q.rd);
    if truncated {
        b2 |= flag::TC;
    }
    out.push(b2);
    let cd = if q.cd { flag::CD } else { 0 };
    out.push(flag::RA | cd | rcode.0);
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(q.question);
}

/// A reply with only a header (for queries whose question could not be parsed).
pub fn write_header_only(packet: &[u8], rcode: Rcode, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&packet[..2]);
    out.push(flag::QR | (packet[2] & 0x79));
    out.push(flag::RA | rcode.0);
    out.extend_from_slice(&[0; 8]);
}

/// Builds the query we send upstream: a fresh ID, RD, the lowercased question and, when the
/// client used EDNS, an OPT record announcing `payload` bytes with DO copied.
pub fn build_upstream_query(id: u16, key: &Key, payload: u16, out: &mut Vec<u8>) {
    out.clear();
    let flags = key.flags();
    out.extend_from_slice(&id.to_be_bytes());
    out.push(flag::RD);
    out.push(if flags.checking_disabled() {
        flag::CD
    } else {
        0
    });
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, u8::from(flags.edns())]);
    out.extend_from_slice(key.question());
    if flags.edns() {
        let do_bit = if flags.dnssec_ok() { 0x80 } else { 0 };
        let [hi, lo] = payload.to_be_bytes();
        out.extend_from_slice(&[0, 0, 41, hi, lo, 0, 0, do_bit, 0, 0, 0]);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
