//! One watcher per watched resource feeding its [`Cache`], and the publisher that turns the
//! caches into complete [`ClusterObjects`] on the source channel. Watcher items are never
//! `?`-ed: errors are logged and counted and the watcher retries with [`CappedBackoff`];
//! while the API is away the caches (and so the last published set) stay as they were.
//! Re-lists swap a cache atomically at `InitDone`, which is what removes objects deleted while
//! we were disconnected.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures::{FutureExt, Stream, StreamExt};
use kube::Api;
use kube::runtime::{WatchStreamExt, watcher};
use kubedns_records::ClusterObjects;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::WatchMetrics;
use super::backoff::CappedBackoff;
use super::cache::Cache;
use super::types::{Slim, WatchedEndpoints, WatchedPod, WatchedService, WatchedSlice};
use crate::source::SourceTx;

/// What every watcher task shares.
#[derive(Clone)]
pub(super) struct Ctx {
    pub metrics: WatchMetrics,
    pub changed: Arc<Notify>,
    pub token: CancellationToken,
}

/// A future a watcher waits for before its first list.
pub(super) type Gate = Pin<Box<dyn Future<Output = ()> + Send>>;

/// How one resource is watched.
pub(super) struct Watch<K, F> {
    pub api: Api<K>,
    pub resource: &'static str,
    /// Sees every event before it is stored, creations and deletions alike, and says whether
    /// its object is stored (false: the object is not kept, and a stored copy is removed).
    pub on_event: F,
    /// Start listing only once this resolves.
    pub after: Option<Gate>,
    /// Drop the watch and list again from scratch whenever this is notified.
    pub restart: Option<Arc<Notify>>,
}

/// Starts the watcher task of `w` on `tasks`, feeding `cache`.
pub(super) fn spawn<K, F>(tasks: &mut JoinSet<()>, ctx: &Ctx, cache: Arc<Cache<K>>, w: Watch<K, F>)
where
    K: Slim + Sync + 'static,
    F: FnMut(&mut watcher::Event<K>) -> bool + Clone + Send + 'static,
{
    tasks.spawn(watch_loop(cache, w, ctx.clone()));
}

async fn watch_loop<K, F>(cache: Arc<Cache<K>>, w: Watch<K, F>, ctx: Ctx)
where
    K: Slim + Sync + 'static,
    F: FnMut(&mut watcher::Event<K>) -> bool + Clone + Send + 'static,
{
    if let Some(after) = w.after {
        tokio::select! {
            _ = ctx.token.cancelled() => return,
            () = after => {}
        }
    }
    loop {
        let stream = watcher(w.api.clone(), watcher::Config::default())
            .backoff(CappedBackoff::new())
            .filter_map({
                let mut on_event = w.on_event.clone();
                move |item| std::future::ready(keep(item, &mut on_event))
            });
        let restart = async {
            match &w.restart {
                Some(n) => n.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = drive(stream, &cache, w.resource, &ctx) => return,
            () = restart => {
                tracing::info!(resource = w.resource, "re-listing: a Service now reads endpoints");
                ctx.metrics.restart(w.resource);
            }
        }
    }
}

/// The event `on_event` turns `item` into: as it is when its object is kept; a `Delete` for
/// an object not kept (so no earlier copy outlives it); nothing for a listed object not kept.
pub(super) fn keep<K, F>(
    item: Result<watcher::Event<K>, watcher::Error>,
    on_event: &mut F,
) -> Option<Result<watcher::Event<K>, watcher::Error>>
where
    F: FnMut(&mut watcher::Event<K>) -> bool,
{
    let mut event = match item {
        Ok(event) => event,
        Err(e) => return Some(Err(e)),
    };
    if on_event(&mut event) {
        return Some(Ok(event));
    }
    match event {
        watcher::Event::Apply(obj) | watcher::Event::Delete(obj) => {
            Some(Ok(watcher::Event::Delete(obj)))
        }
        watcher::Event::InitApply(_) => None,
        other => Some(Ok(other)),
    }
}

/// Polls one watcher stream until cancelled (or it ends): applies events to `cache`, signals
/// changes, logs and counts errors (the watcher itself retries with backoff).
async fn drive<K, S>(stream: S, cache: &Cache<K>, resource: &'static str, ctx: &Ctx)
where
    K: Slim,
    S: Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
{
    let mut stream = std::pin::pin!(stream);
    let mut lists = 0u64;
    loop {
        let item = tokio::select! {
            _ = ctx.token.cancelled() => return,
            item = stream.next() => item,
        };
        let event = match item {
            None => return,
            Some(Err(err)) => {
                tracing::warn!(resource, error = %err, "watch failed; retrying with backoff");
                ctx.metrics.error(resource, &err);
                continue;
            }
            Some(Ok(event)) => event,
        };
        match event {
            watcher::Event::Init => {
                if lists > 0 {
                    ctx.metrics.restart(resource);
                    tracing::info!(resource, "re-listing");
                }
                lists += 1;
            }
            watcher::Event::InitDone => tracing::info!(resource, "listed"),
            _ => {}
        }
        if cache.apply(event) {
            ctx.metrics.synced(resource);
            ctx.changed.notify_one();
        }
    }
}

/// The caches of every watched resource.
pub(super) struct Stores {
    pub services: Arc<Cache<WatchedService>>,
    pub slices: Option<Arc<Cache<WatchedSlice>>>,
    pub endpoints: Option<Arc<Cache<WatchedEndpoints>>>,
    pub pods: Option<Arc<Cache<WatchedPod>>>,
}

fn state<K: Slim>(c: &Option<Arc<Cache<K>>>) -> Vec<Arc<K::Model>> {
    c.as_ref().map(|c| c.state()).unwrap_or_default()
}

async fn ready<K: Slim>(c: &Option<Arc<Cache<K>>>) {
    if let Some(c) = c {
        c.wait_ready().await;
    }
}

impl Stores {
    /// Resolves once every cache has completed its first list.
    async fn ready(&self) {
        self.services.wait_ready().await;
        ready(&self.slices).await;
        ready(&self.endpoints).await;
        ready(&self.pods).await;
    }

    fn snapshot(&self) -> ClusterObjects {
        ClusterObjects {
            services: self.services.state(),
            endpoint_slices: state(&self.slices),
            endpoints: state(&self.endpoints),
            pods: state(&self.pods),
            namespaces: Vec::new(),
        }
    }
}

/// Publishes the complete object set once every cache is ready, then after every change.
pub(super) async fn publish(stores: Stores, tx: SourceTx, ctx: Ctx) {
    tokio::select! {
        _ = ctx.token.cancelled() => return,
        () = stores.ready() => {}
    }
    tracing::info!("initial sync with the Kubernetes API complete");
    loop {
        // This set includes every change signalled so far: drop a pending wake-up so a burst
        // (e.g. the InitDones of the first sync) does not cost a second identical projection.
        let _ = ctx.changed.notified().now_or_never();
        let objects = stores.snapshot();
        ctx.metrics.objects("Service", objects.services.len());
        ctx.metrics
            .objects("EndpointSlice", objects.endpoint_slices.len());
        ctx.metrics.objects("Endpoints", objects.endpoints.len());
        ctx.metrics.objects("Pod", objects.pods.len());
        tx.send_replace(Some(Arc::new(objects)));
        tokio::select! {
            _ = ctx.token.cancelled() => return,
            _ = ctx.changed.notified() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use watcher::Event;

    fn svc(name: &str) -> WatchedService {
        WatchedService {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                ..ObjectMeta::default()
            },
            spec: None,
        }
    }

    fn names(objs: &[Arc<kubedns_records::objects::Service>]) -> Vec<String> {
        let mut v: Vec<String> = objs
            .iter()
            .filter_map(|s| s.metadata.name.clone())
            .collect();
        v.sort();
        v
    }

    #[tokio::test]
    async fn relist_forgets_missing_objects_and_errors_are_counted_not_fatal() {
        let reg = prometheus::Registry::new();
        let ctx = Ctx {
            metrics: WatchMetrics::register(&reg).unwrap(),
            changed: Arc::new(Notify::new()),
            token: CancellationToken::new(),
        };
        let cache = Cache::new();
        let events = futures::stream::iter([
            Ok(Event::Init),
            Ok(Event::InitApply(svc("a"))),
            Ok(Event::InitApply(svc("gone"))),
            Ok(Event::InitDone),
            Ok(Event::Apply(svc("b"))),
            Err(watcher::Error::NoResourceVersion),
            Ok(Event::Init),
            Ok(Event::InitApply(svc("a"))),
            Ok(Event::InitApply(svc("b"))),
            Ok(Event::InitDone),
        ]);
        let (tx, mut rx) = crate::source::channel();
        let stores = Stores {
            services: cache.clone(),
            slices: None,
            endpoints: None,
            pods: None,
        };
        let publisher = tokio::spawn(publish(stores, tx, ctx.clone()));
        drive(events, &cache, "services", &ctx).await;
        assert_eq!(names(&cache.state()), ["a", "b"]);
        let published =
            rx.wait_for(|v| v.as_ref().is_some_and(|o| names(&o.services) == ["a", "b"]));
        tokio::time::timeout(std::time::Duration::from_secs(5), published)
            .await
            .unwrap()
            .unwrap();
        let text = ops::metrics::encode(&reg);
        assert!(
            text.contains(r#"kubedns_watch_restarts_total{resource="services"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"reason="no_resource_version",resource="services"} 1"#),
            "{text}"
        );
        ctx.token.cancel();
        publisher.await.unwrap();
    }
}
