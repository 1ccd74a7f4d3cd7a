//! The resources the fake API server serves, and the REST paths that name them
//! (`/api/v1/[namespaces/{ns}/]{plural}[/{name}]`, `/apis/{group}/{version}/...`).
//! Only what kube-dns watches; anything else is a 404 like an unknown resource on a real server.

/// One served resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    /// core/v1 Service.
    Services,
    /// discovery.k8s.io/v1 EndpointSlice.
    EndpointSlices,
    /// core/v1 Endpoints.
    Endpoints,
    /// core/v1 Pod.
    Pods,
    /// core/v1 Namespace (cluster-scoped).
    Namespaces,
    /// core/v1 ConfigMap.
    ConfigMaps,
}

impl Resource {
    /// Every served resource.
    pub const ALL: [Resource; 6] = [
        Resource::Services,
        Resource::EndpointSlices,
        Resource::Endpoints,
        Resource::Pods,
        Resource::Namespaces,
        Resource::ConfigMaps,
    ];

    /// The plural path segment (`services`).
    pub fn plural(self) -> &'static str {
        match self {
            Resource::Services => "services",
            Resource::EndpointSlices => "endpointslices",
            Resource::Endpoints => "endpoints",
            Resource::Pods => "pods",
            Resource::Namespaces => "namespaces",
            Resource::ConfigMaps => "configmaps",
        }
    }

    /// The object `kind` (`Service`).
    pub fn kind(self) -> &'static str {
        match self {
            Resource::Services => "Service",
            Resource::EndpointSlices => "EndpointSlice",
            Resource::Endpoints => "Endpoints",
            Resource::Pods => "Pod",
            Resource::Namespaces => "Namespace",
            Resource::ConfigMaps => "ConfigMap",
        }
    }

    /// The `apiVersion` (`v1`, `discovery.k8s.io/v1`).
    pub fn api_version(self) -> &'static str {
        match self {
            Resource::EndpointSlices => "discovery.k8s.io/v1",
            _ => "v1",
        }
    }

    /// Whether objects live in a namespace.
    pub fn namespaced(self) -> bool {
        self != Resource::Namespaces
    }

    /// The resource whose objects have this `kind`.
    pub fn from_kind(kind: &str) -> Option<Resource> {
        Resource::ALL.into_iter().find(|r| r.kind() == kind)
    }

    fn from_plural(api_version: &str, plural: &str) -> Option<Resource> {
        Resource::ALL
            .into_iter()
            .find(|r| r.plural() == plural && r.api_version() == api_version)
    }
}

/// A parsed request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Which resource.
    pub resource: Resource,
    /// `namespaces/{ns}/` scope, if any.
    pub namespace: Option<String>,
    /// A single object name (GET of one object), if any.
    pub name: Option<String>,
}

/// Parses `/api/v1/...` or `/apis/{group}/{version}/...`; `None` for unknown paths.
pub fn parse_path(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (api_version, rest) = match segs.as_slice() {
        ["api", "v1", rest @ ..] => ("v1".to_string(), rest),
        ["apis", group, version, rest @ ..] => (format!("{group}/{version}"), rest),
        _ => return None,
    };
    let (namespace, plural, name) = match rest {
        ["namespaces", ns, plural] => (Some(*ns), *plural, None),
        ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name)),
        [plural] => (None, *plural, None),
        [plural, name] => (None, *plural, Some(*name)),
        _ => return None,
    };
    let resource = Resource::from_plural(&api_version, plural)?;
    if namespace.is_some() && !resource.namespaced() {
        return None;
    }
    Some(Target {
        resource,
        namespace: namespace.map(str::to_string),
        name: name.map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let t = parse_path("/api/v1/services").unwrap();
        assert_eq!(
            (t.resource, t.namespace, t.name),
            (Resource::Services, None, None)
        );
        let t = parse_path("/apis/discovery.k8s.io/v1/namespaces/ns/endpointslices").unwrap();
        assert_eq!(t.resource, Resource::EndpointSlices);
        assert_eq!(t.namespace.as_deref(), Some("ns"));
        let t = parse_path("/api/v1/namespaces").unwrap();
        assert_eq!((t.resource, t.name), (Resource::Namespaces, None));
        let t = parse_path("/api/v1/namespaces/kube-system").unwrap();
        assert_eq!(t.name.as_deref(), Some("kube-system"));
        let t = parse_path("/api/v1/namespaces/kube-system/configmaps/kube-dns").unwrap();
        assert_eq!(t.resource, Resource::ConfigMaps);
        assert_eq!(t.name.as_deref(), Some("kube-dns"));
        assert!(parse_path("/api/v1/endpointslices").is_none());
        assert!(parse_path("/apis/apps/v1/deployments").is_none());
    }
}
