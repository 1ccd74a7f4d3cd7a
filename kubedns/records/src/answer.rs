//! The answer path: a [`ZoneSnapshot`] and a question to records in a [`Sink`]. Parses the
//! question the way CoreDNS's `parseRequest` does (labels below the zone, the Service named
//! by `<svc>.<ns>.svc`), asks the record kinds in order (`kind::KINDS`, one trait), chases
//! in-zone CNAMEs (bounded, loop-safe), and turns "no such name" and "no data" into NXDOMAIN /
//! NODATA with the SOA in Authority (TTL `--neg-ttl`). Names outside the zone and the reverse
//! zones: REFUSED. Must not panic on any input, and must not allocate for a name in the
//! cluster zone: labels live in fixed arrays and names are borrowed ([`NameRef`]).

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};

use crate::kind::{Found, KINDS, Question, headless, ptr};
use crate::model::{Port, Proto};
use crate::sink::{Collect, Data, NameRef, Outcome, Section, Sink, Tally};
use crate::snapshot::ZoneSnapshot;

/// CNAME chase depth limit (kube-dns uses 8).
const MAX_CHASE: usize = 8;
/// Labels in a name: at most 127 (255 octets, RFC 1035 §2.3.4).
pub const MAX_LABELS: usize = 127;

/// Answers `qname` into hickory records (the reference path).
pub(crate) fn answer(
    snap: &ZoneSnapshot,
    qname: &Name,
    qtype: RecordType,
    qclass: DNSClass,
) -> crate::Answer {
    let mut asked = qname.clone();
    asked.set_fqdn(true);
    let lower = asked.to_lowercase();
    let labels: Vec<&[u8]> = lower.iter().collect();
    let mut sink = Collect::new(&asked);
    let outcome = answer_into(snap, &labels, qtype, qclass, &mut sink);
    sink.finish(outcome)
}

/// Answers the name whose labels are `labels` (absolute, lower-cased, leftmost first, the
/// root excluded) into `out`; records at the asked name are owned by [`NameRef::Asked`].
pub(crate) fn answer_into(
    snap: &ZoneSnapshot,
    labels: &[&[u8]],
    qtype: RecordType,
    qclass: DNSClass,
    out: &mut dyn Sink,
) -> Outcome {
    if !matches!(qclass, DNSClass::IN | DNSClass::ANY) || labels.len() > MAX_LABELS {
        return REFUSED;
    }
    let Some(rel) = below_zone(labels, &snap.zone) else {
        return match crate::name::parse_reverse_labels(labels) {
            Some(_) => ptr::answer(snap, labels, qtype, out),
            None => REFUSED,
        };
    };
    let mut tally = Tally::new(out);
    match lookup(snap, rel, NameRef::Asked, qtype, &mut tally) {
        Found::Exists if tally.answers > 0 => POSITIVE,
        Found::Exists => negative(snap, ResponseCode::NoError, out),
        Found::Missing => negative(snap, ResponseCode::NXDomain, out),
        Found::Alias(target) => chase(snap, labels, target, qtype, out),
    }
}

const REFUSED: Outcome = Outcome {
    rcode: ResponseCode::Refused,
    authoritative: false,
};

const POSITIVE: Outcome = Outcome {
    rcode: ResponseCode::NoError,
    authoritative: true,
};

/// The labels of `labels` below `zone` (lower-case), or `None` when the name is not in it.
/// A root zone holds nothing.
fn below_zone<'l, 'a>(labels: &'l [&'a [u8]], zone: &Name) -> Option<&'l [&'a [u8]]> {
    let n = usize::from(zone.num_labels());
    let keep = labels.len().checked_sub(n).filter(|_| n > 0)?;
    let (rel, tail) = labels.split_at(keep);
    tail.iter()
        .zip(zone.iter())
        .all(|(a, b)| *a == b)
        .then_some(rel)
}

/// NXDOMAIN or NODATA: the zone SOA in Authority with TTL `--neg-ttl`.
fn negative(snap: &ZoneSnapshot, rcode: ResponseCode, out: &mut dyn Sink) -> Outcome {
    let soa = Data::Soa(snap.soa_data());
    out.record(
        Section::Authority,
        NameRef::Name(&snap.zone),
        snap.neg_ttl,
        soa,
    );
    Outcome {
        rcode,
        authoritative: true,
    }
}

/// CNAME at the asked name to `target`, then the target's records when it is in the zone.
fn chase(
    snap: &ZoneSnapshot,
    asked: &[&[u8]],
    target: &Name,
    qtype: RecordType,
    out: &mut dyn Sink,
) -> Outcome {
    let ttl = snap.ttl;
    let cname = Data::Cname(NameRef::Name(target));
    out.record(Section::Answer, NameRef::Asked, ttl, cname);
    if matches!(qtype, RecordType::CNAME | RecordType::ANY) {
        return POSITIVE;
    }
    let mut seen: [Option<&Name>; MAX_CHASE] = [None; MAX_CHASE];
    let mut current = target;
    for slot in 0..MAX_CHASE {
        let looped = seen.iter().flatten().any(|n| *n == current) || same_name(current, asked);
        if !snap.zone.zone_of(current) || looped {
            break;
        }
        if let Some(s) = seen.get_mut(slot) {
            *s = Some(current);
        }
        let mut buf: [&[u8]; MAX_LABELS] = [&[]; MAX_LABELS];
        let n = current
            .iter()
            .zip(buf.iter_mut())
            .map(|(l, b)| *b = l)
            .count();
        let labels = buf.get(..n).unwrap_or(&[]);
        let Some(rel) = below_zone(labels, &snap.zone) else {
            break;
        };
        let mut tally = Tally::new(out);
        match lookup(snap, rel, NameRef::Name(current), qtype, &mut tally) {
            Found::Exists if tally.answers > 0 => return POSITIVE,
            Found::Exists => return negative(snap, ResponseCode::NoError, out),
            Found::Missing => return negative(snap, ResponseCode::NXDomain, out),
            Found::Alias(next) => {
                let cname = Data::Cname(NameRef::Name(next));
                out.record(Section::Answer, NameRef::Name(current), ttl, cname);
                current = next;
            }
        }
    }
    POSITIVE
}

/// True when `name` is the name whose lower-cased labels are `labels`.
fn same_name(name: &Name, labels: &[&[u8]]) -> bool {
    usize::from(name.num_labels()) == labels.len()
        && name
            .iter()
            .zip(labels)
            .all(|(a, b)| a.eq_ignore_ascii_case(b))
}

/// Looks up one in-zone name (`rel`: its labels below the zone, lower-cased) by asking each
/// kind in turn; `owner` owns its records.
fn lookup<'z>(
    snap: &'z ZoneSnapshot,
    rel: &[&[u8]],
    owner: NameRef<'_>,
    qtype: RecordType,
    out: &mut dyn Sink,
) -> Found<'z> {
    // Labels are text (kube-dns parses names as strings): other octets name nothing.
    // (ASCII is checked first: it is every real name, and the cheaper test.)
    if rel
        .iter()
        .any(|l| !l.is_ascii() && std::str::from_utf8(l).is_err())
    {
        return Found::Missing;
    }
    let service = match rel {
        [below @ .., name, ns, b"svc"] => match snap.service(ns, name) {
            Some(svc) => Some((svc, below)),
            None => return Found::Missing,
        },
        _ => None,
    };
    let q = Question {
        labels: rel,
        owner,
        qtype,
        service,
    };
    KINDS
        .iter()
        .find_map(|kind| kind.lookup(snap, &q, out))
        .unwrap_or(Found::Missing)
}

/// Every record of the zone: each owner name asked for each type, answers owned by that name.
pub(crate) fn dump(snap: &ZoneSnapshot) -> Vec<Record> {
    const TYPES: [RecordType; 8] = [
        RecordType::SOA,
        RecordType::NS,
        RecordType::A,
        RecordType::AAAA,
        RecordType::CNAME,
        RecordType::SRV,
        RecordType::PTR,
        RecordType::TXT,
    ];
    let mut names: Vec<Name> = vec![snap.zone.clone(), snap.ns_name.clone()];
    names.extend(snap.zone.prepend_label("dns-version").ok());
    for svc in snap.services() {
        names.push(svc.name().clone());
        let port = |p: &Port| (svc.port_name(p), p.proto);
        let mut ports: Vec<(&str, Proto)> = svc.ports().iter().map(port).collect();
        for ep in svc.endpoints() {
            names.extend(headless::endpoint_name(svc, ep));
            ports.extend(svc.group_ports(ep.group).iter().map(port));
        }
        ports.sort();
        ports.dedup();
        for (port, proto) in ports.into_iter().filter(|(n, _)| !n.is_empty()) {
            let srv = svc
                .name()
                .prepend_label(proto.label())
                .and_then(|n| n.prepend_label(format!("_{port}")));
            names.extend(srv.ok());
        }
    }
    for ip in snap.reverse.ips() {
        names.extend(crate::name::reverse_name(ip));
    }
    for (ns, ip) in &snap.pod_ips {
        let name = snap
            .zone
            .prepend_label("pod")
            .and_then(|n| n.prepend_label(&**ns))
            .and_then(|n| n.prepend_label(crate::name::dashed_ip(*ip)));
        names.extend(name.ok());
    }
    names.sort();
    names.dedup();
    let mut out = Vec::new();
    for name in &names {
        for t in TYPES {
            let a = snap.answer(name, t, DNSClass::IN);
            out.extend(a.answers.into_iter().filter(|r| r.name == *name));
            out.extend(a.additionals);
        }
    }
    out
}
