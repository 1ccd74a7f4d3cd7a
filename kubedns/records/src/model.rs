//! The compact Service model of a snapshot, shared by `project` (which builds it), the
//! record kinds (which read it) and `snapshot` (which holds it): a Service's absolute name,
//! kind, ports, and published endpoints sorted by label with hostnames in one arena; and the
//! reverse index ([`reverse`]). A leaf: it imports nothing from `snapshot`, `answer` or the
//! kinds, so every module above it depends one way.

mod reverse;
pub(crate) use reverse::{Owner, Reverse};

use std::cmp::Ordering;
use std::net::IpAddr;

use hickory_proto::rr::Name;

/// Transport protocol of a port, lower-cased in `_<port>._<proto>` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    pub(crate) fn parse(text: Option<&str>) -> Option<Proto> {
        match text.map(str::to_ascii_lowercase).as_deref() {
            None | Some("tcp") => Some(Proto::Tcp),
            Some("udp") => Some(Proto::Udp),
            Some("sctp") => Some(Proto::Sctp),
            Some(_) => None,
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Proto::Tcp => "_tcp",
            Proto::Udp => "_udp",
            Proto::Sctp => "_sctp",
        }
    }
}

/// One port: `name` lower-cased, empty when unnamed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Port {
    pub name: Box<str>,
    pub proto: Proto,
    pub port: u16,
}

impl Port {
    /// A port from the fields Service, EndpointSlice and Endpoints ports share; `None` for
    /// an unknown protocol or a number outside 0..=65535.
    pub(crate) fn new(name: Option<&str>, protocol: Option<&str>, port: i32) -> Option<Port> {
        Some(Port {
            name: name.unwrap_or("").to_ascii_lowercase().into(),
            proto: Proto::parse(protocol)?,
            port: u16::try_from(port).ok()?,
        })
    }
}

/// One published endpoint address (24 bytes). `group` indexes [`Svc::groups`] (its slice's
/// ports); the hostname, if any, is `host_len` bytes at `host_at` in [`Svc::hosts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ep {
    pub ip: IpAddr,
    pub group: u16,
    host_len: u8,
    host_at: u32,
}

impl Ep {
    /// An endpoint whose hostname is `host = (offset, len)` in its Service's arena.
    pub(crate) fn new(ip: IpAddr, group: u16, host: Option<(u32, u8)>) -> Ep {
        let (host_at, host_len) = host.unwrap_or((0, 0));
        Ep {
            ip,
            group,
            host_len,
            host_at,
        }
    }
}

/// What a Service name resolves to.
#[derive(Debug, Clone)]
pub(crate) enum SvcKind {
    /// ClusterIP (and NodePort/LoadBalancer): the cluster IPs.
    ClusterIp(Box<[IpAddr]>),
    /// clusterIP None: the published endpoints.
    Headless,
    /// CNAME target (absolute).
    ExternalName(Name),
}

/// One Service as the zone sees it.
#[derive(Debug, Clone)]
pub(crate) struct Svc {
    /// `<svc>.<ns>.svc.<zone>.`, lower-case.
    pub name: Name,
    pub kind: SvcKind,
    /// Service ports (`spec.ports`, `port` numbers).
    pub ports: Box<[Port]>,
    /// Port lists of the endpoint groups (one per EndpointSlice or Endpoints subset).
    pub groups: Box<[Box<[Port]>]>,
    /// Published endpoints, sorted by (label, ip).
    pub endpoints: Box<[Ep]>,
    /// The endpoints' hostnames, concatenated (one allocation per Service).
    pub hosts: Box<str>,
}

impl Svc {
    /// The hostname of `ep`, if it has one.
    pub(crate) fn host(&self, ep: &Ep) -> Option<&str> {
        if ep.host_len == 0 {
            return None;
        }
        let at = usize::try_from(ep.host_at).ok()?;
        self.hosts.get(at..at + usize::from(ep.host_len))
    }

    /// Compares the label of `ep` (hostname or dashed IP) with `label` (lower-cased).
    pub(crate) fn cmp_label(&self, ep: &Ep, label: &[u8]) -> Ordering {
        match self.host(ep) {
            Some(h) => h.as_bytes().cmp(label),
            None => crate::name::dashed_ip_into(ep.ip, &mut [0u8; 48]).cmp(label),
        }
    }

    /// Endpoints whose label equals `label` (lower-cased).
    pub(crate) fn endpoints_labelled(&self, label: &[u8]) -> &[Ep] {
        let start = self
            .endpoints
            .partition_point(|e| self.cmp_label(e, label) == Ordering::Less);
        let end = self
            .endpoints
            .partition_point(|e| self.cmp_label(e, label) != Ordering::Greater);
        self.endpoints.get(start..end).unwrap_or(&[])
    }

    /// The ports of the endpoint group `group`.
    pub(crate) fn group_ports(&self, group: u16) -> &[Port] {
        self.groups
            .get(usize::from(group))
            .map(|p| &p[..])
            .unwrap_or(&[])
    }
}
