//! Stub nameservers given as host names (kubernetes/dns#82): dnsmasq-nanny resolves them
//! before building the argv, because dnsmasq takes only addresses. Names ending in the cluster
//! domain are asked of kubedns (`-kubednsServer`; A, then AAAA), others of the system's
//! resolver configuration (`/etc/resolv.conf`, `/etc/hosts`), both with hickory-resolver and
//! no cache. The first address wins. On failure a line is logged and the config side tries again every sync interval
//! ([`has_unresolved`]) until it resolves (kubedns may not answer yet when the nanny starts);
//! meanwhile the name is left out of dnscache's routes ([`without_unresolved`]). dnsmasq-nanny
//! passed it through unchanged, which dnsmasq refused (kubernetes/dns#82): at pod start, before
//! kubedns answers, that meant a cache that could not start. IP nameservers are never
//! touched. This is the only module of the config path that does I/O.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig,
};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;

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
            let lookup = kubedns_lookup(self.kubedns, host, self.timeout);
            tokio::time::timeout(self.timeout, lookup).await
        } else {
            tokio::time::timeout(self.timeout, system_lookup(host, self.timeout)).await
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

/// The system's resolver: `/etc/resolv.conf` (nameservers, search list, ndots) and
/// `/etc/hosts`, read at each lookup so that a changed file is seen.
async fn system_lookup(host: &str, timeout: Duration) -> Result<IpAddr, LookupError> {
    let mut builder = TokioResolver::builder_tokio()?;
    builder.options_mut().cache_size = 0;
    builder.options_mut().timeout = timeout;
    first_address(builder.build()?, host).await
}

/// A, then AAAA, for `host` from kubedns at `server` (UDP, TCP when truncated). The name is
/// made absolute: cluster names need no search list.
async fn kubedns_lookup(
    server: SocketAddr,
    host: &str,
    timeout: Duration,
) -> Result<IpAddr, LookupError> {
    let connections = [ConnectionConfig::udp(), ConnectionConfig::tcp()]
        .into_iter()
        .map(|mut c| {
            c.port = server.port();
            c
        })
        .collect();
    let ns = NameServerConfig::new(server.ip(), true, connections);
    let config = ResolverConfig::from_name_servers(vec![ns]);
    let mut builder = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
    let opts = builder.options_mut();
    // Every attempt asks kubedns afresh: a name that did not resolve at pod start is
    // retried every sync interval and must be seen as soon as kubedns has it.
    opts.cache_size = 0;
    opts.timeout = timeout;
    opts.use_hosts_file = ResolveHosts::Never;
    opts.ip_strategy = LookupIpStrategy::Ipv4thenIpv6;
    let fqdn = format!("{}.", host.trim_end_matches('.'));
    first_address(builder.build()?, &fqdn).await
}

async fn first_address(resolver: TokioResolver, host: &str) -> Result<IpAddr, LookupError> {
    resolver
        .lookup_ip(host)
        .await?
        .iter()
        .next()
        .ok_or(LookupError::NoAddresses)
}

/// Why a stub nameserver name did not resolve.
#[derive(Debug, thiserror::Error)]
enum LookupError {
    #[error(transparent)]
    Resolver(#[from] NetError),
    #[error("no A or AAAA records")]
    NoAddresses,
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
