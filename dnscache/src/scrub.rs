//! What an upstream reply may bring into the cache (unbound's scrubber is the model).
//!
//! Owns two rules. First, a reply must parse completely: every name (compression pointers
//! only backwards, RFC 1035 §4.1.4; at most 255 bytes), every record inside the packet, the
//! RDATA of the common types exactly filling RDLENGTH, at most one OPT and only in the
//! additional section at the root (RFC 6891 §6.1.1), nothing after the last record, and the
//! question ours. Anything else is refused whole: the client gets SERVFAIL, never the bytes.
//! Second, a server answers for its route only: answer records are kept along the CNAME chain
//! of the question while the chain stays in names routed to the same servers, and authority
//! and additional records only for such names. The first chain target routed elsewhere is
//! returned as `dangling`, for the pipeline to resolve through its own route.
//! Must not do I/O.

use hickory_proto::op::Message;
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::BinEncodable;

use crate::key::Key;
use crate::route::{RouteId, Routes};
use crate::wire::{self, ReplyInfo, TYPE_CNAME, TYPE_OPT};

/// Why a reply was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadReply {
    /// It does not parse completely.
    #[error("malformed reply")]
    Malformed,
    /// Its question is not the one we asked.
    #[error("reply to another question")]
    QuestionMismatch,
}

impl BadReply {
    /// The label value of the `cause` counter.
    pub fn cause(self) -> &'static str {
        match self {
            BadReply::Malformed => "malformed",
            BadReply::QuestionMismatch => "question_mismatch",
        }
    }
}

/// A reply fit for the cache.
#[derive(Debug)]
pub struct Scrubbed {
    /// The reply (rebuilt when records were dropped).
    pub bytes: Vec<u8>,
    /// What the cache needs to know about it.
    pub info: ReplyInfo,
    /// Records dropped because they lie outside the route.
    pub dropped: usize,
    /// A CNAME target routed elsewhere, with nothing of the question's type after it.
    pub dangling: Option<Vec<u8>>,
}

struct Rr {
    section: u8,
    owner: Vec<u8>,
    rtype: u16,
    target: Option<Vec<u8>>,
}

/// Reads a possibly compressed name at `at`; returns it lowercased in wire form and the
/// offset after it in the packet.
fn read_name(p: &[u8], at: usize) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::with_capacity(32);
    let (mut i, mut end, mut limit) = (at, None, at);
    loop {
        let len = *p.get(i)?;
        match len {
            0 => {
                out.push(0);
                return (out.len() <= 255).then_some((out, end.unwrap_or(i + 1)));
            }
            l if l & 0xC0 == 0xC0 => {
                let to = usize::from(u16::from_be_bytes([l & 0x3F, *p.get(i + 1)?]));
                // Only backwards, and each jump before the previous one: no loops.
                if to >= limit {
                    return None;
                }
                end.get_or_insert(i + 2);
                limit = to;
                i = to;
            }
            l if l > 63 => return None,
            l => {
                let label = p.get(i..i + 1 + usize::from(l))?;
                out.extend(label.iter().map(u8::to_ascii_lowercase));
                if out.len() > 255 {
                    return None;
                }
                i += 1 + usize::from(l);
            }
        }
    }
}

/// Checks RDATA at `at..end` of a record of type `rtype`; returns a CNAME's target.
fn check_rdata(p: &[u8], rtype: u16, at: usize, end: usize) -> Option<Option<Vec<u8>>> {
    let name_then = |from: usize, fixed: usize| -> Option<usize> {
        let (_, next) = read_name(p, from)?;
        Some(next + fixed)
    };
    let exact = |next: usize| (next == end).then_some(None);
    match rtype {
        1 => exact(at + 4),
        28 => exact(at + 16),
        TYPE_CNAME => {
            let (target, next) = read_name(p, at)?;
            (next == end).then_some(Some(target))
        }
        2 | 12 | 39 => exact(name_then(at, 0)?),
        15 => exact(name_then(at + 2, 0)?),
        33 => exact(name_then(at + 6, 0)?),
        6 => {
            let (_, next) = read_name(p, at)?;
            exact(name_then(next, 20)?)
        }
        16 => {
            let mut i = at;
            while i < end {
                i += 1 + usize::from(*p.get(i)?);
            }
            (i == end && end > at).then_some(None)
        }
        TYPE_OPT => {
            let mut i = at;
            while i < end {
                i += 4 + usize::from(u16::from_be_bytes([*p.get(i + 2)?, *p.get(i + 3)?]));
            }
            (i == end).then_some(None)
        }
        _ => Some(None),
    }
}

fn walk(p: &[u8], key: &Key) -> Result<Vec<Rr>, BadReply> {
    use BadReply::*;
    let count = |at: usize| wire::u16_at(p, at).ok_or(Malformed);
    if p.len() < wire::HEADER || count(4)? != 1 {
        return Err(Malformed);
    }
    let (qname, qend) = read_name(p, wire::HEADER).ok_or(Malformed)?;
    let qtail = p.get(qend..qend + 4).ok_or(Malformed)?;
    if qname != key.name() || qtail != &key.question()[key.name().len()..] {
        return Err(QuestionMismatch);
    }
    let sections = [(0u8, count(6)?), (1, count(8)?), (2, count(10)?)];
    let mut i = qend + 4;
    let mut rrs = Vec::new();
    let mut opts = 0;
    for (section, n) in sections {
        for _ in 0..n {
            let (owner, next) = read_name(p, i).ok_or(Malformed)?;
            let rtype = count(next)?;
            let rdlen = usize::from(count(next + 8)?);
            let (at, end) = (next + 10, next + 10 + rdlen);
            if end > p.len() {
                return Err(Malformed);
            }
            if rtype == TYPE_OPT {
                opts += 1;
                if section != 2 || owner != [0] || opts > 1 {
                    return Err(Malformed);
                }
            }
            let target = check_rdata(p, rtype, at, end).ok_or(Malformed)?;
            rrs.push(Rr {
                section,
                owner,
                rtype,
                target,
            });
            i = end;
        }
    }
    if i != p.len() {
        return Err(Malformed);
    }
    Ok(rrs)
}

/// Checks `reply` (from the servers of `route`, for `key`) and drops what lies outside the
/// route.
pub fn scrub(
    reply: Vec<u8>,
    key: &Key,
    route: RouteId,
    routes: &Routes,
) -> Result<Scrubbed, BadReply> {
    let rrs = walk(&reply, key)?;
    let in_route = |name: &[u8]| routes.same_servers(routes.lookup(name), route);
    // The chain: the question name, then CNAME targets while they stay in route.
    let follow = !matches!(key.qtype(), 5 | 255);
    let mut chain = vec![key.name().to_vec()];
    let mut dangling = None;
    while follow && chain.len() <= rrs.len() {
        let Some(cur) = chain.last() else { break };
        if rrs
            .iter()
            .any(|r| r.section == 0 && r.rtype == key.qtype() && &r.owner == cur)
        {
            break;
        }
        let next = rrs
            .iter()
            .find(|r| r.section == 0 && r.rtype == TYPE_CNAME && &r.owner == cur)
            .and_then(|r| r.target.clone());
        match next {
            Some(t) if chain.contains(&t) => break,
            Some(t) if in_route(&t) => chain.push(t),
            Some(t) => {
                dangling = Some(t);
                break;
            }
            None => break,
        }
    }
    let keep = |section: u8, owner: &[u8], rtype: u16| match section {
        0 => chain.iter().any(|c| c == owner),
        _ => rtype == TYPE_OPT || in_route(owner),
    };
    let dropped = rrs
        .iter()
        .filter(|r| !keep(r.section, &r.owner, r.rtype))
        .count();
    let bytes = if dropped == 0 {
        reply
    } else {
        rebuild(&reply, &keep).ok_or(BadReply::Malformed)?
    };
    let info = wire::scan_reply(&bytes).ok_or(BadReply::Malformed)?;
    Ok(Scrubbed {
        bytes,
        info,
        dropped,
        dangling,
    })
}

/// The reply without the records `keep` refuses (re-encoded: compression pointers may have
/// pointed into dropped records).
fn rebuild(reply: &[u8], keep: &dyn Fn(u8, &[u8], u16) -> bool) -> Option<Vec<u8>> {
    let mut m = Message::from_vec(reply).ok()?;
    let kept = |section: u8, rs: Vec<Record>| -> Vec<Record> {
        rs.into_iter()
            .filter(|r| {
                let owner = r.name.to_lowercase().to_bytes().unwrap_or_default();
                keep(section, &owner, u16::from(r.record_type()))
            })
            .collect()
    };
    m.answers = kept(0, std::mem::take(&mut m.answers));
    m.authorities = kept(1, std::mem::take(&mut m.authorities));
    m.additionals = kept(2, std::mem::take(&mut m.additionals));
    m.to_vec().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
