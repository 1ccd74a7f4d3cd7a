//! Judges a finished run against its bounds: each query that was not plainly right is put
//! inside or outside the windows where the design allows it (lost while dnscache restarts;
//! SERVFAIL while kubedns restarts and syncs for cluster names, and while the upstream is
//! silent for outside names; stale while kubedns is down and dnscache serves stale), and the
//! resource drift of each process is taken from the drift start to the end. Pure.

use std::fmt::Write as _;
use std::time::Duration;

use super::model::Class;
use super::record::{Outcome, Recorder};

/// The bounds a run must hold (issue defaults; tests may loosen one with a reason).
#[derive(Debug, Clone)]
pub struct Bounds {
    /// Lost queries outside dnscache restarts.
    pub lost: u64,
    /// Wrong answers.
    pub wrong: u64,
    /// Stale answers (past the propagation bound) outside the allowed windows.
    pub stale: u64,
    /// SERVFAIL (and other error rcodes) outside the allowed windows.
    pub servfail: u64,
    /// dnscache back after a kill -9.
    pub cache_restart: Duration,
    /// Growth of RSS and of open descriptors per process, percent.
    pub drift_pct: f64,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            lost: 0,
            wrong: 0,
            stale: 0,
            servfail: 0,
            cache_restart: Duration::from_secs(1),
            drift_pct: 5.0,
        }
    }
}

/// Slack after a window's end: the cache's upstream timeouts and in-flight queries.
const AFTER: Duration = Duration::from_secs(5);

/// The counted result.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Queries sent.
    pub sent: u64,
    /// Replies.
    pub answered: u64,
    /// `(allowed, not allowed)` per kind.
    pub lost: (u64, u64),
    /// See `lost`.
    pub servfail: (u64, u64),
    /// See `lost`.
    pub stale: (u64, u64),
    /// Wrong answers (never allowed).
    pub wrong: u64,
    /// Send times of the first and last stale answer outside the allowed windows.
    pub stale_span: Option<(Duration, Duration)>,
    /// Longest dnscache restart after a kill -9.
    pub cache_restart: Option<Duration>,
    /// The run's drift start.
    pub drift_from: Duration,
    /// Resource drift per process.
    pub drift: Vec<Drift>,
    /// Broken bounds, one line each.
    pub failures: Vec<String>,
    /// The first few queries of each kind that broke a bound, one line each.
    pub examples: Vec<String>,
}

mod drift;
pub use drift::{Drift, warm_from};

/// Examples kept per kind.
const EXAMPLES: usize = 4;

/// Whether a query alive over `[sent, until]` overlaps a window (plus its slack): a query
/// already in flight when a server is killed is lost with it, however early it was sent.
fn within(windows: &[(Duration, Duration)], sent: Duration, until: Duration) -> bool {
    windows
        .iter()
        .any(|(s, e)| until >= *s && sent <= *e + AFTER)
}

fn windows(rec: &Recorder, label: &str) -> Vec<(Duration, Duration)> {
    rec.marks
        .iter()
        .filter(|m| m.label == label)
        .map(|m| (m.start, m.end))
        .collect()
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

fn pct(first: u64, last: u64) -> f64 {
    if first == 0 {
        return 0.0;
    }
    (last as f64 - first as f64) * 100.0 / first as f64
}

/// Counts `rec` against `bounds`; drift is measured from `drift_from`.
pub fn summarise(rec: &Recorder, bounds: &Bounds, drift_from: Duration) -> Summary {
    let cache_down = windows(rec, "kill -9 dnscache");
    let kubedns_down = windows(rec, "kill -9 kubedns");
    let silent = windows(rec, "upstream silent");
    let mut s = Summary {
        sent: rec.buckets.iter().map(|b| b.sent).sum(),
        answered: rec.buckets.iter().map(|b| b.answered).sum(),
        drift_from,
        ..Summary::default()
    };
    let mut shown = [0usize; 4];
    for b in &rec.bad {
        let (t, until) = (b.sent, b.until);
        let before = (s.lost.1, s.servfail.1, s.stale.1, s.wrong);
        let count = |pair: &mut (u64, u64), allowed: bool| {
            if allowed { pair.0 += 1 } else { pair.1 += 1 }
        };
        let cluster = matches!(b.class, Class::Cluster | Class::ExternalName);
        let outside = matches!(b.class, Class::Outside | Class::ExternalName);
        match &b.outcome {
            Outcome::Lost => count(&mut s.lost, within(&cache_down, t, until)),
            Outcome::ServFail | Outcome::Rcode(_) => {
                let allowed = (cluster && within(&kubedns_down, t, until))
                    || (outside && within(&silent, t, until));
                count(&mut s.servfail, allowed)
            }
            Outcome::Stale(_) => {
                let allowed = cluster && within(&kubedns_down, t, until);
                if !allowed {
                    let (first, last) = s.stale_span.unwrap_or((t, t));
                    s.stale_span = Some((first.min(t), last.max(t)));
                }
                count(&mut s.stale, allowed)
            }
            Outcome::Wrong => s.wrong += 1,
        }
        let after = (s.lost.1, s.servfail.1, s.stale.1, s.wrong);
        let kind = [
            before.0 != after.0,
            before.1 != after.1,
            before.2 != after.2,
            before.3 != after.3,
        ]
        .iter()
        .position(|changed| *changed);
        if let Some(k) = kind
            && shown[k] < EXAMPLES
        {
            shown[k] += 1;
            s.examples.push(format!(
                "{:>8.2}s {} {} {:?}: {}",
                t.as_secs_f64(),
                b.key.name,
                b.key.qtype,
                b.outcome,
                b.detail
            ));
        }
    }
    s.cache_restart = rec
        .marks
        .iter()
        .filter(|m| m.label == "kill -9 dnscache")
        .map(|m| m.end.saturating_sub(m.start))
        .max();
    let outage = windows(rec, "API outage + 410");
    for process in ["kubedns", "nanny", "dnscache", "sidecar"] {
        let from = warm_from(rec, process, drift_from);
        // While the API server is away kubedns holds no connection to it: fewer descriptors
        // than in its steady state, which would read as a leak once they come back.
        let samples: Vec<_> = rec
            .samples
            .iter()
            .filter(|x| x.process == process && x.at >= from)
            .filter(|x| !within(&outage, x.at, x.at))
            .collect();
        let n = (samples.len() / 10).max(3).min(samples.len());
        if n == 0 {
            continue;
        }
        s.drift.push(Drift::of(
            process,
            from,
            &samples[..n],
            &samples[samples.len() - n..],
        ));
    }
    let mut fail = |broken: bool, line: String| {
        if broken {
            s.failures.push(line)
        }
    };
    fail(
        s.lost.1 > bounds.lost,
        format!(
            "lost outside dnscache restarts: {} > {}",
            s.lost.1, bounds.lost
        ),
    );
    fail(
        s.wrong > bounds.wrong,
        format!("wrong answers: {} > {}", s.wrong, bounds.wrong),
    );
    fail(
        s.stale.1 > bounds.stale,
        format!("stale answers: {} > {}", s.stale.1, bounds.stale),
    );
    fail(
        s.servfail.1 > bounds.servfail,
        format!(
            "SERVFAIL/errors outside allowed windows: {} > {}",
            s.servfail.1, bounds.servfail
        ),
    );
    if let Some(r) = s.cache_restart {
        fail(
            r > bounds.cache_restart,
            format!(
                "dnscache restart took {} ms > {} ms",
                r.as_millis(),
                bounds.cache_restart.as_millis()
            ),
        );
    }
    let drift = s.drift.clone();
    for d in drift {
        let (p, rss, fds) = (d.process, Drift::pct(d.rss), Drift::pct(d.fds));
        fail(
            rss > bounds.drift_pct,
            format!("{p} RSS grew {rss:.1}% > {}%", bounds.drift_pct),
        );
        fail(
            fds > bounds.drift_pct,
            format!("{p} open fds grew {fds:.1}% > {}%", bounds.drift_pct),
        );
    }
    s
}

/// The text report.
pub fn text(rec: &Recorder, s: &Summary, header: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{header}");
    let _ = writeln!(
        o,
        "queries sent {}, answered {}, API writes {}",
        s.sent, s.answered, rec.writes
    );
    let _ = writeln!(
        o,
        "UDP drops by the kernel: {} at the cache's socket, {} at the harness's; sends skipped by a descheduled harness: {}",
        rec.server_drops, rec.client_drops, rec.skipped
    );
    let _ = writeln!(
        o,
        "lost      {:>7} (+{} allowed: dnscache restarting)",
        s.lost.1, s.lost.0
    );
    let _ = writeln!(o, "wrong     {:>7}", s.wrong);
    let _ = writeln!(
        o,
        "stale     {:>7} (+{} allowed: kubedns down, served stale)",
        s.stale.1, s.stale.0
    );
    if let Some((first, last)) = s.stale_span {
        let _ = writeln!(
            o,
            "          stale answers sent from {:.1}s to {:.1}s",
            first.as_secs_f64(),
            last.as_secs_f64()
        );
    }
    let _ = writeln!(
        o,
        "SERVFAIL  {:>7} (+{} allowed: kubedns restarting, upstream silent)",
        s.servfail.1, s.servfail.0
    );
    if let Some(r) = s.cache_restart {
        let _ = writeln!(o, "dnscache back after kill -9 in {} ms", r.as_millis());
    }
    let _ = writeln!(o, "faults:");
    let mut marks = rec.marks.clone();
    marks.sort_by_key(|m| m.start);
    for m in &marks {
        let _ = writeln!(
            o,
            "  {:>7.1}s..{:>7.1}s  {:<18} {}",
            m.start.as_secs_f64(),
            m.end.as_secs_f64(),
            m.label,
            m.note
        );
    }
    let _ = writeln!(
        o,
        "drift to the end from {:.0} s, or that long after a kill -9 of the process (memory: median, fds: lowest, of the first and last tenth; KiB):",
        s.drift_from.as_secs_f64()
    );
    for d in &s.drift {
        let pair = |(a, b): (u64, u64)| format!("{a:>6} -> {b:>6} ({:+.1}%)", Drift::pct((a, b)));
        let _ = writeln!(
            o,
            "  {:<9} from {:>5.0} s  RSS {}   anon {}   file {}   fds {}",
            d.process,
            d.from.as_secs_f64(),
            pair(d.rss),
            pair(d.anon),
            pair(d.file),
            pair(d.fds)
        );
    }
    if !s.examples.is_empty() {
        let _ = writeln!(
            o,
            "first queries that broke a bound (at most {EXAMPLES} of each kind):"
        );
    }
    for e in &s.examples {
        let _ = writeln!(o, "  {e}");
    }
    if s.failures.is_empty() {
        let _ = writeln!(o, "PASS: every bound held");
    } else {
        for f in &s.failures {
            let _ = writeln!(o, "FAIL: {f}");
        }
    }
    o
}

/// The resource samples as CSV: `seconds,process,rss_kib,anon_kib,file_kib,fds`.
pub fn samples_csv(rec: &Recorder) -> String {
    let mut o = String::from("seconds,process,rss_kib,anon_kib,file_kib,fds\n");
    for x in &rec.samples {
        let u = &x.usage;
        let _ = writeln!(
            o,
            "{:.1},{},{},{},{},{}",
            x.at.as_secs_f64(),
            x.process,
            u.rss_kib,
            u.anon_kib,
            u.file_kib,
            u.fds
        );
    }
    o
}

#[cfg(test)]
mod tests;
