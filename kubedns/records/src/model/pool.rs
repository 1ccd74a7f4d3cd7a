//! Where a snapshot keeps its Services: one vector per kind of item (cluster IPs, ports, port
//! groups, endpoints, ExternalName targets) and one text buffer (hostnames, port names,
//! namespaces) for every Service, each Service holding [`Span`]s into them.
//!
//! A rebuild builds the next snapshot while the previous one still serves, then frees the
//! previous one. Kept as a few large blocks, a freed snapshot goes back to the kernel whole
//! (blocks of 128 KiB and more are mapped on their own, `kubedns/src/heap.rs`); kept as small
//! blocks per Service (tens of thousands), the next snapshot's blocks fill the holes between
//! the live ones and pages holding even one live block stay resident (RSS grew by the size of
//! a snapshot on churn). Must not: allocate per Service or per endpoint.

use std::cmp::Ordering;
use std::net::IpAddr;

use hickory_proto::rr::Name;

use super::{Ep, Port, PortSpec, Span};

/// The items of every Service of a snapshot.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    /// Hostnames, port names and namespaces, concatenated.
    text: String,
    /// Cluster IPs.
    ips: Vec<IpAddr>,
    /// Service ports and the ports of endpoint groups.
    ports: Vec<Port>,
    /// Endpoint groups (one per EndpointSlice or Endpoints subset): spans of `ports`.
    groups: Vec<Span>,
    /// Published endpoints, each Service's sorted by (label, ip).
    eps: Vec<Ep>,
    /// ExternalName targets (absolute).
    targets: Vec<Name>,
    /// Namespaces that exist, sorted: spans of `text`.
    namespaces: Vec<Span>,
}

/// What a stored Service resolves to (the pool holds the items).
#[derive(Debug, Clone, Copy)]
enum Resolves {
    ClusterIp(Span),
    Headless,
    ExternalName(u32),
}

/// One Service as the snapshot stores it; read through [`Svc`].
#[derive(Debug, Clone)]
pub(crate) struct SvcEntry {
    /// `<svc>.<ns>.svc.<zone>.`, lower-case.
    name: Name,
    resolves: Resolves,
    /// Service ports (`spec.ports`, `port` numbers): a span of the pool's ports.
    ports: Span,
    /// Port groups of the endpoints: a span of the pool's groups.
    groups: Span,
    /// Published endpoints, sorted by (label, ip): a span of the pool's endpoints.
    endpoints: Span,
}

/// What a Service name resolves to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SvcKind<'z> {
    /// ClusterIP (and NodePort/LoadBalancer): the cluster IPs.
    ClusterIp(&'z [IpAddr]),
    /// clusterIP None: the published endpoints.
    Headless,
    /// CNAME target (absolute).
    ExternalName(&'z Name),
}

/// One Service as the zone sees it: its entry and the pool holding its items.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Svc<'z> {
    pool: &'z Pool,
    entry: &'z SvcEntry,
}

/// Converts a length or offset to the pool's `u32` (a snapshot holds far fewer than 2^32
/// items or text bytes; a larger value saturates and its span reads empty).
fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Pool {
    /// An empty pool with room for `endpoints` endpoints and `services` Services' items,
    /// so the large vectors are allocated once at their final size (about).
    pub(crate) fn with_capacity(services: usize, endpoints: usize) -> Pool {
        Pool {
            ips: Vec::with_capacity(services),
            ports: Vec::with_capacity(services),
            eps: Vec::with_capacity(endpoints),
            text: String::with_capacity(endpoints * 8 + services * 4),
            ..Pool::default()
        }
    }

    /// A view of `entry`, whose spans point into this pool.
    pub(crate) fn svc<'z>(&'z self, entry: &'z SvcEntry) -> Svc<'z> {
        Svc { pool: self, entry }
    }

    fn push_text(&mut self, s: &str) -> Span {
        let at = to_u32(self.text.len());
        self.text.push_str(s);
        Span {
            at,
            len: to_u32(s.len()),
        }
    }

    fn push_ports(&mut self, ports: &[PortSpec]) -> Span {
        let at = to_u32(self.ports.len());
        for p in ports {
            let name = self.push_text(&p.name);
            self.ports.push(Port {
                name,
                proto: p.proto,
                port: p.port,
            });
        }
        Span {
            at,
            len: to_u32(ports.len()),
        }
    }

    /// Stores a ClusterIP (`Some(ips)`) or headless (`None`) Service: its ports, its
    /// endpoint groups and its endpoints `(ip, group, hostname)`, sorted by (label, ip).
    /// Runs of one hostname share its text.
    pub(crate) fn service(
        &mut self,
        name: Name,
        ips: Option<&[IpAddr]>,
        ports: &[PortSpec],
        groups: &[Box<[PortSpec]>],
        eps: &[(IpAddr, u16, Option<&str>)],
    ) -> SvcEntry {
        let resolves = match ips {
            Some(ips) => {
                let at = to_u32(self.ips.len());
                self.ips.extend_from_slice(ips);
                Resolves::ClusterIp(Span {
                    at,
                    len: to_u32(ips.len()),
                })
            }
            None => Resolves::Headless,
        };
        let ports = self.push_ports(ports);
        let group_at = to_u32(self.groups.len());
        for g in groups {
            let span = self.push_ports(g);
            self.groups.push(span);
        }
        let ep_at = to_u32(self.eps.len());
        let mut last: Option<(&str, (u32, u8))> = None;
        for &(ip, group, host) in eps {
            let host = host.and_then(|h| match last {
                Some((prev, at)) if prev == h => Some(at),
                _ => {
                    let at = (to_u32(self.text.len()), u8::try_from(h.len()).ok()?);
                    self.text.push_str(h);
                    last = Some((h, at));
                    Some(at)
                }
            });
            self.eps.push(Ep::new(ip, group, host));
        }
        SvcEntry {
            name,
            resolves,
            ports,
            groups: Span {
                at: group_at,
                len: to_u32(groups.len()),
            },
            endpoints: Span {
                at: ep_at,
                len: to_u32(eps.len()),
            },
        }
    }

    /// Stores an ExternalName Service aliasing `target`, with its `ports`.
    pub(crate) fn external_name(
        &mut self,
        name: Name,
        target: Name,
        ports: &[PortSpec],
    ) -> SvcEntry {
        let at = to_u32(self.targets.len());
        self.targets.push(target);
        SvcEntry {
            name,
            resolves: Resolves::ExternalName(at),
            ports: self.push_ports(ports),
            groups: Span::default(),
            endpoints: Span::default(),
        }
    }

    /// Stores the namespaces that exist (`sorted`, deduplicated).
    pub(crate) fn set_namespaces(&mut self, sorted: &[Box<str>]) {
        self.namespaces = Vec::with_capacity(sorted.len());
        for ns in sorted {
            let span = self.push_text(ns);
            self.namespaces.push(span);
        }
    }

    /// True when namespace `ns` (lower-case) exists.
    pub(crate) fn namespace_exists(&self, ns: &str) -> bool {
        self.namespaces
            .binary_search_by(|n| n.text(&self.text).cmp(ns))
            .is_ok()
    }

    /// Gives back the room the vectors were built with beyond their length.
    pub(crate) fn finish(&mut self) {
        self.text.shrink_to_fit();
        self.ips.shrink_to_fit();
        self.ports.shrink_to_fit();
        self.groups.shrink_to_fit();
        self.eps.shrink_to_fit();
        self.targets.shrink_to_fit();
    }
}

impl<'z> Svc<'z> {
    /// `<svc>.<ns>.svc.<zone>.`, lower-case.
    pub(crate) fn name(self) -> &'z Name {
        &self.entry.name
    }

    /// What the Service name resolves to.
    pub(crate) fn kind(self) -> SvcKind<'z> {
        match self.entry.resolves {
            Resolves::ClusterIp(ips) => SvcKind::ClusterIp(ips.of(&self.pool.ips)),
            Resolves::Headless => SvcKind::Headless,
            // A target outside the pool (never built so) reads as a Service with no
            // endpoints: the name does not exist, rather than an alias to itself.
            Resolves::ExternalName(at) => usize::try_from(at)
                .ok()
                .and_then(|at| self.pool.targets.get(at))
                .map_or(SvcKind::Headless, SvcKind::ExternalName),
        }
    }

    /// True for a headless Service.
    pub(crate) fn is_headless(self) -> bool {
        matches!(self.entry.resolves, Resolves::Headless)
    }

    /// Service ports (`spec.ports`, `port` numbers).
    pub(crate) fn ports(self) -> &'z [Port] {
        self.entry.ports.of(&self.pool.ports)
    }

    /// Published endpoints, sorted by (label, ip).
    pub(crate) fn endpoints(self) -> &'z [Ep] {
        self.entry.endpoints.of(&self.pool.eps)
    }

    /// The name of port `p` (lower-case, empty when unnamed).
    pub(crate) fn port_name(self, p: &Port) -> &'z str {
        p.name.text(&self.pool.text)
    }

    /// True when `p` is the named port `name` with protocol `proto`.
    pub(crate) fn named_port(self, p: &Port, name: &str, proto: super::Proto) -> bool {
        !p.name.is_empty() && p.proto == proto && self.port_name(p) == name
    }

    /// The hostname of `ep`, if it has one.
    pub(crate) fn host(self, ep: &Ep) -> Option<&'z str> {
        ep.host_span().map(|s| s.text(&self.pool.text))
    }

    /// Compares the label of `ep` (hostname or dashed IP) with `label` (lower-cased).
    pub(crate) fn cmp_label(self, ep: &Ep, label: &[u8]) -> Ordering {
        match self.host(ep) {
            Some(h) => h.as_bytes().cmp(label),
            None => crate::name::dashed_ip_into(ep.ip, &mut [0u8; 48]).cmp(label),
        }
    }

    /// Endpoints whose label equals `label` (lower-cased).
    pub(crate) fn endpoints_labelled(self, label: &[u8]) -> &'z [Ep] {
        let eps = self.endpoints();
        let start = eps.partition_point(|e| self.cmp_label(e, label) == Ordering::Less);
        let end = eps.partition_point(|e| self.cmp_label(e, label) != Ordering::Greater);
        eps.get(start..end).unwrap_or(&[])
    }

    /// The ports of the endpoint group `group`.
    pub(crate) fn group_ports(self, group: u16) -> &'z [Port] {
        self.entry
            .groups
            .of(&self.pool.groups)
            .get(usize::from(group))
            .map_or(&[], |g| g.of(&self.pool.ports))
    }

    /// True when this is the Service `name` in namespace `ns` (both lower-case).
    pub(crate) fn is(self, ns: &[u8], name: &[u8]) -> bool {
        let mut labels = self.entry.name.iter();
        labels.next() == Some(name) && labels.next() == Some(ns)
    }
}
