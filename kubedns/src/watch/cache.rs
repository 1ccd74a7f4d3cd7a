//! The object store behind each watcher, with kube-rs reflector semantics: a (re)list is
//! buffered between `Init` and `InitDone` and then swapped in atomically, so objects missing
//! from a relist disappear. Unlike the reflector's `Writer` it takes events by value, keeps
//! each object as its compact model value (`types.rs`), and survives its watcher being
//! replaced, which is how the EndpointSlice watch is restarted when a Service starts needing
//! endpoints it had been told to drop. A delete removes the entry; nothing else is indexed.
//!
//! An object that arrives equal (as its model) to the stored one keeps the stored value: an
//! update that changes nothing the records read (a status or resourceVersion bump) costs no
//! rebuild, and a relist after an outage or a 410 reallocates only what changed, so it leaves
//! neither a second copy of the store nor the holes of the first behind it.

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
                let (key, model) = (key(&obj), obj.into_model());
                let value = self.reuse(&key, model);
                let mut buffer = lock(&self.buffer);
                buffer.get_or_insert_with(HashMap::new).insert(key, value);
                false
            }
            Event::InitDone => {
                let listed = lock(&self.buffer).take().unwrap_or_default();
                let mut live = lock(&self.live);
                let same = listed.len() == live.len()
                    && listed
                        .iter()
                        .all(|(k, v)| live.get(k).is_some_and(|old| Arc::ptr_eq(old, v)));
                *live = listed;
                drop(live);
                let first = !self.ready.send_replace(true);
                first || !same
            }
            Event::Apply(obj) => {
                let (key, model) = (key(&obj), obj.into_model());
                let mut live = lock(&self.live);
                if live.get(&key).is_some_and(|old| **old == model) {
                    return false;
                }
                live.insert(key, Arc::new(model));
                true
            }
            Event::Delete(obj) => {
                lock(&self.live).remove(&key(&obj));
                true
            }
        }
    }

    /// The stored value of `key` when it equals `model`, else `model` in a new `Arc`.
    fn reuse(&self, key: &Key, model: K::Model) -> Arc<K::Model> {
        match lock(&self.live).get(key) {
            Some(old) if **old == model => Arc::clone(old),
            _ => Arc::new(model),
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

    fn svc_ip(name: &str, ip: &str) -> WatchedService {
        let mut s = svc(name);
        s.spec = Some(kubedns_records::objects::ServiceSpec {
            cluster_ip: Some(ip.into()),
            ..Default::default()
        });
        s
    }

    fn value(c: &Cache<WatchedService>, name: &str) -> Arc<kubedns_records::objects::Service> {
        let state = c.state();
        let found = state
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(name));
        Arc::clone(found.expect("stored"))
    }

    /// An update the records cannot see (same model) changes nothing; a real one does.
    #[test]
    fn an_update_that_changes_nothing_is_not_a_change() {
        let c = Cache::new();
        c.apply(Event::Init);
        c.apply(Event::InitApply(svc_ip("a", "10.0.0.1")));
        assert!(c.apply(Event::InitDone));
        let before = value(&c, "a");
        let mut bumped = svc_ip("a", "10.0.0.1");
        bumped.metadata.resource_version = Some("99".into());
        assert!(!c.apply(Event::Apply(bumped)));
        assert!(Arc::ptr_eq(&before, &value(&c, "a")));
        assert!(c.apply(Event::Apply(svc_ip("a", "10.0.0.2"))));
        assert!(!Arc::ptr_eq(&before, &value(&c, "a")));
    }

    /// A relist that finds what is stored keeps the stored values and reports no change; one
    /// object added, changed or missing makes it a change.
    #[test]
    fn a_relist_of_the_same_objects_keeps_them_and_is_not_a_change() {
        let c = Cache::new();
        let list = |c: &Cache<WatchedService>, objs: &[(&str, &str)]| {
            c.apply(Event::Init);
            for (n, ip) in objs {
                c.apply(Event::InitApply(svc_ip(n, ip)));
            }
            c.apply(Event::InitDone)
        };
        assert!(
            list(&c, &[("a", "10.0.0.1"), ("b", "10.0.0.2")]),
            "first list"
        );
        let a = value(&c, "a");
        assert!(!list(&c, &[("b", "10.0.0.2"), ("a", "10.0.0.1")]));
        assert!(Arc::ptr_eq(&a, &value(&c, "a")));
        assert!(list(&c, &[("a", "10.0.0.1"), ("b", "10.0.0.3")]), "changed");
        assert!(Arc::ptr_eq(&a, &value(&c, "a")), "unchanged object kept");
        assert!(list(&c, &[("a", "10.0.0.1")]), "missing");
        assert!(list(&c, &[("a", "10.0.0.1"), ("c", "10.0.0.4")]), "added");
        assert_eq!(names(&c), ["a", "c"]);
    }
}
