//! Counters of the cache and the forwarder, registered in an explicit `prometheus::Registry`.
//!
//! Owns: metric names (pinned by a test), the counters that the CHAOS `*.bind.` answers read
//! (dnsmasq semantics: hits, misses, insertions, evictions), and forwarder health counters.
//! Must not use a global registry or do I/O.

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// Every counter of one dnscache instance.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// Answers served from the cache (`hits.bind.`).
    pub hits: IntCounter,
    /// Queries that had to go upstream (`misses.bind.`).
    pub misses: IntCounter,
    /// Entries stored (`insertions.bind.`).
    pub insertions: IntCounter,
    /// Live entries removed to make room (`evictions.bind.`).
    pub evictions: IntCounter,
    /// Queries refused because `--dns-forward-max` forwards were in flight.
    pub forward_refused: IntCounter,
    /// Upstream exchanges that timed out or failed on the network.
    pub upstream_errors: IntCounter,
    /// Queries answered SERVFAIL because every upstream failed.
    pub servfail: IntCounter,
    /// Stale answers served (serve-stale).
    pub stale_served: IntCounter,
    /// Malformed queries (answered FORMERR or dropped).
    pub malformed: IntCounter,
    /// Upstream replies refused, by cause (`malformed`, `question_mismatch`).
    pub bad_replies: IntCounterVec,
    /// Records dropped from upstream replies because they lie outside the server's route.
    pub out_of_route: IntCounter,
    /// Entries in the cache (set when scraped).
    pub cache_entries: IntGauge,
    /// `--cache-size`.
    pub cache_size: IntGauge,
}

fn counter(reg: &Registry, name: &str, help: &str) -> prometheus::Result<IntCounter> {
    let c = IntCounter::with_opts(Opts::new(name, help))?;
    reg.register(Box::new(c.clone()))?;
    Ok(c)
}

fn gauge(reg: &Registry, name: &str, help: &str) -> prometheus::Result<IntGauge> {
    let g = IntGauge::with_opts(Opts::new(name, help))?;
    reg.register(Box::new(g.clone()))?;
    Ok(g)
}

impl Metrics {
    /// Creates the counters and registers them in `reg` (fails only on duplicate names).
    pub fn register(reg: &Registry) -> prometheus::Result<Self> {
        Ok(Metrics {
            hits: counter(
                reg,
                "dnscache_cache_hits_total",
                "Answers served from the cache.",
            )?,
            misses: counter(
                reg,
                "dnscache_cache_misses_total",
                "Queries forwarded upstream.",
            )?,
            insertions: counter(
                reg,
                "dnscache_cache_insertions_total",
                "Entries stored in the cache.",
            )?,
            evictions: counter(
                reg,
                "dnscache_cache_evictions_total",
                "Live entries evicted to make room.",
            )?,
            forward_refused: counter(
                reg,
                "dnscache_forward_limit_refused_total",
                "Queries refused because --dns-forward-max forwards were in flight.",
            )?,
            upstream_errors: counter(
                reg,
                "dnscache_upstream_errors_total",
                "Upstream exchanges that timed out or failed.",
            )?,
            servfail: counter(
                reg,
                "dnscache_servfail_total",
                "SERVFAIL answers after every upstream failed.",
            )?,
            stale_served: counter(
                reg,
                "dnscache_stale_served_total",
                "Stale answers served (RFC 8767).",
            )?,
            malformed: counter(
                reg,
                "dnscache_malformed_queries_total",
                "Malformed queries received.",
            )?,
            bad_replies: {
                let c = IntCounterVec::new(
                    Opts::new(
                        "dnscache_upstream_bad_replies_total",
                        "Upstream replies refused (the client got SERVFAIL), by cause.",
                    ),
                    &["cause"],
                )?;
                reg.register(Box::new(c.clone()))?;
                c
            },
            out_of_route: counter(
                reg,
                "dnscache_upstream_out_of_route_records_total",
                "Records dropped from upstream replies: outside the route of the server.",
            )?,
            cache_entries: gauge(reg, "dnscache_cache_entries", "Entries in the cache.")?,
            cache_size: gauge(
                reg,
                "dnscache_cache_size",
                "Configured cache capacity (--cache-size).",
            )?,
        })
    }

    /// Counts an upstream reply refused for `cause`.
    pub fn bad_reply(&self, cause: &str) {
        self.bad_replies.with_label_values(&[cause]).inc();
    }
}
