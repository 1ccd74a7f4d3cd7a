//! Headless Services (clusterIP None), spec §2.4: A/AAAA per published endpoint address at the
//! Service name (§2.4.1; no published endpoint means the name does not exist), A/AAAA at
//! `<hostname>.<svc>.<ns>.svc.<zone>` where the hostname is the endpoint's `hostname` or its
//! dashed IP, SRV per endpoint and named port targeting those names (§2.4.2), and the bare-name
//! SRV per endpoint and port. Endpoint names of ClusterIP Services are answered here too, as
//! CoreDNS does (spec §3 allows additions). PTRs (§2.4.3) live in `ptr`. Readiness and slice
//! merging happen in `project`; this module sees only published endpoints.

use std::net::IpAddr;

use hickory_proto::rr::{Name, RecordType};

use super::{Reply, address_records, srv_records};
use crate::model::{Ep, Proto, Svc};

/// An RFC 1123 label (endpoint hostnames, namespace and Service names); endpoints with another
/// `hostname` fall back to their dashed IP, Services with other names are skipped.
pub(crate) fn valid_hostname(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 63
        && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !h.starts_with('-')
        && !h.ends_with('-')
}

/// The name of endpoint `ep`: `<label>.<svc>.<ns>.svc.<zone>.`.
pub(crate) fn endpoint_name(svc: &Svc, ep: &Ep) -> Option<Name> {
    let mut buf = [0u8; 48];
    let label = match svc.host(ep) {
        Some(h) => h.as_bytes(),
        None => crate::name::dashed_ip_into(ep.ip, &mut buf),
    };
    svc.name.prepend_label(label).ok()
}

/// Records at a headless Service name for `qtype`.
pub(crate) fn at_name(svc: &Svc, owner: &Name, qtype: RecordType, ttl: u32, out: &mut Reply) {
    match qtype {
        RecordType::SRV => srv(svc, owner, None, ttl, out),
        _ => address_records(
            svc.endpoints.iter().map(|e| e.ip),
            owner,
            qtype,
            ttl,
            &mut out.answers,
        ),
    }
}

/// A/AAAA at an endpoint name (`eps` all share the queried label).
pub(crate) fn at_endpoint(eps: &[Ep], owner: &Name, qtype: RecordType, ttl: u32, out: &mut Reply) {
    address_records(
        eps.iter().map(|e| e.ip),
        owner,
        qtype,
        ttl,
        &mut out.answers,
    );
}

/// SRV per endpoint: at the bare name (`named = None`: every endpoint port, or port 0 when the
/// endpoint has none, as kube-dns) or at `_<name>._<proto>` (`Some`). Targets are endpoint
/// names; their addresses go to Additional.
pub(crate) fn srv(
    svc: &Svc,
    owner: &Name,
    named: Option<(&str, Proto)>,
    ttl: u32,
    out: &mut Reply,
) {
    let wanted = |ep: &Ep, ports: &mut Vec<u16>| {
        let group = svc.group_ports(ep.group);
        match named {
            None if group.is_empty() => ports.push(0),
            None => ports.extend(group.iter().map(|p| p.port)),
            Some((n, proto)) => ports.extend(
                group
                    .iter()
                    .filter(|p| !p.name.is_empty() && *p.name == *n && p.proto == proto)
                    .map(|p| p.port),
            ),
        }
    };
    // Endpoints are sorted by label: walk runs of one label (a hostname shared by several
    // IPs), build its target name once, and emit its SRVs and addresses together.
    let mut targets: Vec<(u16, Name)> = Vec::new();
    let mut addresses: Vec<(usize, IpAddr)> = Vec::new();
    let mut ports: Vec<u16> = Vec::new();
    let mut i = 0;
    while let Some(first) = svc.endpoints.get(i) {
        let run = svc
            .endpoints
            .get(i..)
            .unwrap_or(&[])
            .iter()
            .take_while(|e| svc.host(e).is_some() && svc.host(e) == svc.host(first))
            .count()
            .max(1);
        let eps = svc.endpoints.get(i..i + run).unwrap_or(&[]);
        i += run;
        ports.clear();
        let mut with_ports = Vec::with_capacity(eps.len());
        for ep in eps {
            let before = ports.len();
            wanted(ep, &mut ports);
            if ports.len() > before {
                with_ports.push(ep.ip);
            }
        }
        if ports.is_empty() {
            continue;
        }
        let Some(target) = endpoint_name(svc, first) else {
            continue;
        };
        ports.sort_unstable();
        ports.dedup();
        let idx = targets.len();
        targets.extend(ports.iter().map(|port| (*port, target.clone())));
        addresses.extend(with_ports.into_iter().map(|ip| (idx, ip)));
    }
    if targets.is_empty() {
        return;
    }
    srv_records(&targets, owner, ttl, &mut out.answers);
    for (idx, ip) in addresses {
        if let Some((_, target)) = targets.get(idx) {
            address_records([ip], target, RecordType::ANY, ttl, &mut out.additionals);
        }
    }
}

/// True when some published endpoint has a named port with protocol label `proto`.
pub(crate) fn has_proto(svc: &Svc, proto: Proto) -> bool {
    svc.endpoints.iter().any(|e| {
        svc.group_ports(e.group)
            .iter()
            .any(|p| !p.name.is_empty() && p.proto == proto)
    })
}

/// True when some published endpoint has the named port `_<name>._<proto>`.
pub(crate) fn has_port(svc: &Svc, name: &str, proto: Proto) -> bool {
    svc.endpoints.iter().any(|e| {
        svc.group_ports(e.group)
            .iter()
            .any(|p| !p.name.is_empty() && *p.name == *name && p.proto == proto)
    })
}
