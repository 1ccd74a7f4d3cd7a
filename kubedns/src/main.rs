//! kubedns binary: parse flags, initialise logging, bind, run, map the outcome to an exit code.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use kubedns::cli::{Cli, GO_FLAGS};

fn main() -> ExitCode {
    let argv = ops::go_flags::normalize(std::env::args(), GO_FLAGS);
    let cli = Cli::parse_from(argv);
    if let Some(v) = cli.version.as_deref().filter(|v| *v != "false") {
        let version = env!("CARGO_PKG_VERSION");
        match v {
            "raw" => println!("{version:?}"),
            _ => println!("Kube-DNS {version} (kubedns, Rust)"),
        }
        return ExitCode::SUCCESS;
    }
    let cfg = match cli.config() {
        Ok(cfg) => cfg,
        Err(e) => Cli::command()
            .error(clap::error::ErrorKind::ValueValidation, format!("{e:#}"))
            .exit(),
    };
    ops::logging::init(cli.v);
    ops::rlimit::raise_nofile();
    for flag in cli.ignored_flags() {
        tracing::warn!("flag {flag} is accepted for compatibility and ignored");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kubedns: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        tracing::info!(zone = %cfg.zone.zone, version = env!("CARGO_PKG_VERSION"), "kubedns starting");
        let token = ops::shutdown_token();
        let bound = match kubedns::bind(&cfg).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!("{e}");
                return ExitCode::FAILURE;
            }
        };
        match kubedns::run(cfg, bound, prometheus::Registry::new(), token).await {
            Ok(()) => {
                tracing::info!("kubedns stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                tracing::error!("{e}");
                ExitCode::FAILURE
            }
        }
    })
}
