//! nanny: dnsmasq-nanny's job for dnscache (reference §2.2, §3). It reads the mounted kube-dns
//! ConfigMap (`source`), validates it like kube-dns (`config`), resolves stub nameserver names
//! (`resolve`), turns it into dnscache arguments (`render`) and runs dnscache on sockets it
//! owns, restarting it without losing a query when the routes change (`supervise`).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

pub mod cli;
pub mod config;
pub mod render;

pub use cli::Cli;
pub use config::Config;
