//! Headless Services (clusterIP None), spec §2.4: A/AAAA per published endpoint address at the
//! Service name (§2.4.1; no published endpoint means the name does not exist), A/AAAA at
//! `<hostname>.<svc>.<ns>.svc.<zone>` where the hostname is the endpoint's `hostname` or its
//! dashed IP, SRV per endpoint and named port targeting those names (§2.4.2), and the bare-name
//! SRV per endpoint and port. Endpoint names of ClusterIP Services are answered here too, as
//! CoreDNS does (spec §3 allows additions). PTRs (§2.4.3) live in `ptr`. Readiness and slice
//! merging happen in `project`; this module sees only published endpoints.

use hickory_proto::rr::{Name, RecordType};

use super::{Reply, address_records, srv_records};
use crate::snapshot::{Ep, Proto, Svc};

/// An endpoint `hostname` usable as a DNS label (RFC 1123 label); others fall back to the IP.
pub(crate) fn valid_hostname(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 63
        && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !h.starts_with('-')
        && !h.ends_with('-')
}

/// The name of endpoint `ep`: `<label>.<svc>.<ns>.svc.<zone>.`.
pub(crate) fn endpoint_name(svc: &Svc, ep: &Ep) -> Option<Name> {
    svc.name.prepend_label(ep.label()).ok()
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
    let mut targets: Vec<(u16, Name)> = Vec::new();
    let mut prev: Option<(&Ep, Name)> = None;
    for ep in svc.endpoints.iter() {
        let ports = svc.group_ports(ep.group);
        let wanted: Vec<u16> = match named {
            None if ports.is_empty() => vec![0],
            None => ports.iter().map(|p| p.port).collect(),
            Some((n, proto)) => ports
                .iter()
                .filter(|p| !p.name.is_empty() && *p.name == *n && p.proto == proto)
                .map(|p| p.port)
                .collect(),
        };
        if wanted.is_empty() {
            continue;
        }
        // Endpoints are sorted by label: build a target name once per hostname.
        let target = match &prev {
            Some((p, name)) if p.host.is_some() && p.host == ep.host => name.clone(),
            _ => match endpoint_name(svc, ep) {
                Some(name) => name,
                None => continue,
            },
        };
        targets.extend(wanted.into_iter().map(|port| (port, target.clone())));
        prev = Some((ep, target));
    }
    targets.sort_by(|a, b| (&a.1, a.0).cmp(&(&b.1, b.0)));
    targets.dedup();
    if targets.is_empty() {
        return;
    }
    srv_records(&targets, owner, ttl, &mut out.answers);
    let mut last: Option<&Name> = None;
    for (_, t) in &targets {
        if last == Some(t) {
            continue;
        }
        last = Some(t);
        if let Some(label) = t.iter().next() {
            let label = label.to_ascii_lowercase();
            address_records(
                svc.endpoints_labelled(&label).iter().map(|e| e.ip),
                t,
                RecordType::ANY,
                ttl,
                &mut out.additionals,
            );
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
