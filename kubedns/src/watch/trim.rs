//! Endpoints nobody reads are not kept. Only headless Services (`clusterIP: None`) turn
//! endpoints into records (the Kubernetes DNS spec, headless Services); ClusterIP and
//! ExternalName Services answer from the Service alone. So an EndpointSlice (or core/v1
//! Endpoints) is stored only when its Service is known and headless; otherwise only its name
//! is remembered here: with 10,000 ClusterIP Services of 10 endpoints each that is most of
//! the memory. The `--manifests` source drops the same objects
//! (`ClusterObjects::retain_used_endpoints`). A slice is assumed to keep its Service label
//! (the EndpointSlice controller never moves a slice to another Service).
//!
//! A Service that becomes headless after its slices were trimmed (clusterIP is immutable, so
//! this means delete and re-create, or a type change from ExternalName) restarts the endpoints
//! watch: the relist brings the endpoints back. Slices of Services not (yet) seen are not
//! stored either; the Services list completes before the endpoints list starts, so this costs
//! a relist only when a slice's event outruns its Service's.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use kube::runtime::watcher::Event;
use tokio::sync::Notify;

use super::cache::Key;
use super::types::{WatchedEndpoints, WatchedService, WatchedSlice};
use kubedns_records::SERVICE_NAME_LABEL;

/// Whether `svc` reads endpoints: the projection's own rule (headless Services do).
pub fn needs_endpoints(svc: &WatchedService) -> bool {
    kubedns_records::spec_reads_endpoints(svc.spec.as_ref())
}

/// The object of an event that carries one.
pub(super) fn object<K>(event: &Event<K>) -> Option<&K> {
    match event {
        Event::Apply(obj) | Event::InitApply(obj) | Event::Delete(obj) => Some(obj),
        Event::Init | Event::InitDone => None,
    }
}

fn key_of(ns: Option<&String>, name: Option<&String>) -> Key {
    (
        ns.cloned().unwrap_or_default(),
        name.cloned().unwrap_or_default(),
    )
}

/// One endpoint object name per entry, by the Service it belongs to.
type ByService = HashMap<Key, HashSet<String>>;

/// What the trim knows. Every map holds live objects only: a deleted Service or slice leaves
/// no entry behind, so the state follows the cluster's size, not its history of churn.
///
/// The rule it keeps: an endpoint object is stored exactly when its Service is known and
/// reads endpoints, whatever the order of events, so the store always equals one listed from
/// scratch. An object of an unknown or ClusterIP Service is only remembered by name
/// (`trimmed`); when that Service (re)appears as a reader, the endpoints watch relists to
/// fetch it. A stored object whose Service stops reading, goes away or is missing from a
/// Services relist is dropped from the store (`kept` says which objects those are).
#[derive(Default)]
struct State {
    /// Whether each live Service reads endpoints.
    needs: HashMap<Key, bool>,
    /// The same for a Services relist in progress; replaces `needs` at its end.
    listing: Option<HashMap<Key, bool>>,
    /// Endpoint objects (slice or Endpoints names) not stored, by Service.
    trimmed: ByService,
    /// Endpoint objects stored, by Service.
    kept: ByService,
}

fn add(map: &mut ByService, svc: &Key, object: &str) {
    let names = map.entry(svc.clone()).or_default();
    if !names.contains(object) {
        names.insert(object.to_string());
    }
}

fn remove(map: &mut ByService, svc: &Key, object: &str) {
    if let Some(names) = map.get_mut(svc) {
        names.remove(object);
        if names.is_empty() {
            map.remove(svc);
        }
    }
}

impl State {
    fn needs(&self, key: &Key) -> Option<bool> {
        let listed = self.listing.as_ref().and_then(|l| l.get(key));
        listed.or_else(|| self.needs.get(key)).copied()
    }

    /// Records whether endpoint object `object` of Service `svc` is stored; returns whether
    /// it is.
    fn decide(&mut self, svc: &Key, object: &str) -> bool {
        let keep = self.needs(svc) == Some(true);
        let (to, from) = match keep {
            true => (&mut self.kept, &mut self.trimmed),
            false => (&mut self.trimmed, &mut self.kept),
        };
        remove(from, svc, object);
        add(to, svc, object);
        keep
    }

    fn forget(&mut self, svc: &Key, object: &str) {
        remove(&mut self.trimmed, svc, object);
        remove(&mut self.kept, svc, object);
    }

    /// Applies the rule to Service `svc` after its reading changed: its stored objects leave
    /// the store when it does not read them (returned as store keys); true when trimmed
    /// objects must be fetched again.
    fn settle(&mut self, svc: &Key, drop: &mut Vec<Key>) -> bool {
        if self.needs(svc) == Some(true) {
            return self.trimmed.contains_key(svc);
        }
        if let Some(names) = self.kept.remove(svc) {
            for name in names {
                drop.push((svc.0.clone(), name.clone()));
                add(&mut self.trimmed, svc, &name);
            }
        }
        false
    }
}

/// Shared between the Service watcher (which may ask for a restart) and the endpoints watcher.
pub(super) struct Trim {
    state: Mutex<State>,
    /// Signalled when a Service with trimmed endpoint objects now reads them: the endpoints
    /// watch must relist.
    pub restart: Arc<Notify>,
}

impl Trim {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Trim {
            state: Mutex::new(State::default()),
            restart: Arc::new(Notify::new()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sees every Service event before the Service cache does, so a relist of the endpoints
    /// triggered here already finds the new decision. Returns the store keys (namespace,
    /// name) of endpoint objects that must leave the store.
    pub(super) fn service(&self, event: &Event<WatchedService>) -> Vec<Key> {
        let mut state = self.lock();
        let mut drop = Vec::new();
        let mut restart = false;
        match event {
            Event::Init => state.listing = Some(HashMap::new()),
            Event::InitDone => {
                if let Some(listed) = state.listing.take() {
                    state.needs = listed;
                }
                // Services missing from the relist are gone; others may have changed.
                let services: HashSet<Key> = state
                    .kept
                    .keys()
                    .chain(state.trimmed.keys())
                    .cloned()
                    .collect();
                for svc in services {
                    restart |= state.settle(&svc, &mut drop);
                }
            }
            Event::Delete(svc) => {
                let key = key_of(svc.metadata.namespace.as_ref(), svc.metadata.name.as_ref());
                state.needs.remove(&key);
                state.settle(&key, &mut drop);
            }
            Event::InitApply(svc) | Event::Apply(svc) => {
                let key = key_of(svc.metadata.namespace.as_ref(), svc.metadata.name.as_ref());
                let needs = needs_endpoints(svc);
                let listing = matches!(event, Event::InitApply(_));
                let map = match (listing, state.listing.as_mut()) {
                    (true, Some(listed)) => listed,
                    _ => &mut state.needs,
                };
                map.insert(key.clone(), needs);
                restart = state.settle(&key, &mut drop);
            }
        }
        if restart {
            state.trimmed.clear(); // the relist decides again for every object
            self.restart.notify_one();
        }
        drop
    }

    /// Whether the slice of `event` is stored: only when its Service is known and reads
    /// endpoints.
    pub(super) fn slice(&self, event: &Event<WatchedSlice>) -> bool {
        let mut state = self.lock();
        if matches!(event, Event::Init) {
            // The list decides again for every slice, and replaces the store at its end.
            state.trimmed.clear();
            state.kept.clear();
        }
        let deleted = matches!(event, Event::Delete(_));
        let Some(slice) = object(event) else {
            return true;
        };
        let labels = slice.metadata.labels.as_ref();
        let service = labels.and_then(|l| l.get(SERVICE_NAME_LABEL));
        let svc = key_of(slice.metadata.namespace.as_ref(), service);
        let name = slice.metadata.name.as_deref().unwrap_or_default();
        if deleted {
            state.forget(&svc, name);
            return true;
        }
        service.is_some() && state.decide(&svc, name)
    }

    /// Whether the core/v1 Endpoints of `event` are stored: only when their Service is known
    /// and reads them.
    pub(super) fn endpoints(&self, event: &Event<WatchedEndpoints>) -> bool {
        let mut state = self.lock();
        if matches!(event, Event::Init) {
            state.trimmed.clear();
            state.kept.clear();
        }
        let deleted = matches!(event, Event::Delete(_));
        let Some(eps) = object(event) else {
            return true;
        };
        let svc = key_of(eps.metadata.namespace.as_ref(), eps.metadata.name.as_ref());
        if deleted {
            state.forget(&svc, &svc.1.clone());
            return true;
        }
        state.decide(&svc, &svc.1.clone())
    }

    /// Sizes of the maps (Services known, Services with trimmed and with kept objects).
    #[cfg(test)]
    pub(super) fn sizes(&self) -> (usize, usize, usize) {
        let state = self.lock();
        (state.needs.len(), state.trimmed.len(), state.kept.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use kubedns_records::objects::{Endpoint, ServiceSpec};

    fn svc(name: &str, ip: &str) -> WatchedService {
        WatchedService {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                ..ObjectMeta::default()
            },
            spec: Some(ServiceSpec {
                cluster_ip: Some(ip.into()),
                ..ServiceSpec::default()
            }),
        }
    }

    fn slice(service: &str) -> WatchedSlice {
        WatchedSlice {
            metadata: ObjectMeta {
                name: Some(format!("{service}-x")),
                namespace: Some("ns".into()),
                labels: Some([(SERVICE_NAME_LABEL.to_string(), service.to_string())].into()),
                ..ObjectMeta::default()
            },
            address_type: "IPv4".into(),
            endpoints: vec![Endpoint {
                addresses: vec!["10.1.0.1".parse().unwrap()],
                ..Endpoint::default()
            }],
            ports: None,
        }
    }

    #[tokio::test]
    async fn only_headless_services_keep_endpoints_and_a_flip_restarts() {
        let trim = Trim::new();
        trim.service(&Event::Apply(svc("web", "10.0.0.1")));
        trim.service(&Event::Apply(svc("db", "None")));
        assert!(
            !trim.slice(&Event::Apply(slice("web"))),
            "ClusterIP slice kept"
        );
        assert!(trim.slice(&Event::Apply(slice("db"))));
        assert!(
            !trim.slice(&Event::Apply(slice("unknown"))),
            "a slice of an unknown Service is not kept"
        );
        // "web" comes back headless: its trimmed slices must be fetched again.
        trim.service(&Event::Apply(svc("db", "None")));
        assert!(futures::FutureExt::now_or_never(trim.restart.notified()).is_none());
        trim.service(&Event::Apply(svc("web", "None")));
        assert!(futures::FutureExt::now_or_never(trim.restart.notified()).is_some());
    }

    /// Regression: the trim remembered every Service it had ever seen, so its maps grew with
    /// Service churn however small the cluster stayed.
    #[test]
    fn churn_leaves_no_trace() {
        let trim = Trim::new();
        trim.service(&Event::Apply(svc("keep", "10.0.0.1")));
        for i in 0..1000 {
            let name = format!("churn-{i}");
            let ip = if i % 2 == 0 { "10.0.0.2" } else { "None" };
            trim.service(&Event::Apply(svc(&name, ip)));
            trim.slice(&Event::Apply(slice(&name)));
            trim.slice(&Event::Delete(slice(&name)));
            trim.service(&Event::Delete(svc(&name, ip)));
        }
        assert_eq!(trim.sizes(), (1, 0, 0));
        // A Services relist forgets what it did not list.
        trim.service(&Event::Init);
        trim.service(&Event::InitApply(svc("other", "10.0.0.3")));
        trim.service(&Event::InitDone);
        assert_eq!(trim.sizes(), (1, 0, 0));
    }
}
