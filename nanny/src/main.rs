//! `nanny`: parse, init tracing, bind dnscache's sockets, supervise; map the end to an exit
//! code (0 after SIGTERM/SIGINT, 1 when dnscache crash-loops or the sockets cannot be bound,
//! 2 on usage errors).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::process::ExitCode;

use nanny::supervise::Sockets;
use nanny::{Cli, Options};

fn main() -> ExitCode {
    let cli = match Cli::parse_go(std::env::args()) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    ops::logging::init(cli.v);
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the runtime");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let token = ops::shutdown_token();
        let sockets = if cli.handover {
            let addr = cli.listen_addr();
            match Sockets::bind(addr).and_then(|s| s.local_addr().map(|a| (s, a))) {
                Ok((s, bound)) => {
                    tracing::info!("listening on udp {bound}");
                    tracing::info!("listening on tcp {bound}");
                    Some(s)
                }
                Err(e) => {
                    tracing::error!(%addr, error = %e, "cannot bind dnscache's sockets");
                    return ExitCode::FAILURE;
                }
            }
        } else {
            None
        };
        match nanny::run(Options::from_cli(&cli), sockets, token).await {
            Ok(()) => {
                tracing::info!("nanny stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                tracing::error!(error = %e, "nanny giving up");
                ExitCode::FAILURE
            }
        }
    })
}
