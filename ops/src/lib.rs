//! Runtime plumbing that every binary of the pod needs, and nothing else: Go-style flag
//! normalising (kube-dns manifests pass `-v=2 -logtostderr`), the one shutdown story
//! (SIGTERM/SIGINT start a lame duck, then cancel a token), tracing initialisation, binding
//! (dual-stack for wildcards), the DNS serving loops (batched UDP, bounded TCP) that servers
//! feed with bytes-in/bytes-out handlers, and a small bounded HTTP server for `/metrics` and
//! health endpoints. No DNS semantics and no Kubernetes here.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

pub mod go_flags;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod net;
pub mod shutdown;
pub mod slots;
pub mod start;
pub mod tcp;
pub mod udp;

pub use shutdown::shutdown_token;
pub use tokio_util::sync::CancellationToken;
