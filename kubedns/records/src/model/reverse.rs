//! The reverse index of a snapshot: which Service or endpoint owns each IP, one best owner
//! per address, IPv4 and IPv6 in separate sorted vectors (16 bytes per IPv4 entry). Built by
//! `project`, read by `kind::ptr`. Must not build names or records (that is `kind::ptr`).

use std::net::IpAddr;

use ipnet::IpNet;

/// Who owns a reverse name. Ordered: cluster IPs first, then headless endpoints, then other
/// endpoints; the first owner answers the PTR, as CoreDNS returns one name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Owner {
    Service(u32),
    HeadlessEndpoint(u32, u32),
    Endpoint(u32, u32),
}

/// Reverse ownership: one best owner per IP, IPv4 and IPv6 kept apart so an IPv4 entry takes
/// 16 bytes. Sorted by address after [`Reverse::finish`].
#[derive(Debug, Default)]
pub(crate) struct Reverse {
    v4: Vec<(u32, Owner)>,
    v6: Vec<(u128, Owner)>,
}

impl Reverse {
    pub(crate) fn push(&mut self, ip: IpAddr, owner: Owner) {
        match ip {
            IpAddr::V4(v4) => self.v4.push((u32::from(v4), owner)),
            IpAddr::V6(v6) => self.v6.push((u128::from(v6), owner)),
        }
    }

    /// Sorts, keeps the best owner per IP, and trims capacity.
    pub(crate) fn finish(&mut self) {
        self.v4.sort_unstable();
        self.v4.dedup_by_key(|(ip, _)| *ip);
        self.v4.shrink_to_fit();
        self.v6.sort_unstable();
        self.v6.dedup_by_key(|(ip, _)| *ip);
        self.v6.shrink_to_fit();
    }

    pub(crate) fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// The owner of `ip`.
    pub(crate) fn owner(&self, ip: IpAddr) -> Option<Owner> {
        match ip {
            IpAddr::V4(v4) => find(&self.v4, u32::from(v4)),
            IpAddr::V6(v6) => find(&self.v6, u128::from(v6)),
        }
    }

    /// True when some owned IP lies inside `net`.
    pub(crate) fn any_inside(&self, net: &IpNet) -> bool {
        match net {
            IpNet::V4(n) => first_at_least(&self.v4, u32::from(n.network()))
                .is_some_and(|ip| ip <= u32::from(n.broadcast())),
            IpNet::V6(n) => first_at_least(&self.v6, u128::from(n.network()))
                .is_some_and(|ip| ip <= u128::from(n.broadcast())),
        }
    }

    /// Every owned IP.
    pub(crate) fn ips(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let v4 = self
            .v4
            .iter()
            .map(|(ip, _)| IpAddr::from(std::net::Ipv4Addr::from(*ip)));
        let v6 = self
            .v6
            .iter()
            .map(|(ip, _)| IpAddr::from(std::net::Ipv6Addr::from(*ip)));
        v4.chain(v6)
    }
}

fn find<K: Ord + Copy>(list: &[(K, Owner)], ip: K) -> Option<Owner> {
    list.binary_search_by_key(&ip, |(k, _)| *k)
        .ok()
        .and_then(|i| list.get(i))
        .map(|(_, o)| *o)
}

fn first_at_least<K: Ord + Copy>(list: &[(K, Owner)], ip: K) -> Option<K> {
    let i = list.partition_point(|(k, _)| *k < ip);
    list.get(i).map(|(k, _)| *k)
}
