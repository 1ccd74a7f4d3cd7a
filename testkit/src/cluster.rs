//! A generated cluster as `kubectl get svc,endpointslices -A` prints it: Services and their
//! EndpointSlices with the usual metadata (labels, annotations with a last-applied
//! configuration, managedFields, ownerReferences, per-endpoint targetRef, nodeName, zone),
//! as one `kind: List` in YAML (`-o yaml`) or JSON (`-o json`), or as objects for the fake API
//! server. Service `i` is `svc-<i % 100>` in namespace `ns-<i / 100>`; the first
//! `headless_percent` of every hundred Services are headless; endpoint `e` of Service `i` has
//! address `10.128.0.0 + i * endpoints + e`; ClusterIP `10.96.0.0 + i + 1`.

use std::fmt::Write;
use std::net::Ipv4Addr;

use serde_json::{Value, json};

/// Sizes of a generated cluster.
#[derive(Debug, Clone, Copy)]
pub struct Cluster {
    /// Number of Services.
    pub services: u32,
    /// Ready endpoints per Service (one EndpointSlice each).
    pub endpoints: u32,
    /// Headless Services per hundred.
    pub headless_percent: u32,
}

impl Cluster {
    /// Namespace and name of Service `i`.
    pub fn name(i: u32) -> (String, String) {
        (format!("ns-{}", i / 100), format!("svc-{}", i % 100))
    }

    /// Whether Service `i` is headless.
    pub fn headless(&self, i: u32) -> bool {
        i % 100 < self.headless_percent
    }

    /// The cluster IP of Service `i` (when not headless).
    pub fn cluster_ip(i: u32) -> Ipv4Addr {
        Ipv4Addr::from(0x0a60_0000 + i + 1)
    }

    /// The address of endpoint `e` of Service `i`.
    pub fn endpoint_ip(&self, i: u32, e: u32) -> Ipv4Addr {
        Ipv4Addr::from(0x0a80_0000 + i * self.endpoints + e)
    }

    /// Service `i` as the API returns it.
    pub fn service(&self, i: u32) -> Value {
        let (ns, name) = Self::name(i);
        let ip = match self.headless(i) {
            true => "None".to_string(),
            false => Self::cluster_ip(i).to_string(),
        };
        let last_applied = format!(
            "{{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{{\"name\":\"{name}\",\"namespace\":\"{ns}\"}},\"spec\":{{\"ports\":[{{\"name\":\"http\",\"port\":80}}],\"selector\":{{\"app\":\"{name}\"}}}}}}\n"
        );
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {
                "name": name, "namespace": ns, "uid": format!("5b1c0f7e-0000-4000-8000-{i:012}"),
                "resourceVersion": format!("{}", 1000 + i), "creationTimestamp": "2026-01-01T00:00:00Z",
                "labels": {"app": name, "app.kubernetes.io/part-of": "bench", "team": "dns"},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": last_applied},
                "managedFields": [{"apiVersion": "v1", "fieldsType": "FieldsV1", "manager": "kubectl-client-side-apply",
                    "operation": "Update", "time": "2026-01-01T00:00:00Z",
                    "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}},
                                 "f:spec": {"f:ports": {".": {}, "k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:name": {}, "f:port": {}}}}}}]
            },
            "spec": {
                "clusterIP": ip, "clusterIPs": [ip], "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
                "selector": {"app": name}, "sessionAffinity": "None", "type": "ClusterIP"
            },
            "status": {"loadBalancer": {}}
        })
    }

    /// The EndpointSlice of Service `i`.
    pub fn slice(&self, i: u32) -> Value {
        let (ns, name) = Self::name(i);
        let endpoints: Vec<Value> = (0..self.endpoints)
            .map(|e| {
                let pod = format!("{name}-{e}");
                let mut ep = json!({
                    "addresses": [self.endpoint_ip(i, e).to_string()],
                    "conditions": {"ready": true, "serving": true, "terminating": false},
                    "nodeName": format!("node-{}", e % 50), "zone": "zone-a",
                    "targetRef": {"kind": "Pod", "name": pod, "namespace": ns,
                                  "uid": format!("9d3e1a2b-0000-4000-8000-{:012}", i * self.endpoints + e)}
                });
                if self.headless(i) {
                    ep["hostname"] = json!(pod);
                }
                ep
            })
            .collect();
        json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "addressType": "IPv4",
            "endpoints": endpoints,
            "metadata": {
                "name": format!("{name}-abcde"), "namespace": ns, "generateName": format!("{name}-"),
                "uid": format!("7a2b3c4d-0000-4000-8000-{i:012}"), "resourceVersion": format!("{}", 50_000 + i),
                "creationTimestamp": "2026-01-01T00:00:00Z", "generation": 1,
                "labels": {"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                           "kubernetes.io/service-name": name, "app": name},
                "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": "2026-01-01T00:00:00Z"},
                "ownerReferences": [{"apiVersion": "v1", "blockOwnerDeletion": true, "controller": true,
                                     "kind": "Service", "name": name, "uid": format!("5b1c0f7e-0000-4000-8000-{i:012}")}]
            },
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]
        })
    }

    /// Every object: each Service followed by its slice.
    pub fn objects(&self) -> impl Iterator<Item = Value> + '_ {
        (0..self.services).flat_map(|i| [self.service(i), self.slice(i)])
    }

    /// `kubectl get -o json`: one `List`, pretty-printed.
    pub fn kubectl_json(&self) -> String {
        let list = json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
                          "items": self.objects().collect::<Vec<_>>()});
        serde_json::to_string_pretty(&list).unwrap()
    }

    /// `kubectl get -o yaml`: one `List` in block style, keys sorted, sequences not indented.
    pub fn kubectl_yaml(&self) -> String {
        let mut out = String::from("apiVersion: v1\nitems:\n");
        for item in self.objects() {
            yaml_seq_item(&mut out, &item, 0);
        }
        out.push_str("kind: List\nmetadata:\n  resourceVersion: \"\"\n");
        out
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => serde_json::to_string(s).unwrap(),
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Array(a) if a.is_empty() => "[]".into(),
        other => other.to_string(),
    }
}

fn is_block(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    }
}

/// `- ` item at `indent`; a mapping item puts its first key on the dash line.
fn yaml_seq_item(out: &mut String, v: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) if !m.is_empty() => {
            let mut first = true;
            for (k, val) in m {
                let lead = if first {
                    format!("{pad}- ")
                } else {
                    format!("{pad}  ")
                };
                first = false;
                yaml_entry(out, &lead, k, val, indent + 2);
            }
        }
        _ => writeln!(out, "{pad}- {}", scalar(v)).unwrap(),
    }
}

fn yaml_entry(out: &mut String, lead: &str, key: &str, v: &Value, indent: usize) {
    let key = if key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    {
        key.to_string()
    } else {
        serde_json::to_string(key).unwrap()
    };
    if !is_block(v) {
        writeln!(out, "{lead}{key}: {}", scalar(v)).unwrap();
        return;
    }
    writeln!(out, "{lead}{key}:").unwrap();
    match v {
        Value::Object(m) => {
            let pad = " ".repeat(indent + 2);
            for (k, val) in m {
                yaml_entry(out, &pad, k, val, indent + 2);
            }
        }
        Value::Array(a) => a.iter().for_each(|item| yaml_seq_item(out, item, indent)),
        _ => {}
    }
}
