//! The input of the projection: every object kubedns watches, as shared immutable values in
//! the compact model of [`model`] (only what the records read). Both object sources (the
//! Kubernetes API watchers and `--manifests` files) produce this; [`read`] owns reading
//! manifests text.

mod compact;
mod fast;
mod list;
pub mod model;
mod read;

use std::sync::Arc;

pub use compact::Compact;
pub use model::{
    Endpoint, EndpointAddress, EndpointConditions, EndpointSlice, EndpointSubset, Endpoints, Meta,
    Namespace, Pod, PodIp, PodSpec, PodStatus, Port, Service, ServiceSpec,
};
pub use read::{ObjectsError, from_yaml_documents, from_yaml_documents_on};

/// All objects the zone is built from. Order is irrelevant to the projection.
#[derive(Debug, Clone, Default)]
pub struct ClusterObjects {
    /// Services, all namespaces.
    pub services: Vec<Arc<Service>>,
    /// discovery.k8s.io/v1 EndpointSlices, linked to Services by label `kubernetes.io/service-name`.
    pub endpoint_slices: Vec<Arc<EndpointSlice>>,
    /// core/v1 Endpoints (`--endpoints-api=endpoints`, or written in manifests).
    pub endpoints: Vec<Arc<Endpoints>>,
    /// Pods (only watched with `--pods=verified`).
    pub pods: Vec<Arc<Pod>>,
    /// Namespaces (optional; manifests may list them).
    pub namespaces: Vec<Arc<Namespace>>,
}

impl ClusterObjects {
    /// Appends every object of `other` (e.g. several manifest files into one set).
    pub fn extend(&mut self, other: ClusterObjects) {
        self.services.extend(other.services);
        self.endpoint_slices.extend(other.endpoint_slices);
        self.endpoints.extend(other.endpoints);
        self.pods.extend(other.pods);
        self.namespaces.extend(other.namespaces);
    }

    /// Drops the EndpointSlices and Endpoints that no Service [`reads`](crate::reads_endpoints)
    /// (those of ClusterIP and ExternalName Services, and orphans), so a big cluster's endpoint
    /// objects are not kept for nothing. Returns how many were dropped.
    pub fn retain_used_endpoints(&mut self) -> usize {
        use std::collections::HashSet;
        let readers: HashSet<(String, String)> = self
            .services
            .iter()
            .filter(|s| crate::reads_endpoints(s))
            .filter_map(|s| Some((s.metadata.namespace.clone()?, s.metadata.name.clone()?)))
            .collect();
        let read = |ns: Option<&String>, name: Option<&String>| {
            let key = (
                ns.cloned().unwrap_or_default(),
                name.cloned().unwrap_or_default(),
            );
            readers.contains(&key)
        };
        let before = self.endpoint_slices.len() + self.endpoints.len();
        self.endpoint_slices.retain(|s| {
            let svc = s.metadata.service_name.as_ref();
            svc.is_some() && read(s.metadata.namespace.as_ref(), svc)
        });
        self.endpoints
            .retain(|e| read(e.metadata.namespace.as_ref(), e.metadata.name.as_ref()));
        before - self.endpoint_slices.len() - self.endpoints.len()
    }

    /// Total number of objects.
    pub fn len(&self) -> usize {
        self.services.len()
            + self.endpoint_slices.len()
            + self.endpoints.len()
            + self.pods.len()
            + self.namespaces.len()
    }

    /// True when there is no object at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
