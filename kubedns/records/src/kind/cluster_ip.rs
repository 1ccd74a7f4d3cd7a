//! ClusterIP Services, spec §2.3: A/AAAA at `<svc>.<ns>.svc.<zone>` for every IP of
//! `spec.clusterIPs` (§2.3.1, dual-stack), SRV `_<port>._<proto>.<svc>...` for named ports
//! targeting the Service name with its addresses in Additional (§2.3.2), and the SRV set
//! kube-dns and CoreDNS answer at the bare Service name (one per port, named or not). PTRs of
//! cluster IPs (§2.3.3) live in `ptr`. Must not look at endpoints: ClusterIP records exist
//! whatever the endpoints are.

use std::net::IpAddr;

use hickory_proto::rr::{Name, RecordType};

use super::{Reply, address_records, srv_records};
use crate::model::{Port, Proto, Svc};
use crate::objects::ServiceSpec;

/// The cluster IPs of a non-headless, non-ExternalName Service (`clusterIPs`, falling back to
/// `clusterIP`); `None` when the Service is headless (`None` or empty). Unparsable entries are
/// dropped.
pub(crate) fn cluster_ips(spec: Option<&ServiceSpec>) -> Option<Box<[IpAddr]>> {
    let spec = spec?;
    let listed: Vec<&str> = match &spec.cluster_ips {
        Some(ips) if !ips.is_empty() => ips.iter().map(String::as_str).collect(),
        _ => spec.cluster_ip.as_deref().into_iter().collect(),
    };
    let first = listed.first()?.trim();
    if first.is_empty() || first.eq_ignore_ascii_case("none") {
        return None;
    }
    let mut ips: Vec<IpAddr> = listed
        .iter()
        .filter_map(|s| crate::name::parse_object_ip(s))
        .collect();
    ips.dedup();
    Some(ips.into_boxed_slice())
}

/// `spec.ports` as zone ports (names lower-cased, empty when unnamed).
pub(crate) fn service_ports(spec: Option<&ServiceSpec>) -> Box<[Port]> {
    spec.and_then(|s| s.ports.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|p| Port::new(p.name.as_deref(), p.protocol.as_deref(), p.port?))
        .collect()
}

/// Records at the Service name for `qtype`.
pub(crate) fn at_name(
    svc: &Svc,
    ips: &[IpAddr],
    owner: &Name,
    qtype: RecordType,
    ttl: u32,
    out: &mut Reply,
) {
    match qtype {
        RecordType::SRV => srv(svc, ips, owner, None, ttl, out),
        _ => address_records(ips.iter().copied(), owner, qtype, ttl, &mut out.answers),
    }
}

/// SRV at the bare name (`named = None`: every port) or at `_<name>._<proto>` (`Some`).
pub(crate) fn srv(
    svc: &Svc,
    ips: &[IpAddr],
    owner: &Name,
    named: Option<(&str, Proto)>,
    ttl: u32,
    out: &mut Reply,
) {
    let mut targets: Vec<(u16, Name)> = svc
        .ports
        .iter()
        .filter(|p| {
            named.is_none_or(|(n, proto)| !p.name.is_empty() && *p.name == *n && p.proto == proto)
        })
        .map(|p| (p.port, svc.name.clone()))
        .collect();
    targets.dedup();
    if targets.is_empty() {
        return;
    }
    srv_records(&targets, owner, ttl, &mut out.answers);
    address_records(
        ips.iter().copied(),
        &svc.name,
        RecordType::ANY,
        ttl,
        &mut out.additionals,
    );
}

/// True when some named port has protocol label `proto` (`_tcp.<svc>...` exists).
pub(crate) fn has_proto(svc: &Svc, proto: Proto) -> bool {
    svc.ports
        .iter()
        .any(|p| !p.name.is_empty() && p.proto == proto)
}
