//! ExternalName Services, spec §2.5: a CNAME at `<svc>.<ns>.svc.<zone>` to
//! `spec.externalName`. Chasing an in-zone target (loop-safe, bounded) is the answer path's
//! job; this module only reads and validates the target. Endpoints are ignored.

use hickory_proto::rr::Name;

use super::{Found, Kind, Question, ZoneView};
use crate::model::SvcKind;
use crate::objects::ServiceSpec;
use crate::sink::Sink;

/// `None` when the Service is not an ExternalName; `Some(None)` when it is but its target is
/// not a valid name (the Service is then left out of the zone).
pub(crate) fn target(spec: Option<&ServiceSpec>) -> Option<Option<Name>> {
    let spec = spec?;
    if spec.type_.as_deref() != Some("ExternalName") {
        return None;
    }
    let text = spec.external_name.as_deref().unwrap_or("").trim();
    if text.is_empty() {
        return Some(None);
    }
    Some(Name::from_ascii(text).ok().map(|n| {
        let mut n = n.to_lowercase();
        n.set_fqdn(true);
        n
    }))
}

/// ExternalName Services: the Service name is an alias, nothing exists below it.
pub(crate) struct ExternalName;

impl Kind for ExternalName {
    fn lookup<'z>(
        &self,
        _zone: &'z dyn ZoneView,
        q: &Question<'_, 'z>,
        _out: &mut dyn Sink,
    ) -> Option<Found<'z>> {
        let (svc, below) = q.service?;
        let SvcKind::ExternalName(target) = svc.kind() else {
            return None;
        };
        Some(match below {
            [] => Found::Alias(target),
            _ => Found::Missing,
        })
    }
}
