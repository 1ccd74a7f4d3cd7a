//! The immutable zone model: a compact, service-indexed view of the cluster zone at one
//! generation, built by `project` and read by `answer`.
//!
//! Memory is the design constraint (10,000 Services and 100,000 endpoints must fit in a few
//! MiB next to the object stores): no per-endpoint owner names and no prepared hickory
//! `Record`s are kept. Each Service keeps its absolute name once, its ports, and its published
//! endpoints (IP plus optional hostname) sorted by label; reverse ownership is two sorted
//! vectors (IPv4, IPv6) in `reverse`. Records are materialised per question (one hash lookup
//! for the Service, a binary search for an endpoint or a reverse name). The Services' items
//! live in one `Pool` of a few large vectors, so a freed snapshot returns its memory to the
//! kernel (`model/pool.rs`). Must not: allocate per Service or per endpoint, hold `Arc`s to
//! the source objects, or know about sockets.

use std::net::IpAddr;

use hickory_proto::rr::{DNSClass, Name, Record, RecordType};
use ipnet::IpNet;

use crate::PodMode;

pub(crate) use crate::model::{KeyIndex, Pool, Reverse, Svc, SvcEntry};

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
    pub(crate) services: Vec<SvcEntry>,
    /// The items of `services` (ports, endpoints, addresses, text) and the namespaces that
    /// exist (from Namespace objects and Services).
    pub(crate) pool: Pool,
    /// `(namespace, name)` to index in `services`.
    pub(crate) by_key: KeyIndex,
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

    /// Answers the name whose labels are `labels` (absolute, lower-cased, leftmost first,
    /// root excluded) into `out`, without allocating for names in the cluster zone. Records
    /// owned by the asked name use [`crate::NameRef::Asked`]. Never panics.
    pub fn answer_into(
        &self,
        labels: &[&[u8]],
        qtype: RecordType,
        qclass: DNSClass,
        out: &mut dyn crate::Sink,
    ) -> crate::Outcome {
        crate::answer::answer_into(self, labels, qtype, qclass, out)
    }

    /// The Service `name` in namespace `ns` (both lower-cased), if it is in the zone.
    pub(crate) fn service(&self, ns: &[u8], name: &[u8]) -> Option<Svc<'_>> {
        let is = |idx| self.svc_at(idx).is_some_and(|s| s.is(ns, name));
        self.svc_at(self.by_key.get(ns, name, is)?)
    }

    /// The SOA RDATA: `ns.dns.<zone>. hostmaster.<zone>. <serial> 7200 1800 86400 <neg-ttl>`
    /// (CoreDNS's timers; minimum = negative TTL).
    pub(crate) fn soa_data(&self) -> crate::SoaData<'_> {
        crate::SoaData {
            mname: &self.ns_name,
            rname: &self.hostmaster,
            serial: self.serial,
            refresh: 7200,
            retry: 1800,
            expire: 86400,
            minimum: self.neg_ttl,
        }
    }

    pub(crate) fn svc_at(&self, idx: u32) -> Option<Svc<'_>> {
        let entry = self.services.get(usize::try_from(idx).ok()?)?;
        Some(self.pool.svc(entry))
    }

    /// The Services of the zone, in index order.
    pub(crate) fn services(&self) -> impl Iterator<Item = Svc<'_>> {
        self.services.iter().map(|e| self.pool.svc(e))
    }

    pub(crate) fn namespace_exists(&self, ns: &str) -> bool {
        self.pool.namespace_exists(ns)
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

impl crate::kind::ZoneView for ZoneSnapshot {
    fn ttl(&self) -> u32 {
        self.ttl
    }
    fn neg_ttl(&self) -> u32 {
        self.neg_ttl
    }
    fn svc_at(&self, idx: u32) -> Option<Svc<'_>> {
        ZoneSnapshot::svc_at(self, idx)
    }
    fn namespace_exists(&self, ns: &str) -> bool {
        ZoneSnapshot::namespace_exists(self, ns)
    }
    fn reverse(&self) -> &Reverse {
        &self.reverse
    }
    fn reverse_cidrs(&self) -> &[IpNet] {
        &self.reverse_cidrs
    }
    fn pods(&self) -> PodMode {
        self.pods
    }
    fn pod_ips(&self) -> &[(Box<str>, IpAddr)] {
        &self.pod_ips
    }
    fn soa(&self) -> crate::SoaData<'_> {
        self.soa_data()
    }
    fn ns_name(&self) -> &Name {
        &self.ns_name
    }
    fn glue(&self) -> &[IpAddr] {
        &self.glue
    }
}
