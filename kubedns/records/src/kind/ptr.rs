//! Reverse records, spec §2.3.3 (cluster IPs to `<svc>.<ns>.svc.<zone>`) and §2.4.3 (endpoint
//! IPs to `<hostname>.<svc>.<ns>.svc.<zone>`), in `in-addr.arpa.` and `ip6.arpa.`. One PTR
//! per owned IP, the best owner first (cluster IP, then headless endpoint, then other
//! endpoints; CoreDNS also returns one). Names of IPs nobody owns: NXDOMAIN inside
//! `--reverse-cidrs`, REFUSED outside, so a cache in front falls through to its upstream.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::PTR;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use ipnet::IpNet;

use super::{Reply, ZoneView, data_or_nodata, negative};
use crate::Answer;
use crate::model::{Owner, SvcKind};
use crate::name::parse_reverse;

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

/// Answers a reverse name. `qname` is absolute.
pub(crate) fn answer(snap: &impl ZoneView, qname: &Name, qtype: RecordType) -> Answer {
    let Some(net) = parse_reverse(qname) else {
        return Answer::refused();
    };
    let full = net.prefix_len() == net.max_prefix_len();
    let owner = if full {
        snap.reverse().owner(net.addr())
    } else {
        None
    };
    let cover = covering(snap.reverse_cidrs(), &net);
    let apex_net = cover.map(|(_, a)| a).unwrap_or_else(|| whole(&net));
    let Some(apex_name) = zone_name(&apex_net) else {
        return Answer::refused();
    };
    let soa = || snap.soa(&apex_name, snap.neg_ttl());
    if let Some(owner) = owner {
        let mut reply = Reply::default();
        if matches!(qtype, RecordType::PTR | RecordType::ANY)
            && let Some(target) = ptr_target(snap, owner)
        {
            reply.answers.push(Record::from_rdata(
                qname.clone(),
                snap.ttl(),
                RData::PTR(PTR(target)),
            ));
        }
        return data_or_nodata(reply, soa);
    }
    let Some((cidr, apex)) = cover else {
        return Answer::refused();
    };
    if net == apex {
        let mut reply = Reply::default();
        snap.apex(qname, qtype, &mut reply);
        return data_or_nodata(reply, soa);
    }
    let exists = !full && (net.contains(&cidr) || snap.reverse().any_inside(&net));
    match exists {
        true => negative(ResponseCode::NoError, soa()),
        false => negative(ResponseCode::NXDomain, soa()),
    }
}

fn ptr_target(snap: &impl ZoneView, owner: Owner) -> Option<Name> {
    match owner {
        Owner::Service(s) => {
            let svc = snap.svc_at(s)?;
            matches!(svc.kind, SvcKind::ClusterIp(_)).then(|| svc.name.clone())
        }
        Owner::HeadlessEndpoint(s, e) | Owner::Endpoint(s, e) => {
            let svc = snap.svc_at(s)?;
            let ep = svc.endpoints.get(usize::try_from(e).ok()?)?;
            super::headless::endpoint_name(svc, ep)
        }
    }
}
