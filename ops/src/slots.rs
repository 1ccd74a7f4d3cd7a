//! Connection slots: a cap on open connections that makes room for a new one by closing the
//! connection that has been idle longest.
//!
//! Why not simply refuse over the cap: any client can open idle connections, and refusing
//! newcomers lets a few of them shut out everyone else (the kubelet's health probes, the
//! TCP retries of truncated UDP answers). A connection that is waiting for its next request
//! holds nothing worth keeping, so the newest client wins a slot from the oldest idle one. A
//! connection in the middle of a request is never taken; when every slot is busy the new
//! connection is refused. Cost per state change: one uncontended mutex and a B-tree step.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio_util::sync::CancellationToken;

/// What happened to a connection that asked for a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// A free slot.
    Free,
    /// The longest-idle connection was told to close to make room.
    Evicted,
    /// Every slot is busy: refuse this connection.
    Refused,
}

/// A shared cap of `max` connections.
#[derive(Debug, Clone)]
pub struct Slots {
    inner: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    max: usize,
    open: usize,
    next: u64,
    /// Idle connections by the order in which they became idle, oldest first.
    idle: BTreeMap<u64, CancellationToken>,
}

/// One connection's slot; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    slots: Slots,
    idle_key: Option<u64>,
    evicted: CancellationToken,
}

impl Slots {
    /// A cap of `max` open connections (at least 1).
    pub fn new(max: usize) -> Self {
        Slots {
            inner: Arc::new(Mutex::new(State {
                max: max.max(1),
                open: 0,
                next: 0,
                idle: BTreeMap::new(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the counts inconsistent in a way that
        // matters more than refusing service; keep going with the data as it is.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks for a slot for a new connection.
    pub fn admit(&self) -> (Admission, Option<Slot>) {
        let mut s = self.lock();
        let how = if s.open < s.max {
            Admission::Free
        } else if let Some((_, victim)) = s.idle.pop_first() {
            // The victim's slot is counted until its task drops it; the new one is counted
            // now, so the cap is exceeded by at most the connections closing at this moment.
            victim.cancel();
            Admission::Evicted
        } else {
            return (Admission::Refused, None);
        };
        s.open += 1;
        drop(s);
        let slot = Slot {
            slots: self.clone(),
            idle_key: None,
            evicted: CancellationToken::new(),
        };
        (how, Some(slot))
    }

    /// Connections holding a slot.
    pub fn open(&self) -> usize {
        self.lock().open
    }
}

impl Slot {
    /// Marks the connection idle (waiting for its next request): it may now be evicted.
    pub fn idle(&mut self) {
        if self.idle_key.is_some() || self.evicted.is_cancelled() {
            return;
        }
        let mut s = self.slots.lock();
        let key = s.next;
        s.next += 1;
        s.idle.insert(key, self.evicted.clone());
        self.idle_key = Some(key);
    }

    /// Marks the connection busy (a request started): it is no longer evictable. Returns
    /// false when it was evicted meanwhile and must close.
    pub fn busy(&mut self) -> bool {
        if let Some(key) = self.idle_key.take() {
            self.slots.lock().idle.remove(&key);
        }
        !self.evicted.is_cancelled()
    }

    /// A token cancelled when this connection is chosen to make room, for a connection whose
    /// slot sits behind a lock shared with the code that marks it idle or busy.
    pub fn eviction_token(&self) -> CancellationToken {
        self.evicted.clone()
    }

    /// Resolves when this connection was chosen to make room for a newer one.
    pub fn evicted(&self) -> tokio_util::sync::WaitForCancellationFuture<'_> {
        self.evicted.cancelled()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut s = self.slots.lock();
        if let Some(key) = self.idle_key.take() {
            s.idle.remove(&key);
        }
        s.open = s.open.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_longest_idle_and_never_a_busy_one() {
        let slots = Slots::new(2);
        let (a1, mut a) = slots.admit();
        let (b1, mut b) = slots.admit();
        assert_eq!((a1, b1), (Admission::Free, Admission::Free));
        let (a, b) = (a.as_mut().unwrap(), b.as_mut().unwrap());
        // Both busy: the third is refused.
        assert_eq!(slots.admit().0, Admission::Refused);
        b.idle();
        a.idle();
        // b became idle first: it goes.
        let (c1, c) = slots.admit();
        assert_eq!(c1, Admission::Evicted);
        assert!(!b.busy(), "b was evicted");
        assert!(a.busy(), "a was not");
        // a is busy again, b is on its way out, c holds a slot: nothing left to evict.
        assert_eq!(slots.admit().0, Admission::Refused);
        drop(c);
        assert_eq!(slots.open(), 2);
    }

    #[test]
    fn dropping_frees_the_slot_and_its_idle_entry() {
        let slots = Slots::new(1);
        let (_, mut a) = slots.admit();
        a.as_mut().unwrap().idle();
        drop(a);
        assert_eq!(slots.open(), 0);
        assert_eq!(slots.admit().0, Admission::Free);
        assert!(slots.lock().idle.is_empty());
    }
}
