//! The zone's own names: the apex (SOA; NS with `ns.dns.<zone>` glue in Additional, as
//! CoreDNS), `dns-version.<zone>` (TXT with the schema version, spec §2.2), `ns.dns.<zone>`
//! (the glue addresses), and the empty non-terminals `dns`, `svc` and `<ns>.svc` (the latter
//! only for a namespace that exists). Service names below `<ns>.svc` belong to the Service
//! kinds.

use hickory_proto::rr::RecordType;

use super::{Found, Kind, Question, ZoneView, address_records};
use crate::sink::{Data, NameRef, Section, Sink};

/// The schema version of the specification we implement (§2.2).
pub const DNS_SCHEMA_VERSION: &str = "1.1.0";

/// Names owned by the zone itself.
pub(crate) struct ZoneNames;

impl Kind for ZoneNames {
    fn lookup<'z>(
        &self,
        zone: &'z dyn ZoneView,
        q: &Question<'_, 'z>,
        out: &mut dyn Sink,
    ) -> Option<Found<'z>> {
        let ttl = zone.ttl();
        match q.labels {
            [] => apex(zone, q.owner, q.qtype, out),
            [b"dns-version"] => {
                if matches!(q.qtype, RecordType::TXT | RecordType::ANY) {
                    let txt = Data::Txt(DNS_SCHEMA_VERSION);
                    out.record(Section::Answer, q.owner, ttl, txt);
                }
            }
            [b"dns"] | [b"svc"] => {}
            [b"ns", b"dns"] => {
                let glue = zone.glue().iter().copied();
                address_records(glue, q.owner, q.qtype, ttl, Section::Answer, out);
            }
            [ns, b"svc"] => {
                let exists = std::str::from_utf8(ns).is_ok_and(|ns| zone.namespace_exists(ns));
                return Some(if exists {
                    Found::Exists
                } else {
                    Found::Missing
                });
            }
            _ => return None,
        }
        Some(Found::Exists)
    }
}

/// A zone apex (the cluster zone or a reverse zone) at `owner`: SOA, NS (with the glue of
/// `ns.dns.<zone>` in Additional), ANY gives both.
pub(crate) fn apex(zone: &dyn ZoneView, owner: NameRef<'_>, qtype: RecordType, out: &mut dyn Sink) {
    let ttl = zone.ttl();
    if matches!(qtype, RecordType::SOA | RecordType::ANY) {
        out.record(Section::Answer, owner, ttl, Data::Soa(zone.soa()));
    }
    if matches!(qtype, RecordType::NS | RecordType::ANY) {
        let ns = NameRef::Name(zone.ns_name());
        out.record(Section::Answer, owner, ttl, Data::Ns(ns));
        let glue = zone.glue().iter().copied();
        address_records(glue, ns, RecordType::ANY, ttl, Section::Additional, out);
    }
}
