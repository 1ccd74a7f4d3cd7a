use super::*;

const MULTI: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: coocla}
spec:
  clusterIP: 10.96.0.20
  clusterIPs: [10.96.0.20]
  ports: [{name: web80, port: 7878, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abc
  namespace: coocla
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
endpoints:
- addresses: [10.244.0.5]
  conditions: {ready: true}
ports: [{name: web80, port: 7878, protocol: TCP}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ignored}
---
"#;

const LIST: &str = r#"
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: a, namespace: default}
  spec: {clusterIP: 10.96.0.1}
- apiVersion: v1
  kind: Endpoints
  metadata: {name: a, namespace: default}
  subsets: [{addresses: [{ip: 10.1.1.1}]}]
---
apiVersion: v1
kind: ServiceList
items:
- metadata: {name: b, namespace: default}
  spec: {clusterIP: None}
"#;

fn load_text(name: &str, text: &str) -> Result<ClusterObjects, ManifestError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join(name);
    std::fs::write(&file, text).expect("write");
    load(&file)
}

#[test]
fn multi_document_yaml_file() {
    let o = load_text("m.yaml", MULTI).expect("parses");
    assert_eq!(o.services.len(), 1);
    assert_eq!(o.endpoint_slices.len(), 1);
    assert_eq!(o.services[0].metadata.name.as_deref(), Some("web"));
}

#[test]
fn lists_as_kubectl_writes_them() {
    let o = load_text("l.yaml", LIST).expect("parses");
    assert_eq!(o.services.len(), 2);
    assert_eq!(o.endpoints.len(), 1);
}

#[test]
fn json_file() {
    let text = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"j","namespace":"x"},"spec":{"clusterIP":"10.0.0.1"}}"#;
    let o = load_text("j.json", text).expect("parses");
    assert_eq!(o.services.len(), 1);
}

#[test]
fn broken_files_are_reported_by_name() {
    let err = load_text("b.yaml", "kind: Service\nmetadata: [nope\n").expect_err("broken");
    assert!(err.file().ends_with("b.yaml"), "{err}");
    assert!(err.to_string().contains("b.yaml"), "{err}");
    let dir = tempfile::tempdir().expect("tempdir");
    let err = load(&dir.path().join("absent.yaml")).expect_err("missing");
    assert!(err.file().ends_with("absent.yaml"), "{err}");
}

#[test]
fn directory_loads_manifest_files_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.yaml"), MULTI).expect("write");
    std::fs::write(dir.path().join("b.yml"), LIST).expect("write");
    std::fs::write(dir.path().join("notes.txt"), "not yaml: [").expect("write");
    std::fs::write(dir.path().join(".hidden.yaml"), "not yaml: [").expect("write");
    let o = load(dir.path()).expect("loads");
    assert_eq!(o.services.len(), 3);
    std::fs::write(dir.path().join("c.yaml"), "kind: [").expect("write");
    let err = load(dir.path()).expect_err("broken file");
    assert!(err.file().ends_with("c.yaml"), "{err}");
}

#[test]
fn endpoints_of_non_headless_services_are_not_kept() {
    let text = r#"
apiVersion: v1
kind: Service
metadata: {name: hl, namespace: a}
spec: {clusterIP: None}
---
apiVersion: v1
kind: Service
metadata: {name: cip, namespace: a}
spec: {clusterIP: 10.0.0.1}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: hl-1, namespace: a, labels: {kubernetes.io/service-name: hl}}
addressType: IPv4
endpoints: [{addresses: [10.1.0.1]}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: cip-1, namespace: a, labels: {kubernetes.io/service-name: cip}}
addressType: IPv4
endpoints: [{addresses: [10.1.0.2]}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: hl-other-ns, namespace: b, labels: {kubernetes.io/service-name: hl}}
addressType: IPv4
endpoints: [{addresses: [10.1.0.3]}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: hl, namespace: a}
---
apiVersion: v1
kind: Endpoints
metadata: {name: cip, namespace: a}
"#;
    let mut o = load_text("p.yaml", text).expect("parses");
    assert_eq!(o.retain_used_endpoints(), 3);
    let names: Vec<_> = o
        .endpoint_slices
        .iter()
        .filter_map(|s| s.metadata.name.clone())
        .collect();
    assert_eq!(names, ["hl-1"]);
    assert_eq!(o.endpoints.len(), 1);
}

/// Regression: one `kind: List` as kubectl prints it stopped the YAML parser at its 250,000
/// node budget. 120 Services x 80 endpoints with kubectl's metadata is about 350,000 nodes.
#[test]
fn a_kubectl_list_beyond_the_old_node_budget_loads() {
    use testkit::cluster::Cluster;
    let cluster = Cluster {
        services: 120,
        endpoints: 80,
        headless_percent: 30,
    };
    let o = load_text("cluster.yaml", &cluster.kubectl_yaml()).expect("yaml list");
    assert_eq!((o.services.len(), o.endpoint_slices.len()), (120, 120));
    let endpoints: usize = o.endpoint_slices.iter().map(|s| s.endpoints.len()).sum();
    assert_eq!(endpoints, 120 * 80);
    let slice = o.endpoint_slices.iter().find(|s| {
        s.metadata.name.as_deref() == Some("svc-0-abcde")
            && s.metadata.namespace.as_deref() == Some("ns-1")
    });
    let ep = &slice.expect("slice of ns-1/svc-0").endpoints[79];
    assert_eq!(
        ep.addresses,
        [std::net::IpAddr::V4(cluster.endpoint_ip(100, 79))]
    );
    assert_eq!(ep.hostname.as_deref(), Some("svc-0-79"));
}

/// `kubectl get -o json` and `-o yaml` of the same cluster give the same objects.
#[test]
fn kubectl_json_and_yaml_lists_agree() {
    use testkit::cluster::Cluster;
    let cluster = Cluster {
        services: 30,
        endpoints: 4,
        headless_percent: 50,
    };
    let yaml = load_text("cluster.yaml", &cluster.kubectl_yaml()).expect("yaml list");
    let json = load_text("cluster.json", &cluster.kubectl_json()).expect("json list");
    assert_eq!(yaml.services.len(), 30);
    assert_eq!(yaml.services, json.services);
    assert_eq!(yaml.endpoint_slices, json.endpoint_slices);
}

/// A List broken deep inside is still reported with the document and the position.
#[test]
fn a_broken_list_names_the_position() {
    use testkit::cluster::Cluster;
    let cluster = Cluster {
        services: 20,
        endpoints: 5,
        headless_percent: 0,
    };
    let text = cluster
        .kubectl_yaml()
        .replacen("port: 8080", "port: [8080", 7);
    let err = load_text("broken.yaml", &text).expect_err("broken");
    let msg = err.to_string();
    assert!(err.file().ends_with("broken.yaml"), "{msg}");
    assert!(msg.contains("document 0 (line 1)"), "{msg}");
    assert!(
        msg.contains("line") && msg.contains("column"),
        "no position: {msg}"
    );
}

/// A big List read on several threads gives the objects, and the errors, of one thread.
#[test]
fn a_list_read_on_threads_matches_one_thread() {
    use kubedns_records::from_yaml_documents_on;
    use testkit::cluster::Cluster;
    let cluster = Cluster {
        services: 400,
        endpoints: 10,
        headless_percent: 30,
    };
    let text = cluster.kubectl_yaml();
    assert!(text.len() > 1 << 20, "small enough to be read whole");
    let one = from_yaml_documents_on(&text, 1).expect("one thread");
    let three = from_yaml_documents_on(&text, 3).expect("three threads");
    assert_eq!(one.services.len(), 400);
    assert_eq!(one.services, three.services);
    assert_eq!(one.endpoint_slices, three.endpoint_slices);
    let broken = text.replacen("port: 8080", "port: [8080", 300);
    assert_eq!(
        from_yaml_documents_on(&broken, 1).expect_err("broken"),
        from_yaml_documents_on(&broken, 3).expect_err("broken")
    );
}
