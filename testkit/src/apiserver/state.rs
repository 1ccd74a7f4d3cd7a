//! The fake server's data: current objects per resource keyed by (namespace, name), one global
//! resourceVersion counter, and the event log watches replay from. `expire_before` compacts the
//! log so that watches from older versions get `410 Gone`, as etcd compaction does.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::resource::Resource;

/// Watch event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Object created.
    Added,
    /// Object changed.
    Modified,
    /// Object removed (the object is its last state).
    Deleted,
}

impl EventType {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One entry of the event log.
#[derive(Debug, Clone)]
pub struct LogEvent {
    /// The resourceVersion this event produced.
    pub rv: u64,
    /// Which resource.
    pub resource: Resource,
    /// What happened.
    pub kind: EventType,
    /// The object after the change (before it, for deletes) with its resourceVersion set.
    pub object: Arc<Value>,
}

/// Object key: namespace ("" for cluster-scoped) and name.
pub type Key = (String, String);

/// All objects and the event log.
#[derive(Debug, Default)]
pub struct State {
    /// Current global resourceVersion (the last one handed out).
    pub rv: u64,
    /// Watches from a resourceVersion below this get 410.
    pub compacted_before: u64,
    /// Objects by resource.
    pub objects: BTreeMap<Resource, BTreeMap<Key, Arc<Value>>>,
    /// Events with rv >= `compacted_before`, in rv order.
    pub log: Vec<LogEvent>,
}

/// Why a write was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// The value has no known `kind`.
    #[error("object has no served kind: {0}")]
    UnknownKind(String),
    /// `metadata.name` is missing.
    #[error("object has no metadata.name")]
    NoName,
    /// Create of an existing object.
    #[error("{0:?} already exists")]
    AlreadyExists(Key),
    /// Update or delete of a missing object.
    #[error("{0:?} not found")]
    NotFound(Key),
}

/// Resource and key of `obj`, from its `kind` and metadata (namespace defaults to `default`).
pub fn identify(obj: &Value) -> Result<(Resource, Key), WriteError> {
    let kind = obj["kind"].as_str().unwrap_or_default();
    let resource = Resource::from_kind(kind).ok_or_else(|| WriteError::UnknownKind(kind.into()))?;
    let name = obj["metadata"]["name"]
        .as_str()
        .ok_or(WriteError::NoName)?
        .to_string();
    let ns = if resource.namespaced() {
        obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string()
    } else {
        String::new()
    };
    Ok((resource, (ns, name)))
}

impl State {
    /// Applies a create, update or delete, returning the new resourceVersion.
    pub fn write(&mut self, mut obj: Value, kind: EventType) -> Result<u64, WriteError> {
        let (resource, key) = identify(&obj)?;
        let objects = self.objects.entry(resource).or_default();
        let existing = objects.get(&key).cloned();
        match (kind, &existing) {
            (EventType::Added, Some(_)) => return Err(WriteError::AlreadyExists(key)),
            (EventType::Modified | EventType::Deleted, None) => {
                return Err(WriteError::NotFound(key));
            }
            _ => {}
        }
        self.rv += 1;
        let rv = self.rv;
        if kind == EventType::Deleted {
            // The DELETED event carries the last state with a new resourceVersion.
            obj = existing.as_deref().cloned().unwrap_or(obj);
        }
        normalise(&mut obj, resource, &key, rv, existing.as_deref());
        let obj = Arc::new(obj);
        if kind == EventType::Deleted {
            objects.remove(&key);
        } else {
            objects.insert(key, obj.clone());
        }
        self.log.push(LogEvent {
            rv,
            resource,
            kind,
            object: obj,
        });
        Ok(rv)
    }

    /// Drops log entries below `rv`; watches from an older version now get 410.
    pub fn expire_before(&mut self, rv: u64) {
        self.compacted_before = self.compacted_before.max(rv);
        let keep_from = self.log.partition_point(|e| e.rv < self.compacted_before);
        self.log.drain(..keep_from);
    }

    /// Current objects of `resource` in key order.
    pub fn list(&self, resource: Resource) -> impl Iterator<Item = (&Key, &Arc<Value>)> {
        self.objects.get(&resource).into_iter().flatten()
    }

    /// Log events with rv > `after`, in order.
    pub fn events_after(&self, after: u64) -> &[LogEvent] {
        let from = self.log.partition_point(|e| e.rv <= after);
        &self.log[from..]
    }
}

/// Sets apiVersion, kind, namespace, resourceVersion, uid and creationTimestamp like the server.
fn normalise(obj: &mut Value, resource: Resource, key: &Key, rv: u64, old: Option<&Value>) {
    obj["apiVersion"] = resource.api_version().into();
    obj["kind"] = resource.kind().into();
    let meta = &mut obj["metadata"];
    if resource.namespaced() {
        meta["namespace"] = key.0.clone().into();
    }
    meta["resourceVersion"] = rv.to_string().into();
    let old_meta = old.map(|o| &o["metadata"]);
    if meta["uid"].is_null() {
        meta["uid"] = old_meta
            .map(|m| m["uid"].clone())
            .filter(|u| !u.is_null())
            .unwrap_or_else(|| format!("uid-{}-{}-{rv}", key.0, key.1).into());
    }
    if meta["creationTimestamp"].is_null() {
        meta["creationTimestamp"] = "2026-01-01T00:00:00Z".into();
    }
}
