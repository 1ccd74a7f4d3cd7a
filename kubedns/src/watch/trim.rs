//! Endpoints nobody reads are not kept. Only headless Services (`clusterIP: None`) turn
//! endpoints into records (the Kubernetes DNS spec, headless Services); ClusterIP and ExternalName Services answer from the Service
//! alone. So an EndpointSlice (or core/v1 Endpoints) whose Service is known and not headless is
//! stored without its endpoint list: with 10,000 ClusterIP Services of 10 endpoints each that is
//! most of the memory (a k8s-openapi `Endpoint` is 352 bytes).
//!
//! A Service that becomes headless after its slices were trimmed (clusterIP is immutable, so
//! this means delete and re-create, or a type change from ExternalName) restarts the endpoints
//! watch: the relist brings the endpoints back. Slices of Services not (yet) seen are kept whole.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use k8s_openapi::api::core::v1::{Endpoints, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use tokio::sync::Notify;

use super::cache::Key;
use kubedns_records::SERVICE_NAME_LABEL;

/// Whether `svc` reads endpoints: the projection's own rule (headless Services do).
pub fn needs_endpoints(svc: &Service) -> bool {
    kubedns_records::reads_endpoints(svc)
}

/// Shared between the Service watcher (which may ask for a restart) and the endpoints watcher.
pub(super) struct Trim {
    /// Whether each Service seen so far reads endpoints (updated before the Service cache is,
    /// so a slice relist triggered by a change already sees it).
    needs: Mutex<HashMap<Key, bool>>,
    trimmed: Mutex<HashSet<Key>>,
    /// Signalled when a trimmed Service turned headless: the endpoints watch must relist.
    pub restart: Arc<Notify>,
}

impl Trim {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Trim {
            needs: Mutex::new(HashMap::new()),
            trimmed: Mutex::new(HashSet::new()),
            restart: Arc::new(Notify::new()),
        })
    }

    /// Whether the endpoints of Service `key` can be dropped (and remembers that they were).
    fn drop_endpoints(&self, key: Key) -> bool {
        let needs = self.needs.lock().unwrap_or_else(PoisonError::into_inner);
        let known_without_need = needs.get(&key) == Some(&false);
        drop(needs);
        if known_without_need {
            self.trimmed
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key);
        }
        known_without_need
    }

    /// Called for every Service the watcher delivers.
    pub(super) fn service(&self, svc: &Service) {
        let key = (
            svc.metadata.namespace.clone().unwrap_or_default(),
            svc.metadata.name.clone().unwrap_or_default(),
        );
        let needs = needs_endpoints(svc);
        let mut map = self.needs.lock().unwrap_or_else(PoisonError::into_inner);
        map.insert(key.clone(), needs);
        drop(map);
        if !needs {
            return;
        }
        let mut trimmed = self.trimmed.lock().unwrap_or_else(PoisonError::into_inner);
        if trimmed.remove(&key) {
            trimmed.clear(); // the relist decides again for every slice
            self.restart.notify_one();
        }
    }

    /// Drops the endpoint list of a slice whose Service does not read it.
    pub(super) fn slice(&self, slice: &mut EndpointSlice) {
        let labels = slice.metadata.labels.as_ref();
        let Some(service) = labels.and_then(|l| l.get(SERVICE_NAME_LABEL)) else {
            return;
        };
        let ns = slice.metadata.namespace.clone().unwrap_or_default();
        if self.drop_endpoints((ns, service.clone())) {
            slice.endpoints = Vec::new();
        }
    }

    /// Drops the subsets of core/v1 Endpoints whose Service does not read them.
    pub(super) fn endpoints(&self, eps: &mut Endpoints) {
        let ns = eps.metadata.namespace.clone().unwrap_or_default();
        let name = eps.metadata.name.clone().unwrap_or_default();
        if self.drop_endpoints((ns, name)) {
            eps.subsets = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ServiceSpec;
    use k8s_openapi::api::discovery::v1::Endpoint;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn svc(name: &str, ip: &str) -> Service {
        Service {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                ..ObjectMeta::default()
            },
            spec: Some(ServiceSpec {
                cluster_ip: Some(ip.into()),
                ..ServiceSpec::default()
            }),
            status: None,
        }
    }

    fn slice(service: &str) -> EndpointSlice {
        EndpointSlice {
            metadata: ObjectMeta {
                name: Some(format!("{service}-x")),
                namespace: Some("ns".into()),
                labels: Some([(SERVICE_NAME_LABEL.to_string(), service.to_string())].into()),
                ..ObjectMeta::default()
            },
            address_type: "IPv4".into(),
            endpoints: vec![Endpoint {
                addresses: vec!["10.1.0.1".into()],
                ..Endpoint::default()
            }],
            ports: None,
        }
    }

    #[tokio::test]
    async fn only_headless_services_keep_endpoints_and_a_flip_restarts() {
        let trim = Trim::new();
        trim.service(&svc("web", "10.0.0.1"));
        trim.service(&svc("db", "None"));
        let mut s = slice("web");
        trim.slice(&mut s);
        assert!(s.endpoints.is_empty(), "ClusterIP slice kept its endpoints");
        for name in ["db", "unknown"] {
            let mut s = slice(name);
            trim.slice(&mut s);
            assert_eq!(s.endpoints.len(), 1, "{name}");
        }
        // "web" comes back headless: its trimmed slices must be fetched again.
        trim.service(&svc("db", "None"));
        assert!(futures::FutureExt::now_or_never(trim.restart.notified()).is_none());
        trim.service(&svc("web", "None"));
        assert!(futures::FutureExt::now_or_never(trim.restart.notified()).is_some());
    }
}
