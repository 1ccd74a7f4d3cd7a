//! kubedns-records: the pure core of kubedns.
//!
//! Kubernetes objects (k8s-openapi types) go in, an immutable [`ZoneSnapshot`] comes out
//! ([`project`]); a snapshot and a question give an [`Answer`] ([`ZoneSnapshot::answer`]).
//! No async, no clock, no I/O, no logging: everything here is a value-to-value function and is
//! table-tested. Spec: Kubernetes DNS-Based Service Discovery, schema 1.1.0.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

pub mod objects;

pub use objects::ClusterObjects;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};

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

/// An immutable view of the cluster zone at one generation.
#[derive(Debug, Default)]
pub struct ZoneSnapshot {
    serial: u32,
}

impl ZoneSnapshot {
    /// The SOA serial of this snapshot.
    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// Answers `qname`/`qtype`/`qclass`. Owner names in the answer keep `qname`'s spelling.
    pub fn answer(&self, _qname: &Name, _qtype: RecordType, _qclass: DNSClass) -> Answer {
        Answer {
            rcode: ResponseCode::Refused,
            authoritative: false,
            answers: Vec::new(),
            authority: Vec::new(),
            additionals: Vec::new(),
        }
    }
}

/// Projects the cluster objects into a zone snapshot with SOA serial `serial`.
pub fn project(_objects: &ClusterObjects, _cfg: &ZoneConfig, serial: u32) -> ZoneSnapshot {
    ZoneSnapshot { serial }
}
