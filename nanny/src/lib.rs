//! nanny: dnsmasq-nanny's job for dnscache. It reads the mounted kube-dns
//! ConfigMap (`source`), validates it like kube-dns (`config`), resolves stub nameserver names
//! (`resolve`), turns it into dnscache arguments (`render`) and runs dnscache on sockets it
//! owns, restarting it without losing a query when the routes change (`supervise`).
//!
//! [`run`] is the wiring between them: the config side publishes the desired argv on a watch
//! channel; the supervisor follows it. Logs say what changed (old and new routes), why an
//! update was refused, and (in `supervise`) each restart and its cause.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

pub mod cli;
pub mod config;
pub mod render;
pub mod resolve;
pub mod source;
pub mod supervise;

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use cli::Cli;
pub use config::Config;
use source::{DirSource, Snapshot};
use supervise::{Desired, Settings, Sockets, SuperviseError};

/// Everything [`run`] needs besides the sockets.
#[derive(Debug, Clone)]
pub struct Options {
    /// The ConfigMap directory.
    pub config_dir: PathBuf,
    /// Poll period (file notification comes on top).
    pub sync_interval: Duration,
    /// How stub nameserver names are resolved.
    pub resolver: resolve::Resolver,
    /// dnscache arguments given after `--`.
    pub base_args: Vec<String>,
    /// Supervision settings.
    pub supervise: Settings,
}

impl Options {
    /// Options from the command line.
    pub fn from_cli(cli: &Cli) -> Options {
        Options {
            config_dir: cli.config_dir.clone(),
            sync_interval: cli.sync_interval,
            resolver: resolve::Resolver {
                kubedns: cli.kubedns_server,
                cluster_domain: cli.cluster_domain.clone(),
                timeout: Duration::from_secs(2),
            },
            base_args: cli.child_args.clone(),
            supervise: Settings {
                program: cli.child_program(),
                restart_on_change: cli.restart_dnsmasq,
                ready_timeout: cli.ready_timeout,
                grace: cli.grace_period,
                crash_loop_max: cli.crash_loop_max,
                crash_loop_window: cli.crash_loop_window,
                log_interval: cli.log_interval,
            },
        }
    }
}

/// Runs until `token` is cancelled (Ok, children stopped) or dnscache crash-loops (Err).
/// `sockets`: the bound UDP/TCP pair handed to every child; `None` disables the hand-over.
pub async fn run(
    opts: Options,
    sockets: Option<Sockets>,
    token: CancellationToken,
) -> Result<(), SuperviseError> {
    let source = DirSource::new(&opts.config_dir);
    let initial = source.read_async().await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot read config directory at start; using the default config");
        Snapshot::default()
    });
    let mut applier = Applier {
        opts: opts.clone(),
        version: initial.version.clone(),
        routes: Vec::new(),
        refused: 0,
        current: Config::default(),
        unresolved: false,
    };
    let cfg = Config::from_data(&initial.data).unwrap_or_else(|refused| {
        tracing::warn!(version = %initial.version, reasons = %refused, "config refused at start; using the default config");
        Config::default()
    });
    let first = applier.desired(&cfg, "initial config").await;
    let (tx, rx) = watch::channel(first);
    let updates = source.watch(opts.sync_interval, token.child_token());
    let config_task = tokio::spawn(applier.follow(updates, tx, token.child_token()));
    let result = supervise::run(opts.supervise, sockets, rx, token.clone()).await;
    config_task.abort();
    result
}

/// The config side: snapshot -> validate -> resolve -> render -> desired argv.
struct Applier {
    opts: Options,
    version: String,
    routes: Vec<String>,
    refused: u64,
    /// The config in force (before name resolution).
    current: Config,
    /// Some stub nameserver name of `current` did not resolve (kubedns not answering yet,
    /// a Service not created yet): resolve again every sync interval.
    unresolved: bool,
}

impl Applier {
    async fn desired(&mut self, cfg: &Config, why: &str) -> Desired {
        let resolved = self.resolve(cfg).await;
        self.publish(resolved, why)
    }

    /// `cfg` with its stub nameserver names resolved; remembers it as the config in force.
    async fn resolve(&mut self, cfg: &Config) -> Config {
        let resolved = self.opts.resolver.resolve_stubs(cfg).await;
        self.current = cfg.clone();
        self.unresolved = resolve::has_unresolved(&resolved);
        let (routable, dropped) = resolve::without_unresolved(resolved);
        if !dropped.is_empty() {
            tracing::warn!(
                ?dropped,
                "stub nameservers left out of the routes until they resolve"
            );
        }
        routable
    }

    fn publish(&mut self, resolved: Config, why: &str) -> Desired {
        let routes = render::routes(&resolved);
        let version = short(&self.version);
        tracing::info!(%version, old = ?self.routes, new = ?routes, "{why}: routes");
        self.routes = routes;
        Desired {
            args: render::render(&resolved, &self.opts.base_args),
            cause: format!("{why} (version {version})"),
        }
    }

    async fn follow(
        mut self,
        mut updates: tokio::sync::mpsc::Receiver<Snapshot>,
        tx: watch::Sender<Desired>,
        token: CancellationToken,
    ) {
        let period = self.opts.sync_interval.max(Duration::from_millis(100));
        let mut again = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        again.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let snap = tokio::select! {
                _ = token.cancelled() => return,
                s = updates.recv() => match s { Some(s) => s, None => return },
                _ = again.tick(), if self.unresolved => {
                    let cfg = self.current.clone();
                    let resolved = self.resolve(&cfg).await;
                    if render::routes(&resolved) == self.routes {
                        continue;
                    }
                    let want = self.publish(resolved, "stub nameserver names resolved");
                    if tx.send(want).is_err() {
                        return;
                    }
                    continue;
                }
            };
            if snap.version == self.version {
                continue;
            }
            let cfg = match Config::from_data(&snap.data) {
                Ok(cfg) => cfg,
                Err(refused) => {
                    self.refused += 1;
                    tracing::warn!(version = %short(&snap.version), reasons = %refused, refused_total = self.refused, "config update refused; keeping the current routes");
                    continue;
                }
            };
            self.version = snap.version;
            let old = self.routes.clone();
            let want = self.desired(&cfg, "config changed").await;
            if self.routes == old {
                tracing::info!("routes unchanged; dnscache keeps running");
                continue;
            }
            if tx.send(want).is_err() {
                return;
            }
        }
    }
}

fn short(version: &str) -> &str {
    if version.is_empty() {
        "(empty)"
    } else {
        &version[..version.len().min(12)]
    }
}
