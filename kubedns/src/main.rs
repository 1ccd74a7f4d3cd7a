//! kubedns binary: parse and validate flags (usage errors exit 2), then `ops::start::serve`:
//! bind, run, map the outcome to an exit code.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use kubedns::cli::{Cli, GO_FLAGS};
use ops::start::Runtime;

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
    if cfg.heap_tuning {
        kubedns::heap::tune();
    }
    for flag in cli.ignored_flags() {
        tracing::warn!("flag {flag} is accepted for compatibility and ignored");
    }
    tracing::info!(zone = %cfg.zone.zone, version = env!("CARGO_PKG_VERSION"), "kubedns starting");
    ops::start::serve(
        "kubedns",
        Runtime::MultiThread(None),
        cfg.lame_duck,
        || async { kubedns::bind(&cfg) },
        |bound, shutdown| kubedns::run(cfg.clone(), bound, prometheus::Registry::new(), shutdown),
    )
}
