//! Tracing initialisation shared by the binaries.
//!
//! klog's `--v=N` maps to a default filter: 0-3 `info`, 4-5 `debug`, more `trace`. A non-empty
//! `RUST_LOG` overrides it. hickory's per-request `info!` lines are silenced
//! (`hickory_server=warn`) because they cost more than the query itself. Directives name full
//! crate targets (`kube_client`, not `kube`): an EnvFilter target is a prefix, and `kube=warn`
//! would silence `kubedns` too.

use tracing_subscriber::EnvFilter;

/// The default filter for klog verbosity `v`.
pub fn default_filter(v: u8) -> String {
    let base = match v {
        0..=3 => "info",
        4..=5 => "debug",
        _ => "trace",
    };
    format!(
        "{base},hickory_server=warn,hickory_proto=warn,hickory_net=warn,hickory_resolver=warn,\
         kube_client=warn,kube_runtime=warn,tower=warn,hyper=warn,hyper_util=warn"
    )
}

/// Installs the global subscriber writing to stderr. Safe to call more than once (later calls
/// are ignored).
pub fn init(verbosity: u8) {
    use std::io::IsTerminal;
    let env = std::env::var("RUST_LOG")
        .ok()
        .filter(|s| !s.trim().is_empty());
    let filter = EnvFilter::new(env.unwrap_or_else(|| default_filter(verbosity)));
    let _ = tracing_subscriber::fmt()
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // tracing-subscriber reports a failed write with `eprint!`, which panics when stderr
        // itself is gone (a closed pipe): that panic would kill whatever task was logging.
        .log_internal_errors(false)
        .with_target(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_filter_does_not_silence_kubedns() {
        let f = super::default_filter(2);
        assert!(!f.split(',').any(|d| d.starts_with("kube=")), "{f}");
        assert!(f.starts_with("info,"));
    }
}
