//! Pod records `a-b-c-d.<ns>.pod.<zone>` (IPv6 with `-` for `:`), per `--pods`: disabled (no
//! `pod.<zone>` subtree at all), insecure (any well-formed IP label answers, in any namespace,
//! as kube-dns does), verified (only when a Pod with that IP exists in that namespace, as
//! CoreDNS's `pods verified`). Not in the 1.1.0 specification (removed as deprecated), kept for
//! compatibility.

use std::net::IpAddr;
use std::sync::Arc;

use super::{Found, Kind, Question, ZoneView, address_records, exists};
use crate::objects::Pod;
use crate::sink::{Section, Sink};
use crate::{PodMode, name};

/// `(namespace, ip)` of every Pod IP, lower-cased namespace, sorted and deduplicated.
pub(crate) fn pod_ips(pods: &[Arc<Pod>]) -> Vec<(Box<str>, IpAddr)> {
    let mut out: Vec<(Box<str>, IpAddr)> = Vec::new();
    for pod in pods {
        let ns: Box<str> = pod
            .metadata
            .namespace
            .as_deref()
            .unwrap_or("default")
            .to_ascii_lowercase()
            .into();
        let Some(status) = pod.status.as_ref() else {
            continue;
        };
        let listed = status.pod_ips.iter().flatten().map(|p| p.ip.as_str());
        for ip in listed.chain(status.pod_ip.as_deref()) {
            if let Some(ip) = name::parse_object_ip(ip) {
                out.push((ns.clone(), ip));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// `(ip, namespace)` of the Pods that own their IP, sorted by IP: the clients whose namespace
/// autopath may trust. Left out: host-network Pods (their IP is the node's, shared with every
/// process on it), finished Pods (their IP may already belong to a new Pod), and IPs claimed
/// in more than one namespace (ambiguous, so nobody's).
pub(crate) fn namespaces_by_ip(pods: &[Arc<Pod>]) -> Vec<(IpAddr, Box<str>)> {
    let mut out: Vec<(IpAddr, Box<str>)> = Vec::new();
    for pod in pods {
        let host_network = pod.spec.as_ref().and_then(|s| s.host_network) == Some(true);
        let Some(status) = pod.status.as_ref() else {
            continue;
        };
        let finished = matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"));
        if host_network || finished {
            continue;
        }
        let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
        let listed = status.pod_ips.iter().flatten().map(|p| p.ip.as_str());
        for ip in listed.chain(status.pod_ip.as_deref()) {
            if let Some(ip) = name::parse_object_ip(ip) {
                out.push((ip, ns.to_ascii_lowercase().into()));
            }
        }
    }
    out.sort();
    out.dedup();
    let mut owned: Vec<(IpAddr, Box<str>)> = Vec::with_capacity(out.len());
    for (i, (ip, ns)) in out.iter().enumerate() {
        let shared = |j: usize| out.get(j).is_some_and(|(other, _)| other == ip);
        if !shared(i + 1) && (i == 0 || !shared(i - 1)) {
            owned.push((*ip, ns.clone()));
        }
    }
    owned
}

/// Names under `pod.<zone>`.
pub(crate) struct PodNames;

impl Kind for PodNames {
    fn lookup<'z>(
        &self,
        zone: &'z dyn ZoneView,
        q: &Question<'_, 'z>,
        out: &mut dyn Sink,
    ) -> Option<Found<'z>> {
        let [below @ .., b"pod"] = q.labels else {
            return None;
        };
        Some(lookup(zone, below, q, out))
    }
}

/// Answers a name under `pod.<zone>`; `below` are the labels left of `pod`, leftmost first,
/// lower-cased.
fn lookup<'z>(
    zone: &dyn ZoneView,
    below: &[&[u8]],
    q: &Question<'_, 'z>,
    out: &mut dyn Sink,
) -> Found<'z> {
    if zone.pods() == PodMode::Disabled {
        return Found::Missing;
    }
    let ns_has_pods = |ns: &[u8]| {
        let start = zone.pod_ips().partition_point(|(n, _)| n.as_bytes() < ns);
        zone.pod_ips()
            .get(start)
            .is_some_and(|(n, _)| n.as_bytes() == ns)
    };
    match below {
        [] => Found::Exists,
        [ns] => exists(zone.pods() != PodMode::Verified || ns_has_pods(ns)),
        [ip_label, ns] => {
            let Some(ip) = name::parse_dashed_ip(ip_label) else {
                return Found::Missing;
            };
            if zone.pods() == PodMode::Verified {
                let Ok(ns) = std::str::from_utf8(ns) else {
                    return Found::Missing;
                };
                let known = zone
                    .pod_ips()
                    .binary_search_by(|(n, i)| (&**n, *i).cmp(&(ns, ip)))
                    .is_ok();
                if !known {
                    return Found::Missing;
                }
            }
            address_records([ip], q.owner, q.qtype, zone.ttl(), Section::Answer, out);
            Found::Exists
        }
        _ => Found::Missing,
    }
}
