//! The compact object model: the few fields of Services, EndpointSlices, Endpoints, Pods and
//! Namespaces that the records read, and nothing else. Both object sources build these
//! directly from the API's JSON or the manifests' YAML (serde, field names as in the
//! Kubernetes API; unknown fields are skipped while parsing, never stored), so no source keeps
//! full k8s-openapi values. Labels shrink to the EndpointSlice's Service link, annotations to
//! the tolerate-unready flag, endpoint addresses to parsed IPs (unparsable ones are dropped:
//! they could not become records).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Label linking an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// Legacy annotation that publishes not-ready addresses (spec §2.4 definition of ready).
pub const TOLERATE_UNREADY: &str = "service.alpha.kubernetes.io/tolerate-unready-endpoints";

/// `metadata`, reduced to what the zone reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Meta {
    /// `metadata.name`.
    pub name: Option<String>,
    /// `metadata.namespace`.
    pub namespace: Option<String>,
    /// Label `kubernetes.io/service-name` (EndpointSlices).
    #[serde(rename = "labels", deserialize_with = "service_name_label")]
    pub service_name: Option<String>,
    /// Annotation `service.alpha.kubernetes.io/tolerate-unready-endpoints: "true"`.
    #[serde(rename = "annotations", deserialize_with = "tolerate_unready")]
    pub tolerate_unready: bool,
}

impl Meta {
    /// From the parts of a full `metadata` (the kube source parses k8s-openapi's `ObjectMeta`).
    pub fn from_parts(
        name: Option<String>,
        namespace: Option<String>,
        labels: Option<&BTreeMap<String, String>>,
        annotations: Option<&BTreeMap<String, String>>,
    ) -> Self {
        Meta {
            name,
            namespace,
            service_name: labels.and_then(|l| l.get(SERVICE_NAME_LABEL)).cloned(),
            tolerate_unready: annotations
                .and_then(|a| a.get(TOLERATE_UNREADY))
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        }
    }
}

/// A core/v1 Service.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Service {
    /// Name, namespace, tolerate-unready.
    pub metadata: Meta,
    /// `spec`.
    pub spec: Option<ServiceSpec>,
}

/// The fields of a Service's `spec` that make records.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ServiceSpec {
    /// `clusterIP` (`None` for headless).
    #[serde(rename = "clusterIP")]
    pub cluster_ip: Option<String>,
    /// `clusterIPs` (dual stack).
    #[serde(rename = "clusterIPs")]
    pub cluster_ips: Option<Vec<String>>,
    /// `type`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// `externalName`.
    pub external_name: Option<String>,
    /// `ports`.
    pub ports: Option<Vec<Port>>,
    /// `publishNotReadyAddresses`.
    pub publish_not_ready_addresses: Option<bool>,
}

/// A port of a Service, an EndpointSlice or an Endpoints subset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Port {
    /// `name`.
    pub name: Option<String>,
    /// `port` (a Service port without one is skipped).
    pub port: Option<i32>,
    /// `protocol` (TCP when absent).
    pub protocol: Option<String>,
}

/// A discovery.k8s.io/v1 EndpointSlice.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EndpointSlice {
    /// Name, namespace, Service link.
    pub metadata: Meta,
    /// `addressType` (IPv4, IPv6; FQDN slices make no records).
    pub address_type: String,
    /// `endpoints`.
    #[serde(deserialize_with = "null_as_default")]
    pub endpoints: Vec<Endpoint>,
    /// `ports`.
    pub ports: Option<Vec<Port>>,
}

/// One endpoint of a slice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Endpoint {
    /// `addresses`, parsed.
    #[serde(deserialize_with = "ip_list")]
    pub addresses: Vec<IpAddr>,
    /// `conditions`.
    pub conditions: Option<EndpointConditions>,
    /// `hostname`.
    pub hostname: Option<String>,
}

/// `conditions` of an endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct EndpointConditions {
    /// `ready` (absent means ready).
    pub ready: Option<bool>,
}

/// A core/v1 Endpoints object.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Endpoints {
    /// Name (the Service's) and namespace.
    pub metadata: Meta,
    /// `subsets`.
    pub subsets: Option<Vec<EndpointSubset>>,
}

/// One subset of an Endpoints object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EndpointSubset {
    /// `addresses` (ready).
    pub addresses: Option<Vec<EndpointAddress>>,
    /// `notReadyAddresses`.
    pub not_ready_addresses: Option<Vec<EndpointAddress>>,
    /// `ports`.
    pub ports: Option<Vec<Port>>,
}

/// An address of an Endpoints subset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct EndpointAddress {
    /// `ip`.
    pub ip: String,
    /// `hostname`.
    pub hostname: Option<String>,
}

/// A core/v1 Pod (for `--pods=verified` and autopath).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Pod {
    /// Name and namespace.
    pub metadata: Meta,
    /// `spec` (only whether it uses the host's network).
    pub spec: Option<PodSpec>,
    /// `status`.
    pub status: Option<PodStatus>,
}

/// What DNS reads of a Pod's spec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodSpec {
    /// `hostNetwork`: the Pod's IP is the node's.
    pub host_network: Option<bool>,
}

/// The phase and IPs of a Pod.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodStatus {
    /// `phase` (`Succeeded` and `Failed` Pods no longer own their IP).
    pub phase: Option<String>,
    /// `podIP`.
    #[serde(rename = "podIP")]
    pub pod_ip: Option<String>,
    /// `podIPs`.
    #[serde(rename = "podIPs")]
    pub pod_ips: Option<Vec<PodIp>>,
}

/// One entry of `podIPs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PodIp {
    /// `ip`.
    pub ip: String,
}

/// A Namespace (only its name matters: `<ns>.svc.<zone>` exists).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Namespace {
    /// Name.
    pub metadata: Meta,
}

fn null_as_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Reads a string map keeping the value of one key only; the rest is skipped unparsed.
struct OneKey(&'static str);

impl<'de> Visitor<'de> for OneKey {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of strings")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == self.0 {
                found = map.next_value::<Option<String>>()?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

fn service_name_label<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_option(OneKey(SERVICE_NAME_LABEL))
}

fn tolerate_unready<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let value = d.deserialize_option(OneKey(TOLERATE_UNREADY))?;
    Ok(value.is_some_and(|v| v.eq_ignore_ascii_case("true")))
}

/// A list of address strings, kept as the IPs that parse.
fn ip_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpAddr>, D::Error> {
    struct Ips;
    impl<'de> Visitor<'de> for Ips {
        type Value = Vec<IpAddr>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of IP addresses")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_seq(self)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(1);
            while let Some(s) = seq.next_element::<std::borrow::Cow<'de, str>>()? {
                out.extend(crate::name::parse_object_ip(&s));
            }
            out.shrink_to_fit();
            Ok(out)
        }
    }
    d.deserialize_option(Ips)
}
