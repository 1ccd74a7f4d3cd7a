//! Scraping dnscache's cache counters (kube-dns `pkg/dnsmasq/metrics.go` and
//! `pkg/sidecar/server.go`).
//!
//! Every `--dnsmasq-poll-interval-ms`, five sequential UDP queries, class CHAOS, type TXT,
//! RD=1: `hits.bind.`, `misses.bind.`, `evictions.bind.`, `insertions.bind.`,
//! `cachesize.bind.`. Each reply must hold exactly one TXT answer with one string that parses
//! as an integer; any failure aborts the round and counts `<ns>_dnsmasq_errors`. Values reach
//! the counters as deltas ([`Deltas`]), so a restarted cache never makes a counter go down.
//! This module must not serve HTTP or define metrics (see `metrics.rs`).

use std::time::Duration;

use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use tokio_util::sync::CancellationToken;

use crate::metrics::DnsmasqMetrics;
use crate::probe::exchange::{self, ExchangeError};

/// The CHAOS names queried, in the order of [`DnsmasqMetrics::values`].
pub const NAMES: [&str; 5] = [
    "hits.bind.",
    "misses.bind.",
    "evictions.bind.",
    "insertions.bind.",
    "cachesize.bind.",
];

/// Why a scrape round failed; texts follow kube-dns.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    /// `--dnsmasq-addr` did not resolve.
    #[error("cannot resolve dnsmasq address {addr}: {source}")]
    Resolve {
        /// The address given.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The query failed.
    #[error("{name}: {source}")]
    Exchange {
        /// The `*.bind.` name.
        name: &'static str,
        /// Why.
        source: ExchangeError,
    },
    /// Not exactly one answer record.
    #[error("invalid number of Answer records for {name}: {count}")]
    AnswerCount {
        /// The `*.bind.` name.
        name: &'static str,
        /// How many came back.
        count: usize,
    },
    /// The answer is not a TXT record.
    #[error("missing TXT record for {name}")]
    MissingTxt {
        /// The `*.bind.` name.
        name: &'static str,
    },
    /// The TXT record does not hold exactly one string.
    #[error("invalid number of TXT records for {name}: {count}")]
    TxtCount {
        /// The `*.bind.` name.
        name: &'static str,
        /// How many strings it held.
        count: usize,
    },
    /// The string is not an integer.
    #[error("strconv.ParseInt: parsing {value:?}: invalid syntax ({name})")]
    NotInteger {
        /// The `*.bind.` name.
        name: &'static str,
        /// The text received.
        value: String,
    },
}

/// Fetches the five values, in the order of [`NAMES`].
pub async fn fetch(addr: &str, port: u16) -> Result<[i64; 5], ScrapeError> {
    let server = exchange::resolve_parts(addr, port)
        .await
        .map_err(|source| ScrapeError::Resolve {
            addr: addr.to_string(),
            source,
        })?;
    let mut values = [0i64; 5];
    for (value, name) in values.iter_mut().zip(NAMES) {
        *value = fetch_one(server, name).await?;
    }
    Ok(values)
}

async fn fetch_one(server: std::net::SocketAddr, name: &'static str) -> Result<i64, ScrapeError> {
    let qname = Name::from_ascii(name).map_err(|e| ScrapeError::Exchange {
        name,
        source: ExchangeError::Encode(e),
    })?;
    let query = exchange::query(qname, RecordType::TXT, DNSClass::CH);
    let reply = exchange::exchange(server, &query)
        .await
        .map_err(|source| ScrapeError::Exchange { name, source })?;
    if reply.answers.len() != 1 {
        return Err(ScrapeError::AnswerCount {
            name,
            count: reply.answers.len(),
        });
    }
    let RData::TXT(txt) = &reply.answers[0].data else {
        return Err(ScrapeError::MissingTxt { name });
    };
    let [text] = &*txt.txt_data else {
        return Err(ScrapeError::TxtCount {
            name,
            count: txt.txt_data.len(),
        });
    };
    let text = String::from_utf8_lossy(text);
    text.parse().map_err(|_| ScrapeError::NotInteger {
        name,
        value: text.into_owned(),
    })
}

/// kube-dns's `exportMetrics`: turns absolute values into counter increments.
///
/// `if new > cached { add(new - cached) }; cached = max(new, 0)`. After a cache restart the
/// values start over from zero: the drop adds nothing, and each later rise is added again,
/// so the counters keep growing and never go down.
#[derive(Debug, Default, Clone)]
pub struct Deltas {
    cached: [f64; 5],
}

impl Deltas {
    /// The increments for `values`, and remembers them.
    pub fn apply(&mut self, values: [i64; 5]) -> [f64; 5] {
        let mut inc = [0.0; 5];
        for ((cached, new), inc) in self.cached.iter_mut().zip(values).zip(inc.iter_mut()) {
            let new = new as f64;
            if new > *cached {
                *inc = new - *cached;
            }
            *cached = new.max(0.0);
        }
        inc
    }
}

/// The scrape task's configuration and state.
pub struct Scrape {
    /// `--dnsmasq-addr`.
    pub addr: String,
    /// `--dnsmasq-port`.
    pub port: u16,
    /// `--dnsmasq-poll-interval-ms`.
    pub interval: Duration,
    /// Where the values go.
    pub metrics: DnsmasqMetrics,
}

impl Scrape {
    /// Scrapes (first round at once) until `token` is cancelled.
    pub async fn run(self, token: CancellationToken) {
        tracing::info!(addr = %self.addr, port = self.port, interval_ms = self.interval.as_millis() as u64, "starting dnsmasq scrape");
        let mut deltas = Deltas::default();
        let mut failing = false;
        loop {
            let round = tokio::select! {
                _ = token.cancelled() => return,
                r = fetch(&self.addr, self.port) => r,
            };
            match round {
                Ok(values) => {
                    if failing {
                        tracing::info!("dnsmasq metrics available again");
                        failing = false;
                    }
                    tracing::debug!(?values, "dnsmasq metrics");
                    let inc = deltas.apply(values);
                    for (counter, inc) in self.metrics.values.iter().zip(inc) {
                        counter.inc_by(inc);
                    }
                }
                Err(e) => {
                    if failing {
                        tracing::debug!(error = %e, "error getting metrics from dnsmasq");
                    } else {
                        tracing::warn!(error = %e, "error getting metrics from dnsmasq");
                        failing = true;
                    }
                    self.metrics.errors.inc();
                }
            }
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tokio::time::sleep(self.interval) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_grow_and_survive_a_reset() {
        let mut d = Deltas::default();
        assert_eq!(d.apply([10, 5, 0, 3, 1000]), [10.0, 5.0, 0.0, 3.0, 1000.0]);
        assert_eq!(d.apply([15, 5, 1, 3, 1000]), [5.0, 0.0, 1.0, 0.0, 0.0]);
        // The cache restarted: nothing is added, nothing subtracted.
        assert_eq!(d.apply([2, 0, 0, 1, 1000]), [0.0, 0.0, 0.0, 0.0, 0.0]);
        // Growth after the restart is counted from the new base.
        assert_eq!(d.apply([7, 1, 0, 1, 1000]), [5.0, 1.0, 0.0, 0.0, 0.0]);
        // Negative values never become the base.
        assert_eq!(d.apply([-4, 1, 0, 1, 1000]), [0.0; 5]);
        assert_eq!(d.apply([3, 1, 0, 1, 1000]), [3.0, 0.0, 0.0, 0.0, 0.0]);
    }
}
