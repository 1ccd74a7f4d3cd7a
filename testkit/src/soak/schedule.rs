//! The run's plan: what happens when, derived from the duration and the seed. Time constants
//! are those of a 30-minute run scaled to the duration (with floors), so a 60 s run still
//! exercises every fault kind once; the seed moves each fault by a few percent and picks the
//! invalid ConfigMap change. Pure: no clock, no I/O.

use std::time::Duration;

/// A small deterministic generator (SplitMix64): the same seed gives the same run.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One scheduled fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL the dnscache child of the nanny.
    KillDnscache,
    /// SIGKILL kubedns.
    KillKubedns,
    /// The API server refuses connections for the given time, then compacts (watches get 410).
    ApiOutage(Duration),
    /// Every outside upstream drops queries for the given time.
    UpstreamSilent(Duration),
    /// A ConfigMap change: the index into the cycle of valid configs, or the invalid one.
    ConfigMap {
        /// `None`: the invalid change (the nanny must keep its last good config).
        valid: Option<usize>,
    },
}

impl Fault {
    /// Short label for the report and the timeline.
    pub fn label(&self) -> &'static str {
        match self {
            Fault::KillDnscache => "kill -9 dnscache",
            Fault::KillKubedns => "kill -9 kubedns",
            Fault::ApiOutage(_) => "API outage + 410",
            Fault::UpstreamSilent(_) => "upstream silent",
            Fault::ConfigMap { valid: Some(_) } => "ConfigMap change",
            Fault::ConfigMap { valid: None } => "ConfigMap invalid",
        }
    }
}

/// The whole plan.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Run length (traffic time, after the pod is ready).
    pub duration: Duration,
    /// Faults in time order, as offsets from the start of traffic.
    pub faults: Vec<(Duration, Fault)>,
    /// Resource drift is measured from here to the end (minute 5 of 30, scaled).
    pub drift_from: Duration,
}

/// How long the 30-minute reference run is.
const REFERENCE: Duration = Duration::from_secs(30 * 60);

/// `reference` scaled to `duration`, at least `floor`, at most `reference`.
pub fn scaled(duration: Duration, reference: Duration, floor: Duration) -> Duration {
    let f = duration.as_secs_f64() / REFERENCE.as_secs_f64();
    reference.mul_f64(f).clamp(floor, reference)
}

impl Plan {
    /// The plan for `duration` and `seed`.
    pub fn new(duration: Duration, seed: u64) -> Plan {
        let mut rng = Rng::new(seed);
        let d = duration.as_secs_f64();
        let mut at = |frac: f64| Duration::from_secs_f64(d * (frac + 0.02 * rng.unit()));
        let outage = scaled(duration, Duration::from_secs(60), Duration::from_secs(6));
        let silent = scaled(duration, Duration::from_secs(30), Duration::from_secs(5));
        let mut faults = vec![
            (at(0.08), Fault::KillDnscache),
            (at(0.12), Fault::KillKubedns),
            (at(0.34), Fault::ApiOutage(outage)),
            (at(0.60), Fault::UpstreamSilent(silent)),
        ];
        let period = scaled(duration, Duration::from_secs(60), Duration::from_secs(15));
        let changes = ((d / period.as_secs_f64()).ceil() as usize).saturating_sub(1);
        let invalid = 1 + rng.below(changes.saturating_sub(1).max(1) as u64) as usize;
        let mut valid = 0;
        for i in 1..=changes {
            let fault = if i == invalid {
                Fault::ConfigMap { valid: None }
            } else {
                valid += 1;
                Fault::ConfigMap { valid: Some(valid) }
            };
            faults.push((period * i as u32, fault));
        }
        faults.sort_by_key(|(t, _)| *t);
        Plan {
            duration,
            faults,
            drift_from: duration / 6,
        }
    }

    /// The window `[start, end)` of the API outage, if planned.
    pub fn outage(&self) -> Option<(Duration, Duration)> {
        self.faults.iter().find_map(|(t, f)| match f {
            Fault::ApiOutage(len) => Some((*t, *t + *len)),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minute_has_every_fault_kind_once_and_one_invalid_configmap() {
        let plan = Plan::new(Duration::from_secs(60), 7);
        let labels: Vec<&str> = plan.faults.iter().map(|(_, f)| f.label()).collect();
        for kind in [
            "kill -9 dnscache",
            "kill -9 kubedns",
            "API outage + 410",
            "upstream silent",
            "ConfigMap invalid",
        ] {
            assert_eq!(
                labels.iter().filter(|l| **l == kind).count(),
                1,
                "{labels:?}"
            );
        }
        assert!(labels.contains(&"ConfigMap change"), "{labels:?}");
        assert!(plan.faults.iter().all(|(t, _)| *t < plan.duration));
        assert_eq!(plan.drift_from, Duration::from_secs(10));
    }

    #[test]
    fn thirty_minutes_keeps_the_reference_constants() {
        let plan = Plan::new(Duration::from_secs(1800), 1);
        assert_eq!(
            plan.outage().map(|(s, e)| e - s),
            Some(Duration::from_secs(60))
        );
        let cms = plan
            .faults
            .iter()
            .filter(|(_, f)| matches!(f, Fault::ConfigMap { .. }))
            .count();
        assert_eq!(cms, 29);
        assert_eq!(plan.drift_from, Duration::from_secs(300));
    }

    #[test]
    fn same_seed_same_plan() {
        let a = Plan::new(Duration::from_secs(600), 42).faults;
        let b = Plan::new(Duration::from_secs(600), 42).faults;
        assert_eq!(a, b);
        assert_ne!(a, Plan::new(Duration::from_secs(600), 43).faults);
    }
}
