//! dnscache binary: parse dnsmasq-style flags (usage errors exit 2), then
//! `ops::start::serve`: bind (or inherit) sockets, run, exit 0 after the SIGTERM drain, 1
//! when serving cannot start.
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
use ops::start::Runtime;

fn bind(cli: &Cli) -> anyhow::Result<Bound> {
    let workers = cli.workers();
    let mut bound = match (cli.inherit_udp_fd, cli.inherit_tcp_fd) {
        (Some(udp), Some(tcp)) => Bound {
            dns: vec![server::inherited(
                handover::inherit_udp(udp)?,
                handover::inherit_tcp(tcp)?,
                workers,
            )?],
            ..Bound::default()
        },
        _ => server::bind(&cli.listen_addresses(), cli.port, workers)?,
    };
    if let Some(fd) = cli.inherit_metrics_fd {
        bound.metrics = Some(handover::inherit_tcp(fd)?);
    } else if let Some(port) = cli.metrics_port {
        let ip = cli.listen_addresses()[0];
        let l = ops::net::bind_http(SocketAddr::new(ip, port))
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    ops::logging::init(cli.v);
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
        Err(e) => return ops::start::usage_error("dnscache", format!("{e:#}")),
    };
    // Cache hits are answered on the UDP worker threads; the runtime runs misses, TCP and
    // metrics, for which two threads are plenty.
    ops::start::serve(
        "dnscache",
        Runtime::MultiThread(Some(cli.workers().clamp(1, 2))),
        cfg.lame_duck,
        || async { bind(&cli).map_err(|e| format!("{e:#}")) },
        |bound, shutdown| dnscache::run(cfg.clone(), bound, prometheus::Registry::new(), shutdown),
    )
}
