//! One module per record kind, named after the section of the Kubernetes DNS specification
//! (schema 1.1.0) it implements. Each module owns both halves of its kind: what the
//! projection keeps from the objects, and the records it materialises for a question.
//!
//! Dependencies go one way: `answer` and `project` call the kinds; the kinds see the zone only
//! through [`ZoneView`] (implemented by the snapshot) and the leaf `model`, never `answer` or
//! `snapshot` themselves, so a new kind is a new file plus its line in `answer`'s dispatch.

pub(crate) mod cluster_ip;
pub(crate) mod external_name;
pub(crate) mod headless;
pub(crate) mod pod;
pub(crate) mod ptr;

use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use ipnet::IpNet;

use crate::model::{Reverse, Svc};
use crate::{Answer, PodMode};

/// What a record kind may ask of the zone it answers from.
pub(crate) trait ZoneView {
    /// TTL of positive records.
    fn ttl(&self) -> u32;
    /// TTL of the SOA in negative answers.
    fn neg_ttl(&self) -> u32;
    /// The Service at index `idx` of the zone.
    fn svc_at(&self, idx: u32) -> Option<&Svc>;
    /// Who owns each IP.
    fn reverse(&self) -> &Reverse;
    /// Reverse ranges answered authoritatively.
    fn reverse_cidrs(&self) -> &[IpNet];
    /// `--pods`.
    fn pods(&self) -> PodMode;
    /// `(namespace, IP)` of every Pod, sorted (with `--pods=verified`).
    fn pod_ips(&self) -> &[(Box<str>, IpAddr)];
    /// The zone's SOA record at `owner` with `ttl`.
    fn soa(&self, owner: &Name, ttl: u32) -> Record;
    /// SOA and NS (with glue) at a zone apex `owner`, for `qtype`.
    fn apex(&self, owner: &Name, qtype: RecordType, reply: &mut Reply);
}

/// Records being assembled for one name.
#[derive(Debug, Default)]
pub(crate) struct Reply {
    pub answers: Vec<Record>,
    pub additionals: Vec<Record>,
}

/// A/AAAA records for `ips` at `owner`, filtered by `qtype` (A, AAAA, or ANY for both).
pub(crate) fn address_records(
    ips: impl IntoIterator<Item = IpAddr>,
    owner: &Name,
    qtype: RecordType,
    ttl: u32,
    out: &mut Vec<Record>,
) {
    for ip in ips {
        let data = match (ip, qtype) {
            (IpAddr::V4(v4), RecordType::A | RecordType::ANY) => RData::A(A(v4)),
            (IpAddr::V6(v6), RecordType::AAAA | RecordType::ANY) => RData::AAAA(AAAA(v6)),
            _ => continue,
        };
        out.push(Record::from_rdata(owner.clone(), ttl, data));
    }
}

/// SRV records at `owner` for `(port, target)` pairs, priority 10 and weight floor(100/n)
/// (kube-dns), in the given order.
pub(crate) fn srv_records(targets: &[(u16, Name)], owner: &Name, ttl: u32, out: &mut Vec<Record>) {
    let n = u16::try_from(targets.len()).unwrap_or(u16::MAX).max(1);
    let weight = 100 / n;
    for (port, target) in targets {
        let srv = SRV::new(10, weight, *port, target.clone());
        out.push(Record::from_rdata(owner.clone(), ttl, RData::SRV(srv)));
    }
}

/// NOERROR, authoritative, with records.
pub(crate) fn positive(answers: Vec<Record>, additionals: Vec<Record>) -> Answer {
    Answer {
        rcode: ResponseCode::NoError,
        authoritative: true,
        answers,
        authority: Vec::new(),
        additionals,
    }
}

/// NOERROR with the records of `reply`, or NODATA with `soa()` when it has no answer.
pub(crate) fn data_or_nodata(reply: Reply, soa: impl FnOnce() -> Record) -> Answer {
    match reply.answers.is_empty() {
        true => negative(ResponseCode::NoError, soa()),
        false => positive(reply.answers, reply.additionals),
    }
}

/// NXDOMAIN or NODATA (NOERROR, empty), authoritative, SOA in Authority.
pub(crate) fn negative(rcode: ResponseCode, soa: Record) -> Answer {
    Answer {
        rcode,
        authoritative: true,
        answers: Vec::new(),
        authority: vec![soa],
        additionals: Vec::new(),
    }
}
