//! Builders for the Kubernetes objects tests feed to kubedns, producing k8s-openapi types:
//! `svc("ns", "web").cluster_ip("10.0.0.10").port("http", 80, "TCP")`,
//! `slice_for(&svc).ready("10.1.0.5").hostname("web-0")`, `endpoints_for(&svc)`, `pod`,
//! `namespace`, `config_map`. Builders serialise like the object they build, so
//! `FakeApiServer::create(&builder)` works directly; `.build()` returns the typed object.

use std::borrow::Borrow;
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMap, EndpointAddress, EndpointPort as CorePort, EndpointSubset, Endpoints, Namespace,
    Pod, PodIP, PodStatus, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Serialize, Serializer};

/// The label linking an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The legacy annotation that publishes not-ready endpoints.
pub const TOLERATE_UNREADY: &str = "service.alpha.kubernetes.io/tolerate-unready-endpoints";

fn meta(ns: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(ns.into()),
        ..ObjectMeta::default()
    }
}

macro_rules! builder {
    ($builder:ident, $ty:ty) => {
        impl $builder {
            /// The built object.
            pub fn build(&self) -> $ty {
                self.0.clone()
            }
        }
        impl Borrow<$ty> for $builder {
            fn borrow(&self) -> &$ty {
                &self.0
            }
        }
        impl From<$builder> for $ty {
            fn from(b: $builder) -> $ty {
                b.0
            }
        }
        impl Serialize for $builder {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.0.serialize(s)
            }
        }
    };
}

/// Builds a Service.
#[derive(Debug, Clone)]
pub struct SvcBuilder(pub Service);
builder!(SvcBuilder, Service);

/// A ClusterIP Service with no IP and no ports yet.
pub fn svc(ns: &str, name: &str) -> SvcBuilder {
    SvcBuilder(Service {
        metadata: meta(ns, name),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            ..ServiceSpec::default()
        }),
        status: None,
    })
}

impl SvcBuilder {
    fn spec(&mut self) -> &mut ServiceSpec {
        self.0.spec.get_or_insert_with(ServiceSpec::default)
    }

    /// Sets `clusterIP` and `clusterIPs`.
    pub fn cluster_ip(mut self, ip: &str) -> Self {
        self.spec().cluster_ip = Some(ip.into());
        self.spec().cluster_ips = Some(vec![ip.into()]);
        self
    }

    /// Dual-stack `clusterIPs` (the first is also `clusterIP`).
    pub fn cluster_ips(mut self, ips: &[&str]) -> Self {
        self.spec().cluster_ip = ips.first().map(|s| s.to_string());
        self.spec().cluster_ips = Some(ips.iter().map(|s| s.to_string()).collect());
        self
    }

    /// Headless: `clusterIP: None`.
    pub fn headless(self) -> Self {
        self.cluster_ip("None")
    }

    /// `type: ExternalName` pointing at `host`.
    pub fn external_name(mut self, host: &str) -> Self {
        let spec = self.spec();
        spec.type_ = Some("ExternalName".into());
        spec.external_name = Some(host.into());
        spec.cluster_ip = None;
        spec.cluster_ips = None;
        self
    }

    /// Adds a port (`name` may be empty for an unnamed port); protocol `TCP`, `UDP` or `SCTP`.
    pub fn port(mut self, name: &str, port: i32, protocol: &str) -> Self {
        self.spec()
            .ports
            .get_or_insert_with(Vec::new)
            .push(ServicePort {
                name: (!name.is_empty()).then(|| name.to_string()),
                port,
                protocol: Some(protocol.into()),
                ..ServicePort::default()
            });
        self
    }

    /// `publishNotReadyAddresses: true`.
    pub fn publish_not_ready(mut self) -> Self {
        self.spec().publish_not_ready_addresses = Some(true);
        self
    }

    /// Adds a label.
    pub fn label(mut self, k: &str, v: &str) -> Self {
        self.0
            .metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(k.into(), v.into());
        self
    }

    /// Adds an annotation.
    pub fn annotation(mut self, k: &str, v: &str) -> Self {
        let ann = self
            .0
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new);
        ann.insert(k.into(), v.into());
        self
    }
}

/// Builds a discovery.k8s.io/v1 EndpointSlice.
#[derive(Debug, Clone)]
pub struct SliceBuilder(pub EndpointSlice, bool);

impl SliceBuilder {
    /// The built object.
    pub fn build(&self) -> EndpointSlice {
        self.0.clone()
    }
}

impl Serialize for SliceBuilder {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl From<SliceBuilder> for EndpointSlice {
    fn from(b: SliceBuilder) -> EndpointSlice {
        b.0
    }
}

/// An IPv4 slice named `<svc>-abcde`, labelled for `svc`, with the Service's ports.
pub fn slice_for(svc: &impl Borrow<Service>) -> SliceBuilder {
    let svc: &Service = svc.borrow();
    let ns = svc.metadata.namespace.as_deref().unwrap_or("default");
    let name = svc.metadata.name.as_deref().unwrap_or_default();
    let mut metadata = meta(ns, &format!("{name}-abcde"));
    metadata.labels = Some(BTreeMap::from([(
        SERVICE_NAME_LABEL.to_string(),
        name.to_string(),
    )]));
    let ports = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .map(|ports| {
            ports
                .iter()
                .map(|p| EndpointPort {
                    name: p.name.clone(),
                    port: Some(p.port),
                    protocol: p.protocol.clone(),
                    app_protocol: None,
                })
                .collect()
        });
    SliceBuilder(
        EndpointSlice {
            metadata,
            address_type: "IPv4".into(),
            endpoints: Vec::new(),
            ports,
        },
        false,
    )
}

impl SliceBuilder {
    /// Renames the slice (several slices per Service).
    pub fn name(mut self, name: &str) -> Self {
        self.0.metadata.name = Some(name.into());
        self
    }

    /// `addressType: IPv6`.
    pub fn ipv6(mut self) -> Self {
        self.0.address_type = "IPv6".into();
        self
    }

    fn endpoint(mut self, ip: &str, ready: bool) -> Self {
        self.0.endpoints.push(Endpoint {
            addresses: vec![ip.into()],
            conditions: Some(EndpointConditions {
                ready: Some(ready),
                serving: Some(ready),
                terminating: Some(false),
            }),
            ..Endpoint::default()
        });
        self
    }

    /// Adds a ready endpoint.
    pub fn ready(self, ip: &str) -> Self {
        self.endpoint(ip, true)
    }

    /// Adds a not-ready endpoint.
    pub fn not_ready(self, ip: &str) -> Self {
        self.endpoint(ip, false)
    }

    /// Sets `hostname` on the last endpoint added.
    pub fn hostname(mut self, host: &str) -> Self {
        if let Some(ep) = self.0.endpoints.last_mut() {
            ep.hostname = Some(host.into());
        }
        self
    }

    /// Adds a port; the first call replaces the ports copied from the Service.
    pub fn port(mut self, name: &str, port: i32, protocol: &str) -> Self {
        let ports = self.0.ports.get_or_insert_with(Vec::new);
        if !self.1 {
            ports.clear();
            self.1 = true;
        }
        ports.push(EndpointPort {
            name: (!name.is_empty()).then(|| name.to_string()),
            port: Some(port),
            protocol: Some(protocol.into()),
            app_protocol: None,
        });
        self
    }
}

/// Builds core/v1 Endpoints (one subset).
#[derive(Debug, Clone)]
pub struct EndpointsBuilder(pub Endpoints);
builder!(EndpointsBuilder, Endpoints);

/// Endpoints named like `svc`, with the Service's ports and no addresses yet.
pub fn endpoints_for(svc: &impl Borrow<Service>) -> EndpointsBuilder {
    let svc: &Service = svc.borrow();
    let ns = svc.metadata.namespace.as_deref().unwrap_or("default");
    let name = svc.metadata.name.as_deref().unwrap_or_default();
    let ports = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .map(|ports| {
            ports
                .iter()
                .map(|p| CorePort {
                    name: p.name.clone(),
                    port: p.port,
                    protocol: p.protocol.clone(),
                    app_protocol: None,
                })
                .collect()
        });
    EndpointsBuilder(Endpoints {
        metadata: meta(ns, name),
        subsets: Some(vec![EndpointSubset {
            ports,
            ..EndpointSubset::default()
        }]),
    })
}

impl EndpointsBuilder {
    fn subset(&mut self) -> &mut EndpointSubset {
        let subsets = self.0.subsets.get_or_insert_with(Vec::new);
        if subsets.is_empty() {
            subsets.push(EndpointSubset::default());
        }
        &mut subsets[0]
    }

    /// Adds a ready address.
    pub fn ready(mut self, ip: &str) -> Self {
        let addr = EndpointAddress {
            ip: ip.into(),
            ..EndpointAddress::default()
        };
        self.subset()
            .addresses
            .get_or_insert_with(Vec::new)
            .push(addr);
        self
    }

    /// Adds a not-ready address.
    pub fn not_ready(mut self, ip: &str) -> Self {
        let addr = EndpointAddress {
            ip: ip.into(),
            ..EndpointAddress::default()
        };
        self.subset()
            .not_ready_addresses
            .get_or_insert_with(Vec::new)
            .push(addr);
        self
    }

    /// Sets `hostname` on the last ready address.
    pub fn hostname(mut self, host: &str) -> Self {
        if let Some(a) = self.subset().addresses.as_mut().and_then(|a| a.last_mut()) {
            a.hostname = Some(host.into());
        }
        self
    }
}

/// Builds a Pod.
#[derive(Debug, Clone)]
pub struct PodBuilder(pub Pod);
builder!(PodBuilder, Pod);

/// A Pod with no IP yet.
pub fn pod(ns: &str, name: &str) -> PodBuilder {
    PodBuilder(Pod {
        metadata: meta(ns, name),
        ..Pod::default()
    })
}

impl PodBuilder {
    /// Adds a pod IP (`status.podIP` is the first).
    pub fn ip(mut self, ip: &str) -> Self {
        let status = self.0.status.get_or_insert_with(PodStatus::default);
        status.phase = Some("Running".into());
        status.pod_ip.get_or_insert_with(|| ip.to_string());
        status
            .pod_ips
            .get_or_insert_with(Vec::new)
            .push(PodIP { ip: ip.into() });
        self
    }
}

/// A Namespace.
pub fn namespace(name: &str) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

/// A ConfigMap with `data`.
pub fn config_map(ns: &str, name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: meta(ns, name),
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        ..ConfigMap::default()
    }
}

/// YAML of a headless Service `default/big` with one EndpointSlice of `n` ready IPv4
/// endpoints (`10.1.x.y`): its A answer is about 16 bytes per endpoint, for tests of big
/// answers (truncation, TCP, slow readers).
pub fn big_headless_yaml(n: usize) -> String {
    let mut s = String::from(
        "apiVersion: v1\nkind: Service\nmetadata: {name: big, namespace: default}\n\
         spec: {clusterIP: None, clusterIPs: [None], ports: [{name: http, port: 80, protocol: TCP}]}\n\
         ---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n\
         metadata: {name: big-1, namespace: default, labels: {kubernetes.io/service-name: big}}\n\
         addressType: IPv4\nports: [{name: http, port: 80, protocol: TCP}]\nendpoints:\n",
    );
    for i in 0..n {
        s.push_str(&format!(
            "- addresses: [10.1.{}.{}]\n  conditions: {{ready: true}}\n",
            i / 250,
            i % 250 + 1
        ));
    }
    s
}
