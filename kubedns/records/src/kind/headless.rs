//! Headless Services (clusterIP None), spec §2.4: A/AAAA per published endpoint address at the
//! Service name (§2.4.1; no published endpoint means the name does not exist), A/AAAA at
//! `<hostname>.<svc>.<ns>.svc.<zone>` where the hostname is the endpoint's `hostname` or its
//! dashed IP, SRV per endpoint and named port targeting those names (§2.4.2), and the bare-name
//! SRV per endpoint and port. Endpoint names of ClusterIP Services are answered here too, as
//! CoreDNS does (spec §3 allows additions). PTRs (§2.4.3) live in `ptr`. Readiness and slice
//! merging happen in `project`; this module sees only published endpoints.

use std::net::IpAddr;

use hickory_proto::rr::{Name, RecordType};

use super::{
    Found, Kind, Question, ZoneView, address_records, exists, proto_label, srv_record, srv_weight,
};
use crate::model::{Ep, Proto, Svc};
use crate::sink::{NameRef, Section, Sink, under_fits};

/// An RFC 1123 label (endpoint hostnames, namespace and Service names); endpoints with another
/// `hostname` fall back to their dashed IP, Services with other names are skipped.
pub(crate) fn valid_hostname(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 63
        && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !h.starts_with('-')
        && !h.ends_with('-')
}

/// The label of endpoint `ep` under its Service: its hostname, or its dashed IP written
/// into `buf`.
pub(crate) fn endpoint_label<'a>(svc: Svc<'a>, ep: &Ep, buf: &'a mut [u8; 48]) -> &'a [u8] {
    match svc.host(ep) {
        Some(h) => h.as_bytes(),
        None => crate::name::dashed_ip_into(ep.ip, buf),
    }
}

/// The name of endpoint `ep`: `<label>.<svc>.<ns>.svc.<zone>.`.
pub(crate) fn endpoint_name(svc: Svc<'_>, ep: &Ep) -> Option<Name> {
    let mut buf = [0u8; 48];
    svc.name()
        .prepend_label(endpoint_label(svc, ep, &mut buf))
        .ok()
}

/// Headless Services, and the endpoint names of every Service.
pub(crate) struct Headless;

impl Kind for Headless {
    fn lookup<'z>(
        &self,
        zone: &'z dyn ZoneView,
        q: &Question<'_, 'z>,
        out: &mut dyn Sink,
    ) -> Option<Found<'z>> {
        let (svc, below) = q.service?;
        let headless = svc.is_headless();
        if headless && svc.endpoints().is_empty() {
            return Some(Found::Missing);
        }
        let ttl = zone.ttl();
        let found = match below {
            [] if headless => {
                match q.qtype {
                    RecordType::SRV => srv(svc, q.owner, None, ttl, out),
                    _ => {
                        let ips = svc.endpoints().iter().map(|e| e.ip);
                        address_records(ips, q.owner, q.qtype, ttl, Section::Answer, out)
                    }
                }
                Found::Exists
            }
            [label] => {
                if let Some(proto) = proto_label(label) {
                    return Some(exists(headless && has_proto(svc, proto)));
                }
                let eps = svc.endpoints_labelled(label);
                if eps.is_empty() {
                    return Some(Found::Missing);
                }
                let ips = eps.iter().map(|e| e.ip);
                address_records(ips, q.owner, q.qtype, ttl, Section::Answer, out);
                Found::Exists
            }
            [port, proto] if headless => {
                let (Some(proto), Some(port)) = (proto_label(proto), port.strip_prefix(b"_"))
                else {
                    return Some(Found::Missing);
                };
                let Ok(port) = std::str::from_utf8(port) else {
                    return Some(Found::Missing);
                };
                if !has_port(svc, port, proto) {
                    return Some(Found::Missing);
                }
                if matches!(q.qtype, RecordType::SRV | RecordType::ANY) {
                    srv(svc, q.owner, Some((port, proto)), ttl, out);
                }
                Found::Exists
            }
            _ => Found::Missing,
        };
        Some(found)
    }
}

/// SRV per endpoint: at the bare name (`named = None`: every endpoint port, or port 0 when the
/// endpoint has none, as kube-dns) or at `_<name>._<proto>` (`Some`). Targets are endpoint
/// names; their addresses go to Additional.
fn srv(
    svc: Svc<'_>,
    owner: NameRef<'_>,
    named: Option<(&str, Proto)>,
    ttl: u32,
    out: &mut dyn Sink,
) {
    let wanted = |ep: &Ep, ports: &mut Vec<u16>| {
        let group = svc.group_ports(ep.group);
        match named {
            None if group.is_empty() => ports.push(0),
            None => ports.extend(group.iter().map(|p| p.port)),
            Some((n, proto)) => ports.extend(
                group
                    .iter()
                    .filter(|p| svc.named_port(p, n, proto))
                    .map(|p| p.port),
            ),
        }
    };
    // Endpoints are sorted by label: walk runs of one label (a hostname shared by several
    // IPs); each run is one target with its ports and the addresses that have them.
    // `(first endpoint of the run, port)` per SRV, `(first endpoint, ip)` per address.
    let mut targets: Vec<(usize, u16)> = Vec::new();
    let mut addresses: Vec<(usize, IpAddr)> = Vec::new();
    let mut ports: Vec<u16> = Vec::new();
    let mut buf = [0u8; 48];
    let mut i = 0;
    let endpoints = svc.endpoints();
    while let Some(first) = endpoints.get(i) {
        let run = endpoints
            .get(i..)
            .unwrap_or(&[])
            .iter()
            .take_while(|e| svc.host(e).is_some() && svc.host(e) == svc.host(first))
            .count()
            .max(1);
        let eps = endpoints.get(i..i + run).unwrap_or(&[]);
        let at = i;
        i += run;
        ports.clear();
        let before = addresses.len();
        for ep in eps {
            let had = ports.len();
            wanted(ep, &mut ports);
            if ports.len() > had {
                addresses.push((at, ep.ip));
            }
        }
        if ports.is_empty() || !under_fits(endpoint_label(svc, first, &mut buf), svc.name()) {
            addresses.truncate(before);
            continue;
        }
        ports.sort_unstable();
        ports.dedup();
        targets.extend(ports.iter().map(|port| (at, *port)));
    }
    let weight = srv_weight(targets.len());
    for (at, port) in &targets {
        if let Some(ep) = endpoints.get(*at) {
            let target = NameRef::Under(endpoint_label(svc, ep, &mut buf), svc.name());
            srv_record(owner, ttl, weight, *port, target, out);
        }
    }
    for (at, ip) in addresses {
        if let Some(ep) = endpoints.get(at) {
            let target = NameRef::Under(endpoint_label(svc, ep, &mut buf), svc.name());
            address_records([ip], target, RecordType::ANY, ttl, Section::Additional, out);
        }
    }
}

/// True when some published endpoint has a named port with protocol label `proto`.
fn has_proto(svc: Svc<'_>, proto: Proto) -> bool {
    svc.endpoints().iter().any(|e| {
        svc.group_ports(e.group)
            .iter()
            .any(|p| !p.name.is_empty() && p.proto == proto)
    })
}

/// True when some published endpoint has the named port `_<name>._<proto>`.
fn has_port(svc: Svc<'_>, name: &str, proto: Proto) -> bool {
    svc.endpoints().iter().any(|e| {
        svc.group_ports(e.group)
            .iter()
            .any(|p| svc.named_port(p, name, proto))
    })
}
