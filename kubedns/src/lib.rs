//! kubedns: authoritative DNS for the cluster domain.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod source;
pub mod watch;
