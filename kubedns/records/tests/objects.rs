//! `from_yaml_documents`: multi-document YAML, `kind: List`, errors naming the document.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kubedns_records::{ObjectsError, from_yaml_documents};

#[test]
fn reads_documents_lists_and_skips_other_kinds() {
    let text = r#"
# leading comment
apiVersion: v1
kind: Service
metadata: {name: a, namespace: x}
spec: {clusterIP: 10.0.0.1}
---
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ignored}
--- # a comment after the marker
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: b, namespace: x}
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {name: b-1, namespace: x, labels: {kubernetes.io/service-name: b}}
  addressType: IPv4
  endpoints: [{addresses: [10.1.0.1]}]
- apiVersion: v1
  kind: Endpoints
  metadata: {name: c, namespace: x}
- apiVersion: v1
  kind: Pod
  metadata: {name: p, namespace: x}
- apiVersion: v1
  kind: Namespace
  metadata: {name: x}
...
"#;
    let objects = from_yaml_documents(text).unwrap();
    assert_eq!(objects.services.len(), 2);
    assert_eq!(objects.endpoint_slices.len(), 1);
    assert_eq!(objects.endpoints.len(), 1);
    assert_eq!(objects.pods.len(), 1);
    assert_eq!(objects.namespaces.len(), 1);
    assert_eq!(objects.len(), 6);
    assert!(from_yaml_documents("").unwrap().is_empty());
    assert!(
        from_yaml_documents("---\n# nothing\n---\n")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn typed_list_items_get_their_kind() {
    let text = "apiVersion: v1\nkind: ServiceList\nitems:\n- metadata: {name: a, namespace: x}\n  apiVersion: v1\n";
    assert_eq!(from_yaml_documents(text).unwrap().services.len(), 1);
}

#[test]
fn errors_name_the_document_and_reason() {
    let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec: {ports: 7}\n";
    let err = from_yaml_documents(text).unwrap_err();
    match &err {
        ObjectsError::InvalidObject {
            document,
            line,
            kind,
            name,
            ..
        } => {
            assert_eq!(
                (*document, *line, kind.as_str(), name.as_str()),
                (1, 5, "Service", "bad")
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("document 1 (line 5): invalid Service \"bad\":"),
        "{err}"
    );

    let err = from_yaml_documents("kind: Service\n---\nfoo: [unclosed\n").unwrap_err();
    assert!(
        matches!(
            err,
            ObjectsError::InvalidYaml {
                document: 1,
                line: 3,
                ..
            }
        ),
        "{err:?}"
    );

    let err = from_yaml_documents("metadata: {name: x}\n").unwrap_err();
    assert_eq!(
        err,
        ObjectsError::MissingKind {
            document: 0,
            line: 1
        }
    );

    let err =
        from_yaml_documents("apiVersion: v2\nkind: Service\nmetadata: {name: x}\n").unwrap_err();
    assert!(matches!(err, ObjectsError::InvalidObject { .. }), "{err:?}");
}
