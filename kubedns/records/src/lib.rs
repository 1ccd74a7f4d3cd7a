//! kubedns-records: the pure core of kubedns.
//!
//! Kubernetes objects (the compact model of [`objects::model`]) go in, an immutable [`ZoneSnapshot`] comes out
//! ([`project`]); a snapshot and a question give an [`Answer`] ([`ZoneSnapshot::answer`]).
//! No async, no clock, no I/O, no logging: everything here is a value-to-value function and is
//! table-tested. Spec: Kubernetes DNS-Based Service Discovery, schema 1.1.0.
//!
//! Layout: [`name`] (label and reverse-name helpers), [`objects`] (the compact object model and
//! manifests reading), `model` (the compact zone model), `snapshot` (a zone at one generation),
//! `project` (objects to snapshot), `answer` (snapshot and question to records in a [`Sink`]),
//! `sink` (where records go: hickory records through [`Collect`], or the server's wire writer),
//! and one module per record kind under `kind/`, each citing its section of the specification
//! and reached through the one `Kind` trait.
//!
//! Endpoints are published for headless Services only (spec §2.4, kube-dns): a ClusterIP
//! Service's names are its cluster IPs, so both object sources can drop the endpoints of
//! ClusterIP Services and memory stays proportional to what is served. Where kube-dns and
//! CoreDNS differ and the issue is silent, CoreDNS wins: a reverse name gets one PTR (cluster
//! IP first); NS at the apex is
//! answered with glue; `CNAME` asked at a non-ExternalName name is NODATA, not NXDOMAIN; SOA
//! timers are CoreDNS's (7200 1800 86400, minimum = `--neg-ttl`); `<ns>.svc.<zone>` exists
//! only for a namespace with Services or a Namespace object; no `*` wildcards. kube-dns is
//! kept where the issue says so (priority 10, weight floor(100/n), TTL 30, insecure pods in any
//! namespace) and for SOA asked below the apex (NODATA; CoreDNS answers the apex SOA there).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod answer;
mod kind;
mod model;
pub mod name;
pub mod objects;
mod project;
mod sink;
mod snapshot;

pub use kind::zone::DNS_SCHEMA_VERSION;
pub use objects::{ClusterObjects, ObjectsError, from_yaml_documents, from_yaml_documents_on};
pub use project::{SERVICE_NAME_LABEL, project, reads_endpoints, spec_reads_endpoints};
pub use sink::{Collect, Data, NameRef, Outcome, Section, Sink, SoaData};
pub use snapshot::{SnapshotStats, ZoneSnapshot, record_text};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, Record, RecordType};

/// How pod records `a-b-c-d.<ns>.pod.<zone>` are answered (`--pods`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PodMode {
    /// No pod records.
    Disabled,
    /// Any well-formed IP label answers (kube-dns's behaviour).
    #[default]
    Insecure,
    /// Only when a Pod with that IP exists in that namespace.
    Verified,
}

/// A Service's namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceKey {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ServiceKey {
    /// `ServiceKey { namespace, name }`.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ServiceKey {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

/// Settings of the zone that do not come from Kubernetes objects.
#[derive(Debug, Clone)]
pub struct ZoneConfig {
    /// The cluster domain, absolute (`cluster.local.`).
    pub zone: Name,
    /// TTL of every generated record (`--ttl`, default 30).
    pub ttl: u32,
    /// TTL of the SOA in negative answers, also the SOA minimum (`--neg-ttl`, default 5).
    pub neg_ttl: u32,
    /// Pod records mode.
    pub pods: PodMode,
    /// Reverse ranges we are authoritative for: unknown IPs inside get NXDOMAIN, outside REFUSED.
    pub reverse_cidrs: Vec<ipnet::IpNet>,
    /// The Service whose cluster IP is the NS glue (`--dns-service`, default kube-system/kube-dns).
    pub dns_service: ServiceKey,
}

impl ZoneConfig {
    /// The defaults of kube-dns for `zone`: TTL 30, negative TTL 5, insecure pod records, no
    /// reverse CIDRs, NS glue from `kube-system/kube-dns`. The zone is made absolute.
    pub fn new(zone: Name) -> Self {
        let mut zone = zone.to_lowercase();
        zone.set_fqdn(true);
        ZoneConfig {
            zone,
            ttl: 30,
            neg_ttl: 5,
            pods: PodMode::Insecure,
            reverse_cidrs: Vec::new(),
            dns_service: ServiceKey::new("kube-system", "kube-dns"),
        }
    }

    /// True when kubedns is authoritative for `qname` whatever the objects are: names in the
    /// cluster zone (apex included) and reverse names inside `reverse_cidrs` (or their
    /// enclosing reverse zone apex). Before the first sync the server answers SERVFAIL for
    /// these names and REFUSED for every other name.
    pub fn is_in_zone(&self, qname: &Name) -> bool {
        let mut q = qname.clone();
        q.set_fqdn(true);
        let mut zone = self.zone.clone();
        zone.set_fqdn(true);
        zone.zone_of(&q) || kind::ptr::in_reverse_cidrs(&self.reverse_cidrs, &q)
    }
}

/// The reply to one question, before wire encoding.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// Response code.
    pub rcode: ResponseCode,
    /// Whether AA is set.
    pub authoritative: bool,
    /// Answer section.
    pub answers: Vec<Record>,
    /// Authority section (SOA for negative answers, NS at the apex).
    pub authority: Vec<Record>,
    /// Additional section (A/AAAA of SRV targets, NS glue).
    pub additionals: Vec<Record>,
}

impl Answer {
    /// REFUSED, not authoritative, empty: the name is not ours.
    pub fn refused() -> Self {
        Self::bare(ResponseCode::Refused)
    }

    fn bare(rcode: ResponseCode) -> Self {
        Answer {
            rcode,
            authoritative: false,
            answers: Vec::new(),
            authority: Vec::new(),
            additionals: Vec::new(),
        }
    }

    /// The target of the final CNAME when the answer ends with one (an ExternalName Service).
    /// With `!cfg.is_in_zone(target)` and rcode NOERROR the chain left the cluster zone; a
    /// server may chase that target upstream, as CoreDNS does.
    pub fn dangling_cname(&self) -> Option<&Name> {
        let last = self.answers.last()?;
        if last.record_type() != RecordType::CNAME {
            return None;
        }
        match &last.data {
            hickory_proto::rr::RData::CNAME(target) => Some(&target.0),
            _ => None,
        }
    }
}
