//! The kube source's client configuration: `--kubecfg-file` (a kubeconfig pointing at testkit's
//! fake API server, used through the real kube-rs client) and rejected `--kube-master-url`s.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use kubedns::source;
use kubedns::watch::{self, WatchConfig, WatchMetrics};
use testkit::apiserver::FakeApiServer;
use testkit::k8s::svc;
use tokio_util::sync::CancellationToken;

const BOUND: Duration = Duration::from_secs(20);

#[tokio::test]
async fn client_from_kubeconfig_and_bad_master_urls() {
    let api = FakeApiServer::start().await;
    api.create(&svc("ns", "web").cluster_ip("10.0.0.10"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: fake\n\
         clusters: [{{name: fake, cluster: {{server: \"{}\"}}}}]\n\
         users: [{{name: u, user: {{}}}}]\n\
         contexts: [{{name: fake, context: {{cluster: fake, user: u, namespace: kube-system}}}}]\n",
        api.url()
    );
    std::fs::write(&path, kubeconfig).unwrap();
    let cfg = WatchConfig {
        kubecfg_file: Some(path),
        ..WatchConfig::default()
    };
    let client = watch::client(&cfg).await.unwrap();
    let (tx, mut rx) = source::channel();
    let metrics = WatchMetrics::register(&prometheus::Registry::new()).unwrap();
    let token = CancellationToken::new();
    let task = tokio::spawn(watch::run(client, cfg, tx, metrics, token.clone()));
    let synced = rx.wait_for(|v| v.as_deref().is_some_and(|o| o.services.len() == 1));
    tokio::time::timeout(BOUND, synced).await.unwrap().unwrap();
    token.cancel();
    tokio::time::timeout(BOUND, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    for bad in ["127.0.0.1:8080", "ftp://x", "http://"] {
        let cfg = WatchConfig {
            master_url: Some(bad.into()),
            ..WatchConfig::default()
        };
        let err = watch::client(&cfg).await.err().unwrap();
        assert!(
            err.to_string().contains("--kube-master-url"),
            "{bad}: {err}"
        );
    }
}
