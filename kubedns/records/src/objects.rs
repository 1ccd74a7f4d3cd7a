//! The input of the projection: every object kubedns watches, as shared immutable values.
//! Both object sources (the Kubernetes API watchers and `--manifests` files) produce this.
//!
//! Also owns reading manifests text ([`from_yaml_documents`]): multi-document YAML as written
//! by hand or by `kubectl get -o yaml` (`kind: List`), parsed with serde-saphyr into
//! k8s-openapi types. Kinds kubedns does not use (Deployments, ConfigMaps, ...) are skipped.
//! Pure: takes text, returns values; reading files is the caller's job.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Endpoints, Namespace, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::Value;

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
            let svc = s
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(crate::SERVICE_NAME_LABEL));
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

/// Why manifests text could not be read. `document` is the 0-based index of the YAML document
/// in the text, `line` the 1-based line where it starts.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ObjectsError {
    /// The document is not valid YAML.
    #[error("document {document} (line {line}): invalid YAML: {reason}")]
    InvalidYaml {
        /// Document index.
        document: usize,
        /// First line of the document.
        line: usize,
        /// Parser message.
        reason: String,
    },
    /// The document (or a `List` item) has no `kind`.
    #[error("document {document} (line {line}): object without kind")]
    MissingKind {
        /// Document index.
        document: usize,
        /// First line of the document.
        line: usize,
    },
    /// A known kind whose fields do not match the Kubernetes schema.
    #[error("document {document} (line {line}): invalid {kind} {name:?}: {reason}")]
    InvalidObject {
        /// Document index.
        document: usize,
        /// First line of the document.
        line: usize,
        /// Object kind.
        kind: String,
        /// `metadata.name`, empty when missing.
        name: String,
        /// Deserializer message.
        reason: String,
    },
}

/// Reads multi-document YAML (documents separated by `---` lines; `kind: List` expanded) into
/// [`ClusterObjects`]. Service, EndpointSlice, Endpoints, Pod and Namespace are kept, other
/// kinds ignored. Empty documents are skipped. The first bad document fails the whole text.
pub fn from_yaml_documents(text: &str) -> Result<ClusterObjects, ObjectsError> {
    let mut out = ClusterObjects::default();
    for (document, (line, doc)) in split_documents(text).into_iter().enumerate() {
        let has_content = doc
            .lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
        if !has_content {
            continue;
        }
        let value: Value = serde_saphyr::from_str(&doc).map_err(|e| ObjectsError::InvalidYaml {
            document,
            line,
            reason: e.to_string(),
        })?;
        if value.is_null() {
            continue;
        }
        add_value(&mut out, value, document, line)?;
    }
    Ok(out)
}

/// Splits on document markers (`---` lines, optionally followed by content, and `...`).
/// Returns `(first line, text)` per document.
fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut docs = vec![(1, String::new())];
    for (i, l) in text.lines().enumerate() {
        let start = l == "---" || l.starts_with("--- ") || l.starts_with("---\t");
        if start || l == "..." {
            docs.push((i + 2, String::new()));
            if start {
                let rest = l.get(3..).unwrap_or("").trim_start();
                if let Some(last) = docs.last_mut()
                    && !rest.is_empty()
                {
                    last.0 = i + 1;
                    last.1.push_str(rest);
                    last.1.push('\n');
                }
            }
            continue;
        }
        if let Some(last) = docs.last_mut() {
            last.1.push_str(l);
            last.1.push('\n');
        }
    }
    docs
}

fn add_value(
    out: &mut ClusterObjects,
    value: Value,
    document: usize,
    line: usize,
) -> Result<(), ObjectsError> {
    let Some(kind) = value
        .get("kind")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return Err(ObjectsError::MissingKind { document, line });
    };
    let name = value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let invalid = |reason: String| ObjectsError::InvalidObject {
        document,
        line,
        kind: kind.clone(),
        name: name.clone(),
        reason,
    };
    match kind.as_str() {
        "List" | "ServiceList" | "EndpointSliceList" | "EndpointsList" | "PodList"
        | "NamespaceList" => {
            let items = match value.get("items") {
                Some(Value::Array(items)) => items.clone(),
                None | Some(Value::Null) => Vec::new(),
                Some(_) => return Err(invalid("items is not a list".into())),
            };
            let item_kind = kind
                .strip_suffix("List")
                .filter(|k| !k.is_empty())
                .map(str::to_string);
            for mut item in items {
                if let (Some(k), Some(obj)) = (&item_kind, item.as_object_mut()) {
                    obj.entry("kind")
                        .or_insert_with(|| Value::String(k.clone()));
                }
                add_value(out, item, document, line)?;
            }
        }
        "Service" => out.services.push(Arc::new(parse(value).map_err(invalid)?)),
        "EndpointSlice" => out
            .endpoint_slices
            .push(Arc::new(parse(value).map_err(invalid)?)),
        "Endpoints" => out.endpoints.push(Arc::new(parse(value).map_err(invalid)?)),
        "Pod" => out.pods.push(Arc::new(parse(value).map_err(invalid)?)),
        "Namespace" => out
            .namespaces
            .push(Arc::new(parse(value).map_err(invalid)?)),
        _ => {}
    }
    Ok(())
}

fn parse<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|e| e.to_string())
}
