//! The answer path: a [`ZoneSnapshot`] and a question to an [`Answer`]. Parses the question
//! the way CoreDNS's `parseRequest` does (apex, `dns-version`, `ns.dns`, `svc`, `pod`), hands
//! each name to its record kind, chases in-zone CNAMEs (bounded, loop-safe), and turns "no
//! such name" and "no data" into NXDOMAIN / NODATA with the SOA in Authority (TTL
//! `--neg-ttl`). Names outside the zone and the reverse zones: REFUSED. Must not panic on
//! any input and must not allocate per endpoint beyond the records it returns.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{NS, SOA, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::Answer;
use crate::kind::{
    Reply, address_records, cluster_ip, data_or_nodata, external_name, headless, negative, pod,
    positive, ptr,
};
use crate::model::{Proto, Svc, SvcKind};
use crate::name::{lower, relative_labels};
use crate::snapshot::ZoneSnapshot;

/// The schema version of the specification we implement (§2.2).
pub const DNS_SCHEMA_VERSION: &str = "1.1.0";
/// CNAME chase depth limit (kube-dns uses 8).
const MAX_CHASE: usize = 8;

/// The result of looking one in-zone name up.
enum Lookup<'a> {
    /// The name exists; an empty reply is NODATA.
    Data(Reply),
    /// The name does not exist.
    NxDomain,
    /// An ExternalName: CNAME to this target.
    Cname(&'a Name),
}

pub(crate) fn answer(
    snap: &ZoneSnapshot,
    qname: &Name,
    qtype: RecordType,
    qclass: DNSClass,
) -> Answer {
    if !matches!(qclass, DNSClass::IN | DNSClass::ANY) {
        return Answer::refused();
    }
    let mut q = qname.clone();
    q.set_fqdn(true);
    if snap.zone.num_labels() == 0 || !snap.zone.zone_of(&q) {
        return match crate::name::parse_reverse(&q) {
            Some(_) => ptr::answer(snap, &q, qtype),
            None => Answer::refused(),
        };
    }
    let first = match lookup(snap, &q, qtype) {
        Lookup::Data(reply) => return data_or_nodata(reply, || zone_soa(snap)),
        Lookup::NxDomain => return negative(ResponseCode::NXDomain, zone_soa(snap)),
        Lookup::Cname(target) => target,
    };
    chase(snap, &q, first, qtype)
}

/// CNAME at `owner` to `target`, then the target's records when it is in the zone.
fn chase(snap: &ZoneSnapshot, owner: &Name, target: &Name, qtype: RecordType) -> Answer {
    let mut answers = vec![external_name::cname(owner, target, snap.ttl)];
    if matches!(qtype, RecordType::CNAME | RecordType::ANY) {
        return positive(answers, Vec::new());
    }
    let mut seen: Vec<Name> = vec![owner.clone()];
    let mut current = target;
    for _ in 0..MAX_CHASE {
        if !snap.zone.zone_of(current) || seen.contains(current) {
            break;
        }
        seen.push(current.clone());
        match lookup(snap, current, qtype) {
            Lookup::Data(reply) if reply.answers.is_empty() => {
                let mut a = negative(ResponseCode::NoError, zone_soa(snap));
                a.answers = answers;
                return a;
            }
            Lookup::Data(reply) => {
                answers.extend(reply.answers);
                return positive(answers, reply.additionals);
            }
            Lookup::NxDomain => {
                let mut a = negative(ResponseCode::NXDomain, zone_soa(snap));
                a.answers = answers;
                return a;
            }
            Lookup::Cname(next) => {
                answers.push(external_name::cname(current, next, snap.ttl));
                current = next;
            }
        }
    }
    positive(answers, Vec::new())
}

/// Looks up one absolute in-zone name; `owner` is the name as asked (its spelling is kept).
fn lookup<'a>(snap: &'a ZoneSnapshot, owner: &Name, qtype: RecordType) -> Lookup<'a> {
    let Some(rel) = relative_labels(owner, &snap.zone) else {
        return Lookup::NxDomain;
    };
    let Some(rel) = rel
        .iter()
        .map(|l| lower(l).map(String::into_bytes))
        .collect::<Option<Vec<_>>>()
    else {
        return Lookup::NxDomain;
    };
    let ttl = snap.ttl;
    let mut reply = Reply::default();
    match rel.as_slice() {
        [] => apex(snap, owner, qtype, &mut reply),
        [v] if v == b"dns-version" => {
            if matches!(qtype, RecordType::TXT | RecordType::ANY) {
                let txt = TXT::new(vec![DNS_SCHEMA_VERSION.to_string()]);
                reply
                    .answers
                    .push(Record::from_rdata(owner.clone(), ttl, RData::TXT(txt)));
            }
        }
        [d] if d == b"dns" => {}
        [n, d] if d == b"dns" && n == b"ns" => {
            address_records(
                snap.glue.iter().copied(),
                owner,
                qtype,
                ttl,
                &mut reply.answers,
            );
        }
        [rest @ .., p] if p == b"pod" => {
            return match pod::lookup(snap, rest, owner, qtype) {
                Some(r) => Lookup::Data(r),
                None => Lookup::NxDomain,
            };
        }
        [s] if s == b"svc" => {}
        [ns, s] if s == b"svc" => {
            if !std::str::from_utf8(ns).is_ok_and(|ns| snap.namespace_exists(ns)) {
                return Lookup::NxDomain;
            }
        }
        [below @ .., name, ns, s] if s == b"svc" => {
            let svc = match (std::str::from_utf8(ns), std::str::from_utf8(name)) {
                (Ok(ns), Ok(name)) => snap.service(ns, name),
                _ => None,
            };
            let Some(svc) = svc else {
                return Lookup::NxDomain;
            };
            return service(svc, below, owner, qtype, ttl);
        }
        _ => return Lookup::NxDomain,
    }
    Lookup::Data(reply)
}

/// Names at and below `<svc>.<ns>.svc.<zone>`; `below` are the labels left of the Service name.
fn service<'a>(
    svc: &'a Svc,
    below: &[Vec<u8>],
    owner: &Name,
    qtype: RecordType,
    ttl: u32,
) -> Lookup<'a> {
    let mut reply = Reply::default();
    match (&svc.kind, below) {
        (SvcKind::ExternalName(target), []) => {
            return Lookup::Cname(target);
        }
        (SvcKind::ExternalName(_), _) => return Lookup::NxDomain,
        (SvcKind::Headless, _) if svc.endpoints.is_empty() => return Lookup::NxDomain,
        (SvcKind::ClusterIp(ips), []) => {
            cluster_ip::at_name(svc, ips, owner, qtype, ttl, &mut reply)
        }
        (SvcKind::Headless, []) => headless::at_name(svc, owner, qtype, ttl, &mut reply),
        (_, [label]) => {
            if let Some(proto) = proto_label(label) {
                let exists = match &svc.kind {
                    SvcKind::ClusterIp(_) => cluster_ip::has_proto(svc, proto),
                    _ => headless::has_proto(svc, proto),
                };
                return if exists {
                    Lookup::Data(reply)
                } else {
                    Lookup::NxDomain
                };
            }
            let eps = svc.endpoints_labelled(label);
            if eps.is_empty() {
                return Lookup::NxDomain;
            }
            headless::at_endpoint(eps, owner, qtype, ttl, &mut reply);
        }
        (kind, [port, proto]) => {
            let (Some(proto), Some(port)) = (proto_label(proto), port.strip_prefix(b"_")) else {
                return Lookup::NxDomain;
            };
            let Ok(port) = std::str::from_utf8(port) else {
                return Lookup::NxDomain;
            };
            let named = Some((port, proto));
            let want = matches!(qtype, RecordType::SRV | RecordType::ANY);
            match kind {
                SvcKind::ClusterIp(ips) => {
                    if !svc
                        .ports
                        .iter()
                        .any(|p| !p.name.is_empty() && *p.name == *port && p.proto == proto)
                    {
                        return Lookup::NxDomain;
                    }
                    if want {
                        cluster_ip::srv(svc, ips, owner, named, ttl, &mut reply);
                    }
                }
                _ => {
                    if !headless::has_port(svc, port, proto) {
                        return Lookup::NxDomain;
                    }
                    if want {
                        headless::srv(svc, owner, named, ttl, &mut reply);
                    }
                }
            }
        }
        _ => return Lookup::NxDomain,
    }
    Lookup::Data(reply)
}

fn proto_label(label: &[u8]) -> Option<Proto> {
    match label {
        b"_tcp" => Some(Proto::Tcp),
        b"_udp" => Some(Proto::Udp),
        b"_sctp" => Some(Proto::Sctp),
        _ => None,
    }
}

/// A zone apex (the cluster zone or a reverse zone): SOA, NS (with `ns.dns.<zone>` glue in
/// Additional), ANY gives both.
pub(crate) fn apex(snap: &ZoneSnapshot, owner: &Name, qtype: RecordType, reply: &mut Reply) {
    if matches!(qtype, RecordType::SOA | RecordType::ANY) {
        reply.answers.push(soa_record(snap, owner, snap.ttl));
    }
    if matches!(qtype, RecordType::NS | RecordType::ANY) {
        let ns = ns_name(snap);
        reply.answers.push(Record::from_rdata(
            owner.clone(),
            snap.ttl,
            RData::NS(NS(ns.clone())),
        ));
        address_records(
            snap.glue.iter().copied(),
            &ns,
            RecordType::ANY,
            snap.ttl,
            &mut reply.additionals,
        );
    }
}

/// `ns.dns.<zone>.`
pub(crate) fn ns_name(snap: &ZoneSnapshot) -> Name {
    snap.ns_name.clone()
}

/// The zone SOA at `owner` with TTL `ttl`: `ns.dns.<zone>. hostmaster.<zone>. <serial> 7200
/// 1800 86400 <neg-ttl>` (CoreDNS's timers; minimum = negative TTL).
pub(crate) fn soa_record(snap: &ZoneSnapshot, owner: &Name, ttl: u32) -> Record {
    let soa = SOA::new(
        ns_name(snap),
        snap.hostmaster.clone(),
        snap.serial,
        7200,
        1800,
        86400,
        snap.neg_ttl,
    );
    Record::from_rdata(owner.clone(), ttl, RData::SOA(soa))
}

fn zone_soa(snap: &ZoneSnapshot) -> Record {
    soa_record(snap, &snap.zone, snap.neg_ttl)
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
    let mut names: Vec<Name> = vec![snap.zone.clone(), ns_name(snap)];
    names.extend(snap.zone.prepend_label("dns-version").ok());
    for svc in &snap.services {
        names.push(svc.name.clone());
        let mut ports: Vec<(&str, Proto)> = svc.ports.iter().map(|p| (&*p.name, p.proto)).collect();
        for ep in svc.endpoints.iter() {
            names.extend(headless::endpoint_name(svc, ep));
            ports.extend(
                svc.group_ports(ep.group)
                    .iter()
                    .map(|p| (&*p.name, p.proto)),
            );
        }
        ports.sort();
        ports.dedup();
        for (port, proto) in ports.into_iter().filter(|(n, _)| !n.is_empty()) {
            let srv = svc
                .name
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
