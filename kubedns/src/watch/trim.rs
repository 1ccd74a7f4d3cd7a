//! Endpoints nobody reads are not kept. Only headless Services (`clusterIP: None`) turn
//! endpoints into records (the Kubernetes DNS spec, headless Services); ClusterIP and
//! ExternalName Services answer from the Service alone. So an EndpointSlice (or core/v1
//! Endpoints) whose Service is known and not headless is not stored at all, only its name is
//! remembered here: with 10,000 ClusterIP Services of 10 endpoints each that is most of the
//! memory. The `--manifests` source drops the same objects
//! (`ClusterObjects::retain_used_endpoints`).
//!
//! A Service that becomes headless after its slices were trimmed (clusterIP is immutable, so
//! this means delete and re-create, or a type change from ExternalName) restarts the endpoints
//! watch: the relist brings the endpoints back. Slices of Services not (yet) seen are kept whole.

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

/// What the trim knows. Every map holds live objects only: a deleted Service or slice leaves
/// no entry behind, so the state follows the cluster's size, not its history of churn.
#[derive(Default)]
struct State {
    /// Whether each live Service reads endpoints.
    needs: HashMap<Key, bool>,
    /// The same for a Services relist in progress; replaces `needs` at its end.
    listing: Option<HashMap<Key, bool>>,
    /// Endpoint objects (slice or Endpoints names) stored without their endpoints, by Service.
    trimmed: HashMap<Key, HashSet<String>>,
}

impl State {
    fn needs(&self, key: &Key) -> Option<bool> {
        let listed = self.listing.as_ref().and_then(|l| l.get(key));
        listed.or_else(|| self.needs.get(key)).copied()
    }

    /// Records whether endpoint object `object` of Service `svc` is trimmed; returns
    /// whether it must be.
    fn decide(&mut self, svc: Key, object: &str) -> bool {
        let trim = self.needs(&svc) == Some(false);
        if trim {
            let names = self.trimmed.entry(svc).or_default();
            if !names.contains(object) {
                names.insert(object.to_string());
            }
        } else {
            self.forget(&svc, object);
        }
        trim
    }

    fn forget(&mut self, svc: &Key, object: &str) {
        if let Some(names) = self.trimmed.get_mut(svc) {
            names.remove(object);
            if names.is_empty() {
                self.trimmed.remove(svc);
            }
        }
    }
}

/// Shared between the Service watcher (which may ask for a restart) and the endpoints watcher.
pub(super) struct Trim {
    state: Mutex<State>,
    /// Signalled when a trimmed Service turned headless: the endpoints watch must relist.
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

    /// Sees every Service event before the Service cache does, so a slice relist triggered
    /// here already finds the new decision.
    pub(super) fn service(&self, event: &Event<WatchedService>) {
        let mut state = self.lock();
        let (svc, listing) = match event {
            Event::Init => {
                state.listing = Some(HashMap::new());
                return;
            }
            Event::InitDone => {
                if let Some(listed) = state.listing.take() {
                    state.needs = listed;
                }
                return;
            }
            Event::Delete(svc) => {
                let key = key_of(svc.metadata.namespace.as_ref(), svc.metadata.name.as_ref());
                state.needs.remove(&key);
                return;
            }
            Event::InitApply(svc) => (svc, true),
            Event::Apply(svc) => (svc, false),
        };
        let key = key_of(svc.metadata.namespace.as_ref(), svc.metadata.name.as_ref());
        let needs = needs_endpoints(svc);
        let map = match (listing, state.listing.as_mut()) {
            (true, Some(listed)) => listed,
            _ => &mut state.needs,
        };
        map.insert(key.clone(), needs);
        if needs && state.trimmed.contains_key(&key) {
            state.trimmed.clear(); // the relist decides again for every slice
            self.restart.notify_one();
        }
    }

    /// Whether the slice of `event` is kept: not when its Service does not read endpoints.
    pub(super) fn slice(&self, event: &Event<WatchedSlice>) -> bool {
        let mut state = self.lock();
        if matches!(event, Event::Init) {
            state.trimmed.clear(); // the list decides again for every slice
        }
        let deleted = matches!(event, Event::Delete(_));
        let Some(slice) = object(event) else {
            return true;
        };
        let labels = slice.metadata.labels.as_ref();
        let Some(service) = labels.and_then(|l| l.get(SERVICE_NAME_LABEL)) else {
            return true;
        };
        let svc = key_of(slice.metadata.namespace.as_ref(), Some(service));
        let name = slice.metadata.name.as_deref().unwrap_or_default();
        if deleted {
            state.forget(&svc, name);
            return true;
        }
        !state.decide(svc, name)
    }

    /// Whether the core/v1 Endpoints of `event` are kept: not when their Service does not
    /// read them.
    pub(super) fn endpoints(&self, event: &Event<WatchedEndpoints>) -> bool {
        let mut state = self.lock();
        if matches!(event, Event::Init) {
            state.trimmed.clear();
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
        !state.decide(svc.clone(), &svc.1)
    }

    /// Sizes of the maps (Services known, Services with trimmed endpoint objects).
    #[cfg(test)]
    fn sizes(&self) -> (usize, usize) {
        let state = self.lock();
        (state.needs.len(), state.trimmed.len())
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
        for name in ["db", "unknown"] {
            assert!(trim.slice(&Event::Apply(slice(name))), "{name}");
        }
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
        assert_eq!(trim.sizes(), (1, 0));
        // A Services relist forgets what it did not list.
        trim.service(&Event::Init);
        trim.service(&Event::InitApply(svc("other", "10.0.0.3")));
        trim.service(&Event::InitDone);
        assert_eq!(trim.sizes(), (1, 0));
    }
}
