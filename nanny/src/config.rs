//! The kube-dns ConfigMap model (`stubDomains`, `upstreamNameservers`, `federations`) and its
//! validation, exactly as kube-dns does it (`pkg/dns/config`): JSON values for the first
//! two keys, flag syntax `name=domain,...` for federations, unknown keys ignored, missing keys
//! empty. All-or-nothing: [`Config::from_data`] returns either a whole valid config or every
//! reason it was refused (kube-dns stops at the first; we report all, the outcome is the same).
//! Pure: no I/O, no name resolution (that is `resolve.rs`), no argv (that is `render.rs`).

mod golang;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

use golang::{
    dns1123_label_errors, dns1123_subdomain_errors, is_dns1123_subdomain, parse_ip, parse_uint16,
};
pub use golang::{split_host_port, validate_nameserver_ip_and_port};

/// ConfigMap key holding the stub domains (JSON object domain -> [nameserver]).
pub const STUB_DOMAINS: &str = "stubDomains";
/// ConfigMap key holding the upstream nameservers (JSON array, at most three).
pub const UPSTREAM_NAMESERVERS: &str = "upstreamNameservers";
/// ConfigMap key holding the federations (`name=domain[,name=domain]`).
pub const FEDERATIONS: &str = "federations";

/// A valid kube-dns configuration. The default is what an absent or empty ConfigMap means.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Domain -> nameservers (`ip`, `ip:port`, `[v6]:port` or a host name), in file order.
    pub stub_domains: BTreeMap<String, Vec<String>>,
    /// Upstreams for everything else (`ip` or `ip:port`), at most three.
    pub upstream_nameservers: Vec<String>,
    /// Federation name -> domain (used by kubedns only; validated here because kube-dns
    /// refuses the whole update when it is wrong).
    pub federations: BTreeMap<String, String>,
}

/// One reason a ConfigMap update was refused. Messages follow kube-dns's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `stubDomains` or `upstreamNameservers` is not JSON of the right shape.
    #[error("Invalid JSON {value:?} in {key}: {reason}")]
    InvalidJson {
        /// The ConfigMap key.
        key: &'static str,
        /// The value as written.
        value: String,
        /// serde_json's message.
        reason: String,
    },
    /// A `federations` entry is malformed.
    #[error("invalid federations {value:?}: {reason}")]
    InvalidFederation {
        /// The whole `federations` value.
        value: String,
        /// kube-dns's message.
        reason: String,
    },
    /// A stub domain is not a DNS-1123 subdomain.
    #[error("invalid domain name: {domain:?}")]
    InvalidStubDomain {
        /// The stub domain as written.
        domain: String,
    },
    /// A stub domain's nameserver is neither an IP (with an optional port) nor a host name.
    #[error("invalid nameserver: {nameserver:?} (stub domain {domain:?})")]
    InvalidStubNameserver {
        /// The stub domain.
        domain: String,
        /// The nameserver as written.
        nameserver: String,
    },
    /// More than three upstream nameservers.
    #[error("upstreamNameserver cannot have more than three entries (got {count})")]
    TooManyUpstreams {
        /// How many were given.
        count: usize,
    },
    /// An upstream nameserver is not `ip` or `ip:port`.
    #[error("invalid upstream nameserver {nameserver:?}: {reason}")]
    InvalidUpstream {
        /// The nameserver as written.
        nameserver: String,
        /// kube-dns's message (`bad IP address`, `bad port number`, ...).
        reason: String,
    },
}

/// A refused update: every reason, in key order (federations, stubDomains, upstreams).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub Vec<ConfigError>);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Refused {}

impl Config {
    /// Parses and validates ConfigMap data (key -> value). All-or-nothing.
    pub fn from_data(data: &BTreeMap<String, String>) -> Result<Config, Refused> {
        let mut errs = Vec::new();
        let mut cfg = Config::default();
        if let Some(v) = data.get(FEDERATIONS) {
            match parse_federations(v) {
                Ok(f) => cfg.federations = f,
                Err(reason) => errs.push(ConfigError::InvalidFederation {
                    value: v.clone(),
                    reason,
                }),
            }
        }
        if let Some(v) = data.get(STUB_DOMAINS) {
            match serde_json::from_str::<Option<BTreeMap<String, Option<Vec<String>>>>>(v) {
                Ok(m) => {
                    cfg.stub_domains = m
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k, v.unwrap_or_default()))
                        .collect()
                }
                Err(e) => errs.push(invalid_json(STUB_DOMAINS, v, &e)),
            }
        }
        if let Some(v) = data.get(UPSTREAM_NAMESERVERS) {
            match serde_json::from_str::<Option<Vec<String>>>(v) {
                Ok(u) => cfg.upstream_nameservers = u.unwrap_or_default(),
                Err(e) => errs.push(invalid_json(UPSTREAM_NAMESERVERS, v, &e)),
            }
        }
        errs.extend(cfg.validate());
        if errs.is_empty() {
            Ok(cfg)
        } else {
            Err(Refused(errs))
        }
    }

    /// kube-dns `Config.Validate`: federations, then stub domains, then upstreams. Returns
    /// every problem found (empty = valid).
    pub fn validate(&self) -> Vec<ConfigError> {
        let mut errs = Vec::new();
        for (name, domain) in &self.federations {
            if let Err(reason) = check_federation(name, domain) {
                errs.push(ConfigError::InvalidFederation {
                    value: format!("{name}={domain}"),
                    reason,
                });
            }
        }
        for (domain, servers) in &self.stub_domains {
            if !is_dns1123_subdomain(domain) {
                errs.push(ConfigError::InvalidStubDomain {
                    domain: domain.clone(),
                });
            }
            for ns in servers {
                if !valid_stub_nameserver(ns) {
                    errs.push(ConfigError::InvalidStubNameserver {
                        domain: domain.clone(),
                        nameserver: ns.clone(),
                    });
                }
            }
        }
        let count = self.upstream_nameservers.len();
        if count > 3 {
            errs.push(ConfigError::TooManyUpstreams { count });
        }
        for ns in &self.upstream_nameservers {
            if let Err(reason) = validate_nameserver_ip_and_port(ns) {
                errs.push(ConfigError::InvalidUpstream {
                    nameserver: ns.clone(),
                    reason,
                });
            }
        }
        errs
    }
}

fn invalid_json(key: &'static str, value: &str, e: &serde_json::Error) -> ConfigError {
    ConfigError::InvalidJson {
        key,
        value: value.to_string(),
        reason: e.to_string(),
    }
}

/// kube-dns `validateStubDomains` for one nameserver: `SplitHostPort` (on failure the whole
/// string is the host); a port must fit 16 bits; the host must be an IP or the *whole* string a
/// DNS-1123 subdomain.
fn valid_stub_nameserver(ns: &str) -> bool {
    let (host, port) = split_host_port(ns).unwrap_or((ns, ""));
    if !port.is_empty() && parse_uint16(port).is_none() {
        return false;
    }
    parse_ip(host).is_some() || is_dns1123_subdomain(ns)
}

/// kube-dns `federation.ParseFederationsFlag`.
pub fn parse_federations(value: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    if value.trim().is_empty() {
        return Ok(out);
    }
    for entry in value.split(',') {
        let Some((name, domain)) = entry.trim().split_once('=') else {
            return Err("invalid format, must be key=value".to_string());
        };
        let (name, domain) = (name.trim(), domain.trim());
        check_federation(name, domain)?;
        out.insert(name.to_string(), domain.to_string());
    }
    Ok(out)
}

fn check_federation(name: &str, domain: &str) -> Result<(), String> {
    let errs = dns1123_label_errors(name);
    if !errs.is_empty() {
        return Err(format!("{name:?} not a valid federation name: {errs:?}"));
    }
    let errs = dns1123_subdomain_errors(domain);
    if !errs.is_empty() {
        return Err(format!("{domain:?} not a valid domain name: {errs:?}"));
    }
    Ok(())
}
