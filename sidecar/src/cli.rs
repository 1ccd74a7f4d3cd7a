//! The sidecar's command line (kube-dns `cmd/sidecar/main.go`): kube-dns's
//! flag names and defaults, the repeatable `--probe` (grammar in `probe::spec`), and the klog
//! flags that manifests pass (`--v=2 --logtostderr`), accepted and mostly ignored. Parsing
//! only; a bad value exits 2 with kube-dns's message, before any socket is bound.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{ArgAction, Parser};

use crate::Config;
use crate::probe::ProbeSpec;

/// Flags whose Go single-dash spelling (`-v=2`) is rewritten for clap.
pub const LONG_FLAGS: &[&str] = &[
    "v",
    "logtostderr",
    "alsologtostderr",
    "stderrthreshold",
    "log_dir",
    "log-dir",
    "log_file",
    "log-file",
    "vmodule",
    "log-flush-frequency",
    "probe",
    "lameduck",
    "dnsmasq-addr",
    "dnsmasq-port",
    "dnsmasq-poll-interval-ms",
    "prometheus-addr",
    "prometheus-port",
    "prometheus-path",
    "prometheus-namespace",
    "version",
];

/// `sidecar` flags.
#[derive(Debug, Parser)]
#[command(
    name = "sidecar",
    version,
    about = "Probes kubedns and dnscache, exports kube-dns metrics and health checks.",
    // pflag semantics: a repeated flag overrides the earlier one (--probe still appends).
    args_override_self = true
)]
pub struct Cli {
    /// Probe a DNS server and export metrics and /healthcheck/<label>; repeatable.
    /// <label>,<server>,<dns name>[,<interval_seconds>][,<type>], type one of ANY, A, AAAA, SRV.
    /// Example: 'mydns,127.0.0.1:53,example.com,10,A'.
    #[arg(long = "probe", value_name = "PROBE")]
    pub probes: Vec<ProbeSpec>,
    /// Address that the dnsmasq server is listening on.
    #[arg(long, default_value = "127.0.0.1")]
    pub dnsmasq_addr: String,
    /// Port that the dnsmasq server is listening on.
    #[arg(long, default_value_t = 53)]
    pub dnsmasq_port: u16,
    /// Interval with which to poll dnsmasq for stats.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    pub dnsmasq_poll_interval_ms: u64,
    /// HTTP addr to bind metrics server to.
    #[arg(long, default_value = "0.0.0.0")]
    pub prometheus_addr: String,
    /// HTTP port to use to export prometheus metrics (0: any free port).
    #[arg(long, default_value_t = 10054)]
    pub prometheus_port: u16,
    /// HTTP path used to export metrics.
    #[arg(long, default_value = "/metrics")]
    pub prometheus_path: String,
    /// After SIGTERM, report `/healthcheck/*` unhealthy (503) at once and keep serving this
    /// long before exiting (Go duration; 0: exit at once).
    #[arg(long, default_value = "5s", value_parser = ops::go_flags::duration)]
    pub lameduck: Duration,
    /// Prometheus metric namespace.
    #[arg(long, default_value = "kubedns")]
    pub prometheus_namespace: String,
    /// klog flags from existing manifests.
    #[command(flatten)]
    pub klog: Klog,
}

/// klog flags: `--v` sets the log level, the others are accepted for compatibility (we always
/// log to stderr).
#[derive(Debug, clap::Args)]
pub struct Klog {
    /// Log verbosity (klog `--v`): 4 and up adds debug logs.
    #[arg(long = "v", default_value_t = 0)]
    pub v: u8,
    /// Accepted; logs always go to stderr.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set)]
    pub logtostderr: Option<bool>,
    #[arg(long, hide = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set)]
    alsologtostderr: Option<bool>,
    #[arg(long, hide = true)]
    stderrthreshold: Option<String>,
    #[arg(long = "log-dir", alias = "log_dir", hide = true)]
    log_dir: Option<String>,
    #[arg(long = "log-file", alias = "log_file", hide = true)]
    log_file: Option<String>,
    #[arg(long, hide = true)]
    vmodule: Option<String>,
    #[arg(
        long = "log-flush-frequency",
        alias = "log_flush_frequency",
        hide = true
    )]
    log_flush_frequency: Option<String>,
}

impl Cli {
    /// Parses `argv` after rewriting Go single-dash spellings.
    pub fn parse_args<I, S>(argv: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Cli::try_parse_from(ops::go_flags::normalize(argv, LONG_FLAGS))
    }

    /// The run configuration; refuses two probes with one label (kube-dns panics on the
    /// duplicate HTTP route) and a namespace that makes invalid metric names.
    pub fn config(&self) -> anyhow::Result<Config> {
        let mut seen = HashSet::new();
        for p in &self.probes {
            if !seen.insert(p.label.as_str()) {
                bail!("duplicate --probe label {:?}", p.label);
            }
        }
        crate::metrics::validate(&self.prometheus_namespace, seen).with_context(|| {
            format!(
                "invalid --prometheus-namespace {:?}",
                self.prometheus_namespace
            )
        })?;
        Ok(Config {
            probes: self.probes.clone(),
            dnsmasq_addr: self.dnsmasq_addr.clone(),
            dnsmasq_port: self.dnsmasq_port,
            poll_interval: Duration::from_millis(self.dnsmasq_poll_interval_ms),
            metrics_path: self.prometheus_path.clone(),
            namespace: self.prometheus_namespace.clone(),
            lame_duck: self.lameduck,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::RecordType;

    #[test]
    fn defaults_are_kube_dns_defaults() {
        let cli = Cli::parse_args(["sidecar"]).unwrap();
        assert_eq!(cli.dnsmasq_addr, "127.0.0.1");
        assert_eq!(cli.dnsmasq_port, 53);
        assert_eq!(cli.dnsmasq_poll_interval_ms, 5000);
        assert_eq!(cli.prometheus_addr, "0.0.0.0");
        assert_eq!(cli.prometheus_port, 10054);
        assert_eq!(cli.prometheus_path, "/metrics");
        assert_eq!(cli.prometheus_namespace, "kubedns");
        assert!(cli.probes.is_empty());
    }

    #[test]
    fn repeated_flags_override_and_probes_append() {
        let cli = Cli::parse_args([
            "sidecar",
            "--prometheus-port=1",
            "--prometheus-port=2",
            "--probe=a,127.0.0.1,x",
            "--probe=b,127.0.0.1,y",
        ])
        .unwrap();
        assert_eq!(cli.prometheus_port, 2);
        assert_eq!(cli.probes.len(), 2);
    }

    #[test]
    fn go_spellings_and_klog_flags() {
        let cli = Cli::parse_args([
            "sidecar",
            "-v=4",
            "-logtostderr=false",
            "--log_dir=/tmp",
            "-probe=a,127.0.0.1,x,1,A",
            "--dnsmasq-poll-interval-ms=200",
        ])
        .unwrap();
        assert_eq!(cli.klog.v, 4);
        assert_eq!(cli.klog.logtostderr, Some(false));
        assert_eq!(cli.probes[0].qtype, RecordType::A);
        assert_eq!(
            cli.config().unwrap().poll_interval,
            Duration::from_millis(200)
        );
    }

    #[test]
    fn bad_probe_is_a_usage_error_with_kube_dns_text() {
        let err = Cli::parse_args(["sidecar", "--probe=dnsmasq,[::1]:53"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string().contains("invalid format to --probe"),
            "{err}"
        );
    }

    #[test]
    fn duplicate_labels_and_bad_namespaces_are_refused() {
        let cli =
            Cli::parse_args(["sidecar", "--probe=a,127.0.0.1,x", "--probe=a,127.0.0.1,y"]).unwrap();
        assert!(
            cli.config()
                .unwrap_err()
                .to_string()
                .contains("duplicate --probe label")
        );
    }
}
