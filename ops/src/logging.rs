//! Tracing initialisation shared by the binaries.
//!
//! klog's `--v=N` maps to a default filter: 0-1 `info`, 2-3 `info` plus our crates at `debug`
//! only from 4 on. `RUST_LOG` overrides. hickory's per-request `info!` lines are silenced
//! (`hickory_server=warn`) because they cost more than the query itself.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber writing to stderr. Safe to call more than once (later calls
/// are ignored).
pub fn init(verbosity: u8) {
    let base = match verbosity {
        0..=3 => "info",
        4..=5 => "debug",
        _ => "trace",
    };
    let default = format!(
        "{base},hickory_server=warn,hickory_proto=warn,hickory_net=warn,kube=warn,tower=warn,hyper=warn"
    );
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
