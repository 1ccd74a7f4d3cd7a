//! EDNS Client Subnet (RFC 7871) for the routes that ask for it (`--add-subnet`).
//!
//! Owns: the option's wire form in the queries we send (the client's address cut to the
//! configured prefix, RFC 7871 §6), reading the scope the server answered and removing the
//! option from its reply before the reply is cached or sent (our client never asked for it),
//! and the per-client cache for replies with a scope above 0: such a reply was computed for
//! one client and is never served to another (RFC 7871 §7.3.1). Routes not listed get no
//! client address, so client addresses only leave the pod towards servers chosen per route.
//! Must not do I/O.

use std::net::IpAddr;
use std::time::Instant;

use crate::cache::Entry;
use crate::key::{self, Key};
use crate::route::RouteId;
use crate::wire;

/// EDNS option code of Client Subnet.
pub const OPTION_CODE: u16 = 8;
/// UDP payload size we advertise when we add an OPT record ourselves.
const PAYLOAD: u16 = 1232;

/// `--add-subnet`: how much of the client address goes to which routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddSubnet {
    /// Source prefix length for IPv4 clients (0..=32).
    pub v4_prefix: u8,
    /// Source prefix length for IPv6 clients (0..=128).
    pub v6_prefix: u8,
    /// The routes whose servers receive it.
    pub routes: Vec<RouteId>,
}

/// One client subnet option to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    /// The client address (canonical: IPv4-mapped IPv6 is IPv4).
    pub addr: IpAddr,
    /// Source prefix length.
    pub prefix: u8,
}

impl AddSubnet {
    /// The option for `client` when queries of `route` carry one.
    pub fn for_route(&self, route: RouteId, client: IpAddr) -> Option<Subnet> {
        if !self.routes.contains(&route) {
            return None;
        }
        let addr = client.to_canonical();
        let prefix = match addr {
            IpAddr::V4(_) => self.v4_prefix,
            IpAddr::V6(_) => self.v6_prefix,
        };
        Some(Subnet { addr, prefix })
    }
}

/// Parses dnsmasq's `--add-subnet` value: empty (full addresses: 32 and 128, the use autopath
/// needs; dnsmasq sends prefix 0 then), `<v4 prefix>` or `<v4 prefix>,<v6 prefix>`.
pub fn parse_prefixes(value: &str) -> Result<(u8, u8), String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok((32, 128));
    }
    let (v4, v6) = match value.split_once(',') {
        Some((a, b)) => (a.trim(), Some(b.trim())),
        None => (value, None),
    };
    let parse = |s: &str, max: u8| -> Result<u8, String> {
        match s.parse::<u8>() {
            Ok(n) if n <= max => Ok(n),
            _ if s.contains('/') => Err(format!(
                "{s:?}: a fixed address is not supported, give a prefix length"
            )),
            _ => Err(format!("{s:?} is not a prefix length 0..={max}")),
        }
    };
    let v4 = parse(v4, 32)?;
    let v6 = match v6 {
        Some(s) => parse(s, 128)?,
        None => 128,
    };
    Ok((v4, v6))
}

/// The option's bytes: code, length, family, source prefix, scope 0, the address cut to
/// `ceil(prefix / 8)` bytes with the bits past the prefix cleared (RFC 7871 §6).
pub fn option_bytes(s: Subnet) -> Vec<u8> {
    let (family, octets): (u16, Vec<u8>) = match s.addr {
        IpAddr::V4(a) => (1, a.octets().to_vec()),
        IpAddr::V6(a) => (2, a.octets().to_vec()),
    };
    let prefix = s
        .prefix
        .min(u8::try_from(octets.len() * 8).unwrap_or(u8::MAX));
    let keep = usize::from(prefix).div_ceil(8);
    let mut addr = octets[..keep].to_vec();
    if let Some(last) = addr.last_mut()
        && prefix % 8 != 0
    {
        *last &= 0xFFu8 << (8 - prefix % 8);
    }
    let mut out = Vec::with_capacity(8 + keep);
    out.extend_from_slice(&OPTION_CODE.to_be_bytes());
    out.extend_from_slice(&u16::try_from(4 + keep).unwrap_or(0).to_be_bytes());
    out.extend_from_slice(&family.to_be_bytes());
    out.extend_from_slice(&[prefix, 0]);
    out.extend_from_slice(&addr);
    out
}

/// Adds the option to `query` (built by [`wire::build_upstream_query`]: the question, then at
/// most one OPT record, last): into its OPT, or in a new OPT when it had none.
pub fn add(query: &mut Vec<u8>, s: Subnet) {
    let option = option_bytes(s);
    let ar = u16::from_be_bytes([query[10], query[11]]);
    if ar == 0 {
        query[11] = 1;
        query.extend_from_slice(&[0, 0, 41]);
        query.extend_from_slice(&PAYLOAD.to_be_bytes());
        query.extend_from_slice(&[0, 0, 0, 0]);
        query.extend_from_slice(&u16::try_from(option.len()).unwrap_or(0).to_be_bytes());
    } else {
        // Our own OPT is the last record and its RDATA ends the message.
        let Some(rdlen_at) = opt_rdlen_at(query) else {
            return;
        };
        let rdlen = u16::from_be_bytes([query[rdlen_at], query[rdlen_at + 1]]);
        let grown = rdlen.saturating_add(u16::try_from(option.len()).unwrap_or(0));
        query[rdlen_at..rdlen_at + 2].copy_from_slice(&grown.to_be_bytes());
    }
    query.extend_from_slice(&option);
}

/// Offset of the RDLENGTH field of the first OPT record in the additional section.
fn opt_rdlen_at(p: &[u8]) -> Option<usize> {
    records(p)?
        .into_iter()
        .find(|r| r.additional && r.rtype == wire::TYPE_OPT)
        .map(|r| r.rdata - 2)
}

struct Rec {
    start: usize,
    rtype: u16,
    rdata: usize,
    end: usize,
    additional: bool,
}

fn records(p: &[u8]) -> Option<Vec<Rec>> {
    let count = |at: usize| {
        Some(usize::from(u16::from_be_bytes([
            *p.get(at)?,
            *p.get(at + 1)?,
        ])))
    };
    let (qd, an, ns, ar) = (count(4)?, count(6)?, count(8)?, count(10)?);
    let mut i = wire::HEADER;
    for _ in 0..qd {
        i = wire::skip_name(p, i)? + 4;
    }
    let mut out = Vec::with_capacity(an + ns + ar);
    for n in 0..an + ns + ar {
        let start = i;
        i = wire::skip_name(p, i)?;
        let rtype = u16::from_be_bytes([*p.get(i)?, *p.get(i + 1)?]);
        let rdlen = usize::from(u16::from_be_bytes([*p.get(i + 8)?, *p.get(i + 9)?]));
        let rdata = i + 10;
        let end = rdata + rdlen;
        if end > p.len() {
            return None;
        }
        out.push(Rec {
            start,
            rtype,
            rdata,
            end,
            additional: n >= an + ns,
        });
        i = end;
    }
    Some(out)
}

/// Takes the client subnet option out of an upstream `reply` and returns its scope prefix
/// length (0 when absent). With `keep_opt` false (our client sent no EDNS) the whole OPT
/// record goes. `None` when the reply is malformed.
pub fn strip(reply: &mut Vec<u8>, keep_opt: bool) -> Option<u8> {
    let opt = records(reply)?
        .into_iter()
        .find(|r| r.additional && r.rtype == wire::TYPE_OPT)?;
    let mut scope = 0;
    let mut kept = Vec::with_capacity(opt.end - opt.rdata);
    let mut at = opt.rdata;
    while at + 4 <= opt.end {
        let code = u16::from_be_bytes([reply[at], reply[at + 1]]);
        let len = usize::from(u16::from_be_bytes([reply[at + 2], reply[at + 3]]));
        let next = (at + 4 + len).min(opt.end);
        if code == OPTION_CODE {
            scope = reply.get(at + 7).copied().filter(|_| len >= 4).unwrap_or(0);
        } else {
            kept.extend_from_slice(&reply[at..next]);
        }
        at = next;
    }
    let tail = reply.split_off(opt.end);
    if keep_opt {
        reply.truncate(opt.rdata);
        let rdlen = u16::try_from(kept.len()).ok()?;
        reply[opt.rdata - 2..opt.rdata].copy_from_slice(&rdlen.to_be_bytes());
        reply.extend_from_slice(&kept);
    } else {
        reply.truncate(opt.start);
        let ar = u16::from_be_bytes([reply[10], reply[11]]).saturating_sub(1);
        reply[10..12].copy_from_slice(&ar.to_be_bytes());
    }
    reply.extend_from_slice(&tail);
    Some(scope)
}

/// Replies that depend on their client, one entry per (question, client). Bounded like the
/// main cache (`--cache-size` entries, LRU); the whole key is compared, so an entry can only
/// be served to the client it was computed for.
#[derive(Clone)]
pub struct ClientCache {
    inner: Option<moka::sync::Cache<Box<[u8]>, Entry>>,
}

/// The question key followed by the client address (16 bytes, IPv4 as mapped IPv6).
fn client_key<'b>(key: &Key, client: IpAddr, buf: &'b mut [u8; key::MAX_KEY + 16]) -> &'b [u8] {
    let key = key.as_bytes();
    let n = key.len().min(key::MAX_KEY);
    buf[..n].copy_from_slice(&key[..n]);
    let octets = match client.to_canonical() {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    };
    buf[n..n + 16].copy_from_slice(&octets);
    &buf[..n + 16]
}

impl ClientCache {
    /// A cache of `capacity` entries (0: stores nothing).
    pub fn new(capacity: u64) -> Self {
        ClientCache {
            inner: (capacity > 0).then(|| moka::sync::Cache::new(capacity)),
        }
    }

    /// The fresh entry for `key` computed for `client`.
    pub fn get(&self, key: &Key, client: IpAddr, now: Instant) -> Option<Entry> {
        let c = self.inner.as_ref()?;
        let mut buf = [0u8; key::MAX_KEY + 16];
        c.get(client_key(key, client, &mut buf))
            .filter(|e| e.fresh(now))
    }

    /// Stores `entry` for `key` and `client` when it has a lifetime.
    pub fn insert(&self, key: &Key, client: IpAddr, entry: Entry) {
        if let Some(c) = &self.inner
            && entry.lifetime() > 0
        {
            let mut buf = [0u8; key::MAX_KEY + 16];
            c.insert(client_key(key, client, &mut buf).into(), entry);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
