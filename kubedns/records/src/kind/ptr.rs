//! Reverse records, spec §2.3.3 (cluster IPs to `<svc>.<ns>.svc.<zone>`) and §2.4.3 (endpoint
//! IPs to `<hostname>.<svc>.<ns>.svc.<zone>`), in `in-addr.arpa.` and `ip6.arpa.`. One PTR
//! per owned IP, the best owner first (cluster IP, then headless endpoint, then other
//! endpoints; CoreDNS also returns one). Names of IPs nobody owns: NXDOMAIN inside
//! `--reverse-cidrs`, REFUSED outside, so a cache in front falls through to its upstream.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};
use ipnet::IpNet;

use super::ZoneView;
use crate::model::{Owner, SvcKind};
use crate::name::{parse_reverse, parse_reverse_labels};
use crate::sink::{Data, NameRef, Outcome, Section, Sink, Tally, under_fits};

/// The reverse zone apex of a CIDR: its prefix rounded down to a label boundary (octet for
/// IPv4, nibble for IPv6), e.g. 10.96.0.0/12 lives in `10.in-addr.arpa.`.
fn apex(cidr: &IpNet) -> IpNet {
    let len = match cidr {
        IpNet::V4(n) => n.prefix_len() / 8 * 8,
        IpNet::V6(n) => n.prefix_len() / 4 * 4,
    };
    IpNet::new(cidr.network(), len)
        .map(|n| n.trunc())
        .unwrap_or(*cidr)
}

/// The CIDR covering `net` (a reverse name's network) and its apex: `net` lies inside the
/// CIDR, or between the CIDR and its zone apex.
fn covering(cidrs: &[IpNet], net: &IpNet) -> Option<(IpNet, IpNet)> {
    cidrs.iter().find_map(|c| {
        let a = apex(c);
        let same_family = matches!(
            (c, net),
            (IpNet::V4(_), IpNet::V4(_)) | (IpNet::V6(_), IpNet::V6(_))
        );
        let inside = same_family
            && net.prefix_len() >= a.prefix_len()
            && (c.contains(net) || net.contains(c));
        inside.then_some((*c, a))
    })
}

/// True when `qname` is a reverse name inside one of `cidrs` (or between a CIDR and its apex).
pub(crate) fn in_reverse_cidrs(cidrs: &[IpNet], qname: &Name) -> bool {
    parse_reverse(qname).is_some_and(|net| covering(cidrs, &net).is_some())
}

/// The reverse name of a network on a label boundary (`10.in-addr.arpa.`).
fn zone_name(net: &IpNet) -> Option<Name> {
    let text = match net {
        IpNet::V4(n) => {
            let o = n.network().octets();
            let k = usize::from(n.prefix_len() / 8);
            let mut s: String = o.iter().take(k).rev().map(|b| format!("{b}.")).collect();
            s.push_str("in-addr.arpa.");
            s
        }
        IpNet::V6(n) => {
            let bits = u128::from(n.network());
            let k = usize::from(n.prefix_len() / 4);
            let mut s: String = (0..k)
                .rev()
                .map(|i| format!("{:x}.", (bits >> (124 - 4 * i)) & 0xf))
                .collect();
            s.push_str("ip6.arpa.");
            s
        }
    };
    Name::from_ascii(text).ok()
}

fn whole(net: &IpNet) -> IpNet {
    IpNet::new(net.network(), 0)
        .map(|n| n.trunc())
        .unwrap_or(*net)
}

/// Answers a reverse name given as its labels (absolute, lower-cased, leftmost first).
/// Negative answers and the apex build the reverse zone's name for the SOA owner.
pub(crate) fn answer(
    zone: &dyn ZoneView,
    labels: &[&[u8]],
    qtype: RecordType,
    out: &mut dyn Sink,
) -> Outcome {
    let Some(net) = parse_reverse_labels(labels) else {
        return REFUSED;
    };
    let full = net.prefix_len() == net.max_prefix_len();
    let owner = if full {
        zone.reverse().owner(net.addr())
    } else {
        None
    };
    let cover = covering(zone.reverse_cidrs(), &net);
    let apex_net = cover.map(|(_, a)| a).unwrap_or_else(|| whole(&net));
    let Some(apex_name) = zone_name(&apex_net) else {
        return REFUSED;
    };
    let soa = |rcode, out: &mut dyn Sink| {
        let owner = NameRef::Name(&apex_name);
        out.record(
            Section::Authority,
            owner,
            zone.neg_ttl(),
            Data::Soa(zone.soa()),
        );
        Outcome {
            rcode,
            authoritative: true,
        }
    };
    let mut tally = Tally::new(out);
    if let Some(owner) = owner {
        if matches!(qtype, RecordType::PTR | RecordType::ANY) {
            ptr_record(zone, owner, &mut tally);
        }
    } else {
        let Some((cidr, apex)) = cover else {
            return REFUSED;
        };
        if net != apex {
            let exists = !full && (net.contains(&cidr) || zone.reverse().any_inside(&net));
            let rcode = match exists {
                true => ResponseCode::NoError,
                false => ResponseCode::NXDomain,
            };
            return soa(rcode, out);
        }
        super::zone::apex(zone, NameRef::Asked, qtype, &mut tally);
    }
    match tally.answers {
        0 => soa(ResponseCode::NoError, out),
        _ => Outcome {
            rcode: ResponseCode::NoError,
            authoritative: true,
        },
    }
}

const REFUSED: Outcome = Outcome {
    rcode: ResponseCode::Refused,
    authoritative: false,
};

/// The PTR at the asked name to the name of `owner`.
fn ptr_record(zone: &dyn ZoneView, owner: Owner, out: &mut dyn Sink) {
    let ttl = zone.ttl();
    match owner {
        Owner::Service(s) => {
            let Some(svc) = zone.svc_at(s) else { return };
            if matches!(svc.kind(), SvcKind::ClusterIp(_)) {
                let target = NameRef::Name(svc.name());
                out.record(Section::Answer, NameRef::Asked, ttl, Data::Ptr(target));
            }
        }
        Owner::HeadlessEndpoint(s, e) | Owner::Endpoint(s, e) => {
            let Some(svc) = zone.svc_at(s) else { return };
            let Some(ep) = usize::try_from(e).ok().and_then(|e| svc.endpoints().get(e)) else {
                return;
            };
            let mut buf = [0u8; 48];
            let label = super::headless::endpoint_label(svc, ep, &mut buf);
            if under_fits(label, svc.name()) {
                let target = NameRef::Under(label, svc.name());
                out.record(Section::Answer, NameRef::Asked, ttl, Data::Ptr(target));
            }
        }
    }
}
