//! Metrics of kubedns, registered in an explicit [`Registry`] (no globals).
//!
//! The query-path metrics keep kube-dns's SkyDNS names (`skydns_skydns_dns_*`: dashboards and
//! alerts use them) and add ours. Everything the handler touches is resolved to a concrete counter or
//! histogram once (at registration or on first use through a `OnceLock`), so a query costs a
//! few atomic adds and no label hashing; a UDP worker's fast-path answers cost none, they are
//! summed in its [`Tally`] and added once per batch.

use std::sync::OnceLock;

mod tally;
pub use tally::Tally;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, core::Collector,
};

/// `system` label values of the SkyDNS metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    /// Forward names of the cluster zone (and names we refuse).
    Auth = 0,
    /// `in-addr.arpa` / `ip6.arpa`.
    Reverse = 1,
}

/// `cause` label values of `skydns_skydns_dns_error_count_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// NXDOMAIN.
    Nxdomain = 0,
    /// REFUSED.
    Refused = 1,
    /// SERVFAIL.
    Servfail = 2,
    /// The UDP answer did not fit and was truncated.
    Truncated = 3,
    /// FORMERR (malformed question).
    Formerr = 4,
    /// NOTIMP (other opcodes).
    Notimp = 5,
}

const SYSTEMS: [&str; 2] = ["auth", "reverse"];
const CAUSES: [&str; 6] = [
    "nxdomain",
    "refused",
    "servfail",
    "truncated",
    "formerr",
    "notimp",
];
const RCODES: [&str; 7] = [
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "other",
];
const QTYPES: [&str; 11] = [
    "A", "AAAA", "SRV", "PTR", "TXT", "CNAME", "SOA", "NS", "ANY", "none", "other",
];

/// Where the `(rcode, qtype)` answers counter sits in the flat table of every pair
/// (`rcode * QTYPES.len() + qtype`), for the shared counters and the per-worker tallies.
fn answer_index(rcode: ResponseCode, qtype: Option<RecordType>) -> usize {
    rcode_index(rcode) * QTYPES.len() + qtype_index(qtype)
}

fn rcode_index(rcode: ResponseCode) -> usize {
    match rcode {
        ResponseCode::NoError => 0,
        ResponseCode::FormErr => 1,
        ResponseCode::ServFail => 2,
        ResponseCode::NXDomain => 3,
        ResponseCode::NotImp => 4,
        ResponseCode::Refused => 5,
        _ => 6,
    }
}

fn qtype_index(qtype: Option<RecordType>) -> usize {
    match qtype {
        Some(RecordType::A) => 0,
        Some(RecordType::AAAA) => 1,
        Some(RecordType::SRV) => 2,
        Some(RecordType::PTR) => 3,
        Some(RecordType::TXT) => 4,
        Some(RecordType::CNAME) => 5,
        Some(RecordType::SOA) => 6,
        Some(RecordType::NS) => 7,
        Some(RecordType::ANY) => 8,
        None => 9,
        Some(_) => 10,
    }
}

fn register<C: Collector + Clone + 'static>(reg: &Registry, c: C) -> prometheus::Result<C> {
    reg.register(Box::new(c.clone()))?;
    Ok(c)
}

/// Metrics of the DNS query path.
#[derive(Debug)]
pub struct DnsMetrics {
    requests: [IntCounter; 2],
    duration: [Histogram; 2],
    errors: [[IntCounter; 6]; 2],
    answers_vec: IntCounterVec,
    answers: Box<[OnceLock<IntCounter>]>,
}

impl DnsMetrics {
    /// Registers the query-path metrics in `reg`.
    pub fn register(reg: &Registry) -> prometheus::Result<Self> {
        let requests = register(
            reg,
            IntCounterVec::new(
                Opts::new("dns_request_count_total", "Counter of DNS requests made.")
                    .namespace("skydns")
                    .subsystem("skydns"),
                &["system"],
            )?,
        )?;
        let mut buckets = vec![0.001, 0.003];
        buckets.extend_from_slice(prometheus::DEFAULT_BUCKETS);
        let duration = register(
            reg,
            HistogramVec::new(
                HistogramOpts::new(
                    "dns_request_duration_seconds",
                    "Histogram of the time (in seconds) each request took to resolve.",
                )
                .namespace("skydns")
                .subsystem("skydns")
                .buckets(buckets),
                &["system"],
            )?,
        )?;
        let errors = register(
            reg,
            IntCounterVec::new(
                Opts::new(
                    "dns_error_count_total",
                    "Counter of DNS requests resulting in an error.",
                )
                .namespace("skydns")
                .subsystem("skydns"),
                &["system", "cause"],
            )?,
        )?;
        let answers_vec = register(
            reg,
            IntCounterVec::new(
                Opts::new(
                    "kubedns_answers_total",
                    "DNS responses sent, by response code and question type.",
                ),
                &["rcode", "qtype"],
            )?,
        )?;
        Ok(DnsMetrics {
            requests: SYSTEMS.map(|s| requests.with_label_values(&[s])),
            duration: SYSTEMS.map(|s| duration.with_label_values(&[s])),
            errors: SYSTEMS.map(|s| CAUSES.map(|c| errors.with_label_values(&[s, c]))),
            answers_vec,
            answers: (0..RCODES.len() * QTYPES.len())
                .map(|_| OnceLock::new())
                .collect(),
        })
    }

    /// Counts one request and observes its duration.
    pub fn request(&self, system: System, seconds: f64) {
        self.requests[system as usize].inc();
        self.duration[system as usize].observe(seconds);
    }

    /// Counts one error.
    pub fn error(&self, system: System, cause: Cause) {
        self.errors[system as usize][cause as usize].inc();
    }

    /// Counts one response by rcode and question type.
    pub fn answer(&self, rcode: ResponseCode, qtype: Option<RecordType>) {
        self.answer_counter(answer_index(rcode, qtype)).inc();
    }

    /// The answers counter at [`answer_index`] `a`, made on first use.
    fn answer_counter(&self, a: usize) -> &IntCounter {
        let (r, q) = (a / QTYPES.len(), a % QTYPES.len());
        self.answers[a].get_or_init(|| self.answers_vec.with_label_values(&[RCODES[r], QTYPES[q]]))
    }
}

/// The error counted with a response code, if any.
pub(crate) fn cause_of(rcode: ResponseCode) -> Option<Cause> {
    match rcode {
        ResponseCode::NXDomain => Some(Cause::Nxdomain),
        ResponseCode::Refused => Some(Cause::Refused),
        ResponseCode::ServFail => Some(Cause::Servfail),
        ResponseCode::FormErr => Some(Cause::Formerr),
        ResponseCode::NotImp => Some(Cause::Notimp),
        _ => None,
    }
}

/// Metrics of the zone task.
#[derive(Debug, Clone)]
pub struct ZoneMetrics {
    /// Snapshots published since start.
    pub generation: IntGauge,
    /// SOA serial of the current snapshot.
    pub serial: IntGauge,
    /// Duration of the last projection, seconds.
    pub last_rebuild_seconds: prometheus::Gauge,
    /// Unix time of the last published snapshot.
    pub last_rebuild_timestamp: IntGauge,
    /// Objects in the last snapshot by kind.
    pub objects: IntGaugeVec,
}

impl ZoneMetrics {
    /// Registers the zone metrics in `reg`.
    pub fn register(reg: &Registry) -> prometheus::Result<Self> {
        Ok(ZoneMetrics {
            generation: register(
                reg,
                IntGauge::new(
                    "kubedns_zone_generation",
                    "Zone snapshots published since start.",
                )?,
            )?,
            serial: register(
                reg,
                IntGauge::new("kubedns_zone_serial", "SOA serial of the served snapshot.")?,
            )?,
            last_rebuild_seconds: register(
                reg,
                prometheus::Gauge::new(
                    "kubedns_zone_last_rebuild_seconds",
                    "Time the last zone projection took.",
                )?,
            )?,
            last_rebuild_timestamp: register(
                reg,
                IntGauge::new(
                    "kubedns_zone_last_rebuild_timestamp_seconds",
                    "Unix time of the last published snapshot.",
                )?,
            )?,
            objects: register(
                reg,
                IntGaugeVec::new(
                    Opts::new(
                        "kubedns_zone_objects",
                        "Objects in the served snapshot, by kind.",
                    ),
                    &["kind"],
                )?,
            )?,
        })
    }
}

/// Metrics of the `--manifests` source.
#[derive(Debug, Clone)]
pub struct ManifestMetrics {
    /// Successful loads.
    pub loads: IntCounter,
    /// Failed loads (broken files); the last good set keeps serving.
    pub errors: IntCounter,
}

impl ManifestMetrics {
    /// Registers the manifest source metrics in `reg`.
    pub fn register(reg: &Registry) -> prometheus::Result<Self> {
        Ok(ManifestMetrics {
            loads: register(
                reg,
                IntCounter::new(
                    "kubedns_manifests_loads_total",
                    "Successful loads of the --manifests files.",
                )?,
            )?,
            errors: register(
                reg,
                IntCounter::new(
                    "kubedns_manifests_errors_total",
                    "Failed loads of the --manifests files (last good set kept).",
                )?,
            )?,
        })
    }
}

/// Why autopath left a query alone although its name had the first search domain's shape and
/// did not exist (`outcome` label values after the two answers autopath gives).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutopathOutcome {
    /// Answered with a CNAME to a later search-path name inside the zone.
    InZone = 0,
    /// Answered with a CNAME to the bare name, for the cache to resolve outside.
    OutsideCname = 1,
    /// The client is not a known Pod (unknown IP, host network, shared IP).
    UnknownClient = 2,
    /// The client is a Pod of another namespace: not its first search domain.
    OtherNamespace = 3,
    /// The client subnet hides part of the address, so the Pod cannot be told.
    ShortPrefix = 4,
}

const AUTOPATH_OUTCOMES: [&str; 5] = [
    "in_zone",
    "outside_cname",
    "not_applied_unknown_client",
    "not_applied_other_namespace",
    "not_applied_short_prefix",
];

/// Metrics of autopath (`--autopath`).
#[derive(Debug, Clone)]
pub struct AutopathMetrics {
    outcomes: [IntCounter; 5],
    /// Queries whose client subnet came from a source outside `--autopath-trusted` (the
    /// packet's source was used instead).
    pub untrusted_subnet: IntCounter,
}

impl AutopathMetrics {
    /// Registers the autopath metrics in `reg`.
    pub fn register(reg: &Registry) -> prometheus::Result<Self> {
        let outcomes = register(
            reg,
            IntCounterVec::new(
                Opts::new(
                    "kubedns_autopath_answers_total",
                    "Queries for a missing first-search-path name, by what autopath did.",
                ),
                &["outcome"],
            )?,
        )?;
        Ok(AutopathMetrics {
            outcomes: AUTOPATH_OUTCOMES.map(|o| outcomes.with_label_values(&[o])),
            untrusted_subnet: register(
                reg,
                IntCounter::new(
                    "kubedns_autopath_untrusted_subnet_total",
                    "Client subnet options ignored because their sender is not trusted.",
                )?,
            )?,
        })
    }

    /// Counts one outcome.
    pub fn outcome(&self, outcome: AutopathOutcome) {
        self.outcomes[outcome as usize].inc();
    }
}
