//! What the watchers deserialize: per resource, the API's `metadata` reduced to identity plus
//! the two labels/annotations the zone reads, and the body fields of the compact model
//! ([`kubedns_records::objects::model`]). Every other field of the API's JSON (managedFields,
//! status, owner references, targetRef, nodeName, ...) is skipped by the parser and never
//! allocated. The kube-rs watcher needs `kube::Resource` (for `metadata.resourceVersion`),
//! which is implemented here by hand; each object becomes its model value ([`Slim::into_model`])
//! as it enters the store.

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kubedns_records::objects::model::{SERVICE_NAME_LABEL, TOLERATE_UNREADY};
use kubedns_records::objects::{
    Compact, Endpoint, EndpointSlice, EndpointSubset, Endpoints, Meta, Pod, PodSpec, PodStatus,
    Port, Service, ServiceSpec,
};
use serde::{Deserialize, Deserializer};

/// A watched type and the model value it is stored as.
pub(super) trait Slim:
    kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send
{
    /// The compact value kept in the store (compared to skip updates that change nothing).
    type Model: PartialEq + Send + Sync + 'static;
    /// Converts, dropping the watch bookkeeping (resourceVersion, uid).
    fn into_model(self) -> Self::Model;
}

/// `metadata` with identity, the Service link label and the tolerate-unready annotation only.
fn slim_meta<'de, D: Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
    #[derive(Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    struct Wire {
        name: Option<String>,
        namespace: Option<String>,
        resource_version: Option<String>,
        labels: Option<BTreeMap<String, String>>,
        annotations: Option<BTreeMap<String, String>>,
    }
    let w = Option::<Wire>::deserialize(d)?.unwrap_or_default();
    let keep = |map: Option<BTreeMap<String, String>>, key: &str| {
        let kept: BTreeMap<String, String> = map?.into_iter().filter(|(k, _)| k == key).collect();
        (!kept.is_empty()).then_some(kept)
    };
    Ok(ObjectMeta {
        name: w.name,
        namespace: w.namespace,
        resource_version: w.resource_version,
        labels: keep(w.labels, SERVICE_NAME_LABEL),
        annotations: keep(w.annotations, TOLERATE_UNREADY),
        ..ObjectMeta::default()
    })
}

fn meta(m: ObjectMeta) -> Meta {
    Meta::from_parts(
        m.name,
        m.namespace,
        m.labels.as_ref(),
        m.annotations.as_ref(),
    )
}

macro_rules! resource {
    ($ty:ident, $kind:literal, $group:literal, $version:literal, $plural:literal) => {
        impl kube::Resource for $ty {
            type DynamicType = ();
            type Scope = k8s_openapi::NamespaceResourceScope;
            fn kind(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($kind)
            }
            fn group(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($group)
            }
            fn version(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($version)
            }
            fn plural(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($plural)
            }
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

/// A core/v1 Service as watched.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct WatchedService {
    /// Identity.
    #[serde(deserialize_with = "slim_meta")]
    pub metadata: ObjectMeta,
    /// `spec`.
    pub spec: Option<ServiceSpec>,
}
resource!(WatchedService, "Service", "", "v1", "services");

impl Slim for WatchedService {
    type Model = Service;
    fn into_model(self) -> Service {
        let mut model = Service {
            metadata: meta(self.metadata),
            spec: self.spec,
        };
        model.compact();
        model
    }
}

/// A discovery.k8s.io/v1 EndpointSlice as watched.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WatchedSlice {
    /// Identity and Service link.
    #[serde(deserialize_with = "slim_meta")]
    pub metadata: ObjectMeta,
    /// `addressType`.
    pub address_type: String,
    /// `endpoints`.
    #[serde(deserialize_with = "null_as_empty")]
    pub endpoints: Vec<Endpoint>,
    /// `ports`.
    pub ports: Option<Vec<Port>>,
}
resource!(
    WatchedSlice,
    "EndpointSlice",
    "discovery.k8s.io",
    "v1",
    "endpointslices"
);

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Endpoint>, D::Error> {
    Ok(Option::<Vec<Endpoint>>::deserialize(d)?.unwrap_or_default())
}

impl Slim for WatchedSlice {
    type Model = EndpointSlice;
    fn into_model(self) -> EndpointSlice {
        let mut model = EndpointSlice {
            metadata: meta(self.metadata),
            address_type: self.address_type,
            endpoints: self.endpoints,
            ports: self.ports,
        };
        model.compact();
        model
    }
}

/// A core/v1 Endpoints object as watched.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct WatchedEndpoints {
    /// Identity.
    #[serde(deserialize_with = "slim_meta")]
    pub metadata: ObjectMeta,
    /// `subsets`.
    pub subsets: Option<Vec<EndpointSubset>>,
}
resource!(WatchedEndpoints, "Endpoints", "", "v1", "endpoints");

impl Slim for WatchedEndpoints {
    type Model = Endpoints;
    fn into_model(self) -> Endpoints {
        let mut model = Endpoints {
            metadata: meta(self.metadata),
            subsets: self.subsets,
        };
        model.compact();
        model
    }
}

/// A core/v1 Pod as watched.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct WatchedPod {
    /// Identity.
    #[serde(deserialize_with = "slim_meta")]
    pub metadata: ObjectMeta,
    /// `spec` (host network).
    pub spec: Option<PodSpec>,
    /// `status` (phase, IPs).
    pub status: Option<PodStatus>,
}
resource!(WatchedPod, "Pod", "", "v1", "pods");

impl Slim for WatchedPod {
    type Model = Pod;
    fn into_model(self) -> Pod {
        let mut model = Pod {
            metadata: meta(self.metadata),
            spec: self.spec,
            status: self.status,
        };
        model.compact();
        model
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn noisy_meta() -> serde_json::Value {
        json!({"name": "web", "namespace": "ns", "resourceVersion": "7", "uid": "u1",
               "labels": {"app": "web", "kubernetes.io/service-name": "web"},
               "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}",
                               "service.alpha.kubernetes.io/tolerate-unready-endpoints": "true"},
               "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
               "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "web", "uid": "u0"}],
               "finalizers": ["x"]})
    }

    #[test]
    fn service_keeps_what_dns_reads() {
        let w: WatchedService = serde_json::from_value(json!({
            "metadata": noisy_meta(),
            "spec": {"type": "ClusterIP", "clusterIP": "10.0.0.10", "clusterIPs": ["10.0.0.10"],
                     "selector": {"app": "web"}, "sessionAffinity": "None",
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 30000}]},
            "status": {"loadBalancer": {}}
        }))
        .unwrap();
        assert_eq!(w.metadata.resource_version.as_deref(), Some("7"));
        assert!(w.metadata.managed_fields.is_none() && w.metadata.owner_references.is_none());
        let svc = w.into_model();
        assert_eq!(
            svc.metadata,
            Meta {
                name: Some("web".into()),
                namespace: Some("ns".into()),
                service_name: Some("web".into()),
                tolerate_unready: true,
            }
        );
        let spec = svc.spec.unwrap();
        assert_eq!(spec.cluster_ips, Some(vec!["10.0.0.10".to_string()]));
        assert_eq!(
            spec.ports,
            Some(vec![Port {
                name: Some("http".into()),
                port: Some(80),
                protocol: Some("TCP".into())
            }])
        );
    }

    #[test]
    fn slice_keeps_link_label_and_endpoint_identity() {
        let w: WatchedSlice = serde_json::from_value(json!({
            "metadata": noisy_meta(),
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": ["10.1.0.5", "bogus"], "conditions": {"ready": false, "serving": true},
                           "hostname": "web-0", "nodeName": "n1", "zone": "z",
                           "targetRef": {"kind": "Pod", "name": "web-0", "namespace": "ns", "uid": "p"}}]
        }))
        .unwrap();
        let slice = w.into_model();
        assert_eq!(slice.metadata.service_name.as_deref(), Some("web"));
        assert_eq!(slice.address_type, "IPv4");
        let ep = &slice.endpoints[0];
        assert_eq!(
            ep.addresses,
            ["10.1.0.5".parse::<std::net::IpAddr>().unwrap()]
        );
        assert_eq!(ep.conditions.and_then(|c| c.ready), Some(false));
        assert_eq!(ep.hostname.as_deref(), Some("web-0"));
    }

    #[test]
    fn pod_keeps_ips() {
        let w: WatchedPod = serde_json::from_value(json!({
            "metadata": noisy_meta(),
            "spec": {"hostname": "h", "nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]},
            "status": {"phase": "Running", "podIP": "10.1.0.5", "podIPs": [{"ip": "10.1.0.5"}], "hostIP": "192.0.2.1"}
        }))
        .unwrap();
        let pod = w.into_model();
        let status = pod.status.unwrap();
        assert_eq!(status.pod_ip.as_deref(), Some("10.1.0.5"));
        assert_eq!(status.pod_ips.unwrap()[0].ip, "10.1.0.5");
    }
}
