//! Autopath: a Pod's search path walked on the server, so that a lookup through `ndots:5`
//! costs one round trip instead of four.
//!
//! A Pod in namespace `<ns>` has the search path `<ns>.svc.<zone>`, `svc.<zone>`, `<zone>`;
//! its resolver asks `<base>.<ns>.svc.<zone>` first. When that name does not exist and the
//! client is a Pod of `<ns>`, the answer is a CNAME from the asked name to the first of
//! `<base>.svc.<zone>`, `<base>.<zone>` that exists, with that name's records, or else a CNAME
//! to `<base>.`, which the cache in front resolves through its own routes (as it completes
//! ExternalName targets). Names that exist, and clients that are not known Pods, get the
//! answer they get without autopath.
//!
//! The client is the packet's source, or the address in an EDNS Client Subnet option
//! (RFC 7871) when the packet comes from a trusted source (the cache in the same pod). Every
//! answer whose content depended on the client carries that option back with a scope equal
//! to the source prefix (RFC 7871 §7.2.1), so a cache never shares it with another client.
//!
//! [`decide`] is pure (snapshot, question, client in; decision out). [`Autopath::apply`] is
//! the handler's hook: it finds the client, asks [`decide`], counts and sets the option.

use std::net::IpAddr;

use hickory_proto::op::{Edns, ResponseCode};
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_server::zone_handler::MessageRequest;
use ipnet::IpNet;
use kubedns_records::{Answer, ZoneSnapshot};

use crate::metrics::{AutopathMetrics, AutopathOutcome};

/// TTL of the CNAME when the negative answer it replaces carries no SOA (never in practice).
const FALLBACK_TTL: u32 = 5;

/// Who asked, as far as autopath can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// A full address (the packet's source, or a /32 or /128 client subnet).
    Addr(IpAddr),
    /// A client subnet shorter than a full address: no single Pod.
    Subnet,
}

/// What autopath does with one query.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Not a missing first-search-path name: the zone's answer, which does not depend on the
    /// client.
    Untouched(Answer),
    /// The client decided: answer `answer` (the original one when autopath did not apply).
    Depends {
        /// The reply to send.
        answer: Answer,
        /// What autopath did.
        outcome: AutopathOutcome,
    },
}

/// Decides the reply to `qname`/`qtype`/`qclass` from `client`, given `asked`, the zone's own
/// answer to that question.
pub fn decide(
    snap: &ZoneSnapshot,
    qname: &Name,
    qtype: RecordType,
    qclass: DNSClass,
    asked: Answer,
    client: Client,
) -> Decision {
    if asked.rcode != ResponseCode::NXDomain || qclass != DNSClass::IN {
        return Decision::Untouched(asked);
    }
    let Some((base, ns)) = first_search_shape(qname, snap.zone()) else {
        return Decision::Untouched(asked);
    };
    let not_applied = |answer, outcome| Decision::Depends { answer, outcome };
    let pod_ns = match client {
        Client::Subnet => return not_applied(asked, AutopathOutcome::ShortPrefix),
        Client::Addr(ip) => match snap.pod_namespace(ip.to_canonical()) {
            Some(n) => n,
            None => return not_applied(asked, AutopathOutcome::UnknownClient),
        },
    };
    if !pod_ns.as_bytes().eq_ignore_ascii_case(&ns) {
        return not_applied(asked, AutopathOutcome::OtherNamespace);
    }
    let ttl = asked.authority.first().map_or(FALLBACK_TTL, |soa| soa.ttl);
    let svc = base.iter().map(Vec::as_slice).chain([&b"svc"[..]]);
    let in_zone = [
        Name::from_labels(svc),
        Name::from_labels(base.iter().map(Vec::as_slice)),
    ];
    for candidate in in_zone.into_iter().flatten() {
        let Ok(target) = candidate.append_domain(snap.zone()) else {
            continue;
        };
        let found = snap.answer(&target, qtype, qclass);
        if found.rcode != ResponseCode::NXDomain {
            return Decision::Depends {
                answer: with_cname(qname, target, ttl, found),
                outcome: AutopathOutcome::InZone,
            };
        }
    }
    let Ok(mut bare) = Name::from_labels(base.iter().map(Vec::as_slice)) else {
        return not_applied(asked, AutopathOutcome::UnknownClient);
    };
    bare.set_fqdn(true);
    // The bare name is usually outside the zone: the CNAME alone, the cache completes it. When
    // it is ours after all (a reverse name, say), answer it here as the resolver would hear it.
    let found = snap.answer(&bare, qtype, qclass);
    let answer = if found.rcode == ResponseCode::Refused {
        with_cname(qname, bare, ttl, Answer::refused())
    } else {
        with_cname(qname, bare, ttl, found)
    };
    Decision::Depends {
        answer,
        outcome: AutopathOutcome::OutsideCname,
    }
}

/// `(base labels, namespace label)` when `qname` is `<base>.<ns>.svc.<zone>` with a base of at
/// least one label. Labels keep the question's spelling.
fn first_search_shape(qname: &Name, zone: &Name) -> Option<(Vec<Vec<u8>>, Vec<u8>)> {
    let mut q = qname.clone();
    q.set_fqdn(true);
    if !zone.zone_of(&q) {
        return None;
    }
    let labels: Vec<&[u8]> = q.iter().collect();
    let rel = labels.get(..labels.len().checked_sub(zone.iter().count())?)?;
    let [base @ .., ns, svc] = rel else {
        return None;
    };
    if base.is_empty() || !svc.eq_ignore_ascii_case(b"svc") {
        return None;
    }
    Some((base.iter().map(|l| l.to_vec()).collect(), ns.to_vec()))
}

/// `found` with a CNAME from `owner` to `target` in front. A REFUSED `found` (a target that is
/// not ours) becomes a NOERROR answer with the CNAME alone.
fn with_cname(owner: &Name, target: Name, ttl: u32, found: Answer) -> Answer {
    let mut owner = owner.clone();
    owner.set_fqdn(true);
    let cname = Record::from_rdata(owner, ttl, RData::CNAME(CNAME(target)));
    let mut answers = Vec::with_capacity(found.answers.len() + 1);
    answers.push(cname);
    if found.rcode == ResponseCode::Refused {
        return Answer {
            rcode: ResponseCode::NoError,
            authoritative: true,
            answers,
            authority: Vec::new(),
            additionals: Vec::new(),
        };
    }
    answers.extend(found.answers);
    Answer {
        rcode: found.rcode,
        authoritative: true,
        answers,
        authority: found.authority,
        additionals: found.additionals,
    }
}

/// Autopath settings and counters, shared by every handler clone.
#[derive(Debug, Clone)]
pub struct Autopath {
    trusted: Vec<IpNet>,
    metrics: AutopathMetrics,
}

impl Autopath {
    /// Autopath trusting client subnets from `trusted` sources.
    pub fn new(trusted: Vec<IpNet>, metrics: AutopathMetrics) -> Self {
        Autopath { trusted, metrics }
    }

    /// The handler's hook: the reply to `request` (from `src`) given the zone's answer `asked`.
    /// Sets the client subnet option of the response `edns` when the client came from one.
    pub fn apply(
        &self,
        snap: &ZoneSnapshot,
        request: &MessageRequest,
        src: IpAddr,
        asked: Answer,
        edns: &mut Option<Edns>,
    ) -> Answer {
        let Some(q) = request.queries.queries().first() else {
            return asked;
        };
        let (client, subnet) = self.client(request, src);
        let o = q.original();
        match decide(
            snap,
            o.name(),
            o.query_type(),
            o.query_class(),
            asked,
            client,
        ) {
            Decision::Untouched(answer) => {
                echo(subnet, 0, edns);
                answer
            }
            Decision::Depends { answer, outcome } => {
                self.metrics.outcome(outcome);
                let scope = subnet.as_ref().map_or(0, ClientSubnet::source_prefix);
                echo(subnet, scope, edns);
                answer
            }
        }
    }

    /// The client of `request`, and the client subnet option it came from (when trusted).
    fn client(&self, request: &MessageRequest, src: IpAddr) -> (Client, Option<ClientSubnet>) {
        let source = src.to_canonical();
        let subnet = request
            .edns
            .as_ref()
            .and_then(|e| match e.option(EdnsCode::Subnet) {
                Some(EdnsOption::Subnet(s)) => Some(*s),
                _ => None,
            });
        let Some(subnet) = subnet else {
            return (Client::Addr(source), None);
        };
        if !self.trusted.iter().any(|net| net.contains(&source)) {
            self.metrics.untrusted_subnet.inc();
            return (Client::Addr(source), None);
        }
        let addr = subnet.addr().to_canonical();
        let full = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if subnet.source_prefix() < full {
            return (Client::Subnet, Some(subnet));
        }
        (Client::Addr(addr), Some(subnet))
    }
}

/// Puts the client subnet option, with `scope`, into the response EDNS (RFC 7871 §7.2.1: the
/// family, source prefix and address as asked).
fn echo(subnet: Option<ClientSubnet>, scope: u8, edns: &mut Option<Edns>) {
    let (Some(mut subnet), Some(edns)) = (subnet, edns.as_mut()) else {
        return;
    };
    subnet.set_scope_prefix(scope);
    edns.options_mut().insert(EdnsOption::Subnet(subnet));
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
