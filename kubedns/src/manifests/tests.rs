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

#[test]
fn multi_document_yaml() {
    let mut o = ClusterObjects::default();
    parse_into(MULTI, false, &mut o).expect("parses");
    assert_eq!(o.services.len(), 1);
    assert_eq!(o.endpoint_slices.len(), 1);
    assert_eq!(o.services[0].metadata.name.as_deref(), Some("web"));
}

#[test]
fn lists_as_kubectl_writes_them() {
    let mut o = ClusterObjects::default();
    parse_into(LIST, false, &mut o).expect("parses");
    assert_eq!(o.services.len(), 2);
    assert_eq!(o.endpoints.len(), 1);
}

#[test]
fn json_file() {
    let mut o = ClusterObjects::default();
    let text = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"j","namespace":"x"},"spec":{"clusterIP":"10.0.0.1"}}"#;
    parse_into(text, true, &mut o).expect("parses");
    assert_eq!(o.services.len(), 1);
}

#[test]
fn broken_documents_are_reported_with_position() {
    let mut o = ClusterObjects::default();
    let err = parse_into("kind: Service\nmetadata: [nope\n", false, &mut o).expect_err("broken");
    assert!(!err.is_empty());
    let err =
        parse_into("---\nkind: Service\n---\nfoo: bar\n", false, &mut o).expect_err("no kind");
    assert!(err.contains("document 2"), "{err}");
    let err = parse_into("kind: Service\nspec: {ports: 3}\n", false, &mut o).expect_err("bad type");
    assert!(err.contains("Service"), "{err}");
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
