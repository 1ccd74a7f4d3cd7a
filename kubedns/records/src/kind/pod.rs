//! Pod records `a-b-c-d.<ns>.pod.<zone>` (IPv6 with `-` for `:`), per `--pods`: disabled (no
//! `pod.<zone>` subtree at all), insecure (any well-formed IP label answers, in any namespace,
//! as kube-dns does), verified (only when a Pod with that IP exists in that namespace, as
//! CoreDNS's `pods verified`). Not in the 1.1.0 specification (removed as deprecated), kept for
//! compatibility.

use std::net::IpAddr;
use std::sync::Arc;

use hickory_proto::rr::{Name, RecordType};

use super::{Reply, ZoneView, address_records};
use crate::objects::Pod;
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

/// Answers a name under `pod.<zone>`; `below` are the labels left of `pod`, leftmost first,
/// lower-cased. `None` means NXDOMAIN; an empty reply means NODATA.
pub(crate) fn lookup(
    snap: &impl ZoneView,
    below: &[Vec<u8>],
    owner: &Name,
    qtype: RecordType,
) -> Option<Reply> {
    if snap.pods() == PodMode::Disabled {
        return None;
    }
    let ns_has_pods = |ns: &[u8]| {
        let start = snap.pod_ips().partition_point(|(n, _)| n.as_bytes() < ns);
        snap.pod_ips()
            .get(start)
            .is_some_and(|(n, _)| n.as_bytes() == ns)
    };
    match below {
        [] => Some(Reply::default()),
        [ns] => match snap.pods() {
            PodMode::Verified if !ns_has_pods(ns) => None,
            _ => Some(Reply::default()),
        },
        [ip_label, ns] => {
            let ip = name::parse_dashed_ip(ip_label)?;
            if snap.pods() == PodMode::Verified {
                let ns = std::str::from_utf8(ns).ok()?;
                snap.pod_ips()
                    .binary_search_by(|(n, i)| (&**n, *i).cmp(&(ns, ip)))
                    .ok()?;
            }
            let mut reply = Reply::default();
            address_records([ip], owner, qtype, snap.ttl(), &mut reply.answers);
            Some(reply)
        }
        _ => None,
    }
}
