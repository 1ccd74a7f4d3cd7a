//! Reducing watched objects to what the projection reads, before they are stored
//! (`.modify()` on the watcher stream). managedFields, annotations other than the ones kube-dns
//! honours, labels other than the EndpointSlice service link, owner references, statuses and
//! spec fields DNS never looks at are dropped (k8s-openapi structs stay their size: an
//! `Endpoint` is 352 bytes, so 100,000 endpoints still take about 55 MiB).
//! Vectors are shrunk to their length (serde grows them by doubling while deserialising).
//! Pure functions; what is kept is pinned by the tests below.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    EndpointAddress, Endpoints, ObjectReference, Pod, PodSpec, PodStatus, Service, ServicePort,
    ServiceSpec,
};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Annotations the projection reads (kube-dns §2.4: publish not-ready endpoints).
pub const KEPT_ANNOTATIONS: &[&str] = &["service.alpha.kubernetes.io/tolerate-unready-endpoints"];
/// The label linking an EndpointSlice to its Service.
pub use kubedns_records::SERVICE_NAME_LABEL;

fn keep_keys(
    map: Option<BTreeMap<String, String>>,
    keep: &[&str],
) -> Option<BTreeMap<String, String>> {
    let kept: BTreeMap<String, String> = map?
        .into_iter()
        .filter(|(k, _)| keep.contains(&k.as_str()))
        .collect();
    (!kept.is_empty()).then_some(kept)
}

fn shrink<T>(mut v: Vec<T>) -> Vec<T> {
    v.shrink_to_fit();
    v
}

/// Keeps name, namespace, uid, resourceVersion and the listed labels and annotations.
fn meta(m: &mut ObjectMeta, labels: &[&str], annotations: &[&str]) {
    *m = ObjectMeta {
        name: m.name.take(),
        namespace: m.namespace.take(),
        uid: m.uid.take(),
        resource_version: m.resource_version.take(),
        deletion_timestamp: m.deletion_timestamp.take(),
        labels: keep_keys(m.labels.take(), labels),
        annotations: keep_keys(m.annotations.take(), annotations),
        ..ObjectMeta::default()
    };
}

fn target_ref(r: Option<ObjectReference>) -> Option<ObjectReference> {
    r.map(|r| ObjectReference {
        kind: r.kind,
        name: r.name,
        namespace: r.namespace,
        ..ObjectReference::default()
    })
}

/// Service: IPs, type, external name, ports, publishNotReadyAddresses, tolerate-unready.
pub fn service(svc: &mut Service) {
    meta(&mut svc.metadata, &[], KEPT_ANNOTATIONS);
    svc.status = None;
    svc.spec = svc.spec.take().map(|s| ServiceSpec {
        cluster_ip: s.cluster_ip,
        cluster_ips: s.cluster_ips.map(shrink),
        external_name: s.external_name,
        ip_families: s.ip_families,
        publish_not_ready_addresses: s.publish_not_ready_addresses,
        type_: s.type_,
        ports: s
            .ports
            .map(|ports| {
                ports
                    .into_iter()
                    .map(|p| ServicePort {
                        name: p.name,
                        port: p.port,
                        protocol: p.protocol,
                        target_port: p.target_port,
                        ..ServicePort::default()
                    })
                    .collect::<Vec<_>>()
            })
            .map(shrink),
        ..ServiceSpec::default()
    });
}

/// EndpointSlice: the service-name label, address type, ports, and per endpoint its
/// addresses, conditions, hostname and target reference (kind, namespace, name).
pub fn endpoint_slice(slice: &mut EndpointSlice) {
    meta(&mut slice.metadata, &[SERVICE_NAME_LABEL], &[]);
    slice.endpoints.shrink_to_fit();
    if let Some(ports) = &mut slice.ports {
        ports.shrink_to_fit();
    }
    for ep in &mut slice.endpoints {
        *ep = Endpoint {
            addresses: shrink(std::mem::take(&mut ep.addresses)),
            conditions: ep.conditions.take(),
            hostname: ep.hostname.take(),
            target_ref: target_ref(ep.target_ref.take()),
            ..Endpoint::default()
        };
    }
}

fn address(a: &mut EndpointAddress) {
    *a = EndpointAddress {
        ip: std::mem::take(&mut a.ip),
        hostname: a.hostname.take(),
        target_ref: target_ref(a.target_ref.take()),
        node_name: None,
    };
}

/// core/v1 Endpoints: subsets with addresses (ip, hostname, target reference) and ports.
pub fn endpoints(eps: &mut Endpoints) {
    meta(&mut eps.metadata, &[], &[]);
    for subset in eps.subsets.iter_mut().flatten() {
        subset.addresses.iter_mut().flatten().for_each(address);
        subset
            .not_ready_addresses
            .iter_mut()
            .flatten()
            .for_each(address);
    }
}

/// Pod: namespace, name, hostname, subdomain, host network, phase and IPs (for
/// `--pods=verified` and autopath).
pub fn pod(pod: &mut Pod) {
    meta(&mut pod.metadata, &[], &[]);
    pod.spec = pod.spec.take().map(|s| PodSpec {
        hostname: s.hostname,
        subdomain: s.subdomain,
        host_network: s.host_network,
        ..PodSpec::default()
    });
    pod.status = pod.status.take().map(|s| PodStatus {
        phase: s.phase,
        pod_ip: s.pod_ip,
        pod_ips: s.pod_ips,
        ..PodStatus::default()
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
    use serde_json::json;

    fn noisy_meta() -> serde_json::Value {
        json!({"name": "web", "namespace": "ns", "resourceVersion": "7", "uid": "u1",
               "labels": {"app": "web", "kubernetes.io/service-name": "web"},
               "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}",
                               "service.alpha.kubernetes.io/tolerate-unready-endpoints": "true"},
               "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "web", "uid": "u0"}],
               "finalizers": ["x"]})
    }

    #[test]
    fn service_keeps_what_dns_reads() {
        let mut svc: Service = serde_json::from_value(json!({
            "metadata": noisy_meta(),
            "spec": {"type": "ClusterIP", "clusterIP": "10.0.0.10", "clusterIPs": ["10.0.0.10"],
                     "selector": {"app": "web"}, "sessionAffinity": "None",
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 30000}]},
            "status": {"loadBalancer": {}}
        }))
        .unwrap();
        svc.metadata.managed_fields = Some(vec![ManagedFieldsEntry::default()]);
        service(&mut svc);
        let got = serde_json::to_value(&svc).unwrap();
        assert_eq!(
            got,
            json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "web", "namespace": "ns", "resourceVersion": "7", "uid": "u1",
                             "annotations": {"service.alpha.kubernetes.io/tolerate-unready-endpoints": "true"}},
                "spec": {"type": "ClusterIP", "clusterIP": "10.0.0.10", "clusterIPs": ["10.0.0.10"],
                         "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]}
            })
        );
    }

    #[test]
    fn slice_keeps_link_label_and_endpoint_identity() {
        let mut slice: EndpointSlice = serde_json::from_value(json!({
            "metadata": noisy_meta(),
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": ["10.1.0.5"], "conditions": {"ready": true},
                           "hostname": "web-0", "nodeName": "n1", "zone": "z",
                           "targetRef": {"kind": "Pod", "name": "web-0", "namespace": "ns", "uid": "p", "resourceVersion": "3"}}]
        }))
        .unwrap();
        endpoint_slice(&mut slice);
        let got = serde_json::to_value(&slice).unwrap();
        assert_eq!(
            got,
            json!({
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": "web", "namespace": "ns", "resourceVersion": "7", "uid": "u1",
                             "labels": {"kubernetes.io/service-name": "web"}},
                "addressType": "IPv4",
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                "endpoints": [{"addresses": ["10.1.0.5"], "conditions": {"ready": true}, "hostname": "web-0",
                               "targetRef": {"kind": "Pod", "name": "web-0", "namespace": "ns"}}]
            })
        );
    }

    #[test]
    fn pod_keeps_ips_and_dns_names() {
        let mut p: Pod = serde_json::from_value(json!({
            "metadata": noisy_meta(),
            "spec": {"hostname": "h", "subdomain": "s", "nodeName": "n1",
                     "containers": [{"name": "c", "image": "busybox"}]},
            "status": {"phase": "Running", "podIP": "10.1.0.5", "podIPs": [{"ip": "10.1.0.5"}], "hostIP": "192.0.2.1"}
        }))
        .unwrap();
        pod(&mut p);
        let got = serde_json::to_value(&p).unwrap();
        assert_eq!(
            got["spec"],
            json!({"hostname": "h", "subdomain": "s", "containers": []})
        );
        assert_eq!(
            got["status"],
            json!({"phase": "Running", "podIP": "10.1.0.5", "podIPs": [{"ip": "10.1.0.5"}]})
        );
        assert!(got["metadata"].get("labels").is_none());
    }
}
