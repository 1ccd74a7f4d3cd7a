//! CNAME completion across routes (kubernetes/dns#243): when a routed server answers with a
//! CNAME chain whose last target lies in another route (an ExternalName into a stub domain or
//! to the outside world), the target is resolved through our own routing and its records are
//! appended, so the client gets the chain and the addresses.
//!
//! Owns: following the chain in one reply, the cross-route decision, the loop guard (a name
//! seen earlier in the chain, or more than [`MAX_DEPTH`] hops, gives SERVFAIL) and merging.
//! Sub-resolutions bypass miss coalescing, so two chains pointing at each other cannot wait
//! on each other. Must not touch sockets (it calls back into the pipeline).

use std::sync::Arc;
use std::time::Instant;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use hickory_proto::serialize::binary::BinEncodable;

use crate::pipeline::{Failed, Pipeline};
use crate::route::RouteId;
use crate::wire::{self, ReplyInfo};

/// Most cross-route hops in one answer.
pub const MAX_DEPTH: usize = 8;

/// The end of the CNAME chain starting at `qname` in `msg`'s answers, when the chain has at
/// least one link and nothing of `qtype` sits at its end. `Err` on a loop inside the reply.
fn dangling_target(msg: &Message, qname: &Name, qtype: RecordType) -> Result<Option<Name>, Failed> {
    let mut cur = qname.clone();
    let mut hops = 0;
    loop {
        if msg
            .answers
            .iter()
            .any(|r| r.record_type() == qtype && r.name == cur)
        {
            return Ok(None);
        }
        let next = msg.answers.iter().find_map(|r| match &r.data {
            RData::CNAME(c) if r.name == cur => Some(c.0.clone()),
            _ => None,
        });
        match next {
            Some(n) => {
                hops += 1;
                if hops > msg.answers.len() {
                    return Err(Failed);
                }
                cur = n;
            }
            None if hops == 0 => return Ok(None),
            None => return Ok(Some(cur)),
        }
    }
}

/// Completes the reply `bytes` (from `route`, for `key`) when its CNAME chain leaves the route.
pub(crate) async fn complete(
    p: &Arc<Pipeline>,
    route: RouteId,
    key: &[u8],
    bytes: Vec<u8>,
    info: ReplyInfo,
    depth: usize,
    mut visited: Vec<Vec<u8>>,
) -> Result<(Vec<u8>, ReplyInfo), Failed> {
    let n = key.len();
    let qtype = RecordType::from(u16::from_be_bytes([key[n - 5], key[n - 4]]));
    let qclass = u16::from_be_bytes([key[n - 3], key[n - 2]]);
    let unchanged = |bytes, info| Ok((bytes, info));
    if matches!(qtype, RecordType::CNAME | RecordType::ANY)
        || qclass != u16::from(DNSClass::IN)
        || info.rcode != wire::rcode::NOERROR
    {
        return unchanged(bytes, info);
    }
    let Ok(mut msg) = Message::from_vec(&bytes) else {
        return unchanged(bytes, info);
    };
    let Some(qname) = msg.queries.first().map(|q| q.name().clone()) else {
        return unchanged(bytes, info);
    };
    let Some(target) = dangling_target(&msg, &qname, qtype)? else {
        return unchanged(bytes, info);
    };
    let Ok(target_wire) = target.to_lowercase().to_bytes() else {
        return unchanged(bytes, info);
    };
    if p.routes.lookup(&target_wire) == route {
        // The server that owns the route already had its chance.
        return unchanged(bytes, info);
    }
    visited.push(key[..n - 5].to_vec());
    if depth >= MAX_DEPTH || visited.contains(&target_wire) {
        tracing::debug!(target = %target, "CNAME loop across routes");
        return Err(Failed);
    }
    let mut sub_key = target_wire;
    sub_key.extend_from_slice(&key[n - 5..]);
    let sub = match p.cache.peek(&sub_key, Instant::now()) {
        Some(e) => e,
        None => p.resolve(&sub_key, depth + 1, visited, None).await?,
    };
    let Ok(sub_msg) = Message::from_vec(sub.bytes()) else {
        return Err(Failed);
    };
    let sub_rcode = sub_msg.metadata.response_code;
    for r in sub_msg.answers {
        if !msg.answers.contains(&r) {
            msg.answers.push(r);
        }
    }
    if sub_rcode == ResponseCode::NXDomain
        || msg
            .answers
            .iter()
            .all(|r| r.record_type() == RecordType::CNAME)
    {
        msg.metadata.response_code = sub_rcode;
        msg.authorities = sub_msg.authorities;
    }
    let Ok(merged) = msg.to_vec() else {
        return Err(Failed);
    };
    let info = wire::scan_reply(&merged).ok_or(Failed)?;
    Ok((merged, info))
}
