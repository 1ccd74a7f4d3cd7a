//! Command line: dnsmasq's options as the kube-dns manifest and the nanny pass them, plus our
//! own (named so they cannot clash with dnsmasq's).
//!
//! Owns: flag names, defaults, the list of dnsmasq options accepted and ignored with a warning
//! (they change nothing for us), and turning flags into a [`Config`]. Unknown options, which
//! would change behaviour, are clap errors (exit 2). Must not bind or read files: `main` reads
//! the resolv file and hands its text in.

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{ArgAction, Parser};

use crate::Config;
use crate::cache::Policy;
use crate::ecs;
use crate::pipeline::Settings;
use crate::route::{self, RouteId, Routes};
use ops::tcp::TcpLimits;

/// dnscache: a caching DNS forwarder that accepts dnsmasq's arguments.
#[derive(Debug, Clone, Parser)]
// dnsmasq takes a repeated option without complaint (the last value wins); the nanny appends
// `--no-resolv` to manifest arguments that may already hold it.
#[command(
    name = "dnscache",
    version,
    disable_help_flag = true,
    args_override_self = true
)]
pub struct Cli {
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,

    /// Port for DNS over UDP and TCP (dnsmasq -p).
    #[arg(short = 'p', long, default_value_t = 53)]
    pub port: u16,
    /// Addresses to listen on, comma-separated or repeated (dnsmasq -a); default 0.0.0.0.
    #[arg(short = 'a', long = "listen-address", value_delimiter = ',')]
    pub listen_address: Vec<IpAddr>,
    /// Upstream server: `IP[#PORT]` (default upstreams, in order) or `/domain/.../IP[#PORT]`
    /// (route; `#` for the default upstreams, empty for local-only NXDOMAIN). dnsmasq -S.
    #[arg(short = 'S', long = "server")]
    pub server: Vec<String>,
    /// Do not read nameservers from the resolv file (dnsmasq -R).
    #[arg(short = 'R', long = "no-resolv")]
    pub no_resolv: bool,
    /// File with `nameserver` lines for default upstreams (dnsmasq -r).
    #[arg(short = 'r', long = "resolv-file", default_value = "/etc/resolv.conf")]
    pub resolv_file: PathBuf,
    /// Cache capacity in entries; 0 disables caching (dnsmasq -c).
    #[arg(short = 'c', long = "cache-size", default_value_t = 150)]
    pub cache_size: u64,
    /// Cap (seconds) on caching negative answers; also their lifetime when no SOA came.
    #[arg(long = "neg-ttl", default_value_t = 5)]
    pub neg_ttl: u32,
    /// Do not cache negative answers (dnsmasq -N).
    #[arg(short = 'N', long = "no-negcache")]
    pub no_negcache: bool,
    /// Lower bound (seconds) on positive cache lifetimes.
    #[arg(long = "min-cache-ttl", default_value_t = 0)]
    pub min_cache_ttl: u32,
    /// Upper bound (seconds) on every cached TTL (one day by default, as unbound).
    #[arg(long = "max-cache-ttl", default_value_t = crate::cache::DEFAULT_MAX_TTL)]
    pub max_cache_ttl: u32,
    /// Largest UDP reply we send (with the client's EDNS size as the other bound; 512
    /// without EDNS) and the EDNS size we announce upstream (dnsmasq's option name).
    #[arg(short = 'P', long = "edns-packet-max", default_value_t = 1232, value_parser = clap::value_parser!(u16).range(512..))]
    pub edns_packet_max: u16,
    /// Add the client's address to queries as EDNS Client Subnet (dnsmasq spelling
    /// `--add-subnet[=<v4 prefix>[,<v6 prefix>]]`; bare: the full address, 32 and 128), for the
    /// routes of `--add-subnet-domain` only.
    #[arg(long = "add-subnet", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub add_subnet: Option<String>,
    /// Queries waiting on upstreams at once; beyond it, REFUSED (dnsmasq -0, default 1500).
    #[arg(long = "dns-forward-max", default_value_t = 1500)]
    pub dns_forward_max: usize,

    // ---- dnsmasq options that change nothing here: accepted, warned about. ----
    /// (dnsmasq) keep in foreground: always the case.
    #[arg(short = 'k', long = "keep-in-foreground", hide = true)]
    pub keep_in_foreground: bool,
    /// (dnsmasq) do not daemonize: always the case.
    #[arg(short = 'd', long = "no-daemon", hide = true)]
    pub no_daemon: bool,
    /// (dnsmasq) log destination: we log to stderr.
    #[arg(long = "log-facility", hide = true)]
    pub log_facility: Option<String>,
    /// (dnsmasq) loop detection: always on here (upstreams that are our own listening address
    /// are refused with a log line, CNAME loops across routes answer SERVFAIL).
    #[arg(long = "dns-loop-detect", hide = true)]
    pub dns_loop_detect: bool,
    /// (dnsmasq) log queries: use --v=4 for per-query debug logs.
    #[arg(short = 'q', long = "log-queries", hide = true, num_args = 0..=1, require_equals = true)]
    pub log_queries: Option<Option<String>>,
    /// (dnsmasq) asynchronous logging.
    #[arg(long = "log-async", hide = true, num_args = 0..=1, require_equals = true)]
    pub log_async: Option<Option<String>>,
    /// (dnsmasq) bind interfaces: we bind the listen addresses.
    #[arg(short = 'z', long = "bind-interfaces", hide = true)]
    pub bind_interfaces: bool,
    /// (dnsmasq) do not read /etc/hosts: we never do.
    #[arg(short = 'h', long = "no-hosts", hide = true)]
    pub no_hosts: bool,
    /// (dnsmasq) do not poll the resolv file: we read it once.
    #[arg(short = 'n', long = "no-poll", hide = true)]
    pub no_poll: bool,
    /// (dnsmasq) strict order: failover is always in order.
    #[arg(short = 'o', long = "strict-order", hide = true)]
    pub strict_order: bool,
    /// (dnsmasq) user to run as: the container decides.
    #[arg(short = 'u', long = "user", hide = true)]
    pub user: Option<String>,
    /// (dnsmasq) group to run as: the container decides.
    #[arg(short = 'g', long = "group", hide = true)]
    pub group: Option<String>,
    /// (dnsmasq) pid file: not written.
    #[arg(short = 'x', long = "pid-file", hide = true, num_args = 0..=1, require_equals = true)]
    pub pid_file: Option<Option<String>>,

    // ---- Options of ours (README "dnscache flags"). ----
    /// Serve on this inherited, bound UDP socket instead of binding (nanny handover).
    #[arg(long = "inherit-udp-fd")]
    pub inherit_udp_fd: Option<RawFd>,
    /// Serve on this inherited, listening TCP socket instead of binding (nanny handover).
    #[arg(long = "inherit-tcp-fd")]
    pub inherit_tcp_fd: Option<RawFd>,
    /// Write `ready\n` to this descriptor once serving, then close it.
    #[arg(long = "ready-fd")]
    pub ready_fd: Option<RawFd>,
    /// Serve `/metrics` on this inherited, listening TCP socket instead of binding
    /// `--metrics-port` (nanny hand-over: the port never changes hands).
    #[arg(long = "inherit-metrics-fd")]
    pub inherit_metrics_fd: Option<RawFd>,
    /// On SIGTERM, write the fresh cache entries to this descriptor (nanny hand-over).
    #[arg(long = "cache-dump-fd")]
    pub cache_dump_fd: Option<RawFd>,
    /// Read a previous process's cache entries from this descriptor while serving.
    #[arg(long = "cache-load-fd")]
    pub cache_load_fd: Option<RawFd>,
    /// Take part in the warm cache hand-over (`false`: every config change starts cold).
    #[arg(long = "cache-handover", default_value_t = true, action = ArgAction::Set)]
    pub cache_handover: bool,
    /// Serve Prometheus `/metrics` on this port (first listen address, else 0.0.0.0).
    #[arg(long = "metrics-port")]
    pub metrics_port: Option<u16>,
    /// Bound on the bytes the cache holds, besides `--cache-size` entries (0: entries only).
    #[arg(long = "cache-max-bytes", default_value_t = crate::cache::DEFAULT_MAX_BYTES)]
    pub cache_max_bytes: u64,
    /// Answer from expired entries (TTL 30) when every upstream fails (RFC 8767).
    #[arg(long = "serve-stale")]
    pub serve_stale: bool,
    /// How long (seconds) past expiry an entry stays available for --serve-stale.
    #[arg(long = "serve-stale-max", default_value_t = 86400)]
    pub serve_stale_max: u64,
    /// Timeout of one upstream exchange, in milliseconds.
    #[arg(long = "upstream-timeout-ms", default_value_t = 2000)]
    pub upstream_timeout_ms: u64,
    /// UDP worker threads per listen address (0: one per available CPU).
    #[arg(long = "udp-workers", default_value_t = 0)]
    pub udp_workers: usize,
    /// Close TCP connections idle this long (milliseconds).
    #[arg(long = "tcp-idle-timeout-ms", default_value_t = 10_000)]
    pub tcp_idle_timeout_ms: u64,
    /// Most open TCP connections.
    #[arg(long = "tcp-max-connections", default_value_t = 1024)]
    pub tcp_max_connections: usize,
    /// Close a TCP connection whose client does not take a reply within this time (milliseconds).
    #[arg(long = "tcp-write-timeout-ms", default_value_t = 2000)]
    pub tcp_write_timeout_ms: u64,
    /// Bound on finishing in-flight queries after SIGTERM (milliseconds).
    #[arg(long = "drain-timeout-ms", default_value_t = 5000)]
    pub drain_timeout_ms: u64,
    /// UDP workers pause this long between batches under steady traffic, answering more
    /// queries per wake-up (Go duration; 0: never pause).
    #[arg(long = "udp-coalesce", default_value = "500us", value_parser = ops::go_flags::duration)]
    pub udp_coalesce: Duration,
    /// Routes (`--server=/<domain>/...` domains) whose servers get `--add-subnet`;
    /// comma-separated or repeated. Other routes and the default upstreams never do.
    #[arg(
        long = "add-subnet-domain",
        value_delimiter = ',',
        default_value = "cluster.local"
    )]
    pub add_subnet_domain: Vec<String>,
    /// After SIGTERM, keep answering this long before stopping (Go duration; 0: at once).
    /// The nanny runs dnscache with 0 and keeps the lame duck itself.
    #[arg(long = "lameduck", default_value = "5s", value_parser = ops::go_flags::duration)]
    pub lameduck: Duration,
    /// Log verbosity, klog style (4 and up: per-query debug logs).
    #[arg(long = "v", default_value_t = 0)]
    pub v: u8,
}

impl Cli {
    /// The dnsmasq options given that we ignore, for one warning each.
    pub fn ignored(&self) -> Vec<&'static str> {
        let flags = [
            (self.keep_in_foreground, "--keep-in-foreground"),
            (self.no_daemon, "--no-daemon"),
            (self.log_facility.is_some(), "--log-facility"),
            (self.log_queries.is_some(), "--log-queries"),
            (self.log_async.is_some(), "--log-async"),
            (self.bind_interfaces, "--bind-interfaces"),
            (self.no_hosts, "--no-hosts"),
            (self.no_poll, "--no-poll"),
            (self.strict_order, "--strict-order"),
            (self.user.is_some(), "--user"),
            (self.group.is_some(), "--group"),
            (self.pid_file.is_some(), "--pid-file"),
        ];
        flags.iter().filter(|f| f.0).map(|f| f.1).collect()
    }

    /// True when the sockets come from the nanny.
    pub fn inherits(&self) -> bool {
        self.inherit_udp_fd.is_some() || self.inherit_tcp_fd.is_some()
    }

    /// Addresses to bind (ignored with inherited sockets).
    pub fn listen_addresses(&self) -> Vec<IpAddr> {
        if self.listen_address.is_empty() {
            vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)]
        } else {
            self.listen_address.clone()
        }
    }

    /// UDP worker threads per address.
    pub fn workers(&self) -> usize {
        match self.udp_workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    /// Checks combinations clap cannot express.
    pub fn validate(&self) -> anyhow::Result<()> {
        let fds: Vec<RawFd> = [
            self.inherit_udp_fd,
            self.inherit_tcp_fd,
            self.ready_fd,
            self.inherit_metrics_fd,
            self.cache_dump_fd,
            self.cache_load_fd,
        ]
        .into_iter()
        .flatten()
        .collect();
        if fds.iter().any(|&fd| fd < 3) {
            bail!("inherited descriptors must be 3 or higher");
        }
        for (i, fd) in fds.iter().enumerate() {
            if fds[i + 1..].contains(fd) {
                bail!("descriptor {fd} given for two flags");
            }
        }
        if self.inherit_udp_fd.is_some() != self.inherit_tcp_fd.is_some() {
            bail!("--inherit-udp-fd and --inherit-tcp-fd go together");
        }
        if self.min_cache_ttl > self.max_cache_ttl {
            bail!("--min-cache-ttl is larger than --max-cache-ttl");
        }
        Ok(())
    }

    /// The configuration; `resolv_conf` is the text of `--resolv-file` (`None` when
    /// `--no-resolv` or unreadable).
    pub fn config(&self, resolv_conf: Option<&str>) -> anyhow::Result<Config> {
        self.validate()?;
        let servers = self
            .server
            .iter()
            .map(|s| route::parse_server(s).with_context(|| format!("--server={s}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let resolv = match (self.no_resolv, resolv_conf) {
            (false, Some(text)) => route::parse_resolv_conf(text),
            _ => Vec::new(),
        };
        // Loop detection needs the addresses actually bound (or inherited): `run` does it.
        let routes = Routes::new(&servers, &resolv);
        let add_subnet = match &self.add_subnet {
            Some(value) => Some(self.add_subnet(value, &routes)?),
            None => None,
        };
        Ok(Config {
            routes,
            cache: Policy {
                capacity: self.cache_size,
                max_bytes: self.cache_max_bytes,
                neg_ttl: self.neg_ttl,
                min_ttl: self.min_cache_ttl,
                max_ttl: self.max_cache_ttl,
                no_negcache: self.no_negcache,
                stale_window: if self.serve_stale {
                    Duration::from_secs(self.serve_stale_max)
                } else {
                    Duration::ZERO
                },
            },
            settings: Settings {
                forward_max: self.dns_forward_max,
                upstream_timeout: Duration::from_millis(self.upstream_timeout_ms),
                serve_stale: self.serve_stale,
                edns_packet_max: self.edns_packet_max,
            },
            tcp: TcpLimits {
                idle: Duration::from_millis(self.tcp_idle_timeout_ms),
                write: Duration::from_millis(self.tcp_write_timeout_ms),
                max_connections: self.tcp_max_connections,
                ..TcpLimits::default()
            },
            drain: Duration::from_millis(self.drain_timeout_ms),
            lame_duck: self.lameduck,
            udp_coalesce: self.udp_coalesce,
            add_subnet,
        })
    }

    /// `--add-subnet` and the routes of `--add-subnet-domain` (each must be a `--server`
    /// route of its own, so that a client address never leaks to another server).
    fn add_subnet(&self, value: &str, routes: &Routes) -> anyhow::Result<ecs::AddSubnet> {
        let (v4_prefix, v6_prefix) =
            ecs::parse_prefixes(value).map_err(|e| anyhow::anyhow!("--add-subnet={value}: {e}"))?;
        let mut ids = Vec::new();
        for given in &self.add_subnet_domain {
            let domain = given.trim_end_matches('.').to_ascii_lowercase();
            let wire = route::domain_to_wire(&domain)
                .with_context(|| format!("--add-subnet-domain={domain}: not a domain"))?;
            match routes.lookup(&wire) {
                id @ RouteId::Domain(_) if routes.describe(id) == domain => ids.push(id),
                _ => bail!(
                    "--add-subnet-domain={domain}: no --server=/{domain}/... route to send it to"
                ),
            }
        }
        Ok(ecs::AddSubnet {
            v4_prefix,
            v6_prefix,
            routes: ids,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
