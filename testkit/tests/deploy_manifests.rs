//! `deploy/` checked against the code: every manifest parses into k8s-openapi types, every
//! container's arguments are accepted by that binary's own parser, every probe points at a port
//! and path that binary serves, and the RBAC rules cover every resource kubedns lists and
//! watches (observed on the fake API server, not written down twice).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::time::Duration;

use clap::Parser;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use serde_json::Value;
use testkit::apiserver::FakeApiServer;
use testkit::bin::{path, workspace_root};
use testkit::pod::{free_port, http_get};
use testkit::proc::Proc;

fn documents(file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(workspace_root().join("deploy").join(file)).unwrap();
    let text = text
        .replace("__DNS__SERVER__", "10.96.0.10")
        .replace("__DNS__DOMAIN__", "cluster.local")
        .replace("__DNS__MEMORY__LIMIT__", "170Mi")
        .replace("__IMAGE__", "registry.example/kube-dns-rs:dev");
    serde_saphyr::from_multiple::<Value>(&text)
        .unwrap()
        .into_iter()
        .filter(|v| !v.is_null())
        .collect()
}

fn typed<T: serde::de::DeserializeOwned>(docs: &[Value], kind: &str) -> Vec<T> {
    docs.iter()
        .filter(|d| d["kind"] == kind)
        .map(|d| serde_json::from_value(d.clone()).unwrap_or_else(|e| panic!("{kind}: {e}")))
        .collect()
}

fn deployment() -> (Vec<Value>, Deployment) {
    let docs = documents("kube-dns.yaml");
    let dep = typed::<Deployment>(&docs, "Deployment")
        .pop()
        .expect("a Deployment");
    (docs, dep)
}

fn containers(dep: &Deployment) -> Vec<Container> {
    dep.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|s| s.containers.clone())
        .unwrap_or_default()
}

fn argv(c: &Container) -> Vec<String> {
    let mut v = c.command.clone().unwrap_or_default();
    v.extend(c.args.clone().unwrap_or_default());
    v
}

/// (port, path) pairs a container's binary serves, derived from its parsed arguments.
fn served(c: &Container) -> BTreeSet<(i32, String)> {
    let argv = argv(c);
    let mut out = BTreeSet::new();
    match argv[0].as_str() {
        "/kubedns" => {
            let cli = kubedns::cli::Cli::try_parse_from(ops::go_flags::normalize(
                argv,
                kubedns::cli::GO_FLAGS,
            ))
            .unwrap();
            cli.config().unwrap();
            for p in ["/readiness", "/healthz"] {
                out.insert((i32::from(cli.healthz_port), p.to_string()));
            }
        }
        "/nanny" => {
            let cli = nanny::cli::Cli::parse_go(argv).unwrap();
            let mut child = vec!["dnscache".to_string()];
            child.extend(cli.child_args.clone());
            let dc = dnscache::cli::Cli::try_parse_from(child)
                .unwrap_or_else(|e| panic!("dnscache args: {e}"));
            dc.config(None).unwrap();
        }
        "/sidecar" => {
            let cli = sidecar::cli::Cli::parse_args(argv).unwrap();
            let cfg = cli.config().unwrap();
            let port = i32::from(cli.prometheus_port);
            out.insert((port, cli.prometheus_path.clone()));
            out.insert((port, "/healthz".to_string()));
            for p in &cfg.probes {
                out.insert((port, format!("/healthcheck/{}", p.label)));
            }
        }
        other => panic!("unknown entry point {other}"),
    }
    out
}

#[test]
fn every_manifest_parses_into_kubernetes_types() {
    let docs = documents("kube-dns.yaml");
    assert_eq!(typed::<ServiceAccount>(&docs, "ServiceAccount").len(), 1);
    assert_eq!(typed::<ClusterRole>(&docs, "ClusterRole").len(), 1);
    assert_eq!(
        typed::<ClusterRoleBinding>(&docs, "ClusterRoleBinding").len(),
        1
    );
    assert_eq!(typed::<ConfigMap>(&docs, "ConfigMap").len(), 1);
    assert_eq!(
        typed::<PodDisruptionBudget>(&docs, "PodDisruptionBudget").len(),
        1
    );
    let svc = typed::<Service>(&docs, "Service").pop().unwrap();
    let ports: Vec<_> = svc
        .spec
        .unwrap()
        .ports
        .unwrap()
        .iter()
        .map(|p| (p.port, p.protocol.clone().unwrap()))
        .collect();
    assert_eq!(ports, [(53, "UDP".to_string()), (53, "TCP".to_string())]);
    assert_eq!(docs.len(), 7, "unexpected extra documents");
    let auto = documents("dns-autoscaler.yaml");
    assert_eq!(typed::<Deployment>(&auto, "Deployment").len(), 1);
    assert_eq!(typed::<ConfigMap>(&auto, "ConfigMap").len(), 1);
    let examples = std::fs::read_dir(workspace_root().join("deploy/examples")).unwrap();
    let yaml = |f: &std::fs::DirEntry| {
        f.path()
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml")
    };
    for f in examples.flatten().filter(yaml) {
        let text = std::fs::read_to_string(f.path()).unwrap();
        kubedns_records::objects::from_yaml_documents(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", f.path().display()));
    }
}

#[test]
fn container_args_parse_and_probes_hit_served_paths() {
    let (_, dep) = deployment();
    let spec = dep.spec.as_ref().unwrap();
    let pod = spec.template.spec.as_ref().unwrap();
    assert_eq!(pod.dns_policy.as_deref(), Some("Default"));
    let ru = spec
        .strategy
        .as_ref()
        .unwrap()
        .rolling_update
        .as_ref()
        .unwrap();
    assert_eq!(
        ru.max_unavailable,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(0))
    );
    let cs = containers(&dep);
    assert_eq!(
        cs.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["kubedns", "dnsmasq", "sidecar"]
    );
    let all: BTreeSet<(i32, String)> = cs.iter().flat_map(served).collect();
    for c in &cs {
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(sc.read_only_root_filesystem, Some(true), "{}", c.name);
        assert_eq!(sc.allow_privilege_escalation, Some(false), "{}", c.name);
        for probe in [&c.liveness_probe, &c.readiness_probe]
            .into_iter()
            .flatten()
        {
            let get = probe.http_get.as_ref().unwrap();
            let port = match &get.port {
                k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(p) => *p,
                other => panic!("named probe port {other:?}"),
            };
            let p = get.path.clone().unwrap();
            assert!(
                all.contains(&(port, p.clone())),
                "{}: probe {port}{p} is served by no container: {all:?}",
                c.name
            );
        }
    }
    let added = cs[1]
        .security_context
        .as_ref()
        .unwrap()
        .capabilities
        .as_ref()
        .unwrap()
        .add
        .clone()
        .unwrap();
    assert_eq!(added, ["NET_BIND_SERVICE"]);
}

/// The autopath arguments the manifest documents (`#   autopath <container>: <args>`), added
/// to its containers, parse and turn autopath on in both binaries.
#[test]
fn documented_autopath_arguments_parse() {
    let text = std::fs::read_to_string(workspace_root().join("deploy/kube-dns.yaml")).unwrap();
    let text = text.replace("__DNS__DOMAIN__", "cluster.local");
    let extra = |name: &str| -> Vec<String> {
        let prefix = format!("#   autopath {name}: ");
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("no {prefix:?} line"));
        line.split_whitespace().map(str::to_string).collect()
    };
    let (_, dep) = deployment();
    for mut c in containers(&dep).into_iter().filter(|c| c.name != "sidecar") {
        let more = extra(&c.name);
        c.args.get_or_insert_with(Vec::new).extend(more);
        served(&c);
        let argv = argv(&c);
        if c.name == "kubedns" {
            let argv = ops::go_flags::normalize(argv, kubedns::cli::GO_FLAGS);
            let cfg = kubedns::cli::Cli::try_parse_from(argv)
                .unwrap()
                .config()
                .unwrap();
            assert!(cfg.autopath_trusted.is_some());
        } else {
            let cli = nanny::cli::Cli::parse_go(argv).unwrap();
            let mut child = vec!["dnscache".to_string()];
            child.extend(cli.child_args.clone());
            let dc = dnscache::cli::Cli::try_parse_from(child).unwrap();
            let add = dc.config(None).unwrap().add_subnet.expect("--add-subnet");
            assert_eq!(add.routes.len(), 1, "the cluster domain's route");
        }
    }
}

fn rbac_allows(role: &ClusterRole, group: &str, resource: &str, verb: &str) -> bool {
    role.rules.iter().flatten().any(|r| {
        r.api_groups.iter().flatten().any(|g| g == group)
            && r.resources.iter().flatten().any(|x| x == resource)
            && r.verbs.iter().any(|v| v == verb)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn rbac_covers_what_kubedns_lists_and_watches() {
    let (docs, dep) = deployment();
    let role = typed::<ClusterRole>(&docs, "ClusterRole").pop().unwrap();
    let api = FakeApiServer::start().await;
    // kubedns exactly as the manifest runs it, pointed at the fake API server.
    let kd = containers(&dep)
        .into_iter()
        .find(|c| c.name == "kubedns")
        .unwrap();
    let http = free_port();
    // The manifest's --config-dir points into the container; give it an empty directory.
    let dir = tempfile::tempdir().unwrap();
    let config_dir = dir.path().display().to_string();
    let mut cmd = std::process::Command::new(path("kubedns"));
    let manifest_args = kd.args.unwrap_or_default();
    cmd.args(
        manifest_args
            .iter()
            .filter(|a| !a.starts_with("--dns-port"))
            .map(|a| a.replace("/kube-dns-config", &config_dir)),
    )
    .arg(format!("--kube-master-url={}", api.url()))
    .args(["--dns-bind-address=127.0.0.1", "--dns-port=0"])
    .arg(format!("--healthz-port={http}"))
    .arg(format!("--metrics-port={}", free_port()));
    let kubedns = Proc::spawn(cmd).unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], http));
    let ready = tokio::task::block_in_place(|| {
        (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(50));
            http_get(addr, "/readiness")
                .map(|(c, _)| c == 200)
                .unwrap_or(false)
        })
    });
    assert!(
        ready,
        "kubedns never became ready against the fake API server: {:?}",
        kubedns.lines()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut seen = BTreeSet::new();
    for r in api.requests() {
        let Some(res) = r.resource() else { continue };
        let group = res
            .api_version()
            .rsplit_once('/')
            .map(|(g, _)| g)
            .unwrap_or("")
            .to_string();
        seen.insert((
            group,
            res.plural().to_string(),
            if r.is_watch() { "watch" } else { "list" },
        ));
    }
    assert!(
        seen.iter()
            .any(|(_, r, v)| r == "services" && *v == "watch"),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|(_, r, _)| r == "endpointslices"),
        "{seen:?}"
    );
    for (group, resource, verb) in &seen {
        assert!(
            rbac_allows(&role, group, resource, verb),
            "RBAC misses {verb} {group}/{resource}"
        );
    }
    drop(kubedns);
}
