//! Reading manifests text: multi-document YAML as written by hand or by `kubectl get -o yaml`
//! (`kind: List`), and JSON as `kubectl get -o json` prints it. Each document is parsed in
//! one pass straight into the compact model: no document tree is ever built, and the fields
//! the zone does not read are skipped by the parser, so a 40 MiB `kind: List` costs what its
//! Services and endpoints cost, not what its text and metadata would.
//! A document in the block style kubectl writes goes through the fast reader (`fast.rs`);
//! anything else, and any document it is unsure of, through the general YAML parser.
//!
//! The YAML parser's resource budget stays on against alias expansion and deep nesting; its
//! caps on node and event counts, which only measure the size of an honest file, scale with
//! the input instead of stopping at 250,000 nodes. Pure: takes text, returns values.

use serde::Deserialize;

use super::ClusterObjects;
use super::compact::Compact;
use super::model::{
    Endpoint, EndpointSlice, EndpointSubset, Endpoints, Meta, Namespace, Pod, PodSpec, PodStatus,
    Port, Service, ServiceSpec,
};
use std::sync::Arc;

/// Why manifests text could not be read. `document` is the 0-based index of the YAML document
/// in the text, `line` the 1-based line where it starts.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ObjectsError {
    /// The document is not valid YAML (or JSON).
    #[error("document {document} (line {line}): invalid YAML: {reason}")]
    InvalidYaml {
        /// Document index.
        document: usize,
        /// First line of the document.
        line: usize,
        /// Parser message, with the position inside the document.
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

/// Any object of a manifest, or a List of them: the union of the fields of every kind we
/// keep, so one pass reads any of them whatever the order of its keys (`kind` may come last).
#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct Item {
    api_version: Option<String>,
    kind: Option<String>,
    pub(super) metadata: Meta,
    spec: Option<ItemSpec>,
    status: Option<PodStatus>,
    address_type: Option<String>,
    #[serde(deserialize_with = "null_as_empty")]
    endpoints: Vec<Endpoint>,
    ports: Option<Vec<Port>>,
    subsets: Option<Vec<EndpointSubset>>,
    pub(super) items: Option<Vec<Item>>,
}

/// A Service's spec, or the one field of a Pod's spec that DNS reads. The fields of
/// [`ServiceSpec`] are spelled out rather than `#[serde(flatten)]`ed: flatten buffers every
/// key of every spec (selectors included) into a generic tree before reading it, which made
/// a 10,000-Service List markedly slower to read.
#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ItemSpec {
    #[serde(rename = "clusterIP")]
    cluster_ip: Option<String>,
    #[serde(rename = "clusterIPs")]
    cluster_ips: Option<Vec<String>>,
    #[serde(rename = "type")]
    type_: Option<String>,
    external_name: Option<String>,
    ports: Option<Vec<Port>>,
    publish_not_ready_addresses: Option<bool>,
    host_network: Option<bool>,
}

impl ItemSpec {
    fn service(self) -> ServiceSpec {
        ServiceSpec {
            cluster_ip: self.cluster_ip,
            cluster_ips: self.cluster_ips,
            type_: self.type_,
            external_name: self.external_name,
            ports: self.ports,
            publish_not_ready_addresses: self.publish_not_ready_addresses,
        }
    }
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Endpoint>, D::Error> {
    Ok(Option::<Vec<Endpoint>>::deserialize(d)?.unwrap_or_default())
}

/// Just enough of a document to name it in an error.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Header {
    kind: Option<String>,
    metadata: Option<HeaderMeta>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct HeaderMeta {
    name: Option<String>,
}

pub(super) fn yaml_options(len: usize) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    // An honest manifest has at most a few nodes and events per byte.
    budget.max_nodes = budget.max_nodes.max(len);
    budget.max_events = budget.max_events.max(len.saturating_mul(2));
    budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(len);
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

/// Reads multi-document YAML (documents separated by `---` lines; `kind: List` expanded) or
/// JSON (one or more objects) into [`ClusterObjects`]. Service, EndpointSlice, Endpoints, Pod
/// and Namespace are kept, other kinds ignored. Empty documents are skipped. The first bad
/// document fails the whole text.
pub fn from_yaml_documents(text: &str) -> Result<ClusterObjects, ObjectsError> {
    from_yaml_documents_on(text, 1)
}

/// [`from_yaml_documents`], reading the entries of a big `kind: List` on up to `threads`
/// threads (`list.rs`); the result, errors included, is the same.
pub fn from_yaml_documents_on(text: &str, threads: usize) -> Result<ClusterObjects, ObjectsError> {
    let mut out = ClusterObjects::default();
    if text.trim_start().starts_with('{') {
        read_json(text, &mut out)?;
        return Ok(out);
    }
    for (document, (line, doc)) in split_documents(text).enumerate() {
        let has_content = doc
            .lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
        if !has_content {
            continue;
        }
        if threads > 1
            && doc.len() >= super::list::MIN_SPLIT_BYTES
            && let Some(item) = read_list(doc, threads)
        {
            add(&mut out, item, None, document, line)?;
            continue;
        }
        if let Ok(item) = super::fast::from_str::<Item>(doc) {
            add(&mut out, item, None, document, line)?;
            continue;
        }
        let parsed: Result<Option<Item>, _> =
            serde_saphyr::from_str_with_options(doc, yaml_options(doc.len()));
        let item = match parsed {
            Ok(Some(item)) => item,
            Ok(None) => continue,
            Err(e) => {
                let header = serde_saphyr::from_str_with_options::<Header>(doc, yaml_options(0));
                return Err(failed(header.ok(), e.to_string(), document, line));
            }
        };
        add(&mut out, item, None, document, line)?;
    }
    Ok(out)
}

/// A List document read by [`super::list::read`]: its head with the entries put back.
fn read_list(doc: &str, threads: usize) -> Option<Item> {
    let list = super::list::read(doc, threads)?;
    let head = serde_saphyr::from_str_with_options::<Option<Item>>(&list.head, yaml_options(0));
    let mut head = head.ok()??;
    if head.items.is_some() {
        return None;
    }
    head.items = Some(list.items);
    Some(head)
}

fn read_json(text: &str, out: &mut ClusterObjects) -> Result<(), ObjectsError> {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Item>();
    let mut document = 0;
    loop {
        let line = 1 + text
            .get(..stream.byte_offset())
            .map_or(0, |t| t.matches('\n').count());
        match stream.next() {
            None => return Ok(()),
            Some(Ok(item)) => add(out, item, None, document, line)?,
            Some(Err(e)) => {
                let rest = text.get(stream.byte_offset()..).unwrap_or("");
                let header = serde_json::Deserializer::from_str(rest)
                    .into_iter::<Header>()
                    .next()
                    .and_then(Result::ok);
                return Err(failed(header, e.to_string(), document, line));
            }
        }
        document += 1;
    }
}

/// The error for a document that did not parse: a schema error when its header parses (the
/// text is valid, a field is not), else a syntax error.
fn failed(header: Option<Header>, reason: String, document: usize, line: usize) -> ObjectsError {
    match header {
        Some(Header {
            kind: Some(kind),
            metadata,
        }) => ObjectsError::InvalidObject {
            document,
            line,
            kind,
            name: metadata.and_then(|m| m.name).unwrap_or_default(),
            reason,
        },
        Some(Header { kind: None, .. }) => ObjectsError::MissingKind { document, line },
        None => ObjectsError::InvalidYaml {
            document,
            line,
            reason,
        },
    }
}

/// The API version each kept kind must have (when given).
fn api_version(kind: &str) -> Option<&'static str> {
    match kind {
        "Service" | "Endpoints" | "Pod" | "Namespace" => Some("v1"),
        "EndpointSlice" => Some("discovery.k8s.io/v1"),
        _ => None,
    }
}

fn add(
    out: &mut ClusterObjects,
    item: Item,
    list_kind: Option<&str>,
    document: usize,
    line: usize,
) -> Result<(), ObjectsError> {
    let Some(kind) = item.kind.as_deref().or(list_kind).map(str::to_string) else {
        return Err(ObjectsError::MissingKind { document, line });
    };
    let name = item.metadata.name.clone().unwrap_or_default();
    let invalid = |reason: String| ObjectsError::InvalidObject {
        document,
        line,
        kind: kind.clone(),
        name: name.clone(),
        reason,
    };
    if let (Some(want), Some(got)) = (api_version(&kind), item.api_version.as_deref())
        && want != got
    {
        return Err(invalid(format!("apiVersion {got:?}, expected {want:?}")));
    }
    let Item {
        metadata,
        spec,
        status,
        address_type,
        endpoints,
        ports,
        subsets,
        items,
        ..
    } = item;
    match kind.as_str() {
        "List" | "ServiceList" | "EndpointSliceList" | "EndpointsList" | "PodList"
        | "NamespaceList" => {
            let item_kind = kind.strip_suffix("List").filter(|k| !k.is_empty());
            for entry in items.into_iter().flatten() {
                add(out, entry, item_kind, document, line)?;
            }
        }
        "Service" => out.services.push(compacted(Service {
            metadata,
            spec: spec.map(ItemSpec::service),
        })),
        "EndpointSlice" => {
            let Some(address_type) = address_type else {
                return Err(invalid("missing field `addressType`".into()));
            };
            out.endpoint_slices.push(compacted(EndpointSlice {
                metadata,
                address_type,
                endpoints,
                ports,
            }));
        }
        "Endpoints" => out
            .endpoints
            .push(compacted(Endpoints { metadata, subsets })),
        "Pod" => out.pods.push(compacted(Pod {
            metadata,
            spec: spec.map(|s| PodSpec {
                host_network: s.host_network,
            }),
            status,
        })),
        "Namespace" => out.namespaces.push(Arc::new(Namespace { metadata })),
        _ => {}
    }
    Ok(())
}

/// `obj` without spare capacity, shared.
fn compacted<T: Compact>(mut obj: T) -> Arc<T> {
    obj.compact();
    Arc::new(obj)
}

/// Splits on document markers (`---` lines, optionally followed by content, and `...`),
/// without copying. Yields `(first line, text)` per document.
fn split_documents(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut docs: Vec<(usize, usize, usize)> = vec![(1, 0, text.len())];
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        let body = l.trim_end_matches(['\n', '\r']);
        let start = body == "---" || body.starts_with("--- ") || body.starts_with("---\t");
        if start || body == "..." {
            if let Some(last) = docs.last_mut() {
                last.2 = offset;
            }
            let rest = body.get(3..).unwrap_or("");
            let content = offset + 3 + (rest.len() - rest.trim_start().len());
            match start && !rest.trim().is_empty() {
                true => docs.push((i + 1, content.min(offset + l.len()), text.len())),
                false => docs.push((i + 2, offset + l.len(), text.len())),
            }
        }
        offset += l.len();
    }
    docs.into_iter()
        .map(move |(line, from, to)| (line, text.get(from..to).unwrap_or("")))
}
