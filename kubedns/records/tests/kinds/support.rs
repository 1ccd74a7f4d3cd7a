//! Table runner in CoreDNS `test.Case` style: a question as `"<name> <TYPE>"`, the expected
//! rcode, and the expected sections as zone-file lines (normalised through hickory's zone
//! parser, compared as sorted sets).

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};
use hickory_proto::serialize::txt::Parser;
use kubedns_records::{ZoneConfig, ZoneSnapshot, from_yaml_documents, project, record_text};

/// The negative-answer SOA of `cluster.local.` at serial 1.
pub const SOA: &str =
    "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5";

pub struct Case {
    pub q: &'static str,
    pub rcode: ResponseCode,
    pub answer: &'static [&'static str],
    pub ns: &'static [&'static str],
    pub extra: &'static [&'static str],
}

impl Case {
    pub const fn ok(q: &'static str, answer: &'static [&'static str]) -> Case {
        Case {
            q,
            rcode: ResponseCode::NoError,
            answer,
            ns: &[],
            extra: &[],
        }
    }
    pub const fn nodata(q: &'static str) -> Case {
        Case {
            q,
            rcode: ResponseCode::NoError,
            answer: &[],
            ns: &[SOA],
            extra: &[],
        }
    }
    pub const fn nxdomain(q: &'static str) -> Case {
        Case {
            q,
            rcode: ResponseCode::NXDomain,
            answer: &[],
            ns: &[SOA],
            extra: &[],
        }
    }
    pub const fn refused(q: &'static str) -> Case {
        Case {
            q,
            rcode: ResponseCode::Refused,
            answer: &[],
            ns: &[],
            extra: &[],
        }
    }
    pub const fn extra(mut self, extra: &'static [&'static str]) -> Case {
        self.extra = extra;
        self
    }
    pub const fn ns(mut self, ns: &'static [&'static str]) -> Case {
        self.ns = ns;
        self
    }
}

pub fn config() -> ZoneConfig {
    ZoneConfig::new(Name::from_ascii("cluster.local.").unwrap())
}

pub fn zone(yaml: &str) -> ZoneSnapshot {
    zone_with(yaml, &config())
}

pub fn zone_with(yaml: &str, cfg: &ZoneConfig) -> ZoneSnapshot {
    project(&from_yaml_documents(yaml).unwrap(), cfg, 1)
}

/// Normalises zone-file lines (one record each) through hickory's parser.
fn normalise(lines: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in lines {
        let (_, sets) = Parser::new(*line, None, Some(Name::root()))
            .parse()
            .unwrap_or_else(|e| panic!("bad expected line {line:?}: {e}"));
        // The parser lower-cases owners; keep the line's spelling (case tests need it).
        let owner = Name::from_ascii(line.split_whitespace().next().unwrap_or(".")).unwrap();
        for set in sets.values() {
            out.extend(set.records_without_rrsigs().map(|r| {
                let mut r = r.clone();
                r.name = owner.clone();
                record_text(&r)
            }));
        }
    }
    out.sort();
    out
}

fn render(records: &[Record]) -> Vec<String> {
    let mut out: Vec<String> = records.iter().map(record_text).collect();
    out.sort();
    out
}

pub fn ask(snap: &ZoneSnapshot, q: &str) -> kubedns_records::Answer {
    let (name, ty) = q.rsplit_once(' ').unwrap();
    let ty: RecordType = ty.parse().unwrap();
    snap.answer(&Name::from_ascii(name).unwrap(), ty, DNSClass::IN)
}

pub fn run(snap: &ZoneSnapshot, cases: &[Case]) {
    for case in cases {
        let got = ask(snap, case.q);
        assert_eq!(got.rcode, case.rcode, "{}: rcode, got {got:#?}", case.q);
        assert_eq!(
            render(&got.answers),
            normalise(case.answer),
            "{}: answer",
            case.q
        );
        assert_eq!(
            render(&got.authority),
            normalise(case.ns),
            "{}: authority",
            case.q
        );
        assert_eq!(
            render(&got.additionals),
            normalise(case.extra),
            "{}: additional",
            case.q
        );
        let refused = case.rcode == ResponseCode::Refused;
        assert_eq!(got.authoritative, !refused, "{}: AA", case.q);
    }
}
