//! The fast reader against the general parser.

use super::*;
use crate::objects::model::{EndpointSlice, Service};

/// A Service and its EndpointSlice as `kubectl get -o yaml` lists them (all metadata).
const KUBECTL_ITEMS: &str = include_str!("../testdata/kubectl_items.yaml");

fn general<'de, T: de::Deserialize<'de>>(text: &'de str) -> Option<T> {
    serde_saphyr::from_str(text).ok()
}

#[test]
fn reads_kubectl_items_as_the_general_parser_does() {
    let services: Vec<Service> = from_str(KUBECTL_ITEMS).unwrap();
    assert_eq!(
        Some(&services),
        general::<Vec<Service>>(KUBECTL_ITEMS).as_ref()
    );
    assert_eq!(services[0].metadata.name.as_deref(), Some("svc-0"));
    let slices: Vec<EndpointSlice> = from_str(KUBECTL_ITEMS).unwrap();
    assert_eq!(
        Some(&slices),
        general::<Vec<EndpointSlice>>(KUBECTL_ITEMS).as_ref()
    );
    assert_eq!(slices[1].endpoints.len(), 10);
    assert_eq!(slices[1].metadata.service_name.as_deref(), Some("svc-0"));
}

#[test]
fn reads_plain_scalars_and_indented_sequences() {
    let text = "- metadata:\n    name: web  \n    namespace: 'it''s'\n    labels: {}\n  spec:\n    clusterIP: 10.0.0.1\n    ports:\n      - name: \"h\\u0074tp\"\n        port: 80\n        protocol:\n\n    # a comment\n    type: ClusterIP\n-   metadata:\n      name: b\n";
    let fast: Vec<Service> = from_str(text).unwrap();
    assert_eq!(Some(fast.clone()), general::<Vec<Service>>(text));
    assert_eq!(fast[0].metadata.namespace.as_deref(), Some("it's"));
    assert_eq!(fast[1].metadata.name.as_deref(), Some("b"));
}

/// Outside the subset: the general parser reads these (or reports their error).
#[test]
fn leaves_everything_else_to_the_general_parser() {
    for text in [
        "- metadata: &m\n    name: a\n- metadata: *m\n",
        "- metadata:\n    name: |\n      a\n",
        "- metadata:\n    name: a\n      b\n",
        "- metadata:\n    name: \"a\n      b\"\n",
        "- metadata:\n    name: a # comment\n",
        "- metadata:\n    name: 012\n",
        "- metadata:\n    name: true\n",
        "- metadata:\n    name: a\n    name: b\n",
        "- metadata:\n    x: 1\n    x: 2\n",
        "- metadata: {name: a}\n",
        "- spec:\n    ports:\n    - port: 0x50\n",
        "- spec:\n    publishNotReadyAddresses: yes\n",
        "- metadata:\n\tname: a\n",
        "- metadata:\n    name: !!str a\n",
        "- - a\n",
        "name: a\n- b\n",
    ] {
        assert!(from_str::<Vec<Service>>(text).is_err(), "{text:?}");
    }
}

/// Nesting in an ignored field is read up to `MAX_DEPTH` and left to the general parser (and
/// its budget) beyond, on a thread with a small stack as the List's parsing threads have.
#[test]
fn deep_nesting_is_left_to_the_general_parser() {
    let nested = |depth: usize| {
        let mut text = String::from("- metadata:\n    name: a\n  extra:\n");
        for level in 0..depth {
            text.push_str(&" ".repeat(4 + 2 * level));
            text.push_str("x:\n");
        }
        text
    };
    let shallow = nested(MAX_DEPTH - 8);
    let fast: Vec<Service> = from_str(&shallow).unwrap();
    assert_eq!(fast[0].metadata.name.as_deref(), Some("a"));
    let deep = nested(3_000);
    let small_stack = std::thread::Builder::new().stack_size(128 * 1024);
    let read = small_stack
        .spawn(move || from_str::<Vec<Service>>(&deep).is_err())
        .unwrap()
        .join()
        .unwrap();
    assert!(read, "deep nesting must fall back");
}
