//! The object store behind each watcher, with kube-rs reflector semantics: a (re)list is
//! buffered between `Init` and `InitDone` and then swapped in atomically, so objects missing
//! from a relist disappear. Unlike the reflector's `Writer` it takes events by value, keeps
//! each object as its compact model value (`types.rs`), and survives its watcher being
//! replaced, which is how the EndpointSlice watch is restarted when a Service starts needing
//! endpoints it had been told to drop. A delete removes the entry; nothing else is indexed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use kube::ResourceExt;
use kube::runtime::watcher::Event;
use tokio::sync::watch;

use super::types::Slim;

/// Namespace and name.
pub(super) type Key = (String, String);

fn key<K: kube::Resource>(obj: &K) -> Key {
    (obj.namespace().unwrap_or_default(), obj.name_any())
}

/// Objects of one resource: the last completed list plus the changes since.
pub(super) struct Cache<K: Slim> {
    live: Mutex<HashMap<Key, Arc<K::Model>>>,
    /// Objects of a (re)list in progress.
    buffer: Mutex<Option<HashMap<Key, Arc<K::Model>>>>,
    ready: watch::Sender<bool>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<K: Slim> Cache<K> {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Cache {
            live: Mutex::new(HashMap::new()),
            buffer: Mutex::new(None),
            ready: watch::Sender::new(false),
        })
    }

    /// Applies one watcher event; returns whether the live set changed.
    pub(super) fn apply(&self, event: Event<K>) -> bool {
        match event {
            Event::Init => {
                *lock(&self.buffer) = Some(HashMap::new());
                false
            }
            Event::InitApply(obj) => {
                let mut buffer = lock(&self.buffer);
                let buffer = buffer.get_or_insert_with(HashMap::new);
                buffer.insert(key(&obj), Arc::new(obj.into_model()));
                false
            }
            Event::InitDone => {
                let listed = lock(&self.buffer).take().unwrap_or_default();
                *lock(&self.live) = listed;
                self.ready.send_replace(true);
                true
            }
            Event::Apply(obj) => {
                lock(&self.live).insert(key(&obj), Arc::new(obj.into_model()));
                true
            }
            Event::Delete(obj) => {
                lock(&self.live).remove(&key(&obj));
                true
            }
        }
    }

    /// Removes the object `key` from the store (and from a relist in progress); returns
    /// whether the live set changed.
    pub(super) fn remove(&self, key: &Key) -> bool {
        if let Some(buffer) = lock(&self.buffer).as_mut() {
            buffer.remove(key);
        }
        lock(&self.live).remove(key).is_some()
    }

    /// The live objects (cheap: `Arc` clones).
    pub(super) fn state(&self) -> Vec<Arc<K::Model>> {
        lock(&self.live).values().cloned().collect()
    }

    /// Resolves once the first list completed.
    pub(super) async fn wait_ready(&self) {
        let mut rx = self.ready.subscribe();
        // The sender lives as long as `self`: this only returns once ready.
        let _ = rx.wait_for(|ready| *ready).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::types::WatchedService;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn svc(name: &str) -> WatchedService {
        WatchedService {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                ..ObjectMeta::default()
            },
            spec: None,
        }
    }

    fn names(c: &Cache<WatchedService>) -> Vec<String> {
        let state = c.state();
        let mut v: Vec<String> = state
            .iter()
            .filter_map(|s| s.metadata.name.clone())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn relist_swaps_atomically_and_forgets_missing_objects() {
        let c = Cache::new();
        assert!(!c.apply(Event::Init));
        c.apply(Event::InitApply(svc("a")));
        c.apply(Event::InitApply(svc("b")));
        assert!(names(&c).is_empty(), "visible before InitDone");
        assert!(!*c.ready.borrow());
        assert!(c.apply(Event::InitDone));
        assert!(*c.ready.borrow());
        assert_eq!(names(&c), ["a", "b"]);
        assert!(c.apply(Event::Apply(svc("c"))));
        assert!(c.apply(Event::Delete(svc("a"))));
        assert_eq!(names(&c), ["b", "c"]);
        // A relist without "b": the old set serves until InitDone, then "b" is gone.
        c.apply(Event::Init);
        c.apply(Event::InitApply(svc("c")));
        assert_eq!(names(&c), ["b", "c"]);
        c.apply(Event::InitDone);
        assert_eq!(names(&c), ["c"]);
    }
}
