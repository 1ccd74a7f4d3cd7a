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
    init_logging(cli.v);
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

/// `ops::logging::init` with two fixes (to move into ops): its `kube=warn` directive is a
/// target *prefix* and silenced `kubedns` itself, and an empty `RUST_LOG` meant "errors only".
fn init_logging(v: u8) {
    use tracing_subscriber::EnvFilter;
    let base = match v {
        0..=3 => "info",
        4..=5 => "debug",
        _ => "trace",
    };
    let default = format!(
        "{base},hickory_server=warn,hickory_proto=warn,hickory_net=warn,kube_client=warn,kube_runtime=warn,tower=warn,hyper=warn"
    );
    let env = std::env::var("RUST_LOG")
        .ok()
        .filter(|s| !s.trim().is_empty());
    let filter = EnvFilter::new(env.unwrap_or(default));
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
