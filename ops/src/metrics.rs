//! Prometheus text exposition of a [`prometheus::Registry`].
//!
//! We use the `prometheus` crate (no protobuf) rather than `prometheus-client` because the
//! kube-dns metric names are a compatibility surface: `kubedns_dnsmasq_hits` is a counter
//! without a `_total` suffix, which `prometheus-client` would append.

use prometheus::{Encoder, Registry, TextEncoder};

/// Content type of [`encode`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders every metric family of `registry` in the Prometheus text format.
pub fn encode(registry: &Registry) -> String {
    let mut buf = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&registry.gather(), &mut buf) {
        tracing::warn!(error = %e, "metrics encoding failed");
    }
    String::from_utf8(buf).unwrap_or_default()
}
