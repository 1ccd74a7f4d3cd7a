//! The immutable zone model: a compact, service-indexed view of the cluster zone at one
//! generation, built by `project` and read by `answer`.
//!
//! Memory is the design constraint (10,000 Services and 100,000 endpoints must fit in a few
//! MiB next to the object stores): no per-endpoint owner names and no prepared hickory
//! `Record`s are kept. Each Service keeps its absolute name once, its ports, and its published
//! endpoints (IP plus optional hostname) sorted by label; reverse ownership is two sorted
//! vectors (IPv4, IPv6) in `reverse`. Records are materialised per question (one hash lookup
//! for the Service, a binary search for an endpoint or a reverse name). Must not: allocate per endpoint beyond the
//! hostname, hold `Arc`s to the source objects, or know about sockets.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::net::IpAddr;

use hickory_proto::rr::{DNSClass, Name, Record, RecordType};
use ipnet::IpNet;

use crate::PodMode;

mod reverse;
pub(crate) use reverse::{Owner, Reverse};

/// Transport protocol of a port, lower-cased in `_<port>._<proto>` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    pub(crate) fn parse(text: Option<&str>) -> Option<Proto> {
        match text.map(str::to_ascii_lowercase).as_deref() {
            None | Some("tcp") => Some(Proto::Tcp),
            Some("udp") => Some(Proto::Udp),
            Some("sctp") => Some(Proto::Sctp),
            Some(_) => None,
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Proto::Tcp => "_tcp",
            Proto::Udp => "_udp",
            Proto::Sctp => "_sctp",
        }
    }
}

/// One port: `name` lower-cased, empty when unnamed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Port {
    pub name: Box<str>,
    pub proto: Proto,
    pub port: u16,
}

impl Port {
    /// A port from the fields Service, EndpointSlice and Endpoints ports share; `None` for
    /// an unknown protocol or a number outside 0..=65535.
    pub(crate) fn new(name: Option<&str>, protocol: Option<&str>, port: i32) -> Option<Port> {
        Some(Port {
            name: name.unwrap_or("").to_ascii_lowercase().into(),
            proto: Proto::parse(protocol)?,
            port: u16::try_from(port).ok()?,
        })
    }
}

/// One published endpoint address (24 bytes). `group` indexes [`Svc::groups`] (its slice's
/// ports); the hostname, if any, is `host_len` bytes at `host_at` in [`Svc::hosts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ep {
    pub ip: IpAddr,
    pub group: u16,
    host_len: u8,
    host_at: u32,
}

impl Ep {
    /// An endpoint whose hostname is `host = (offset, len)` in its Service's arena.
    pub(crate) fn new(ip: IpAddr, group: u16, host: Option<(u32, u8)>) -> Ep {
        let (host_at, host_len) = host.unwrap_or((0, 0));
        Ep {
            ip,
            group,
            host_len,
            host_at,
        }
    }
}

/// What a Service name resolves to.
#[derive(Debug, Clone)]
pub(crate) enum SvcKind {
    /// ClusterIP (and NodePort/LoadBalancer): the cluster IPs.
    ClusterIp(Box<[IpAddr]>),
    /// clusterIP None: the published endpoints.
    Headless,
    /// CNAME target (absolute).
    ExternalName(Name),
}

/// One Service as the zone sees it.
#[derive(Debug, Clone)]
pub(crate) struct Svc {
    /// `<svc>.<ns>.svc.<zone>.`, lower-case.
    pub name: Name,
    pub kind: SvcKind,
    /// Service ports (`spec.ports`, `port` numbers).
    pub ports: Box<[Port]>,
    /// Port lists of the endpoint groups (one per EndpointSlice or Endpoints subset).
    pub groups: Box<[Box<[Port]>]>,
    /// Published endpoints, sorted by (label, ip).
    pub endpoints: Box<[Ep]>,
    /// The endpoints' hostnames, concatenated (one allocation per Service).
    pub hosts: Box<str>,
}

impl Svc {
    /// The hostname of `ep`, if it has one.
    pub(crate) fn host(&self, ep: &Ep) -> Option<&str> {
        if ep.host_len == 0 {
            return None;
        }
        let at = usize::try_from(ep.host_at).ok()?;
        self.hosts.get(at..at + usize::from(ep.host_len))
    }

    /// Compares the label of `ep` (hostname or dashed IP) with `label` (lower-cased).
    pub(crate) fn cmp_label(&self, ep: &Ep, label: &[u8]) -> Ordering {
        match self.host(ep) {
            Some(h) => h.as_bytes().cmp(label),
            None => crate::name::dashed_ip_into(ep.ip, &mut [0u8; 48]).cmp(label),
        }
    }

    /// Endpoints whose label equals `label` (lower-cased).
    pub(crate) fn endpoints_labelled(&self, label: &[u8]) -> &[Ep] {
        let start = self
            .endpoints
            .partition_point(|e| self.cmp_label(e, label) == Ordering::Less);
        let end = self
            .endpoints
            .partition_point(|e| self.cmp_label(e, label) != Ordering::Greater);
        self.endpoints.get(start..end).unwrap_or(&[])
    }

    /// The ports of the endpoint group `group`.
    pub(crate) fn group_ports(&self, group: u16) -> &[Port] {
        self.groups
            .get(usize::from(group))
            .map(|p| &p[..])
            .unwrap_or(&[])
    }
}

/// Counts for metrics: objects in, records out, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotStats {
    /// Service objects given to the projection.
    pub services: usize,
    /// EndpointSlice objects given.
    pub endpoint_slices: usize,
    /// core/v1 Endpoints objects given.
    pub endpoints_objects: usize,
    /// Pod objects given.
    pub pods: usize,
    /// Namespace objects given.
    pub namespaces: usize,
    /// Services in the zone with cluster IPs.
    pub cluster_ip_services: usize,
    /// Headless Services in the zone.
    pub headless_services: usize,
    /// ExternalName Services in the zone.
    pub external_name_services: usize,
    /// Published endpoint addresses (ready, or all with publishNotReadyAddresses).
    pub published_endpoints: usize,
    /// Endpoint addresses left out because not ready.
    pub not_ready_endpoints: usize,
    /// Reverse names owned (one PTR each).
    pub ptr_names: usize,
    /// Objects skipped as malformed (bad names, IPs, duplicate Services).
    pub skipped: usize,
}

impl SnapshotStats {
    /// `(kind, count)` pairs for a gauge vector labelled by kind.
    pub fn by_kind(&self) -> [(&'static str, usize); 12] {
        [
            ("services", self.services),
            ("endpointslices", self.endpoint_slices),
            ("endpoints", self.endpoints_objects),
            ("pods", self.pods),
            ("namespaces", self.namespaces),
            ("cluster_ip_services", self.cluster_ip_services),
            ("headless_services", self.headless_services),
            ("external_name_services", self.external_name_services),
            ("published_endpoints", self.published_endpoints),
            ("not_ready_endpoints", self.not_ready_endpoints),
            ("ptr_names", self.ptr_names),
            ("skipped", self.skipped),
        ]
    }
}

/// An immutable view of the cluster zone at one generation.
#[derive(Debug, Default)]
pub struct ZoneSnapshot {
    pub(crate) serial: u32,
    /// The cluster domain, lower-case, absolute.
    pub(crate) zone: Name,
    pub(crate) ttl: u32,
    pub(crate) neg_ttl: u32,
    pub(crate) pods: PodMode,
    pub(crate) reverse_cidrs: Vec<IpNet>,
    /// `ns.dns.<zone>.` (SOA MNAME, NS target, glue owner).
    pub(crate) ns_name: Name,
    /// `hostmaster.<zone>.` (SOA RNAME).
    pub(crate) hostmaster: Name,
    /// Cluster IPs of the `--dns-service` (NS glue at `ns.dns.<zone>`).
    pub(crate) glue: Vec<IpAddr>,
    pub(crate) services: Vec<Svc>,
    /// `"<ns>/<name>"` to index in `services`.
    pub(crate) by_key: HashMap<Box<str>, u32>,
    /// Namespaces that exist (from Namespace objects and Services), sorted.
    pub(crate) namespaces: Vec<Box<str>>,
    /// Reverse ownership.
    pub(crate) reverse: Reverse,
    /// `(namespace, pod IP)` pairs, sorted (used with `PodMode::Verified`).
    pub(crate) pod_ips: Vec<(Box<str>, IpAddr)>,
    /// `(pod IP, namespace)` of Pods that alone own their IP, sorted by IP (`PodMode::Verified`).
    pub(crate) pod_namespaces: Vec<(IpAddr, Box<str>)>,
    pub(crate) stats: SnapshotStats,
}

impl ZoneSnapshot {
    /// The SOA serial of this snapshot.
    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// Object and record counts of this snapshot, for metrics.
    pub fn stats(&self) -> &SnapshotStats {
        &self.stats
    }

    /// The cluster zone (lower-case, absolute).
    pub fn zone(&self) -> &Name {
        &self.zone
    }

    /// True when this snapshot is authoritative for `qname`: the cluster zone, reverse names
    /// inside the reverse CIDRs, and reverse names of IPs that objects own.
    pub fn is_in_zone(&self, qname: &Name) -> bool {
        let mut q = qname.clone();
        q.set_fqdn(true);
        if self.zone.zone_of(&q) || crate::kind::ptr::in_reverse_cidrs(&self.reverse_cidrs, &q) {
            return true;
        }
        crate::name::parse_reverse(&q).is_some_and(|net| {
            net.prefix_len() == net.max_prefix_len() && self.reverse.owner(net.addr()).is_some()
        })
    }

    /// Answers `qname`/`qtype`/`qclass`. Owner names in the answer keep `qname`'s spelling.
    /// Never panics.
    pub fn answer(&self, qname: &Name, qtype: RecordType, qclass: DNSClass) -> crate::Answer {
        crate::answer::answer(self, qname, qtype, qclass)
    }

    /// The namespace of the Pod whose IP is `ip`, when exactly one running Pod outside the
    /// host network has it. Only filled with `PodMode::Verified` (the Pods are watched then).
    pub fn pod_namespace(&self, ip: IpAddr) -> Option<&str> {
        let i = self
            .pod_namespaces
            .binary_search_by(|(p, _)| p.cmp(&ip))
            .ok()?;
        self.pod_namespaces.get(i).map(|(_, ns)| &**ns)
    }

    /// The Service named `key` (lower-cased), if it is in the zone.
    pub(crate) fn service(&self, namespace: &str, name: &str) -> Option<&Svc> {
        let mut key = String::with_capacity(namespace.len() + name.len() + 1);
        key.push_str(namespace);
        key.push('/');
        key.push_str(name);
        let idx = *self.by_key.get(key.as_str())?;
        self.services.get(usize::try_from(idx).ok()?)
    }

    pub(crate) fn svc_at(&self, idx: u32) -> Option<&Svc> {
        self.services.get(usize::try_from(idx).ok()?)
    }

    pub(crate) fn namespace_exists(&self, ns: &str) -> bool {
        self.namespaces.binary_search_by(|n| (**n).cmp(ns)).is_ok()
    }

    /// Every record of the zone (answers to each name and type, CNAME chains cut), sorted as
    /// zone-file text lines. For golden tests and debugging; cost is proportional to the zone.
    pub fn dump(&self) -> Vec<String> {
        crate::answer::dump(self)
            .iter()
            .map(record_text)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    }
}

/// A record as one zone-file line: `owner ttl class type rdata`.
pub fn record_text(r: &Record) -> String {
    format!(
        "{} {} {} {} {}",
        r.name,
        r.ttl,
        r.dns_class,
        r.record_type(),
        r.data
    )
}
