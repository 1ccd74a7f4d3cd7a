//! Command line: dnsmasq-nanny's Go `flag` names and defaults, accepted with
//! one or two dashes as the kube-dns manifest writes them (`-v=2 -logtostderr
//! -configDir=... -restartDnsmasq=true -- <dnscache args>`), plus our own double-dash flags for
//! the socket hand-over. Everything after `--` goes to dnscache unchanged. Pure parsing; no
//! sockets, no files (except locating the default dnscache binary in [`Cli::child_program`]).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Parser};

/// Flags spelled with one dash in Go manifests; rewritten to `--name` before clap.
pub const GO_FLAGS: &[&str] = &[
    "v",
    "logtostderr",
    "alsologtostderr",
    "stderrthreshold",
    "log_dir",
    "log_file",
    "vmodule",
    "configDir",
    "restartDnsmasq",
    "dnsmasqExec",
    "syncInterval",
    "kubednsServer",
    "logInterval",
    "lameduck",
];

/// `nanny`: runs dnscache on sockets it owns and restarts it, without losing a query, when
/// the kube-dns ConfigMap changes.
#[derive(Debug, Clone, Parser)]
// Go's flag package: a repeated flag overrides the earlier one.
#[command(name = "nanny", version, about, args_override_self = true)]
pub struct Cli {
    /// klog verbosity (0-1 info, 4+ debug).
    #[arg(long = "v", default_value_t = 0)]
    pub v: u8,
    /// Accepted for klog compatibility; logs always go to stderr.
    #[arg(long = "logtostderr", value_parser = go_bool, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "true")]
    pub logtostderr: bool,
    /// Accepted for klog compatibility; ignored.
    #[arg(long = "alsologtostderr", value_parser = go_bool, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false")]
    pub alsologtostderr: bool,
    /// Accepted for klog compatibility; ignored.
    #[arg(long = "stderrthreshold")]
    pub stderrthreshold: Option<String>,
    /// klog flags dnsmasq-nanny registers (`klog.InitFlags`), accepted like the sidecar does;
    /// ignored (logs always go to stderr).
    #[arg(long = "log_dir", alias = "log-dir", hide = true)]
    log_dir: Option<String>,
    #[arg(long = "log_file", alias = "log-file", hide = true)]
    log_file: Option<String>,
    #[arg(long = "vmodule", hide = true)]
    vmodule: Option<String>,
    /// The mounted kube-dns ConfigMap (one file per key).
    #[arg(long = "configDir", default_value = "/etc/k8s/dns/dnsmasq-nanny")]
    pub config_dir: PathBuf,
    /// Restart dnscache when the config changes. Default true here (dnsmasq-nanny: false):
    /// with the socket hand-over a restart loses no query and keeps serving.
    #[arg(long = "restartDnsmasq", value_parser = go_bool, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "true")]
    pub restart_dnsmasq: bool,
    /// The dnscache binary (default: `dnscache` beside this binary, else from PATH).
    #[arg(long = "dnsmasqExec")]
    pub dnsmasq_exec: Option<PathBuf>,
    /// Poll period of the config directory (Go duration: 10s, 100ms, 1m).
    #[arg(long = "syncInterval", value_parser = ops::go_flags::duration, default_value = "10s")]
    pub sync_interval: Duration,
    /// kubedns DNS address used to resolve stub nameserver names under the cluster domain.
    #[arg(long = "kubednsServer", default_value = "127.0.0.1:10053")]
    pub kubedns_server: SocketAddr,
    /// If > 0, send SIGUSR1 to dnscache this often (it logs its statistics).
    #[arg(long = "logInterval", value_parser = ops::go_flags::duration, default_value = "0s")]
    pub log_interval: Duration,

    /// After SIGTERM, keep dnscache answering this long before stopping it (0: at once).
    /// The kubelet's SIGTERM reaches the nanny; endpoints are removed meanwhile.
    #[arg(long = "lameduck", value_parser = ops::go_flags::duration, default_value = "5s")]
    pub lameduck: Duration,

    /// Address of the sockets the nanny binds for dnscache [default: `--listen-address` from
    /// the dnscache args, else 0.0.0.0].
    #[arg(long = "listen-address")]
    pub listen_address: Option<IpAddr>,
    /// Port of the sockets the nanny binds [default: `--port`/`-p` from the dnscache args,
    /// else 53]. 0 picks a free port (logged as `listening on udp <addr>`).
    #[arg(long = "port")]
    pub port: Option<u16>,
    /// Hand the nanny's sockets to each child and start the new child before stopping the old
    /// one. false = dnsmasq-nanny's way: the child binds its own sockets and a restart is
    /// kill, then respawn.
    #[arg(long = "handover", value_parser = go_bool, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "true", action = ArgAction::Set)]
    pub handover: bool,
    /// How long a child may take to report ready (`--ready-fd`) before it counts as failed.
    #[arg(long = "ready-timeout", value_parser = ops::go_flags::duration, default_value = "10s")]
    pub ready_timeout: Duration,
    /// How long a SIGTERMed child may drain before SIGKILL.
    #[arg(long = "grace-period", value_parser = ops::go_flags::duration, default_value = "10s")]
    pub grace_period: Duration,
    /// Child failures within this window that make the nanny give up (exit 1).
    #[arg(long = "crash-loop-max", default_value_t = 5)]
    pub crash_loop_max: u32,
    /// The window for `--crash-loop-max`.
    #[arg(long = "crash-loop-window", value_parser = ops::go_flags::duration, default_value = "60s")]
    pub crash_loop_window: Duration,
    /// Stub nameserver names ending in this are resolved through `-kubednsServer`.
    #[arg(long = "cluster-domain", default_value = "cluster.local")]
    pub cluster_domain: String,

    /// Arguments for dnscache (after `--`), passed unchanged.
    #[arg(last = true, allow_hyphen_values = true)]
    pub child_args: Vec<String>,
}

impl Cli {
    /// Parses `argv` (program name first) after rewriting Go single-dash spellings.
    pub fn parse_go<I, S>(argv: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Cli::try_parse_from(ops::go_flags::normalize(argv, GO_FLAGS))
    }

    /// The dnscache binary: `-dnsmasqExec`, else `dnscache` beside the running binary, else
    /// `dnscache` (looked up in PATH at spawn time).
    pub fn child_program(&self) -> PathBuf {
        if let Some(p) = &self.dnsmasq_exec {
            return p.clone();
        }
        std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|d| d.join("dnscache")))
            .filter(|p| p.is_file())
            .unwrap_or_else(|| PathBuf::from("dnscache"))
    }

    /// Where the nanny binds: our flags first, then dnscache's own `--listen-address`/`-a`
    /// and `--port`/`-p` in the child args, then 0.0.0.0:53.
    pub fn listen_addr(&self) -> SocketAddr {
        let (child_ip, child_port) = child_listen(&self.child_args);
        let ip = self
            .listen_address
            .or(child_ip)
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        SocketAddr::new(ip, self.port.or(child_port).unwrap_or(53))
    }
}

/// `--listen-address`/`-a` and `--port`/`-p` as dnsmasq spells them (`--x=v`, `--x v`, `-p53`,
/// `-p 53`); the last occurrence wins; unparsable values are ignored.
pub fn child_listen(args: &[String]) -> (Option<IpAddr>, Option<u16>) {
    let (mut ip, mut port) = (None, None);
    let mut it = args.iter().peekable();
    while let Some(a) = it.next() {
        let mut value = |long: &str, short: &str| -> Option<String> {
            if let Some(v) = a.strip_prefix(long).and_then(|r| r.strip_prefix('=')) {
                return Some(v.to_string());
            }
            if a == long || a == short {
                return it.next().cloned();
            }
            a.strip_prefix(short)
                .filter(|v| !v.is_empty() && !a.starts_with("--"))
                .map(str::to_string)
        };
        if let Some(v) = value("--port", "-p") {
            port = v.parse().ok().or(port);
        } else if let Some(v) = value("--listen-address", "-a") {
            ip = v.split(',').next().and_then(|s| s.parse().ok()).or(ip);
        }
    }
    (ip, port)
}

/// Go `strconv.ParseBool`.
pub fn go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("invalid boolean value {s:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_flags_override() {
        let cli =
            Cli::parse_go(["nanny", "-syncInterval=1s", "-syncInterval=2s", "--", "-k"]).unwrap();
        assert_eq!(cli.sync_interval, Duration::from_secs(2));
        assert_eq!(cli.child_args, ["-k"]);
    }

    #[test]
    fn klog_flags_are_accepted() {
        let cli = Cli::parse_go([
            "nanny",
            "-v=3",
            "-log_dir=/var/log",
            "-log_file=/tmp/x",
            "-vmodule=nanny=4",
            "-stderrthreshold=INFO",
        ])
        .unwrap();
        assert_eq!(cli.v, 3);
    }

    #[test]
    fn listen_from_child_args() {
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(child_listen(&a(&["-k"])), (None, None));
        assert_eq!(
            child_listen(&a(&["--port=5353", "--listen-address=127.0.0.1"])),
            (Some([127, 0, 0, 1].into()), Some(5353))
        );
        assert_eq!(
            child_listen(&a(&["-p", "54", "-a", "10.0.0.1"])),
            (Some([10, 0, 0, 1].into()), Some(54))
        );
        assert_eq!(child_listen(&a(&["-p55", "--pxe"])), (None, Some(55)));
        assert_eq!(child_listen(&a(&["--port", "56"])), (None, Some(56)));
    }
}
