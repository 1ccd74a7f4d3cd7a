//! `sidecar` binary: parse flags, init logging, bind, run, map to an exit code.
//! Usage errors (a bad `--probe`) exit 2 with kube-dns's message; SIGTERM exits 0.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::process::ExitCode;

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
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    ops::logging::init(cli.klog.v);
    ops::start::raise_nofile_limit();
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "starting sidecar");

    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the tokio runtime");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let token = ops::shutdown_token();
        let bound = Bound::bind(&cli.prometheus_addr, cli.prometheus_port).await?;
        sidecar::run(cfg, bound, prometheus::Registry::new(), token).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "sidecar failed");
            ExitCode::FAILURE
        }
    }
}
