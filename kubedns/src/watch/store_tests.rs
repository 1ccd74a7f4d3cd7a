//! Property: whatever the order of creations, updates, deletions and relists of Services,
//! EndpointSlices and Pods, the stores (after the trim) equal stores listed from scratch from
//! the final objects, so does the zone projected from them, and once every object is deleted
//! no map holds anything.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::FutureExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::watcher::Event;
use kubedns_records::objects::{Endpoint, PodStatus, ServiceSpec};
use kubedns_records::{ClusterObjects, PodMode, ServiceKey, ZoneConfig, project};
use proptest::prelude::*;

use super::cache::{Cache, Key};
use super::reflect::keep;
use super::trim::Trim;
use super::types::{Slim, WatchedPod, WatchedService, WatchedSlice};

fn meta(name: String, labels: Option<(&str, String)>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some("ns".into()),
        labels: labels.map(|(k, v)| [(k.to_string(), v)].into()),
        ..ObjectMeta::default()
    }
}

fn service(i: u8, headless: bool, ip: u8) -> WatchedService {
    let ip = if headless {
        "None".into()
    } else {
        format!("10.0.0.{ip}")
    };
    WatchedService {
        metadata: meta(format!("s{i}"), None),
        spec: Some(ServiceSpec {
            cluster_ip: Some(ip),
            ..ServiceSpec::default()
        }),
    }
}

fn slice(i: u8, j: u8, ip: u8) -> WatchedSlice {
    let label = (kubedns_records::SERVICE_NAME_LABEL, format!("s{i}"));
    WatchedSlice {
        metadata: meta(format!("s{i}-{j}"), Some(label)),
        address_type: "IPv4".into(),
        endpoints: vec![Endpoint {
            addresses: vec![format!("10.1.{i}.{ip}").parse().unwrap()],
            ..Endpoint::default()
        }],
        ports: None,
    }
}

fn pod(k: u8, ip: u8) -> WatchedPod {
    WatchedPod {
        metadata: meta(format!("p{k}"), None),
        spec: None,
        status: Some(PodStatus {
            phase: Some("Running".into()),
            pod_ip: Some(format!("10.2.0.{ip}")),
            pod_ips: None,
        }),
    }
}

#[derive(Debug, Clone)]
enum Op {
    Service(u8, bool, u8),
    DeleteService(u8),
    Slice(u8, u8, u8),
    DeleteSlice(u8, u8),
    Pod(u8, u8),
    DeletePod(u8),
    RelistServices,
    RelistSlices,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3u8, any::<bool>(), 1..3u8).prop_map(|(i, h, ip)| Op::Service(i, h, ip)),
        (0..3u8).prop_map(Op::DeleteService),
        (0..4u8, 0..2u8, 1..3u8).prop_map(|(i, j, ip)| Op::Slice(i, j, ip)),
        (0..4u8, 0..2u8).prop_map(|(i, j)| Op::DeleteSlice(i, j)),
        (0..2u8, 1..3u8).prop_map(|(k, ip)| Op::Pod(k, ip)),
        (0..2u8).prop_map(Op::DeletePod),
        Just(Op::RelistServices),
        Just(Op::RelistSlices),
    ]
}

/// The API server's objects.
#[derive(Default)]
struct Api {
    services: BTreeMap<u8, WatchedService>,
    slices: BTreeMap<(u8, u8), WatchedSlice>,
    pods: BTreeMap<u8, WatchedPod>,
}

/// The stores and the trim, wired as `watch::run` wires them.
struct Stores {
    trim: Arc<Trim>,
    services: Arc<Cache<WatchedService>>,
    slices: Arc<Cache<WatchedSlice>>,
    pods: Arc<Cache<WatchedPod>>,
}

impl Stores {
    fn new() -> Self {
        Stores {
            trim: Trim::new(),
            services: Cache::new(),
            slices: Cache::new(),
            pods: Cache::new(),
        }
    }

    fn service(&self, api: &Api, event: Event<WatchedService>) {
        for key in self.trim.service(&event) {
            self.slices.remove(&key);
        }
        self.services.apply(event);
        if self.trim.restart.notified().now_or_never().is_some() {
            self.list_slices(api);
        }
    }

    fn slice(&self, event: Event<WatchedSlice>) {
        if let Some(Ok(event)) = keep(Ok(event), &mut |e: &mut Event<_>| self.trim.slice(e)) {
            self.slices.apply(event);
        }
    }

    fn list_services(&self, api: &Api) {
        self.service(api, Event::Init);
        for s in api.services.values() {
            self.service(api, Event::InitApply(s.clone()));
        }
        self.service(api, Event::InitDone);
    }

    fn list_slices(&self, api: &Api) {
        self.slice(Event::Init);
        api.slices
            .values()
            .for_each(|s| self.slice(Event::InitApply(s.clone())));
        self.slice(Event::InitDone);
    }

    fn run(&self, api: &mut Api, op: Op) {
        match op {
            Op::Service(i, headless, ip) => {
                let s = service(i, headless, ip);
                api.services.insert(i, s.clone());
                self.service(api, Event::Apply(s));
            }
            Op::DeleteService(i) => {
                if let Some(s) = api.services.remove(&i) {
                    self.service(api, Event::Delete(s));
                }
            }
            Op::Slice(i, j, ip) => {
                let s = slice(i, j, ip);
                api.slices.insert((i, j), s.clone());
                self.slice(Event::Apply(s));
            }
            Op::DeleteSlice(i, j) => {
                if let Some(s) = api.slices.remove(&(i, j)) {
                    self.slice(Event::Delete(s));
                }
            }
            Op::Pod(k, ip) => {
                let p = pod(k, ip);
                api.pods.insert(k, p.clone());
                self.pods.apply(Event::Apply(p));
            }
            Op::DeletePod(k) => {
                if let Some(p) = api.pods.remove(&k) {
                    self.pods.apply(Event::Delete(p));
                }
            }
            Op::RelistServices => self.list_services(api),
            Op::RelistSlices => self.list_slices(api),
        }
    }

    /// What `watch::run` publishes, sorted.
    fn objects(&self) -> ClusterObjects {
        fn sorted<M>(mut v: Vec<Arc<M>>, key: impl Fn(&M) -> Key) -> Vec<Arc<M>> {
            v.sort_by_key(|m| key(m));
            v
        }
        let k = |m: &kubedns_records::objects::Meta| {
            (
                m.namespace.clone().unwrap_or_default(),
                m.name.clone().unwrap_or_default(),
            )
        };
        ClusterObjects {
            services: sorted(self.services.state(), |s| k(&s.metadata)),
            endpoint_slices: sorted(self.slices.state(), |s| k(&s.metadata)),
            pods: sorted(self.pods.state(), |p| k(&p.metadata)),
            ..ClusterObjects::default()
        }
    }
}

fn zone(objects: &ClusterObjects) -> Vec<String> {
    let cfg = ZoneConfig {
        zone: hickory_proto::rr::Name::from_ascii("cluster.local.").unwrap(),
        ttl: 30,
        neg_ttl: 5,
        pods: PodMode::Verified,
        reverse_cidrs: Vec::new(),
        dns_service: ServiceKey {
            namespace: "kube-system".into(),
            name: "kube-dns".into(),
        },
    };
    project(objects, &cfg, 1).dump()
}

fn models<K: Slim>(v: &[Arc<K::Model>]) -> Vec<&K::Model> {
    v.iter().map(|m| &**m).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn stores_equal_a_fresh_list_of_the_final_objects(ops in proptest::collection::vec(op(), 0..40)) {
        let mut api = Api::default();
        let live = Stores::new();
        live.list_services(&api);
        live.list_slices(&api);
        for op in ops {
            live.run(&mut api, op);
        }
        let fresh = Stores::new();
        fresh.list_services(&api);
        fresh.list_slices(&api);
        for p in api.pods.values() {
            fresh.pods.apply(Event::Apply(p.clone()));
        }
        let (got, want) = (live.objects(), fresh.objects());
        prop_assert_eq!(models::<WatchedService>(&got.services), models::<WatchedService>(&want.services));
        prop_assert_eq!(models::<WatchedSlice>(&got.endpoint_slices), models::<WatchedSlice>(&want.endpoint_slices));
        prop_assert_eq!(models::<WatchedPod>(&got.pods), models::<WatchedPod>(&want.pods));
        prop_assert_eq!(zone(&got), zone(&want));

        // Deleting everything leaves nothing behind.
        let slices: Vec<(u8, u8)> = api.slices.keys().copied().collect();
        let services: Vec<u8> = api.services.keys().copied().collect();
        let pods: Vec<u8> = api.pods.keys().copied().collect();
        for (i, j) in slices {
            live.run(&mut api, Op::DeleteSlice(i, j));
        }
        for i in services {
            live.run(&mut api, Op::DeleteService(i));
        }
        for k in pods {
            live.run(&mut api, Op::DeletePod(k));
        }
        let empty = live.objects();
        prop_assert!(empty.services.is_empty() && empty.endpoint_slices.is_empty() && empty.pods.is_empty());
        prop_assert_eq!(live.trim.sizes(), (0, 0, 0));
    }
}
