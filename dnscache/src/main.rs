//! dnscache binary: parse dnsmasq-style flags, bind (or inherit) sockets, run, exit.
//! Exit codes: 0 after a SIGTERM drain, 2 for usage errors, 1 when serving cannot start.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use dnscache::cli::Cli;
use dnscache::{Bound, handover, server};

fn bind(cli: &Cli) -> anyhow::Result<Bound> {
    let workers = cli.workers();
    let mut bound = if cli.inherits() {
        let mut b = Bound::default();
        if let Some(fd) = cli.inherit_udp_fd {
            b.udp
                .push(server::udp_group(handover::inherit_udp(fd)?, workers)?);
        }
        if let Some(fd) = cli.inherit_tcp_fd {
            b.tcp.push(handover::inherit_tcp(fd)?);
        }
        b
    } else {
        server::bind(&cli.listen_addresses(), cli.port, workers)
            .with_context(|| format!("binding port {}", cli.port))?
    };
    if let Some(fd) = cli.inherit_metrics_fd {
        bound.metrics = Some(handover::inherit_tcp(fd)?);
    } else if let Some(port) = cli.metrics_port {
        let ip = cli.listen_addresses()[0];
        let l = std::net::TcpListener::bind(SocketAddr::new(ip, port))
            .with_context(|| format!("binding metrics port {port}"))?;
        bound.metrics = Some(l);
    }
    if let Some(fd) = cli.ready_fd {
        bound.ready = Some(handover::ready_fd(fd)?);
    }
    let dump = cli.cache_dump_fd.map(handover::ready_fd).transpose()?;
    let load = cli.cache_load_fd.map(handover::ready_fd).transpose()?;
    if cli.cache_handover {
        (bound.cache_dump, bound.cache_load) = (dump, load);
    }
    Ok(bound)
}

/// Each upstream exchange holds a socket: allow `--dns-forward-max` of them (soft limit up
/// to the hard limit).
fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
        && let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
    {
        tracing::warn!(error = %e, "cannot raise the descriptor limit");
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    ops::logging::init(cli.v);
    raise_fd_limit();
    for flag in cli.ignored() {
        tracing::warn!("ignoring dnsmasq option {flag}: it changes nothing here");
    }
    let resolv = if cli.no_resolv {
        None
    } else {
        std::fs::read_to_string(&cli.resolv_file)
            .map_err(|e| tracing::warn!(file = %cli.resolv_file.display(), error = %e, "cannot read resolv file"))
            .ok()
    };
    let cfg = match cli.config(resolv.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{e:#}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.workers().clamp(1, 2))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the runtime");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        let token = ops::shutdown_token();
        let bound = bind(&cli)?;
        dnscache::run(cfg, bound, prometheus::Registry::new(), token).await?;
        anyhow::Ok(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}
