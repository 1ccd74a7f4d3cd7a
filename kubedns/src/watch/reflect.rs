//! One reflector per watched resource, and the publisher that turns the stores into complete
//! [`ClusterObjects`] on the source channel. Watcher items are never `?`-ed: errors are logged
//! and counted and the watcher retries with `.default_backoff()`; while the API is away the
//! stores (and so the last published set) stay as they were. Re-lists swap a store atomically
//! at `InitDone`, which is what removes objects deleted while we were disconnected.

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

use futures::{FutureExt, Stream, StreamExt};
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kubedns_records::ClusterObjects;
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::WatchMetrics;
use crate::source::SourceTx;

/// What every reflector task shares.
#[derive(Clone)]
pub(super) struct Ctx {
    pub metrics: WatchMetrics,
    pub changed: Arc<Notify>,
    pub token: CancellationToken,
}

/// Starts a reflector for `K` on `tasks`; returns its store.
pub(super) fn spawn<K>(
    tasks: &mut JoinSet<()>,
    ctx: &Ctx,
    api: Api<K>,
    resource: &'static str,
    strip: fn(&mut K),
) -> Store<K>
where
    K: kube::Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
{
    let (store, writer) = reflector::store::<K>();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(strip)
        .reflect(writer);
    tasks.spawn(drive(
        stream,
        resource,
        ctx.metrics.clone(),
        ctx.changed.clone(),
        ctx.token.child_token(),
    ));
    store
}

/// Polls one reflector stream until cancelled, signalling changes and counting errors.
async fn drive<K, S>(
    stream: S,
    resource: &'static str,
    metrics: WatchMetrics,
    changed: Arc<Notify>,
    token: CancellationToken,
) where
    S: Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
{
    let mut stream = std::pin::pin!(stream);
    let mut lists = 0u64;
    loop {
        let item = tokio::select! {
            _ = token.cancelled() => return,
            item = stream.next() => item,
        };
        match item {
            None => return,
            Some(Ok(watcher::Event::Init)) => {
                if lists > 0 {
                    metrics.restart(resource);
                    tracing::info!(resource, "re-listing");
                }
                lists += 1;
            }
            Some(Ok(watcher::Event::InitApply(_))) => {}
            Some(Ok(watcher::Event::InitDone)) => {
                tracing::info!(resource, "listed");
                metrics.synced(resource);
                changed.notify_one();
            }
            Some(Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_))) => {
                metrics.synced(resource);
                changed.notify_one();
            }
            Some(Err(err)) => {
                tracing::warn!(resource, error = %err, "watch failed; retrying with backoff");
                metrics.error(resource, &err);
            }
        }
    }
}

/// The stores of every watched resource.
pub(super) struct Stores {
    pub services: Store<Service>,
    pub slices: Option<Store<EndpointSlice>>,
    pub endpoints: Option<Store<Endpoints>>,
    pub pods: Option<Store<Pod>>,
}

impl Stores {
    /// Resolves once every store has completed its first list; `false` if a writer went away.
    async fn ready(&self) -> bool {
        async fn ready<K>(s: &Option<Store<K>>) -> bool
        where
            K: kube::Resource + Clone + 'static,
            K::DynamicType: Eq + Hash + Clone,
        {
            match s {
                Some(s) => s.wait_until_ready().await.is_ok(),
                None => true,
            }
        }
        self.services.wait_until_ready().await.is_ok()
            && ready(&self.slices).await
            && ready(&self.endpoints).await
            && ready(&self.pods).await
    }

    fn snapshot(&self) -> ClusterObjects {
        fn state<K>(s: &Option<Store<K>>) -> Vec<Arc<K>>
        where
            K: kube::Resource + Clone + 'static,
            K::DynamicType: Eq + Hash + Clone,
        {
            s.as_ref().map(Store::state).unwrap_or_default()
        }
        ClusterObjects {
            services: self.services.state(),
            endpoint_slices: state(&self.slices),
            endpoints: state(&self.endpoints),
            pods: state(&self.pods),
            namespaces: Vec::new(),
        }
    }
}

/// Publishes the complete object set once every store is ready, then after every change.
pub(super) async fn publish(stores: Stores, tx: SourceTx, ctx: Ctx) {
    let ready = tokio::select! {
        _ = ctx.token.cancelled() => return,
        ready = stores.ready() => ready,
    };
    if !ready {
        return;
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

    fn svc(name: &str) -> Service {
        Service {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                ..ObjectMeta::default()
            },
            ..Service::default()
        }
    }

    fn names(objs: &[Arc<Service>]) -> Vec<String> {
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
        let (store, writer) = reflector::store::<Service>();
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
        ])
        .reflect(writer);
        let (tx, mut rx) = crate::source::channel();
        let stores = Stores {
            services: store.clone(),
            slices: None,
            endpoints: None,
            pods: None,
        };
        let publisher = tokio::spawn(publish(stores, tx, ctx.clone()));
        drive(
            events,
            "services",
            ctx.metrics.clone(),
            ctx.changed.clone(),
            ctx.token.clone(),
        )
        .await;
        assert_eq!(names(&store.state()), ["a", "b"]);
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
