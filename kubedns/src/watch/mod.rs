//! Object source `kube`: kube-rs watchers (list + watch, reflector stores) for Services and
//! EndpointSlices (discovery.k8s.io/v1, all namespaces) or core/v1 Endpoints, and Pods with
//! `--pods=verified`, publishing complete [`ClusterObjects`](kubedns_records::ClusterObjects)
//! on the source channel once every watcher has listed, then after every change.
//!
//! Owns the client configuration and the watch tasks; never builds records (that is the pure
//! projection) and never exits the process: API outages are retried with backoff while the
//! last published set keeps serving.

pub mod backoff;
mod cache;
mod client;
mod metrics;
mod reflect;
#[cfg(test)]
mod store_tests;
pub mod trim;
pub mod types;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher::Event;
use kube::{Api, Client, Config};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use client::API_POOL_IDLE;
pub use metrics::WatchMetrics;

use crate::source::SourceTx;
use cache::Cache;
use reflect::{Ctx, Stores, Watch};
use types::{WatchedEndpoints, WatchedPod, WatchedService, WatchedSlice};

/// TCP connect timeout to the API server.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Which endpoints API is watched (`--endpoints-api`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum EndpointsApi {
    /// discovery.k8s.io/v1 EndpointSlices (default).
    #[default]
    Endpointslices,
    /// core/v1 Endpoints.
    Endpoints,
}

/// How to reach the API server and what to watch.
#[derive(Debug, Clone, Default)]
pub struct WatchConfig {
    /// `--kubecfg-file`.
    pub kubecfg_file: Option<PathBuf>,
    /// `--kube-master-url` (environment variables already expanded).
    pub master_url: Option<String>,
    /// `--endpoints-api`.
    pub endpoints_api: EndpointsApi,
    /// Watch Pods (`--pods=verified`).
    pub watch_pods: bool,
}

/// Errors of the kube source.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The client configuration could not be built.
    #[error("kubernetes client configuration: {0}")]
    ClientConfig(String),
    /// `--kube-master-url` is not an absolute http(s) URL.
    #[error("invalid --kube-master-url {url:?}: {reason}")]
    InvalidMasterUrl {
        /// The flag value.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// `--kubecfg-file` could not be read or used.
    #[error("kubeconfig {path}: {reason}")]
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// Not running in a cluster and no `--kube-master-url`/`--kubecfg-file` given.
    #[error(
        "in-cluster configuration (give --kube-master-url or --kubecfg-file outside a cluster): {0}"
    )]
    InCluster(String),
}

/// A client configuration for `--kube-master-url` (no credentials).
fn master_config(url: &str) -> Result<Config, WatchError> {
    let invalid = |reason: String| WatchError::InvalidMasterUrl {
        url: url.to_string(),
        reason,
    };
    let config = Config::new(url.parse().map_err(|e| invalid(format!("{e}")))?);
    match config.cluster_url.scheme_str() {
        Some("http" | "https") if config.cluster_url.host().is_some() => Ok(config),
        _ => Err(invalid(
            "expected http://host[:port] or https://host[:port]".into(),
        )),
    }
}

/// Builds a client: `--kubecfg-file` (with `--kube-master-url` overriding its server, as
/// client-go's `BuildConfigFromFlags` does), else `--kube-master-url` (no auth; plain http is
/// fine), else the in-cluster service account. Connect timeout 2 s; the client's own retry
/// layer is off because the watchers back off themselves.
pub async fn client(cfg: &WatchConfig) -> Result<Client, WatchError> {
    let mut config = match (&cfg.kubecfg_file, &cfg.master_url) {
        (Some(path), master) => {
            let kubeconfig_err = |reason: String| WatchError::Kubeconfig {
                path: path.clone(),
                reason,
            };
            let kc = Kubeconfig::read_from(path).map_err(|e| kubeconfig_err(e.to_string()))?;
            let mut config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(|e| kubeconfig_err(e.to_string()))?;
            if let Some(url) = master {
                config.cluster_url = master_config(url)?.cluster_url;
            }
            config
        }
        (None, Some(url)) => master_config(url)?,
        (None, None) => Config::incluster().map_err(|e| WatchError::InCluster(e.to_string()))?,
    };
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.default_retry = false;
    tracing::info!(url = %config.cluster_url, "kubernetes API");
    client::build(&config).map_err(|e| WatchError::ClientConfig(e.to_string()))
}

/// Runs the watchers until `token` is cancelled, publishing on `tx`: `Some(objects)` once
/// every watcher has listed, then again after every change (a watch channel keeps only the
/// newest value, so bursts coalesce).
pub async fn run(
    client: Client,
    cfg: WatchConfig,
    tx: SourceTx,
    metrics: WatchMetrics,
    token: CancellationToken,
) -> Result<(), WatchError> {
    let ctx = Ctx {
        metrics,
        changed: Arc::new(Notify::new()),
        token: token.child_token(),
    };
    let mut tasks = JoinSet::new();
    // Endpoint objects of non-headless Services are not kept (trim.rs); the endpoints watch lists only
    // once the Services are known, and relists when a Service starts reading endpoints.
    let trim = trim::Trim::new();
    let services = Cache::new();
    let slices = (cfg.endpoints_api == EndpointsApi::Endpointslices).then(Cache::new);
    let endpoints = (cfg.endpoints_api == EndpointsApi::Endpoints).then(Cache::new);
    let on_service = {
        let (trim, slices, endpoints) = (trim.clone(), slices.clone(), endpoints.clone());
        let changed = ctx.changed.clone();
        move |event: &mut Event<WatchedService>| {
            // Endpoint objects of a Service that no longer reads them leave the store now.
            for key in trim.service(event) {
                let s = slices.as_ref().is_some_and(|c| c.remove(&key));
                let e = endpoints.as_ref().is_some_and(|c| c.remove(&key));
                if s || e {
                    changed.notify_one();
                }
            }
            true
        }
    };
    let watch = Watch {
        api: Api::<WatchedService>::all(client.clone()),
        resource: "services",
        on_event: on_service,
        after: None,
        restart: None,
    };
    reflect::spawn(&mut tasks, &ctx, services.clone(), watch);
    let after_services = || {
        let services = services.clone();
        Some(Box::pin(async move { services.wait_ready().await }) as reflect::Gate)
    };
    if let Some(cache) = &slices {
        let (trim, restart) = (trim.clone(), Some(trim.restart.clone()));
        let watch = Watch {
            api: Api::<WatchedSlice>::all(client.clone()),
            resource: "endpointslices",
            on_event: move |event: &mut Event<WatchedSlice>| trim.slice(event),
            after: after_services(),
            restart,
        };
        reflect::spawn(&mut tasks, &ctx, cache.clone(), watch);
    }
    if let Some(cache) = &endpoints {
        let (trim, restart) = (trim.clone(), Some(trim.restart.clone()));
        let watch = Watch {
            api: Api::<WatchedEndpoints>::all(client.clone()),
            resource: "endpoints",
            on_event: move |event: &mut Event<WatchedEndpoints>| trim.endpoints(event),
            after: after_services(),
            restart,
        };
        reflect::spawn(&mut tasks, &ctx, cache.clone(), watch);
    }
    let mut stores = Stores {
        services: services.clone(),
        slices,
        endpoints,
        pods: None,
    };
    if cfg.watch_pods {
        let cache = Cache::new();
        let watch = Watch {
            api: Api::<WatchedPod>::all(client.clone()),
            resource: "pods",
            on_event: |_: &mut Event<WatchedPod>| true,
            after: None,
            restart: None,
        };
        reflect::spawn(&mut tasks, &ctx, cache.clone(), watch);
        stores.pods = Some(cache);
    }
    reflect::publish(stores, tx, ctx).await;
    tasks.shutdown().await;
    Ok(())
}
