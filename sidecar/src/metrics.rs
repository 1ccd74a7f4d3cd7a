//! The sidecar's Prometheus metrics (kube-dns's names: dashboards use them), registered on an
//! explicit [`prometheus::Registry`] under the `--prometheus-namespace` (default `kubedns`).
//!
//! The names are a compatibility surface for existing dashboards and alerts:
//! `<ns>_dnsmasq_{hits,misses,evictions,insertions,max_size,errors}` are unlabelled counters
//! **without** a `_total` suffix, `<ns>_probe_<label>_latency_ms` is a histogram with
//! kube-dns's buckets (0.25 ms doubling 16 times, to 8192 ms) and `<ns>_probe_<label>_errors`
//! a counter. `<ns>_probe_<label>_up` is ours (1 when the last probe succeeded). This module
//! only defines and registers; the probe and scrape tasks update.

use prometheus::{Counter, Gauge, Histogram, HistogramOpts, Opts, Registry};

/// Errors while defining or registering metrics (invalid namespace or label, duplicates).
pub type MetricsError = prometheus::Error;

/// Help texts are kube-dns's (`pkg/sidecar/metrics.go`).
const DNSMASQ: [(&str, &str); 5] = [
    ("hits", "Number of DNS cache hits (from start of process)"),
    (
        "misses",
        "Number of DNS cache misses (from start of process)",
    ),
    (
        "evictions",
        "Counter of DNS cache evictions (from start of process)",
    ),
    (
        "insertions",
        "Counter of DNS cache insertions (from start of process)",
    ),
    ("max_size", "Maximum size of the DNS cache"),
];

/// Upper bounds of the probe latency buckets in ms: `ExponentialBuckets(0.25, 2, 16)`.
pub fn latency_buckets() -> Vec<f64> {
    (0..16).map(|i| 0.25 * f64::from(1u32 << i)).collect()
}

/// Checks that `namespace` and the probe `labels` make valid, distinct metric names, by
/// registering everything on a scratch registry (so flags fail before any socket is bound).
pub fn validate<'a>(
    namespace: &str,
    labels: impl IntoIterator<Item = &'a str>,
) -> Result<(), MetricsError> {
    let scratch = Registry::new();
    DnsmasqMetrics::register(&scratch, namespace)?;
    for label in labels {
        ProbeMetrics::register(&scratch, namespace, label)?;
    }
    Ok(())
}

/// Counters fed by the dnsmasq scrape.
#[derive(Clone)]
pub struct DnsmasqMetrics {
    /// `hits`, `misses`, `evictions`, `insertions`, `max_size`, in the order of
    /// [`crate::scrape::NAMES`].
    pub values: [Counter; 5],
    /// Failed scrape rounds.
    pub errors: Counter,
}

impl DnsmasqMetrics {
    /// Defines the six `<ns>_dnsmasq_*` counters and registers them on `registry`.
    pub fn register(registry: &Registry, namespace: &str) -> Result<Self, MetricsError> {
        let counter = |name: &str, help: &str| -> Result<Counter, MetricsError> {
            let c = Counter::with_opts(
                Opts::new(name, help)
                    .namespace(namespace)
                    .subsystem("dnsmasq"),
            )?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let [a, b, c, d, e] = DNSMASQ;
        Ok(DnsmasqMetrics {
            values: [
                counter(a.0, a.1)?,
                counter(b.0, b.1)?,
                counter(c.0, c.1)?,
                counter(d.0, d.1)?,
                counter(e.0, e.1)?,
            ],
            errors: counter(
                "errors",
                "Number of errors that have occurred getting metrics",
            )?,
        })
    }
}

/// Metrics of one `--probe`.
#[derive(Clone)]
pub struct ProbeMetrics {
    /// Latency of successful probes in milliseconds.
    pub latency_ms: Histogram,
    /// Failed probes.
    pub errors: Counter,
    /// Ours: 1 when the last probe succeeded, else 0.
    pub up: Gauge,
}

impl ProbeMetrics {
    /// Defines `<ns>_probe_<label>_{latency_ms,errors,up}` and registers them on `registry`.
    pub fn register(
        registry: &Registry,
        namespace: &str,
        label: &str,
    ) -> Result<Self, MetricsError> {
        let latency_ms = Histogram::with_opts(
            HistogramOpts::new(
                format!("{label}_latency_ms"),
                format!("Latency of the DNS probe request {label}"),
            )
            .namespace(namespace)
            .subsystem("probe")
            .buckets(latency_buckets()),
        )?;
        let errors = Counter::with_opts(
            Opts::new(
                format!("{label}_errors"),
                format!("Count of errors in name resolution of {label}"),
            )
            .namespace(namespace)
            .subsystem("probe"),
        )?;
        let up = Gauge::with_opts(
            Opts::new(
                format!("{label}_up"),
                format!("1 when the last DNS probe {label} succeeded, else 0"),
            )
            .namespace(namespace)
            .subsystem("probe"),
        )?;
        registry.register(Box::new(latency_ms.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        registry.register(Box::new(up.clone()))?;
        Ok(ProbeMetrics {
            latency_ms,
            errors,
            up,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_kube_dns_exponential_buckets() {
        let b = latency_buckets();
        assert_eq!(b.len(), 16);
        assert_eq!(b[0], 0.25);
        assert_eq!(b[15], 8192.0);
        assert_eq!(b, prometheus::exponential_buckets(0.25, 2.0, 16).unwrap());
    }

    #[test]
    fn namespace_is_configurable_and_duplicates_are_refused() {
        let reg = Registry::new();
        DnsmasqMetrics::register(&reg, "mydns").unwrap();
        ProbeMetrics::register(&reg, "mydns", "a").unwrap();
        assert!(ProbeMetrics::register(&reg, "mydns", "a").is_err());
        assert!(validate("mydns", ["a", "b"]).is_ok());
        assert!(validate("kube-dns", ["a"]).is_err());
        assert!(ops::metrics::encode(&reg).contains("# TYPE mydns_dnsmasq_hits counter"));
    }
}
