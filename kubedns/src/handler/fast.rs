//! The fast path: the common query answered from the received bytes into the reply buffer,
//! with no copy of the packet, no hickory message and no allocation.
//!
//! It takes only the common shape: a query (QR 0, opcode QUERY) with exactly one question of
//! class IN whose name has no compression pointer, no answer or authority records, and at
//! most one additional record, an EDNS(0) OPT (RFC 6891) of version 0 without options,
//! nothing after it; a handler without autopath; a published snapshot. The reply is the
//! header, the question copied as received (so its case is kept), the records the snapshot
//! writes through [`Wire`], and the OPT echoed with payload `min(max(client, 512), 1232)`.
//! Anything else, and any reply that would not fit the payload (512 octets without EDNS,
//! 64 KiB over TCP), returns false: the reference path in `handler.rs` answers it, and it
//! stays the one place that knows FORMERR, NOTIMP, BADVERS, SERVFAIL before the first
//! snapshot, autopath and truncation.

use std::fmt;

use hickory_net::xfer::Protocol;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, RecordType};

use super::wire::{Wire, WireLabels};
use super::{Handler, echoed_payload};
use crate::metrics::System;

/// Labels of a name the fast path takes. Every name of the zone has fewer (the longest,
/// an IPv6 PTR name, has 34); a longer question (up to 127 labels, RFC 1035 §2.3.4) goes
/// to the reference path. Kept small because the label array is set up for every query.
const MAX_LABELS: usize = 40;
/// Longest question name taken, in wire form (hickory rejects 255 and more).
const MAX_NAME: usize = 254;
/// The OPT record we append: root owner, TYPE 41, CLASS payload, TTL 0 (extended RCODE 0,
/// version 0, DO clear), RDLENGTH 0.
const OPT_LEN: usize = 11;

/// A query of the shape the fast path takes, borrowed from the packet.
struct Query<'p> {
    /// The header's ID and flag octets.
    header: &'p [u8],
    /// The question as received: name, QTYPE, QCLASS.
    question: &'p [u8],
    /// The question's name, wire form with its root octet.
    name: &'p [u8],
    qtype: u16,
    /// The client's UDP payload size, when it sent an OPT record.
    edns: Option<u16>,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([*s.first()?, *s.get(1)?]))
}

/// The query in `packet` when it has the fast path's shape.
fn parse(packet: &[u8]) -> Option<Query<'_>> {
    let header = packet.get(..12)?;
    let flags = *header.get(2)?;
    let query = flags & 0x80 == 0 && (flags >> 3) & 0x0F == 0;
    let counts = (be16(header, 4)?, be16(header, 6)?, be16(header, 8)?);
    let additional = be16(header, 10)?;
    if !query || counts != (1, 0, 0) || additional > 1 {
        return None;
    }
    let mut at = 12;
    loop {
        let len = usize::from(*packet.get(at)?);
        if len > 63 || at + 1 + len - 12 > MAX_NAME {
            return None;
        }
        at += 1 + len;
        if len == 0 {
            break;
        }
    }
    let name = packet.get(12..at)?;
    let qtype = be16(packet, at)?;
    if be16(packet, at + 2)? != u16::from(DNSClass::IN) {
        return None;
    }
    let question = packet.get(12..at + 4)?;
    let mut end = at + 4;
    let mut edns = None;
    if additional == 1 {
        // OPT: root owner, TYPE 41, CLASS = payload, TTL = ext-rcode, version, flags.
        let opt = packet.get(end..end + OPT_LEN)?;
        let plain = opt.first() == Some(&0) && be16(opt, 1)? == 41;
        let version = *opt.get(6)?;
        if !plain || version != 0 || be16(opt, 9)? != 0 {
            return None;
        }
        edns = Some(be16(opt, 3)?);
        end += OPT_LEN;
    }
    (end == packet.len()).then_some(Query {
        header,
        question,
        name,
        qtype,
        edns,
    })
}

/// What an answer of the fast path is counted as (the caller counts it).
pub(super) struct Answered {
    pub system: System,
    pub rcode: ResponseCode,
    pub qtype: RecordType,
}

/// Answers `packet` into `out` when it has the fast path's shape and the reply fits; `None`
/// (with `out` cleared) means the reference path must answer it.
pub(super) fn respond(
    h: &Handler,
    packet: &[u8],
    protocol: Protocol,
    out: &mut Vec<u8>,
) -> Option<Answered> {
    if h.inner.autopath.is_some() {
        return None;
    }
    let q = parse(packet)?;
    let guard = h.inner.zone.load();
    let snap = guard.as_ref()?;
    // Lower-case the name on the stack; length octets (at most 63) are not letters.
    let mut lower = [0u8; MAX_NAME];
    let name = lower.get_mut(..q.name.len())?;
    name.copy_from_slice(q.name);
    name.make_ascii_lowercase();
    let mut labels: [&[u8]; MAX_LABELS] = [&[]; MAX_LABELS];
    let mut n = 0;
    for label in WireLabels(name) {
        *labels.get_mut(n)? = label;
        n += 1;
    }
    let labels = labels.get(..n).unwrap_or(&[]);
    let payload = q.edns.map_or(512, echoed_payload);
    let limit = match protocol {
        Protocol::Udp => usize::from(payload),
        _ => usize::from(u16::MAX),
    };
    let opt = if q.edns.is_some() { OPT_LEN } else { 0 };
    let qtype = RecordType::from(q.qtype);

    out.clear();
    out.extend_from_slice(&[0; 12]);
    out.extend_from_slice(q.question);
    let mut wire = Wire::new(out, q.name, limit - opt);
    let outcome = snap.answer_into(labels, qtype, DNSClass::IN, &mut wire);
    let (failed, [an, ns, mut ar]) = (wire.failed, wire.counts);
    if failed {
        out.clear();
        return None;
    }
    if q.edns.is_some() {
        out.extend_from_slice(&[0, 0, 41]);
        out.extend_from_slice(&payload.to_be_bytes());
        out.extend_from_slice(&[0; 6]);
        ar += 1;
    }
    // Header (RFC 1035 §4.1.1): ID echoed; QR, AA as decided; opcode QUERY; RD and CD
    // copied; TC, RA, Z and AD clear (hickory's `Metadata::response_from_request`).
    let (id, rd, cd) = match q.header {
        [a, b, f2, f3, ..] => ([*a, *b], f2 & 0x01, f3 & 0x10),
        _ => return None,
    };
    let aa = if outcome.authoritative { 0x04 } else { 0 };
    let [an, ns, ar] = [an, ns, ar].map(u16::to_be_bytes);
    let header = [
        id[0],
        id[1],
        0x80 | aa | rd,
        cd | (outcome.rcode.low() & 0x0F),
        0,
        1,
        an[0],
        an[1],
        ns[0],
        ns[1],
        ar[0],
        ar[1],
    ];
    if let Some(slot) = out.get_mut(..12) {
        slot.copy_from_slice(&header);
    }
    let system = match labels {
        [.., b"in-addr" | b"ip6", b"arpa"] => System::Reverse,
        _ => System::Auth,
    };
    tracing::debug!(qname = %Printed(q.name), qtype = ?qtype, rcode = %outcome.rcode, "query");
    Some(Answered {
        system,
        rcode: outcome.rcode,
        qtype,
    })
}

/// A wire-form name shown as text, for logs (`\DDD` for octets that are not printable).
struct Printed<'a>(&'a [u8]);

impl fmt::Display for Printed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut any = false;
        for label in WireLabels(self.0) {
            any = true;
            for &b in label {
                match b {
                    b'.' | b'\\' => write!(f, "\\{}", char::from(b))?,
                    0x21..=0x7E => write!(f, "{}", char::from(b))?,
                    _ => write!(f, "\\{b:03}")?,
                }
            }
            f.write_str(".")?;
        }
        if !any {
            f.write_str(".")?;
        }
        Ok(())
    }
}
