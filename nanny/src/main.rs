//! `nanny`: parse (usage errors exit 2), then `ops::start::serve`: bind dnscache's sockets,
//! supervise; 0 after SIGTERM/SIGINT (and the lame duck), 1 when dnscache crash-loops or the
//! sockets cannot be bound.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::process::ExitCode;

use nanny::supervise::Sockets;
use nanny::{Cli, Options};
use ops::start::Runtime;

fn main() -> ExitCode {
    let cli = match Cli::parse_go(std::env::args()) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    ops::logging::init(cli.v);
    let bind = || async {
        if !cli.handover {
            return Ok(None);
        }
        let addr = cli.listen_addr();
        let s = Sockets::bind(addr)
            .map_err(|e| format!("cannot bind dnscache's sockets on {addr}: {e}"))?;
        if let Ok(bound) = s.local_addr() {
            tracing::info!("listening on udp {bound}");
            tracing::info!("listening on tcp {bound}");
        }
        Ok::<_, String>(Some(s))
    };
    ops::start::serve(
        "nanny",
        Runtime::CurrentThread,
        cli.lameduck,
        bind,
        |sockets, shutdown| nanny::run(Options::from_cli(&cli), sockets, shutdown.stop),
    )
}
