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

type WatchTask = tokio::task::JoinHandle<Result<(), watch::WatchError>>;

/// Starts the kube source with `cfg` and waits until it has published the one Service.
async fn watch_until_one_service(cfg: WatchConfig) -> (CancellationToken, WatchTask) {
    let client = watch::client(&cfg).await.unwrap();
    let (tx, mut rx) = source::channel();
    let metrics = WatchMetrics::register(&prometheus::Registry::new()).unwrap();
    let token = CancellationToken::new();
    let task = tokio::spawn(watch::run(client, cfg, tx, metrics, token.clone()));
    let synced = rx.wait_for(|v| v.as_deref().is_some_and(|o| o.services.len() == 1));
    tokio::time::timeout(BOUND, synced).await.unwrap().unwrap();
    (token, task)
}

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
    let (token, task) = watch_until_one_service(cfg).await;
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

/// Watches end and restart all day (the API server closes them at `timeoutSeconds`, a load
/// balancer drops them); a connection freed by one and not reused must not stay open in the
/// client's pool for good: after the restarts stop, the connections to the API server come
/// back to one per watch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_watches_leave_no_idle_connections() {
    let api = FakeApiServer::start().await;
    api.create(&svc("ns", "web").cluster_ip("10.0.0.10"));
    api.close_watches_every(Some(Duration::from_millis(30)));
    let cfg = WatchConfig {
        master_url: Some(api.url()),
        ..WatchConfig::default()
    };
    let (token, task) = watch_until_one_service(cfg).await;
    let mut most = 0;
    for _ in 0..60 {
        most = most.max(api.open_connections());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    api.close_watches_every(None);
    let restarts = api.requests().iter().filter(|r| r.is_watch()).count();
    let deadline = tokio::time::Instant::now() + watch::API_POOL_IDLE * 2 + BOUND;
    let (mut conns, mut watches) = (0, 0);
    while tokio::time::Instant::now() < deadline {
        (conns, watches) = (api.open_connections(), api.open_watches());
        if watches > 0 && conns == watches {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "{restarts} watch requests, at most {most} connections, now {conns} for {watches} watches"
    );
    assert!(restarts > 20, "the watches did not restart: {restarts}");
    assert_eq!(conns, watches, "idle connections left open");
    token.cancel();
    let _ = tokio::time::timeout(BOUND, task).await;
}
