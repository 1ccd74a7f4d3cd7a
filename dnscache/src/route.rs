//! Which upstream servers a name goes to: dnsmasq's `--server` grammar and routing rule.
//!
//! Owns: parsing `--server=IP[#PORT]` (default upstreams, in order) and
//! `--server=/dom1/dom2/.../IP[#PORT]` (domain routes; `#` as the server means "the default
//! upstreams", an empty server means "local only": NXDOMAIN), parsing `resolv.conf`
//! nameservers, and the longest-suffix lookup on wire-form names (O(labels), no allocation).
//! Must not do I/O: `resolv.conf` text comes in as a string.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use thiserror::Error;

/// A `--server` value that cannot be used.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RouteError {
    /// The server part is not `IP`, `IP#PORT`, `[IPv6]` or `[IPv6]#PORT`.
    #[error("invalid server address {0:?} in --server")]
    InvalidServer(String),
    /// A domain between slashes is not a valid name.
    #[error("invalid domain {0:?} in --server")]
    InvalidDomain(String),
}

/// Where queries for a routed domain go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// These servers, tried in order.
    Servers(Vec<SocketAddr>),
    /// The default upstreams (`--server=/dom/#`).
    Default,
    /// Nobody: answered NXDOMAIN locally (`--server=/dom/`).
    Local,
}

/// One parsed `--server` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerArg {
    /// A default upstream.
    Upstream(SocketAddr),
    /// A route for some domains.
    Domains {
        /// Lowercased domains, without trailing dot.
        domains: Vec<String>,
        /// Where they go.
        target: Target,
    },
}

/// Parses `IP`, `IP#PORT`, `[IPv6]`, `[IPv6]#PORT` (port 53 by default).
pub fn parse_addr(s: &str) -> Result<SocketAddr, RouteError> {
    let bad = || RouteError::InvalidServer(s.to_string());
    let (host, port) = match s.rsplit_once('#') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad())?),
        None => (s, 53),
    };
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let ip: IpAddr = host.parse().map_err(|_| bad())?;
    Ok(SocketAddr::new(ip, port))
}

/// Parses one `--server` value.
pub fn parse_server(s: &str) -> Result<ServerArg, RouteError> {
    let Some(rest) = s.strip_prefix('/') else {
        return parse_addr(s).map(ServerArg::Upstream);
    };
    let Some((domains, server)) = rest.rsplit_once('/') else {
        return Err(RouteError::InvalidDomain(s.to_string()));
    };
    let domains = domains
        .split('/')
        .map(|d| {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            if d == "#" {
                return Ok(String::new());
            }
            domain_to_wire(&d)
                .map(|_| d.clone())
                .ok_or(RouteError::InvalidDomain(d))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let target = match server {
        "" => Target::Local,
        "#" => Target::Default,
        addr => Target::Servers(vec![parse_addr(addr)?]),
    };
    Ok(ServerArg::Domains { domains, target })
}

/// `cluster.local` to lowercased wire form; `""` is the root.
pub fn domain_to_wire(d: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(d.len() + 2);
    for label in d.split('.').filter(|_| !d.is_empty()) {
        if label.is_empty() || label.len() > 63 {
            return None;
        }
        out.push(label.len() as u8);
        out.extend(label.bytes().map(|b| b.to_ascii_lowercase()));
    }
    out.push(0);
    (out.len() <= 255).then_some(out)
}

/// Nameservers of a `resolv.conf` text, port 53, in file order (scoped IPv6 is skipped).
pub fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next()? == "nameserver").then_some(())?;
            let ip: IpAddr = w.next()?.parse().ok()?;
            Some(SocketAddr::new(ip, 53))
        })
        .collect()
}

/// True for names under `in-addr.arpa.` or `ip6.arpa.` (lowercased wire form).
pub fn is_reverse(name: &[u8]) -> bool {
    name.ends_with(b"\x07in-addr\x04arpa\x00") || name.ends_with(b"\x03ip6\x04arpa\x00")
}

/// Which route matched a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteId {
    /// No domain route: the default upstreams.
    Default,
    /// The domain route with this index.
    Domain(usize),
}

/// The routing table.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    by_suffix: HashMap<Vec<u8>, usize>,
    routes: Vec<(String, Target)>,
    default: Vec<SocketAddr>,
}

impl Routes {
    /// Builds the table from `--server` values (in order) and the `resolv.conf` nameservers
    /// (appended to the default upstreams, as dnsmasq does unless `--no-resolv`).
    pub fn new(args: &[ServerArg], resolv: &[SocketAddr]) -> Routes {
        let mut t = Routes::default();
        for arg in args {
            match arg {
                ServerArg::Upstream(a) => t.default.push(*a),
                ServerArg::Domains { domains, target } => {
                    for d in domains {
                        t.add(d, target.clone());
                    }
                }
            }
        }
        t.default.extend_from_slice(resolv);
        t
    }

    fn add(&mut self, domain: &str, target: Target) {
        let Some(wire) = domain_to_wire(domain) else {
            return;
        };
        if let Some(&i) = self.by_suffix.get(&wire) {
            // Several servers for one domain: failover in the order given.
            let slot = &mut self.routes[i].1;
            match (slot, target) {
                (Target::Servers(have), Target::Servers(more)) => have.extend(more),
                (slot, target) => *slot = target,
            }
            return;
        }
        self.by_suffix.insert(wire, self.routes.len());
        self.routes.push((domain.to_string(), target));
    }

    /// The route for `name` (lowercased wire form): the longest matching domain suffix.
    pub fn lookup(&self, name: &[u8]) -> RouteId {
        if self.by_suffix.is_empty() {
            return RouteId::Default;
        }
        let mut at = 0;
        while let Some(&len) = name.get(at) {
            if let Some(&i) = self.by_suffix.get(&name[at..]) {
                return RouteId::Domain(i);
            }
            if len == 0 {
                break;
            }
            at += 1 + usize::from(len);
        }
        RouteId::Default
    }

    /// Servers of a route, in failover order (`None`: answer locally with NXDOMAIN).
    pub fn servers(&self, id: RouteId) -> Option<&[SocketAddr]> {
        match id {
            RouteId::Default => Some(&self.default),
            RouteId::Domain(i) => match self.routes.get(i).map(|r| &r.1) {
                Some(Target::Servers(s)) => Some(s),
                Some(Target::Default) => Some(&self.default),
                Some(Target::Local) | None => None,
            },
        }
    }

    /// True when routes `a` and `b` send queries to the same place (two domains of one stub
    /// server, or a `#` route and the defaults).
    pub fn same_servers(&self, a: RouteId, b: RouteId) -> bool {
        a == b || self.servers(a) == self.servers(b)
    }

    /// The default upstreams.
    pub fn default_servers(&self) -> &[SocketAddr] {
        &self.default
    }

    /// Domain of a route (for logs).
    pub fn describe(&self, id: RouteId) -> &str {
        match id {
            RouteId::Default => "default",
            RouteId::Domain(i) => self.routes.get(i).map_or("?", |r| r.0.as_str()),
        }
    }

    /// Drops every upstream equal to one of `own` (our own listening addresses): a query
    /// sent there would come back to us forever (dnsmasq's `--dns-loop-detect`). Logged per
    /// server; a domain route left without servers answers SERVFAIL.
    pub fn without_self(mut self, own: &[SocketAddr]) -> Routes {
        let is_self = |a: &SocketAddr| {
            own.iter().any(|o| {
                o.port() == a.port()
                    && (o.ip() == a.ip() || (o.ip().is_unspecified() && a.ip().is_loopback()))
            })
        };
        let refuse = |domain: &str, servers: &mut Vec<SocketAddr>| {
            servers.retain(|a| {
                let looped = is_self(a);
                if looped {
                    tracing::warn!(server = %a, domain, "refusing an upstream that is this server's own address (forwarding loop)");
                }
                !looped
            });
        };
        refuse("", &mut self.default);
        for (domain, target) in &mut self.routes {
            if let Target::Servers(servers) = target {
                refuse(domain, servers);
            }
        }
        self
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
