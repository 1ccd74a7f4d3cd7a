//! The retry delay of the watchers after an API error: exponential from 250 ms, capped at
//! [`MAX_DELAY`], with full jitter in the upper half, reset after a minute without errors.
//!
//! Why not kube-rs's `default_backoff()` (client-go's 800 ms doubling to 30 s): the delay
//! between the API server coming back and our next attempt is time in which kubedns serves
//! the state from before the outage, and after a 20 s outage that default leaves up to 30 s
//! of it. A DNS server has a handful of replicas per cluster, each with two or three
//! watches, so retrying every second or two costs the API server nothing noticeable, while
//! stale Services are what users see. The jitter spreads the replicas' retries so they do not
//! arrive in lock-step when the API server recovers.

use std::time::{Duration, Instant};

use kube::runtime::utils::Backoff;

/// First delay.
pub const MIN_DELAY: Duration = Duration::from_millis(250);
/// Longest delay: recovery after an outage is seen within this (plus one list).
pub const MAX_DELAY: Duration = Duration::from_secs(2);
/// Errors further apart than this start again from [`MIN_DELAY`].
pub const RESET_AFTER: Duration = Duration::from_secs(60);

/// Capped exponential backoff with jitter (see the module docs).
#[derive(Debug, Clone)]
pub struct CappedBackoff {
    attempt: u32,
    last: Option<Instant>,
}

impl CappedBackoff {
    /// A backoff at its first delay.
    pub fn new() -> Self {
        CappedBackoff {
            attempt: 0,
            last: None,
        }
    }

    /// The un-jittered delay of attempt `n` (0-based): `MIN_DELAY * 2^n`, capped.
    pub fn ceiling(n: u32) -> Duration {
        MIN_DELAY
            .checked_mul(1u32 << n.min(16))
            .unwrap_or(MAX_DELAY)
            .min(MAX_DELAY)
    }
}

impl Default for CappedBackoff {
    fn default() -> Self {
        Self::new()
    }
}

impl Iterator for CappedBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        Some(self.next_at(Instant::now()))
    }
}

impl CappedBackoff {
    /// The delay of a retry asked for at `now`.
    pub fn next_at(&mut self, now: Instant) -> Duration {
        if self
            .last
            .is_some_and(|t| now.duration_since(t) > RESET_AFTER)
        {
            self.attempt = 0;
        }
        self.last = Some(now);
        let ceiling = Self::ceiling(self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        // Uniform in [ceiling/2, ceiling]: never below half, so the cap still bounds the rate.
        let half = ceiling / 2;
        half + half.mul_f64(rand::random::<f64>())
    }
}

impl Backoff for CappedBackoff {
    fn reset(&mut self) {
        self.attempt = 0;
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_and_reset() {
        let mut b = CappedBackoff::new();
        let t0 = Instant::now();
        let delays: Vec<Duration> = (0..8).map(|_| b.next_at(t0)).collect();
        for (n, d) in delays.iter().enumerate() {
            let ceiling = CappedBackoff::ceiling(n as u32);
            assert!(*d >= ceiling / 2 && *d <= ceiling, "attempt {n}: {d:?}");
        }
        assert_eq!(CappedBackoff::ceiling(7), MAX_DELAY);
        assert!(delays.iter().all(|d| *d <= MAX_DELAY));
        let later = t0 + RESET_AFTER + Duration::from_secs(1);
        assert!(b.next_at(later) <= MIN_DELAY);
        b.next();
        b.reset();
        assert!(b.next().is_some_and(|d| d <= MIN_DELAY));
    }
}
