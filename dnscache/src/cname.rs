//! CNAME completion across routes (kubernetes/dns#243): when a routed server answers with a
//! CNAME chain whose target lies in another route (an ExternalName into a stub domain or to
//! the outside world), the target is resolved through our own routing and its records are
//! appended, so the client gets the chain and the addresses.
//!
//! Owns: the loop guard (a name seen earlier in the chain, or more than [`MAX_DEPTH`] hops,
//! gives SERVFAIL) and merging the target's answer into the reply. Finding the target is
//! [`crate::scrub`]'s job, resolving it the pipeline's: this module gets both passed in.
//! Must not do I/O.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::key::Key;
use crate::wire::{self, Rcode, ReplyInfo};

/// Most cross-route hops in one answer.
pub const MAX_DEPTH: usize = 8;

/// The chain of cross-route hops would loop or is too long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loop;

/// The key to resolve next for `key`, whose reply (`info`) ends in `target`, a name of
/// another route. `visited` holds the names asked so far in this chain. `Ok(None)`: nothing
/// to complete (not an IN question, or not a NOERROR answer).
pub fn next(
    key: &Key,
    info: &ReplyInfo,
    target: &[u8],
    depth: usize,
    visited: &mut Vec<Vec<u8>>,
) -> Result<Option<Key>, Loop> {
    if key.qclass() != 1 || info.rcode != Rcode::NOERROR {
        return Ok(None);
    }
    visited.push(key.name().to_vec());
    if depth >= MAX_DEPTH || visited.iter().any(|v| v == target) {
        tracing::debug!(target = %wire::name_to_string(target), "CNAME loop across routes");
        return Err(Loop);
    }
    Ok(key.with_name(target))
}

/// `reply` with the answers of `sub` (the target's reply, TTLs already aged) appended; when
/// the chain ends without data, `sub`'s response code and authority section (its SOA).
pub fn merge(reply: &[u8], sub: &[u8]) -> Option<(Vec<u8>, ReplyInfo)> {
    let mut msg = Message::from_vec(reply).ok()?;
    let sub = Message::from_vec(sub).ok()?;
    let sub_rcode = sub.metadata.response_code;
    for r in sub.answers {
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
        msg.authorities = sub.authorities;
    }
    let merged = msg.to_vec().ok()?;
    let info = wire::scan_reply(&merged)?;
    Some((merged, info))
}
