//! ClusterIP Services, spec §2.3: A/AAAA at `<svc>.<ns>.svc.<zone>` for every IP of
//! `spec.clusterIPs` (§2.3.1, dual-stack), SRV `_<port>._<proto>.<svc>...` for named ports
//! targeting the Service name with its addresses in Additional (§2.3.2), and the SRV set
//! kube-dns and CoreDNS answer at the bare Service name (one per port, named or not). PTRs of
//! cluster IPs (§2.3.3) live in `ptr`. Must not look at endpoints: ClusterIP records exist
//! whatever the endpoints are.

use std::net::IpAddr;

use hickory_proto::rr::RecordType;

use super::{
    Found, Kind, Question, ZoneView, address_records, exists, proto_label, srv_record, srv_weight,
};
use crate::model::{PortSpec, Proto, Svc, SvcKind};
use crate::objects::ServiceSpec;
use crate::sink::{NameRef, Section, Sink};

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
pub(crate) fn service_ports(spec: Option<&ServiceSpec>) -> Vec<PortSpec> {
    spec.and_then(|s| s.ports.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|p| PortSpec::new(p.name.as_deref(), p.protocol.as_deref(), p.port?))
        .collect()
}

/// ClusterIP Services: the names at and below `<svc>.<ns>.svc.<zone>` except endpoint names
/// (those are `headless`'s).
pub(crate) struct ClusterIp;

impl Kind for ClusterIp {
    fn lookup<'z>(
        &self,
        zone: &'z dyn ZoneView,
        q: &Question<'_, 'z>,
        out: &mut dyn Sink,
    ) -> Option<Found<'z>> {
        let (svc, below) = q.service?;
        let SvcKind::ClusterIp(ips) = svc.kind() else {
            return None;
        };
        let ttl = zone.ttl();
        let found = match below {
            [] => {
                match q.qtype {
                    RecordType::SRV => srv(svc, ips, q.owner, None, ttl, out),
                    _ => address_records(
                        ips.iter().copied(),
                        q.owner,
                        q.qtype,
                        ttl,
                        Section::Answer,
                        out,
                    ),
                }
                Found::Exists
            }
            [label] => {
                let proto = proto_label(label)?;
                exists(has_proto(svc, proto))
            }
            [port, proto] => {
                let (Some(proto), Some(port)) = (proto_label(proto), port.strip_prefix(b"_"))
                else {
                    return Some(Found::Missing);
                };
                let Ok(port) = std::str::from_utf8(port) else {
                    return Some(Found::Missing);
                };
                if !svc.ports().iter().any(|p| svc.named_port(p, port, proto)) {
                    return Some(Found::Missing);
                }
                if matches!(q.qtype, RecordType::SRV | RecordType::ANY) {
                    srv(svc, ips, q.owner, Some((port, proto)), ttl, out);
                }
                Found::Exists
            }
            _ => Found::Missing,
        };
        Some(found)
    }
}

/// SRV at the bare name (`named = None`: every port) or at `_<name>._<proto>` (`Some`), the
/// target is the Service name with its addresses in Additional. Repeated port numbers in a
/// row give one record.
fn srv(
    svc: Svc<'_>,
    ips: &[IpAddr],
    owner: NameRef<'_>,
    named: Option<(&str, Proto)>,
    ttl: u32,
    out: &mut dyn Sink,
) {
    let wanted = || {
        let mut last = None;
        svc.ports()
            .iter()
            .filter(move |p| named.is_none_or(|(n, proto)| svc.named_port(p, n, proto)))
            .filter(move |p| last.replace(p.port) != Some(p.port))
    };
    let n = wanted().count();
    if n == 0 {
        return;
    }
    let target = NameRef::Name(svc.name());
    for p in wanted() {
        srv_record(owner, ttl, srv_weight(n), p.port, target, out);
    }
    let ips = ips.iter().copied();
    address_records(ips, target, RecordType::ANY, ttl, Section::Additional, out);
}

/// True when some named port has protocol label `proto` (`_tcp.<svc>...` exists).
fn has_proto(svc: Svc<'_>, proto: Proto) -> bool {
    svc.ports()
        .iter()
        .any(|p| !p.name.is_empty() && p.proto == proto)
}
