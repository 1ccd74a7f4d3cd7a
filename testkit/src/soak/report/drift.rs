//! Resource drift of one process over the run: memory (resident, anonymous, file-backed) and
//! open descriptors at the start of its window and at the end.

use std::time::Duration;

use super::super::record::{Recorder, Sample};
use super::{median, pct};

/// One process's resources at the drift start and at the end: each pair is (first, last),
/// memory in KiB as the median of the first and last tenth of the samples, descriptors as the
/// lowest (they come and go with each TCP client: a leak raises the floor).
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    /// `kubedns`, `nanny`, `dnscache`, `sidecar`.
    pub process: &'static str,
    /// Where its window starts (see [`warm_from`]).
    pub from: Duration,
    /// Resident set.
    pub rss: (u64, u64),
    /// Its anonymous part (what the process allocated).
    pub anon: (u64, u64),
    /// Its file-backed part (program and library pages run so far).
    pub file: (u64, u64),
    /// Open descriptors.
    pub fds: (u64, u64),
}

impl Drift {
    pub(super) fn of(
        process: &'static str,
        from: Duration,
        head: &[&Sample],
        tail: &[&Sample],
    ) -> Drift {
        let mem = |f: fn(&Sample) -> u64| {
            (
                median(head.iter().map(|x| f(x)).collect()),
                median(tail.iter().map(|x| f(x)).collect()),
            )
        };
        let floor = |v: &[&Sample]| v.iter().map(|x| x.usage.fds).min().unwrap_or(0);
        Drift {
            process,
            from,
            rss: mem(|x| x.usage.rss_kib),
            anon: mem(|x| x.usage.anon_kib),
            file: mem(|x| x.usage.file_kib),
            fds: (floor(head), floor(tail)),
        }
    }

    /// Growth of a pair, percent of the first.
    pub fn pct((first, last): (u64, u64)) -> f64 {
        pct(first, last)
    }
}

/// Where the drift window of `process` starts: the run's drift start, which is the warm-up a
/// process gets after it starts, or as long after the process was last started again by a
/// kill -9 when that is later. A killed process comes back as a new one with an empty heap and
/// none of its code paged in; the minutes it then takes to reach its working set are a start,
/// not a creep, as they are for every process at the start of the run. (The nanny's routine
/// hand-overs of dnscache on ConfigMap changes do not move the window: they are the steady
/// state being measured.)
pub fn warm_from(rec: &Recorder, process: &str, drift_from: Duration) -> Duration {
    rec.marks
        .iter()
        .filter(|m| m.label.strip_prefix("kill -9 ") == Some(process))
        .map(|m| m.end + drift_from)
        .fold(drift_from, Duration::max)
}
