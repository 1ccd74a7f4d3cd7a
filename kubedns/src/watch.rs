//! Object source `kube`: kube-rs watchers for Services and EndpointSlices (or core/v1
//! Endpoints), Pods with `--pods=verified`, publishing complete [`ClusterObjects`] on the
//! source channel once every watcher has listed. (Skeleton: filled in by the watch work.)

use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

use crate::source::SourceTx;

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
}

/// Metrics of the kube source.
#[derive(Debug, Clone)]
pub struct WatchMetrics {}

impl WatchMetrics {
    /// Registers the metrics in `reg`.
    pub fn register(_reg: &prometheus::Registry) -> Result<Self, prometheus::Error> {
        Ok(WatchMetrics {})
    }
}

/// Builds a client from `--kubecfg-file`, `--kube-master-url` or the in-cluster config.
pub async fn client(_cfg: &WatchConfig) -> Result<kube::Client, WatchError> {
    Err(WatchError::ClientConfig("not implemented yet".into()))
}

/// Runs the watchers until `token` is cancelled, publishing on `tx`.
pub async fn run(
    _client: kube::Client,
    _cfg: WatchConfig,
    _tx: SourceTx,
    _metrics: WatchMetrics,
    token: CancellationToken,
) -> Result<(), WatchError> {
    token.cancelled().await;
    Ok(())
}
