//! Command line of kubedns: kube-dns's flags (names, defaults, Go spellings) plus ours.
//!
//! Parsing is pure: [`Cli::try_parse_from`] then [`Cli::config`] validates everything and
//! builds the [`Config`] before any socket is bound. Flags kube-dns had that kubedns does not
//! need (config map, federations, nameservers, profiling) are accepted and ignored with a
//! warning so that existing manifests keep working.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use hickory_proto::rr::Name;
use kubedns_records::{PodMode, ServiceKey, ZoneConfig};

use crate::watch::{EndpointsApi, WatchConfig};
use crate::{Config, SourceConfig};

/// Go-style single-dash spellings found in kube-dns manifests, rewritten to `--name`.
pub const GO_FLAGS: &[&str] = &[
    "v",
    "logtostderr",
    "alsologtostderr",
    "domain",
    "dns-port",
    "dns-bind-address",
    "config-dir",
    "config-map",
    "config-map-namespace",
    "config-period",
    "kubecfg-file",
    "kube-master-url",
    "healthz-port",
    "nameservers",
    "federations",
    "initial-sync-timeout",
    "profiling",
    "version",
    "lameduck",
];

/// Pod records mode (`--pods`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Pods {
    /// No pod records.
    Disabled,
    /// Any well-formed IP label answers (kube-dns).
    Insecure,
    /// Only IPs of existing Pods in that namespace.
    Verified,
}

/// kubedns: authoritative DNS for the Kubernetes cluster domain.
#[derive(Debug, Clone, Parser)]
#[command(name = "kubedns", disable_version_flag = true)]
pub struct Cli {
    /// Cluster domain (a trailing dot is accepted).
    #[arg(long, default_value = "cluster.local.")]
    pub domain: String,
    /// Address DNS listens on (UDP and TCP).
    #[arg(long, default_value = "0.0.0.0")]
    pub dns_bind_address: IpAddr,
    /// DNS port (UDP and TCP); the kube-dns manifest uses 10053.
    #[arg(long, default_value_t = 53)]
    pub dns_port: u16,
    /// Number of SO_REUSEPORT UDP sockets (default: number of CPUs).
    #[arg(long)]
    pub udp_sockets: Option<usize>,
    /// Close TCP connections idle this long.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub tcp_idle_timeout: Duration,
    /// Maximum concurrent TCP connections (over it the longest-idle one is closed).
    #[arg(long, default_value_t = 1024)]
    pub tcp_max_connections: usize,
    /// Close a TCP connection whose client does not take a reply within this time.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub tcp_write_timeout: Duration,
    /// UDP workers pause this long between batches under steady traffic, answering more
    /// queries per wake-up (0: never pause).
    #[arg(long, default_value = "500us", value_parser = parse_duration)]
    pub udp_coalesce: Duration,
    /// After SIGTERM, keep answering DNS this long while `/readiness` reports 503 (0: stop at once).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub lameduck: Duration,
    /// Port of `/readiness` and `/healthz`.
    #[arg(long, default_value_t = 8081)]
    pub healthz_port: u16,
    /// Address of the HTTP listeners (default: `--dns-bind-address`).
    #[arg(long)]
    pub http_bind_address: Option<IpAddr>,
    /// Port of `/metrics` (kube-dns: env PROMETHEUS_PORT, manifest 10055).
    #[arg(long, env = "PROMETHEUS_PORT", default_value_t = 10055)]
    pub metrics_port: u16,
    /// TTL of every generated record.
    #[arg(long, default_value_t = 30)]
    pub ttl: u32,
    /// TTL of negative answers (SOA minimum).
    #[arg(long, default_value_t = 5)]
    pub neg_ttl: u32,
    /// Pod records `a-b-c-d.<ns>.pod.<zone>`.
    #[arg(long, value_enum, default_value = "insecure")]
    pub pods: Pods,
    /// Reverse ranges answered authoritatively (NXDOMAIN for unknown IPs); comma-separated, repeatable.
    #[arg(long, value_delimiter = ',')]
    pub reverse_cidrs: Vec<ipnet::IpNet>,
    /// Walk a Pod's search path on the server (needs `--pods=verified`).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub autopath: Option<bool>,
    /// Sources whose EDNS client subnet names the client (comma-separated CIDRs).
    #[arg(long, value_delimiter = ',', default_value = "127.0.0.0/8,::1/128")]
    pub autopath_trusted: Vec<ipnet::IpNet>,
    /// The Service whose cluster IP is the NS glue (`namespace/name`).
    #[arg(long, default_value = "kube-system/kube-dns")]
    pub dns_service: String,
    /// Serve objects from YAML/JSON files instead of the Kubernetes API.
    #[arg(long)]
    pub manifests: Option<PathBuf>,
    /// kubeconfig file for the API connection.
    #[arg(long)]
    pub kubecfg_file: Option<PathBuf>,
    /// API server URL (environment variables expanded).
    #[arg(long)]
    pub kube_master_url: Option<String>,
    /// Which endpoints API to watch.
    #[arg(long, value_enum, default_value = "endpointslices")]
    pub endpoints_api: EndpointsApi,
    /// Exit when the first sync of services and endpoints takes longer.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub initial_sync_timeout: Duration,
    /// glibc malloc tuning for a steady, small resident set: a fixed 128 KiB mmap threshold
    /// and `malloc_trim` after each zone rebuild (`heap.rs`). `false`: glibc's defaults.
    #[arg(long, default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub heap_tuning: bool,
    /// Verbosity (klog `--v`).
    #[arg(long, default_value_t = 0)]
    pub v: u8,
    /// Accepted for compatibility (logs always go to stderr).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub logtostderr: Option<String>,
    /// Accepted for compatibility.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", hide = true)]
    pub alsologtostderr: Option<String>,
    /// Accepted for compatibility (upstream configuration belongs to dnscache).
    #[arg(long)]
    pub config_dir: Option<PathBuf>,
    /// Accepted for compatibility.
    #[arg(long)]
    pub config_map: Option<String>,
    /// Accepted for compatibility.
    #[arg(long, default_value = "kube-system")]
    pub config_map_namespace: String,
    /// Accepted for compatibility.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub config_period: Duration,
    /// Accepted for compatibility (kubedns does not forward).
    #[arg(long)]
    pub nameservers: Option<String>,
    /// Accepted for compatibility (federation is not supported).
    #[arg(long)]
    pub federations: Option<String>,
    /// Accepted for compatibility.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub profiling: Option<String>,
    /// Print the version and exit (`--version`, `--version=raw`).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub version: Option<String>,
}

/// Parses a Go duration (`60s`, `5m`, `250ms`, `1m30s`), or a bare number of seconds, which
/// earlier releases of this binary accepted.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<u64>() {
        Ok(secs) => Ok(Duration::from_secs(secs)),
        Err(_) => ops::go_flags::duration(s.trim()),
    }
}

/// Expands `$VAR` and `${VAR}` with `lookup` (unknown variables become empty, as Go's
/// `os.ExpandEnv`).
pub fn expand_env(s: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, tail) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], &braced[end + 1..]),
                None => (braced, ""),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        out.push_str(&lookup(name).unwrap_or_default());
        rest = tail;
    }
    out.push_str(rest);
    out
}

impl Cli {
    /// Validates the flags and builds the run configuration.
    pub fn config(&self) -> anyhow::Result<Config> {
        let zone = parse_domain(&self.domain)?;
        let dns_service = parse_service_key(&self.dns_service)?;
        if self.udp_sockets == Some(0) {
            bail!("--udp-sockets must be at least 1");
        }
        if self.tcp_max_connections == 0 {
            bail!("--tcp-max-connections must be at least 1");
        }
        let autopath = self.autopath == Some(true);
        if autopath && self.pods != Pods::Verified {
            bail!("--autopath needs --pods=verified (it must know which Pod asks)");
        }
        let master_url = match &self.kube_master_url {
            Some(raw) => Some(parse_master_url(raw)?),
            None => None,
        };
        let source = match &self.manifests {
            Some(path) => SourceConfig::Manifests(path.clone()),
            None => SourceConfig::Kube(WatchConfig {
                kubecfg_file: self.kubecfg_file.clone(),
                master_url,
                endpoints_api: self.endpoints_api,
                watch_pods: self.pods == Pods::Verified,
            }),
        };
        let http_ip = self.http_bind_address.unwrap_or(self.dns_bind_address);
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Config {
            zone: ZoneConfig {
                zone,
                ttl: self.ttl,
                neg_ttl: self.neg_ttl,
                pods: match self.pods {
                    Pods::Disabled => PodMode::Disabled,
                    Pods::Insecure => PodMode::Insecure,
                    Pods::Verified => PodMode::Verified,
                },
                reverse_cidrs: self.reverse_cidrs.iter().map(|n| n.trunc()).collect(),
                dns_service,
            },
            source,
            dns_addr: SocketAddr::new(self.dns_bind_address, self.dns_port),
            udp_sockets: self.udp_sockets.unwrap_or(cpus),
            tcp: ops::tcp::TcpLimits {
                idle: self.tcp_idle_timeout,
                write: self.tcp_write_timeout,
                max_connections: self.tcp_max_connections,
                ..ops::tcp::TcpLimits::default()
            },
            lame_duck: self.lameduck,
            udp_coalesce: self.udp_coalesce,
            healthz_addr: SocketAddr::new(http_ip, self.healthz_port),
            metrics_addr: Some(SocketAddr::new(http_ip, self.metrics_port)),
            initial_sync_timeout: self.initial_sync_timeout,
            shutdown_grace: Duration::from_secs(5),
            heap_tuning: self.heap_tuning,
            autopath_trusted: autopath
                .then(|| self.autopath_trusted.iter().map(|n| n.trunc()).collect()),
        })
    }

    /// Warnings for accepted-but-ignored kube-dns flags.
    pub fn ignored_flags(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.config_dir.is_some() {
            out.push("--config-dir (upstream configuration is dnscache's)");
        }
        if self.config_map.is_some() {
            out.push("--config-map");
        }
        if self.nameservers.is_some() {
            out.push("--nameservers (kubedns does not forward)");
        }
        if self.federations.is_some() {
            out.push("--federations (federation is not supported)");
        }
        if self.profiling.as_deref().is_some_and(|p| p != "false") {
            out.push("--profiling");
        }
        out
    }
}

/// `cluster.local`, `cluster.local.` -> `cluster.local.`; each label a DNS-1123 label.
pub fn parse_domain(s: &str) -> anyhow::Result<Name> {
    let trimmed = s.trim_end_matches('.');
    if trimmed.is_empty() {
        bail!("invalid --domain {s:?}: empty");
    }
    for label in trimmed.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            bail!("invalid --domain {s:?}: label {label:?} is not a DNS-1123 label");
        }
    }
    Name::from_ascii(format!("{trimmed}.")).with_context(|| format!("invalid --domain {s:?}"))
}

fn parse_service_key(s: &str) -> anyhow::Result<ServiceKey> {
    match s.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok(ServiceKey {
                namespace: ns.to_string(),
                name: name.to_string(),
            })
        }
        _ => bail!("invalid --dns-service {s:?}: want namespace/name"),
    }
}

fn parse_master_url(raw: &str) -> anyhow::Result<String> {
    let expanded = expand_env(raw, |k| std::env::var(k).ok());
    let uri: http::Uri = expanded
        .parse()
        .with_context(|| format!("invalid kube-master-url specified: {expanded:?}"))?;
    if uri.scheme().is_none() || uri.host().is_none_or(str::is_empty) {
        bail!("invalid kube-master-url specified: {expanded:?} (needs scheme and host)");
    }
    Ok(expanded)
}

#[cfg(test)]
mod tests;
