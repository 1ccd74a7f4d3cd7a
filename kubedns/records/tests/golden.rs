//! Golden projection of the example cluster: every `deploy/examples/*.yaml` file is loaded
//! with `from_yaml_documents`, all are projected together, and the sorted zone dump is
//! compared with `testdata/golden/example.zone`. `UPDATE_GOLDEN=1` rewrites the golden files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use hickory_proto::rr::Name;
use kubedns_records::{ClusterObjects, ZoneConfig, from_yaml_documents, project};

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn example_cluster_matches_golden_zone() {
    let files = examples();
    assert!(!files.is_empty(), "no deploy/examples/*.yaml");
    let mut objects = ClusterObjects::default();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        objects.extend(
            from_yaml_documents(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display())),
        );
    }
    let cfg = ZoneConfig::new(Name::from_ascii("cluster.local.").unwrap());
    let snap = project(&objects, &cfg, 1);
    let mut dump = String::from(
        "; golden zone of deploy/examples/*.yaml (serial 1); UPDATE_GOLDEN=1 rewrites\n",
    );
    for line in snap.dump() {
        dump.push_str(&line);
        dump.push('\n');
    }
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/golden/example.zone");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &dump).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&golden)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", golden.display()));
    assert_eq!(
        dump,
        want,
        "the example cluster's zone differs from {}",
        golden.display()
    );
}

#[test]
fn acceptance_names_of_the_example_cluster() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/examples/cluster.yaml"),
    )
    .unwrap();
    let objects = from_yaml_documents(&text).unwrap();
    let snap = project(
        &objects,
        &ZoneConfig::new(Name::from_ascii("cluster.local.").unwrap()),
        7,
    );
    let ask = |q: &str, t: &str| {
        let a = snap.answer(
            &Name::from_ascii(q).unwrap(),
            t.parse().unwrap(),
            hickory_proto::rr::DNSClass::IN,
        );
        a.answers
            .iter()
            .map(kubedns_records::record_text)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ask("my-nginx.default.svc.cluster.local.", "A"),
        ["my-nginx.default.svc.cluster.local. 30 IN A 10.96.113.7"]
    );
    assert_eq!(
        ask("_web80._tcp.web.coocla.svc.cluster.local.", "SRV"),
        [
            "_web80._tcp.web.coocla.svc.cluster.local. 30 IN SRV 10 100 7878 web.coocla.svc.cluster.local."
        ]
    );
    assert_eq!(
        ask("1.0.96.10.in-addr.arpa.", "PTR"),
        ["1.0.96.10.in-addr.arpa. 30 IN PTR kubernetes.default.svc.cluster.local."]
    );
    assert_eq!(
        ask("client-svc.default.svc.cluster.local.", "A"),
        [
            "client-svc.default.svc.cluster.local. 30 IN CNAME nginx-svc.nginx-ns.svc.cluster.local.",
            "nginx-svc.nginx-ns.svc.cluster.local. 30 IN A 10.104.13.251"
        ]
    );
    assert_eq!(
        ask("dns-version.cluster.local.", "TXT"),
        ["dns-version.cluster.local. 30 IN TXT 1.1.0"]
    );
    assert_eq!(ask("kubernetes.default.svc.cluster.local.", "SRV").len(), 1);
    assert_eq!(
        ask("web-0.web-sts.default.svc.cluster.local.", "A"),
        ["web-0.web-sts.default.svc.cluster.local. 30 IN A 10.244.1.30"]
    );
}
