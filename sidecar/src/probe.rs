//! DNS probes (kube-dns `pkg/sidecar/dnsprobe.go`).
//!
//! One task per `--probe`: sleep a random part of the interval (so probes do not fire
//! together), then query the server over UDP (RD=1, class IN, the given type) every interval.
//! A probe is healthy only when the reply's answer section holds at least one record, so
//! NXDOMAIN and NODATA fail like a dead server. Success stores the latency and observes it
//! in ms; failure stores the error, latency 0, and counts it. The grammar lives in [`spec`],
//! the wire exchange in [`exchange`]; this module owns the loop and the shared [`Health`].
//! It must not serve HTTP: `http.rs` reads [`Health::report`].

pub mod exchange;
pub mod spec;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::rr::{DNSClass, Name};
use rand::Rng;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use spec::{ProbeSpec, SpecError};

use crate::metrics::ProbeMetrics;
use exchange::ExchangeError;

/// Why one probe failed; the texts follow kube-dns.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The query could not be sent or no usable reply came back.
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
    /// The name in the spec is not a valid DNS name.
    #[error("invalid name {name:?}: {source}")]
    BadName {
        /// The name.
        name: String,
        /// Why.
        source: hickory_proto::ProtoError,
    },
    /// The reply had an empty answer section (NXDOMAIN, NODATA, REFUSED...).
    #[error("no RRs for domain {name:?}")]
    NoRecords {
        /// The name queried.
        name: String,
    },
}

/// The last result of a probe, shared with the HTTP handler.
#[derive(Clone, Debug)]
pub struct Health {
    inner: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    last_error: Option<String>,
    latency: Duration,
}

/// What `/healthcheck/<label>` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The last probe succeeded.
    pub is_ok: bool,
    /// Latency of the last successful probe (0 when failing).
    pub latency_seconds: f64,
    /// The last error ("" when healthy).
    pub err: String,
}

impl Health {
    /// A probe that has not run yet: unhealthy with `waiting for first probe`.
    pub fn new() -> Self {
        Health {
            inner: Arc::new(Mutex::new(State {
                last_error: Some("waiting for first probe".to_string()),
                latency: Duration::ZERO,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a probe result.
    pub fn set(&self, result: Result<Duration, String>) {
        let mut s = self.lock();
        match result {
            Ok(latency) => {
                s.latency = latency;
                s.last_error = None;
            }
            Err(e) => {
                s.latency = Duration::ZERO;
                s.last_error = Some(e);
            }
        }
    }

    /// The current state.
    pub fn report(&self) -> Report {
        let s = self.lock();
        Report {
            is_ok: s.last_error.is_none(),
            latency_seconds: s.latency.as_secs_f64(),
            err: s.last_error.clone().unwrap_or_default(),
        }
    }
}

impl Default for Health {
    fn default() -> Self {
        Self::new()
    }
}

impl Report {
    /// kube-dns's JSON body, byte for byte as Go's `encoding/json` writes it:
    /// `{"IsOk":true,"LatencySeconds":0.000412,"Err":""}` (integral floats without `.0`,
    /// `<`, `>`, `&` escaped as `\u003c`...).
    pub fn to_json(&self) -> String {
        let err = serde_json::to_string(&self.err)
            .unwrap_or_else(|_| "\"\"".to_string())
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026");
        format!(
            "{{\"IsOk\":{},\"LatencySeconds\":{},\"Err\":{}}}",
            self.is_ok, self.latency_seconds, err
        )
    }
}

/// One configured probe: its spec, metrics and shared health.
pub struct Probe {
    spec: ProbeSpec,
    metrics: ProbeMetrics,
    health: Health,
}

impl Probe {
    /// A probe that reports into `metrics`.
    pub fn new(spec: ProbeSpec, metrics: ProbeMetrics) -> Self {
        Probe {
            spec,
            metrics,
            health: Health::new(),
        }
    }

    /// The health shared with the HTTP handler.
    pub fn health(&self) -> Health {
        self.health.clone()
    }

    /// The probe's spec.
    pub fn spec(&self) -> &ProbeSpec {
        &self.spec
    }

    /// Probes until `token` is cancelled.
    pub async fn run(self, token: CancellationToken) {
        let interval = self.spec.interval;
        let jitter =
            rand::rng().random_range(Duration::ZERO..interval.max(Duration::from_millis(1)));
        tracing::info!(probe = %self.spec, jitter_ms = jitter.as_millis() as u64, "starting DNS probe");
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(jitter) => {}
        }
        let mut was_ok = None;
        loop {
            let started = Instant::now();
            let result = tokio::select! {
                _ = token.cancelled() => return,
                r = self.probe_once() => r,
            };
            let elapsed = started.elapsed();
            let label = &self.spec.label;
            match (&result, was_ok) {
                (Ok(()), Some(false) | None) => tracing::info!(%label, "DNS probe healthy"),
                (Err(e), Some(true) | None) => {
                    tracing::warn!(%label, error = %e, "DNS probe failing")
                }
                _ => {}
            }
            was_ok = Some(result.is_ok());
            self.record(result.map(|()| elapsed));
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tokio::time::sleep(interval.saturating_sub(elapsed)) => {}
            }
        }
    }

    /// One query; `Ok` when the answer section is not empty.
    pub async fn probe_once(&self) -> Result<(), ProbeError> {
        let name = Name::from_ascii(&self.spec.name).map_err(|source| ProbeError::BadName {
            name: self.spec.name.clone(),
            source,
        })?;
        let server = exchange::resolve(&self.spec.server).await?;
        let query = exchange::query(name, self.spec.qtype, DNSClass::IN);
        let reply = exchange::exchange(server, &query).await?;
        if reply.answers.is_empty() {
            return Err(ProbeError::NoRecords {
                name: self.spec.name.clone(),
            });
        }
        Ok(())
    }

    fn record(&self, result: Result<Duration, ProbeError>) {
        match result {
            Ok(latency) => {
                tracing::debug!(label = %self.spec.label, latency_ms = latency.as_secs_f64() * 1e3, "probe ok");
                self.metrics.latency_ms.observe(latency.as_secs_f64() * 1e3);
                self.metrics.up.set(1.0);
                self.health.set(Ok(latency));
            }
            Err(e) => {
                tracing::debug!(label = %self.spec.label, error = %e, "DNS resolution error");
                self.metrics.errors.inc();
                self.metrics.up.set(0.0);
                self.health.set(Err(e.to_string()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_waiting_and_flips_both_ways() {
        let h = Health::new();
        assert_eq!(
            h.report().to_json(),
            r#"{"IsOk":false,"LatencySeconds":0,"Err":"waiting for first probe"}"#
        );
        h.set(Ok(Duration::from_micros(1500)));
        assert_eq!(
            h.report().to_json(),
            r#"{"IsOk":true,"LatencySeconds":0.0015,"Err":""}"#
        );
        h.set(Err("no RRs for domain \"a.b.\" <&>".into()));
        assert_eq!(
            h.report().to_json(),
            r#"{"IsOk":false,"LatencySeconds":0,"Err":"no RRs for domain \"a.b.\" \u003c\u0026\u003e"}"#
        );
    }

    #[test]
    fn error_texts_follow_kube_dns() {
        let e = ProbeError::NoRecords {
            name: "kubernetes.default.svc.cluster.local.".into(),
        };
        assert_eq!(
            e.to_string(),
            r#"no RRs for domain "kubernetes.default.svc.cluster.local.""#
        );
    }
}
