//! The input of the projection: every object kubedns watches, as shared immutable values.
//! Both object sources (the Kubernetes API watchers and `--manifests` files) produce this.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Endpoints, Namespace, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;

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
