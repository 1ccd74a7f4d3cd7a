//! The HTTP client under kube-rs: kube's own stack (base URI, credentials, extra headers) over
//! a connection pool that closes idle connections.
//!
//! Why not `kube::Client::try_from(config)`: its pool keeps an idle connection until the next
//! request happens to check it out, and a watch that restarts while its old connection is
//! still being returned leaves one connection idle for good. Over a day of watch restarts a
//! replica would hold one more descriptor and one more API server connection than it uses.
//! Here an idle connection closes after [`API_POOL_IDLE`]; a watch that follows its list at
//! once still reuses the list's connection.

use std::time::Duration;

use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use kube::client::ConfigExt;
use kube::{Client, Config};
use tower::ServiceBuilder;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long a connection to the API server may sit idle in the pool.
pub const API_POOL_IDLE: Duration = Duration::from_secs(10);

/// A client for `config`: plain HTTP or TLS as its URL says, its credentials (token files are
/// re-read as kube's auth layer does), its connect timeout.
pub fn build(config: &Config) -> Result<Client, kube::Error> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(config.connect_timeout);
    let https = config.rustls_https_connector_with_connector(http)?;
    let pool = HyperClient::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(API_POOL_IDLE)
        .build(https);
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(BoxError::from)
        .service(pool);
    Ok(Client::new(service, config.default_namespace.clone()))
}
