//! Library level: `watch::run` through the real kube-rs client against testkit's fake API server
//! over HTTP on loopback, asserting the object sets published on the source channel.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use kubedns::source::{self, SourceRx};
use kubedns::watch::{self, EndpointsApi, WatchConfig, WatchMetrics};
use kubedns_records::ClusterObjects;
use kubedns_records::objects::{EndpointSlice, Meta};
use testkit::apiserver::{FakeApiServer, Resource};
use testkit::k8s::{endpoints_for, pod, slice_for, svc};
use tokio_util::sync::CancellationToken;

const BOUND: Duration = Duration::from_secs(20);

struct Running {
    rx: SourceRx,
    registry: prometheus::Registry,
    token: CancellationToken,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

async fn start(api: &FakeApiServer, cfg: WatchConfig) -> Running {
    let cfg = WatchConfig {
        master_url: Some(api.url()),
        ..cfg
    };
    let client = watch::client(&cfg).await.unwrap();
    let registry = prometheus::Registry::new();
    let metrics = WatchMetrics::register(&registry).unwrap();
    let (tx, rx) = source::channel();
    let token = CancellationToken::new();
    tokio::spawn(watch::run(client, cfg, tx, metrics, token.clone()));
    Running {
        rx,
        registry,
        token,
    }
}

/// Waits (bounded) for a published set satisfying `f`.
async fn until(
    run: &mut Running,
    what: &str,
    f: impl Fn(&ClusterObjects) -> bool,
) -> Arc<ClusterObjects> {
    let wait = run.rx.wait_for(|v| v.as_deref().is_some_and(&f));
    match tokio::time::timeout(BOUND, wait).await {
        Ok(Ok(v)) => v.clone().unwrap(),
        _ => panic!("timed out waiting for {what}"),
    }
}

fn names<K>(objs: &[Arc<K>], meta: impl Fn(&K) -> &Meta) -> Vec<String> {
    let mut v: Vec<String> = objs
        .iter()
        .map(|o| {
            let m = meta(o);
            let ns = m.namespace.as_deref().unwrap_or_default();
            format!("{ns}/{}", m.name.as_deref().unwrap_or_default())
        })
        .collect();
    v.sort();
    v
}

fn cluster_ip(objs: &ClusterObjects, name: &str) -> Option<String> {
    let s = objs
        .services
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(name))?;
    s.spec.as_ref()?.cluster_ip.clone()
}

fn metric(reg: &prometheus::Registry, name: &str, label: (&str, &str)) -> f64 {
    reg.gather()
        .iter()
        .filter(|f| f.name() == name)
        .flat_map(|f| f.get_metric().iter())
        .filter(|m| {
            m.get_label()
                .iter()
                .any(|l| l.name() == label.0 && l.value() == label.1)
        })
        .map(|m| m.get_counter().get_value() + m.get_gauge().get_value())
        .sum()
}

fn ip(text: &str) -> std::net::IpAddr {
    text.parse().unwrap()
}

fn slice<'a>(objs: &'a ClusterObjects, service: &str) -> &'a EndpointSlice {
    let name = format!("{service}-abcde");
    let found = objs
        .endpoint_slices
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(&*name));
    found.unwrap()
}

#[tokio::test]
async fn publishes_once_listed_then_follows_changes() {
    let api = FakeApiServer::start().await;
    let web = svc("ns", "web")
        .cluster_ip("10.0.0.10")
        .port("http", 80, "TCP");
    let db = svc("ns", "db").headless().port("pg", 5432, "TCP");
    for s in [&web, &db] {
        api.create(s);
        api.create(&slice_for(s).ready("10.1.0.5").hostname("x-0"));
    }
    let mut run = start(&api, WatchConfig::default()).await;

    let objs = until(&mut run, "initial sync", |o| o.services.len() == 2).await;
    assert_eq!(names(&objs.services, |s| &s.metadata), ["ns/db", "ns/web"]);
    // Only the headless Service's slice is kept (a ClusterIP Service never reads endpoints).
    assert_eq!(
        names(&objs.endpoint_slices, |s| &s.metadata),
        ["ns/db-abcde"]
    );
    assert_eq!(
        slice(&objs, "db").endpoints[0].hostname.as_deref(),
        Some("x-0")
    );
    assert!(objs.pods.is_empty() && objs.endpoints.is_empty());

    api.update(&web.clone().cluster_ip("10.0.0.11"));
    until(&mut run, "ClusterIP update", |o| {
        cluster_ip(o, "web").as_deref() == Some("10.0.0.11")
    })
    .await;

    api.update(&slice_for(&db).ready("10.1.0.6"));
    until(&mut run, "endpoint update", |o| {
        slice(o, "db")
            .endpoints
            .first()
            .is_some_and(|e| e.addresses == [ip("10.1.0.6")])
    })
    .await;

    api.delete(&web);
    api.delete(&slice_for(&web));
    api.delete(&db);
    api.delete(&slice_for(&db));
    until(&mut run, "delete", |o| {
        o.services.is_empty() && o.endpoint_slices.is_empty()
    })
    .await;

    // Watches went to the right places with the protocol's parameters.
    let watches = api.requests_for(Resource::Services, true);
    assert!(
        watches.iter().all(|r| r.path == "/api/v1/services"),
        "{watches:?}"
    );
    assert!(watches.iter().all(|r| r.query.flag("allowWatchBookmarks")));
    let slice_lists = api.requests_for(Resource::EndpointSlices, false);
    assert_eq!(
        slice_lists[0].path,
        "/apis/discovery.k8s.io/v1/endpointslices"
    );
    assert!(api.requests_for(Resource::Pods, false).is_empty());
    assert!(
        metric(
            &run.registry,
            "kubedns_watch_last_sync_timestamp_seconds",
            ("resource", "services")
        ) > 0.0
    );
}

#[tokio::test]
async fn nothing_is_published_until_every_watcher_listed() {
    let api = FakeApiServer::start().await;
    api.set_unavailable(true);
    let mut run = start(&api, WatchConfig::default()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        run.rx.borrow().is_none(),
        "published before any list succeeded"
    );
    assert!(
        metric(
            &run.registry,
            "kubedns_watch_errors_total",
            ("reason", "list_failed")
        ) >= 1.0
    );

    api.set_unavailable(false);
    let objs = until(&mut run, "sync after the API came back", |_| true).await;
    assert!(objs.services.is_empty());
}

#[tokio::test]
async fn relist_after_expired_watch_forgets_objects_deleted_while_away() {
    let api = FakeApiServer::start().await;
    // Headless, so that their slices are stored too.
    let keep = svc("ns", "keep").headless().port("http", 80, "TCP");
    let gone = svc("ns", "gone").headless().port("http", 80, "TCP");
    for s in [&keep, &gone] {
        api.create(s);
        api.create(&slice_for(s).ready("10.1.0.1"));
    }
    let mut run = start(&api, WatchConfig::default()).await;
    until(&mut run, "initial sync", |o| o.services.len() == 2).await;

    api.set_down(true);
    api.delete(&gone);
    api.delete(&slice_for(&gone));
    api.compact();
    // While the API is away the last set stays published.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        names(&run.rx.borrow().clone().unwrap().services, |s| &s.metadata),
        ["ns/gone", "ns/keep"]
    );

    api.set_down(false);
    let objs = until(&mut run, "relist", |o| {
        o.services.len() == 1 && o.endpoint_slices.len() == 1
    })
    .await;
    assert_eq!(names(&objs.services, |s| &s.metadata), ["ns/keep"]);
    assert_eq!(
        names(&objs.endpoint_slices, |s| &s.metadata),
        ["ns/keep-abcde"]
    );
    assert!(
        metric(
            &run.registry,
            "kubedns_watch_restarts_total",
            ("resource", "services")
        ) >= 1.0
    );
    assert!(
        metric(
            &run.registry,
            "kubedns_watch_errors_total",
            ("reason", "expired")
        ) >= 1.0
    );
}

#[tokio::test]
async fn lists_in_pages() {
    let api = FakeApiServer::start().await;
    for i in 0..1234 {
        api.create(&svc("ns", &format!("s{i:04}")).cluster_ip("10.0.0.1"));
    }
    let mut run = start(&api, WatchConfig::default()).await;
    let objs = until(&mut run, "1234 services", |o| o.services.len() == 1234).await;
    assert_eq!(objs.services.len(), 1234);
    let lists = api.requests_for(Resource::Services, false);
    assert_eq!(lists.len(), 3, "three pages of 500: {lists:?}");
    assert!(
        lists[1]
            .query
            .get("continue")
            .is_some_and(|c| !c.is_empty())
    );
    // The watch starts from the resourceVersion of the (paginated) list.
    let watch = loop {
        if let Some(w) = api
            .requests_for(Resource::Services, true)
            .into_iter()
            .next()
        {
            break w;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        watch.query.num("resourceVersion"),
        Some(api.resource_version())
    );
}

#[tokio::test]
async fn bookmarks_let_a_quiet_watch_resume_without_relisting() {
    let api = FakeApiServer::start().await;
    api.bookmark_every(Some(Duration::from_millis(200)));
    let mut run = start(&api, WatchConfig::default()).await;
    until(&mut run, "initial sync", |_| true).await;
    // Unrelated writes move the global resourceVersion past what the services watch saw.
    for i in 0..20 {
        api.create(&pod("ns", &format!("p{i}")).ip("10.2.0.1"));
    }
    let rv = api.resource_version();
    tokio::time::sleep(Duration::from_millis(800)).await; // a few bookmarks
    api.compact();
    api.drop_connections();
    let web = svc("ns", "web").cluster_ip("10.0.0.10");
    api.create(&web);
    until(&mut run, "service after reconnect", |o| {
        o.services.len() == 1
    })
    .await;
    assert_eq!(
        api.requests_for(Resource::Services, false).len(),
        1,
        "relisted despite bookmarks"
    );
    let rewatch = loop {
        let watches = api.requests_for(Resource::Services, true);
        if watches.len() >= 2 {
            break watches;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let rvs: Vec<Option<u64>> = rewatch
        .iter()
        .map(|r| r.query.num("resourceVersion"))
        .collect();
    assert!(rvs[1].unwrap() >= rv, "rv {rv}, watches from {rvs:?}");
}

#[tokio::test]
async fn watches_closed_by_the_server_resume_from_their_resource_version() {
    let api = FakeApiServer::start().await;
    api.close_watches_every(Some(Duration::from_millis(500)));
    api.bookmark_every(None);
    let mut run = start(&api, WatchConfig::default()).await;
    until(&mut run, "initial sync", |_| true).await;
    for i in 0..4 {
        api.create(&svc("ns", &format!("s{i}")).cluster_ip("10.0.0.1"));
        until(&mut run, "next service", |o| o.services.len() == i + 1).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let watches = api.requests_for(Resource::Services, true);
    assert!(watches.len() >= 3, "{}", watches.len());
    assert_eq!(api.requests_for(Resource::Services, false).len(), 1);
    let rvs: Vec<u64> = watches
        .iter()
        .filter_map(|w| w.query.num("resourceVersion"))
        .collect();
    assert!(rvs.windows(2).all(|w| w[0] <= w[1]), "{rvs:?}");
}

#[tokio::test]
async fn endpoints_api_and_pods_are_watched_when_asked_and_stripped() {
    let api = FakeApiServer::start().await;
    let web = svc("ns", "web")
        .headless()
        .port("http", 80, "TCP")
        .annotation("owner", "me");
    api.create(&web);
    api.create(&endpoints_for(&web).ready("10.1.0.5").hostname("web-0"));
    let mut p = pod("ns", "web-0").ip("10.1.0.5").build();
    p.metadata.labels = Some([("app".to_string(), "web".to_string())].into());
    api.create(&p);
    let cfg = WatchConfig {
        endpoints_api: EndpointsApi::Endpoints,
        watch_pods: true,
        ..WatchConfig::default()
    };
    let mut run = start(&api, cfg).await;
    let objs = until(&mut run, "sync", |o| !o.pods.is_empty()).await;
    assert_eq!(names(&objs.endpoints, |s| &s.metadata), ["ns/web"]);
    assert!(objs.endpoint_slices.is_empty());
    assert!(api.requests_for(Resource::EndpointSlices, false).is_empty());
    assert_eq!(
        objs.pods[0].status.as_ref().unwrap().pod_ip.as_deref(),
        Some("10.1.0.5")
    );
    // Only the fields of the compact model are kept (`watch/types.rs` pins which).
    assert!(!objs.services[0].metadata.tolerate_unready);
    assert_eq!(
        metric(&run.registry, "kubedns_watch_objects", ("kind", "Pod")),
        1.0
    );
}

#[tokio::test]
async fn a_service_recreated_headless_gets_its_trimmed_endpoints_back() {
    let api = FakeApiServer::start().await;
    let web = svc("ns", "web")
        .cluster_ip("10.0.0.10")
        .port("http", 80, "TCP");
    api.create(&web);
    api.create(&slice_for(&web).ready("10.1.0.5"));
    let mut run = start(&api, WatchConfig::default()).await;
    let objs = until(&mut run, "initial sync", |o| o.services.len() == 1).await;
    assert!(
        objs.endpoint_slices.is_empty(),
        "a ClusterIP slice is not kept"
    );

    // clusterIP is immutable: delete and re-create headless; the slice itself does not change.
    api.delete(&web);
    api.create(&svc("ns", "web").headless().port("http", 80, "TCP"));
    let objs = until(&mut run, "endpoints back", |o| {
        o.endpoint_slices
            .first()
            .is_some_and(|s| s.endpoints.len() == 1)
    })
    .await;
    assert_eq!(
        objs.endpoint_slices[0].endpoints[0].addresses,
        [ip("10.1.0.5")]
    );
    assert_eq!(
        api.requests_for(Resource::EndpointSlices, false).len(),
        2,
        "no relist"
    );
}
