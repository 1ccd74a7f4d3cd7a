//! Where an answer's records go. The answer path and the record kinds describe each record
//! once, as a [`Sink::record`] call with borrowed names ([`NameRef`]) and data ([`Data`]);
//! the sink decides what to build. [`Collect`] builds hickory `Record`s (the reference path,
//! tests, `dump`); the server's wire writer encodes straight into the reply buffer, so the
//! common answer allocates nothing.
//!
//! Calls arrive section by section (Answer, then Authority, then Additional), each record
//! complete. Must not: decide anything about the answer (that is `answer` and the kinds).

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record};

use crate::Answer;

/// A message section a record goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    /// Answer.
    Answer,
    /// Authority (the SOA of negative answers).
    Authority,
    /// Additional (addresses of SRV and NS targets).
    Additional,
}

/// A domain name as the answer path holds it: borrowed, never built.
#[derive(Debug, Clone, Copy)]
pub enum NameRef<'a> {
    /// The question's name, spelled as the client asked it.
    Asked,
    /// An absolute name.
    Name(&'a Name),
    /// A label under an absolute name (an endpoint under its Service).
    Under(&'a [u8], &'a Name),
}

/// SOA RDATA (RFC 1035 §3.3.13).
#[derive(Debug, Clone, Copy)]
pub struct SoaData<'a> {
    /// Primary server (`ns.dns.<zone>.`).
    pub mname: &'a Name,
    /// Responsible mailbox (`hostmaster.<zone>.`).
    pub rname: &'a Name,
    /// Serial.
    pub serial: u32,
    /// Refresh.
    pub refresh: i32,
    /// Retry.
    pub retry: i32,
    /// Expire.
    pub expire: i32,
    /// Minimum (negative TTL).
    pub minimum: u32,
}

/// The RDATA of one record.
#[derive(Debug, Clone, Copy)]
pub enum Data<'a> {
    /// IPv4 address.
    A(Ipv4Addr),
    /// IPv6 address.
    Aaaa(Ipv6Addr),
    /// Alias target.
    Cname(NameRef<'a>),
    /// Name server.
    Ns(NameRef<'a>),
    /// Reverse pointer target.
    Ptr(NameRef<'a>),
    /// Service location (RFC 2782).
    Srv {
        /// Priority.
        priority: u16,
        /// Weight.
        weight: u16,
        /// Port.
        port: u16,
        /// Target host.
        target: NameRef<'a>,
    },
    /// One character string.
    Txt(&'a str),
    /// Start of authority.
    Soa(SoaData<'a>),
}

/// Receives the records of one answer.
pub trait Sink {
    /// One record: `owner ttl IN <data>` in `section`.
    fn record(&mut self, section: Section, owner: NameRef<'_>, ttl: u32, data: Data<'_>);
}

/// The header fields an answer decides (its records went to the sink).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Response code.
    pub rcode: ResponseCode,
    /// Whether AA is set.
    pub authoritative: bool,
}

/// Builds hickory [`Record`]s into an [`Answer`] (the reference encoding path).
#[derive(Debug)]
pub struct Collect<'a> {
    asked: &'a Name,
    /// The answer being built; its rcode and AA are set by the caller from the [`Outcome`].
    pub answer: Answer,
}

impl<'a> Collect<'a> {
    /// A sink whose [`NameRef::Asked`] is `asked` (absolute, as spelled by the client).
    pub fn new(asked: &'a Name) -> Self {
        Collect {
            asked,
            answer: Answer::refused(),
        }
    }

    /// The collected answer with `outcome`'s header fields.
    pub fn finish(mut self, outcome: Outcome) -> Answer {
        self.answer.rcode = outcome.rcode;
        self.answer.authoritative = outcome.authoritative;
        self.answer
    }

    fn name(&self, name: NameRef<'_>) -> Option<Name> {
        match name {
            NameRef::Asked => Some(self.asked.clone()),
            NameRef::Name(n) => Some(n.clone()),
            NameRef::Under(label, n) => n.prepend_label(label).ok(),
        }
    }
}

impl Sink for Collect<'_> {
    fn record(&mut self, section: Section, owner: NameRef<'_>, ttl: u32, data: Data<'_>) {
        let Some(owner) = self.name(owner) else {
            return;
        };
        let rdata = match data {
            Data::A(ip) => RData::A(A(ip)),
            Data::Aaaa(ip) => RData::AAAA(AAAA(ip)),
            Data::Cname(n) => match self.name(n) {
                Some(n) => RData::CNAME(CNAME(n)),
                None => return,
            },
            Data::Ns(n) => match self.name(n) {
                Some(n) => RData::NS(NS(n)),
                None => return,
            },
            Data::Ptr(n) => match self.name(n) {
                Some(n) => RData::PTR(PTR(n)),
                None => return,
            },
            Data::Srv {
                priority,
                weight,
                port,
                target,
            } => match self.name(target) {
                Some(t) => RData::SRV(SRV::new(priority, weight, port, t)),
                None => return,
            },
            Data::Txt(text) => RData::TXT(TXT::new(vec![text.to_string()])),
            Data::Soa(s) => RData::SOA(SOA::new(
                s.mname.clone(),
                s.rname.clone(),
                s.serial,
                s.refresh,
                s.retry,
                s.expire,
                s.minimum,
            )),
        };
        let record = Record::from_rdata(owner, ttl, rdata);
        match section {
            Section::Answer => self.answer.answers.push(record),
            Section::Authority => self.answer.authority.push(record),
            Section::Additional => self.answer.additionals.push(record),
        }
    }
}

/// True when `label` under `name` is a valid name: a label of 1 to 63 octets and at most 255
/// octets encoded (RFC 1035 §2.3.4). A record owned by or pointing at a longer name cannot
/// exist, so kinds skip it.
pub(crate) fn under_fits(label: &[u8], name: &Name) -> bool {
    let encoded: usize = name.iter().map(|l| l.len() + 1).sum::<usize>() + 1 + label.len() + 1;
    !label.is_empty() && label.len() <= 63 && encoded <= 255
}

/// Passes records on and counts those in the Answer section (an empty answer is NODATA).
pub(crate) struct Tally<'s> {
    out: &'s mut dyn Sink,
    /// Records passed to Answer so far.
    pub answers: usize,
}

impl<'s> Tally<'s> {
    pub(crate) fn new(out: &'s mut dyn Sink) -> Self {
        Tally { out, answers: 0 }
    }
}

impl Sink for Tally<'_> {
    fn record(&mut self, section: Section, owner: NameRef<'_>, ttl: u32, data: Data<'_>) {
        if section == Section::Answer {
            self.answers += 1;
        }
        self.out.record(section, owner, ttl, data);
    }
}
