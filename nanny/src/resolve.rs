//! Stub nameservers given as host names (kubernetes/dns#82): dnsmasq-nanny resolves them
//! before building the argv (reference §3.5). Names ending in the cluster domain go to kubedns
//! (`-kubednsServer`) with a UDP DNS query; others go to the system resolver. The first address
//! wins. On failure a line is logged and the config side tries again every sync interval
//! ([`has_unresolved`]) until it resolves (kubedns may not answer yet when the nanny starts);
//! meanwhile the name is left out of dnscache's routes ([`without_unresolved`]). dnsmasq-nanny
//! passed it through unchanged, which dnsmasq refused (kubernetes/dns#82): at pod start, before
//! kubedns answers, that meant a cache that could not start. IP nameservers are never
//! touched. This is the only module of the config path that does I/O.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::net::UdpSocket;

use crate::config::{Config, split_host_port};

/// How stub nameserver names are resolved.
#[derive(Debug, Clone)]
pub struct Resolver {
    /// kubedns DNS address (`-kubednsServer`).
    pub kubedns: SocketAddr,
    /// Names with this suffix are asked of kubedns (kube-dns: the literal `cluster.local`).
    pub cluster_domain: String,
    /// Bound on each lookup.
    pub timeout: Duration,
}

impl Resolver {
    /// `cfg` with every host-name stub nameserver replaced by its first address when it
    /// resolves.
    pub async fn resolve_stubs(&self, cfg: &Config) -> Config {
        let mut out = cfg.clone();
        for (domain, servers) in out.stub_domains.iter_mut() {
            for server in servers.iter_mut() {
                if let Some(resolved) = self.resolve_server(domain, server).await {
                    *server = resolved;
                }
            }
        }
        out
    }

    async fn resolve_server(&self, domain: &str, server: &str) -> Option<String> {
        let (host, port) = host_name(server)?;
        let domain_suffix = self.cluster_domain.trim_end_matches('.');
        let via_kubedns = host.trim_end_matches('.').ends_with(domain_suffix);
        let looked_up = if via_kubedns {
            tokio::time::timeout(self.timeout, query_kubedns(self.kubedns, host)).await
        } else {
            tokio::time::timeout(self.timeout, system_lookup(host)).await
        };
        let via = if via_kubedns {
            "kubedns"
        } else {
            "system resolver"
        };
        match looked_up {
            Ok(Ok(ip)) => {
                let ip = match (ip, port) {
                    (ip, Some(p)) => SocketAddr::new(ip, p.parse().ok()?).to_string(),
                    (ip, None) => ip.to_string(),
                };
                tracing::info!(domain, server, resolved = %ip, via, "resolved stub nameserver");
                Some(ip)
            }
            Ok(Err(e)) => {
                tracing::warn!(domain, server, via, error = %e, "cannot resolve stub nameserver; passing the name through");
                None
            }
            Err(_) => {
                tracing::warn!(
                    domain,
                    server,
                    via,
                    "stub nameserver lookup timed out; passing the name through"
                );
                None
            }
        }
    }
}

/// The host name and optional port of a stub nameserver that names a host; `None` for an IP
/// (`ip`, `ip:port`, `[v6]:port`), which is used as it is.
fn host_name(server: &str) -> Option<(&str, Option<&str>)> {
    if server.parse::<IpAddr>().is_ok() || server.parse::<SocketAddr>().is_ok() {
        return None;
    }
    let (host, port) = match split_host_port(server) {
        Ok((h, p)) => (h, Some(p)),
        Err(_) => (server, None),
    };
    host.parse::<IpAddr>().is_err().then_some((host, port))
}

/// True when some stub nameserver of `cfg` is still a host name (it did not resolve); such a
/// config is resolved again every sync interval until it does.
pub fn has_unresolved(cfg: &Config) -> bool {
    cfg.stub_domains
        .values()
        .flatten()
        .any(|s| host_name(s).is_some())
}

/// `cfg` without the stub nameservers that are still host names (they did not resolve), and
/// those names as `domain/server` for the log. A domain left with no nameserver is left out
/// until one resolves: its names go to the default upstreams meanwhile, as before the
/// ConfigMap named it.
pub fn without_unresolved(mut cfg: Config) -> (Config, Vec<String>) {
    let mut dropped = Vec::new();
    for (domain, servers) in cfg.stub_domains.iter_mut() {
        servers.retain(|s| {
            let keep = host_name(s).is_none();
            if !keep {
                dropped.push(format!("{domain}/{s}"));
            }
            keep
        });
    }
    cfg.stub_domains.retain(|_, servers| !servers.is_empty());
    (cfg, dropped)
}

async fn system_lookup(host: &str) -> std::io::Result<IpAddr> {
    tokio::net::lookup_host((host, 0))
        .await?
        .next()
        .map(|a| a.ip())
        .ok_or_else(|| std::io::Error::other("no addresses"))
}

/// A, then AAAA, for `host` from the DNS server at `server`.
async fn query_kubedns(server: SocketAddr, host: &str) -> std::io::Result<IpAddr> {
    for qtype in [RecordType::A, RecordType::AAAA] {
        if let Some(ip) = ask(server, host, qtype).await? {
            return Ok(ip);
        }
    }
    Err(std::io::Error::other("no A or AAAA records"))
}

async fn ask(server: SocketAddr, host: &str, qtype: RecordType) -> std::io::Result<Option<IpAddr>> {
    let bad = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
    let fqdn = format!("{}.", host.trim_end_matches('.'));
    let name = Name::from_ascii(&fqdn).map_err(|e| bad(e.to_string()))?;
    let mut msg = Message::query();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let id = (nanos ^ (nanos >> 16)) as u16;
    msg.metadata.id = id;
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(name, qtype));
    let wire = msg.to_vec().map_err(|e| bad(e.to_string()))?;
    let bind: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let sock = UdpSocket::bind(bind).await?;
    sock.connect(server).await?;
    sock.send(&wire).await?;
    let mut buf = vec![0u8; 4096];
    loop {
        let n = sock.recv(&mut buf).await?;
        let Ok(reply) = Message::from_vec(&buf[..n]) else {
            continue;
        };
        if reply.metadata.id != id {
            continue;
        }
        return Ok(reply.answers.iter().find_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unresolved_names_are_left_out_of_the_routes() {
        let mut cfg = Config::default();
        cfg.stub_domains.insert(
            "a.local".into(),
            vec!["1.2.3.4".into(), "ns.svc.cluster.local:53".into()],
        );
        cfg.stub_domains
            .insert("b.local".into(), vec!["dns.b.svc.cluster.local".into()]);
        cfg.stub_domains
            .insert("c.local".into(), vec!["[2001:db8::1]:53".into()]);
        let (kept, dropped) = without_unresolved(cfg);
        assert_eq!(kept.stub_domains.len(), 2);
        assert_eq!(kept.stub_domains["a.local"], ["1.2.3.4"]);
        assert_eq!(kept.stub_domains["c.local"], ["[2001:db8::1]:53"]);
        assert_eq!(
            dropped,
            [
                "a.local/ns.svc.cluster.local:53",
                "b.local/dns.b.svc.cluster.local"
            ]
        );
    }
}
