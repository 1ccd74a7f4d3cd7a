//! One module per record kind, named after the section of the Kubernetes DNS specification
//! (schema 1.1.0) it implements. Each module owns both halves of its kind: what the
//! projection keeps from the objects, and the records it materialises for a question.

pub(crate) mod cluster_ip;
pub(crate) mod external_name;
pub(crate) mod headless;
pub(crate) mod pod;
pub(crate) mod ptr;

use std::net::IpAddr;

use hickory_proto::rr::rdata::{A, AAAA, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};

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
