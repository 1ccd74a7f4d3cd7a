//! `sidecar` binary: parse and validate flags (a bad `--probe` exits 2 with kube-dns's
//! message), then `ops::start::serve`: bind, run, 0 after SIGTERM and the lame duck.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::process::ExitCode;

use ops::start::Runtime;
use sidecar::{Bound, Cli};

fn main() -> ExitCode {
    let cli = match Cli::parse_args(std::env::args()) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let cfg = match cli.config() {
        Ok(cfg) => cfg,
        Err(e) => return ops::start::usage_error("sidecar", format!("error: {e:#}")),
    };
    ops::logging::init(cli.klog.v);
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "starting sidecar");
    ops::start::serve(
        "sidecar",
        Runtime::CurrentThread,
        cfg.lame_duck,
        || Bound::bind(&cli.prometheus_addr, cli.prometheus_port),
        |bound, shutdown| sidecar::run(cfg.clone(), bound, prometheus::Registry::new(), shutdown),
    )
}
