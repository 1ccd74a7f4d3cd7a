//! Runtime plumbing that every binary of the pod needs, and nothing else:
//! Go-style flag normalising (kube-dns manifests pass `-v=2 -logtostderr`), the one shutdown
//! story (SIGTERM/SIGINT cancel a token), tracing initialisation, and a small HTTP server for
//! `/metrics` and health endpoints. No DNS and no Kubernetes here.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

pub mod go_flags;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod rlimit;
pub mod shutdown;
pub mod udp;

pub use shutdown::shutdown_token;
pub use tokio_util::sync::CancellationToken;
