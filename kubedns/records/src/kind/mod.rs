//! One module per record kind, named after the section of the Kubernetes DNS specification
//! (schema 1.1.0) it implements. Each module owns both halves of its kind: what the
//! projection keeps from the objects, and the records it emits for a question.
//!
//! Dependencies go one way: `answer` asks each kind in [`KINDS`] through the one [`Kind`]
//! trait; the kinds see the zone only through [`ZoneView`] (implemented by the snapshot), the
//! leaf `model` and the `sink` they write to, never `answer` or `snapshot` themselves. A new
//! kind is a new file plus its line in [`KINDS`].

pub(crate) mod cluster_ip;
pub(crate) mod external_name;
pub(crate) mod headless;
pub(crate) mod pod;
pub(crate) mod ptr;
pub(crate) mod zone;

use std::net::IpAddr;

use hickory_proto::rr::{Name, RecordType};
use ipnet::IpNet;

use crate::PodMode;
use crate::model::{Proto, Reverse, Svc};
use crate::sink::{Data, NameRef, Section, Sink, SoaData};

/// The kinds of names in the cluster zone, asked in this order; the first that claims a
/// name answers it, and a name nobody claims does not exist (NXDOMAIN).
pub(crate) const KINDS: [&dyn Kind; 5] = [
    &zone::ZoneNames,
    &pod::PodNames,
    &external_name::ExternalName,
    &cluster_ip::ClusterIp,
    &headless::Headless,
];

/// What a record kind may ask of the zone it answers from.
pub(crate) trait ZoneView {
    /// TTL of positive records.
    fn ttl(&self) -> u32;
    /// TTL of the SOA in negative answers.
    fn neg_ttl(&self) -> u32;
    /// The Service at index `idx` of the zone.
    fn svc_at(&self, idx: u32) -> Option<Svc<'_>>;
    /// True when namespace `ns` (lower-case) has Services or a Namespace object.
    fn namespace_exists(&self, ns: &str) -> bool;
    /// Who owns each IP.
    fn reverse(&self) -> &Reverse;
    /// Reverse ranges answered authoritatively.
    fn reverse_cidrs(&self) -> &[IpNet];
    /// `--pods`.
    fn pods(&self) -> PodMode;
    /// `(namespace, IP)` of every Pod, sorted (with `--pods=verified`).
    fn pod_ips(&self) -> &[(Box<str>, IpAddr)];
    /// The zone's SOA RDATA.
    fn soa(&self) -> SoaData<'_>;
    /// `ns.dns.<zone>.`, the NS target.
    fn ns_name(&self) -> &Name;
    /// The NS glue addresses.
    fn glue(&self) -> &[IpAddr];
}

/// One name being looked up, as the kinds see it.
pub(crate) struct Question<'q, 'z> {
    /// Labels below the zone apex, lower-cased, leftmost first.
    pub labels: &'q [&'q [u8]],
    /// Owner of the records at this name (the asked name, or a CNAME target).
    pub owner: NameRef<'q>,
    /// Type asked.
    pub qtype: RecordType,
    /// The Service named by the last three labels (`<svc>.<ns>.svc`) when it exists, with
    /// the labels left of it.
    pub service: Option<(Svc<'z>, &'q [&'q [u8]])>,
}

/// What a kind found at a name it claims.
pub(crate) enum Found<'z> {
    /// The name exists; its records (none: NODATA) went to the sink.
    Exists,
    /// The name does not exist (NXDOMAIN).
    Missing,
    /// The name is an alias for this target (an ExternalName Service).
    Alias(&'z Name),
}

/// A record kind: claims the names it owns and emits their records.
pub(crate) trait Kind: Sync {
    /// `None` when `q` is not a name of this kind (the next kind is asked).
    fn lookup<'z>(
        &self,
        zone: &'z dyn ZoneView,
        q: &Question<'_, 'z>,
        out: &mut dyn Sink,
    ) -> Option<Found<'z>>;
}

/// A/AAAA records for `ips` at `owner` in `section`, filtered by `qtype` (A, AAAA, or ANY
/// for both).
pub(crate) fn address_records(
    ips: impl IntoIterator<Item = IpAddr>,
    owner: NameRef<'_>,
    qtype: RecordType,
    ttl: u32,
    section: Section,
    out: &mut dyn Sink,
) {
    for ip in ips {
        let data = match (ip, qtype) {
            (IpAddr::V4(v4), RecordType::A | RecordType::ANY) => Data::A(v4),
            (IpAddr::V6(v6), RecordType::AAAA | RecordType::ANY) => Data::Aaaa(v6),
            _ => continue,
        };
        out.record(section, owner, ttl, data);
    }
}

/// SRV weight for a set of `n` records: floor(100/n), as kube-dns (priority is always 10).
pub(crate) fn srv_weight(n: usize) -> u16 {
    100 / u16::try_from(n).unwrap_or(u16::MAX).max(1)
}

/// An SRV record in Answer, priority 10.
pub(crate) fn srv_record(
    owner: NameRef<'_>,
    ttl: u32,
    weight: u16,
    port: u16,
    target: NameRef<'_>,
    out: &mut dyn Sink,
) {
    let data = Data::Srv {
        priority: 10,
        weight,
        port,
        target,
    };
    out.record(Section::Answer, owner, ttl, data);
}

/// The protocol of a `_tcp`/`_udp`/`_sctp` label.
pub(crate) fn proto_label(label: &[u8]) -> Option<Proto> {
    match label {
        b"_tcp" => Some(Proto::Tcp),
        b"_udp" => Some(Proto::Udp),
        b"_sctp" => Some(Proto::Sctp),
        _ => None,
    }
}

/// [`Found::Exists`] when `yes`, else [`Found::Missing`].
pub(crate) fn exists<'z>(yes: bool) -> Found<'z> {
    if yes { Found::Exists } else { Found::Missing }
}
