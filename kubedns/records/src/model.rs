//! The compact Service model of a snapshot, shared by `project` (which builds it), the
//! record kinds (which read it) and `snapshot` (which holds it): a Service's absolute name,
//! kind, ports, and published endpoints sorted by label; the [`Pool`] that holds the ports,
//! endpoints, addresses and text of every Service; the Service index ([`KeyIndex`]); and the
//! reverse index ([`reverse`]). A leaf: it imports nothing from `snapshot`, `answer` or the
//! kinds, so every module above it depends one way.

mod index;
mod pool;
mod reverse;
pub(crate) use index::KeyIndex;
pub(crate) use pool::{Pool, Svc, SvcEntry, SvcKind};
pub(crate) use reverse::{Owner, Reverse};

use std::net::IpAddr;

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

/// A run of `len` items from `at` in one of the [`Pool`]'s vectors (or bytes of its text).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Span {
    at: u32,
    len: u32,
}

impl Span {
    /// The items of `all` this span covers; empty when out of range (never panics).
    pub(crate) fn of<T>(self, all: &[T]) -> &[T] {
        let at = usize::try_from(self.at).unwrap_or(usize::MAX);
        let len = usize::try_from(self.len).unwrap_or(0);
        all.get(at..at.saturating_add(len)).unwrap_or(&[])
    }

    /// The bytes of `text` this span covers, as text; empty when out of range.
    pub(crate) fn text(self, text: &str) -> &str {
        let at = usize::try_from(self.at).unwrap_or(usize::MAX);
        let len = usize::try_from(self.len).unwrap_or(0);
        text.get(at..at.saturating_add(len)).unwrap_or("")
    }

    pub(crate) fn is_empty(self) -> bool {
        self.len == 0
    }
}

/// One port as the projection reads it from an object: `name` lower-cased, empty when
/// unnamed. Stored in the snapshot as a [`Port`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct PortSpec {
    pub name: Box<str>,
    pub proto: Proto,
    pub port: u16,
}

impl PortSpec {
    /// A port from the fields Service, EndpointSlice and Endpoints ports share; `None` for
    /// an unknown protocol or a number outside 0..=65535.
    pub(crate) fn new(name: Option<&str>, protocol: Option<&str>, port: i32) -> Option<PortSpec> {
        Some(PortSpec {
            name: name.unwrap_or("").to_ascii_lowercase().into(),
            proto: Proto::parse(protocol)?,
            port: u16::try_from(port).ok()?,
        })
    }
}

/// One port of a snapshot; its name (lower-cased, empty when unnamed) is in the pool's text,
/// read with [`Svc::port_name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Port {
    pub(crate) name: Span,
    pub proto: Proto,
    pub port: u16,
}

/// One published endpoint address (24 bytes). `group` indexes the Service's port groups
/// ([`Svc::group_ports`]); the hostname, if any, is `host_len` bytes at `host_at` in the
/// pool's text ([`Svc::host`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ep {
    pub ip: IpAddr,
    pub group: u16,
    host_len: u8,
    host_at: u32,
}

impl Ep {
    /// An endpoint whose hostname is `host = (offset, len)` in the pool's text.
    pub(crate) fn new(ip: IpAddr, group: u16, host: Option<(u32, u8)>) -> Ep {
        let (host_at, host_len) = host.unwrap_or((0, 0));
        Ep {
            ip,
            group,
            host_len,
            host_at,
        }
    }

    /// Where the hostname is in the pool's text; `None` without one.
    pub(crate) fn host_span(&self) -> Option<Span> {
        (self.host_len > 0).then_some(Span {
            at: self.host_at,
            len: u32::from(self.host_len),
        })
    }
}
