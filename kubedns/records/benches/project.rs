//! Snapshot build and answer cost for the figure cluster: 10,000 Services and
//! 100,000 endpoints (1,000 headless Services x 100 endpoints, 9,000 ClusterIP Services).
//!
//! `cargo bench -p kubedns-records --bench project -- --quick` (short run). Before the
//! criterion groups it prints the bytes held by one snapshot (counting allocator) and by the
//! input objects, so the memory figure comes with the timing.
// The counting allocator needs `unsafe impl GlobalAlloc`; benchmarks only.
#![allow(unsafe_code, clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use kubedns_records::objects::{
    Endpoint, EndpointConditions, EndpointSlice, Meta, Port, Service, ServiceSpec,
};
use kubedns_records::{ClusterObjects, ZoneConfig, project};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn meta(ns: &str, name: &str, service_name: Option<String>) -> Meta {
    Meta {
        name: Some(name.into()),
        namespace: Some(ns.into()),
        service_name,
        tolerate_unready: false,
    }
}

fn port(port: i32) -> Port {
    Port {
        name: Some("http".into()),
        port: Some(port),
        protocol: Some("TCP".into()),
    }
}

fn service(ns: &str, name: &str, cluster_ip: &str) -> Service {
    Service {
        metadata: meta(ns, name, None),
        spec: Some(ServiceSpec {
            cluster_ip: Some(cluster_ip.into()),
            cluster_ips: Some(vec![cluster_ip.into()]),
            ports: Some(vec![port(80)]),
            ..ServiceSpec::default()
        }),
    }
}

/// 1,000 headless Services with 100 endpoints each (every other one with a hostname) and
/// 9,000 ClusterIP Services, over 100 namespaces.
pub fn big_cluster() -> ClusterObjects {
    let mut objects = ClusterObjects::default();
    for i in 0..10_000u32 {
        let ns = format!("ns-{}", i % 100);
        let name = format!("svc-{i}");
        if i < 1_000 {
            objects.services.push(Arc::new(service(&ns, &name, "None")));
            let endpoints = (0..100u32)
                .map(|e| Endpoint {
                    addresses: vec![IpAddr::from([
                        10,
                        128 + (i / 250) as u8,
                        (i % 250) as u8,
                        e as u8 + 1,
                    ])],
                    hostname: (e % 2 == 0).then(|| format!("pod-{e}")),
                    conditions: Some(EndpointConditions { ready: Some(true) }),
                })
                .collect();
            objects.endpoint_slices.push(Arc::new(EndpointSlice {
                metadata: meta(&ns, &format!("{name}-abcde"), Some(name.clone())),
                address_type: "IPv4".into(),
                endpoints,
                ports: Some(vec![port(8080)]),
            }));
        } else {
            let ip = format!("10.96.{}.{}", i / 250, i % 250 + 1);
            objects.services.push(Arc::new(service(&ns, &name, &ip)));
        }
    }
    objects
}

fn config() -> ZoneConfig {
    ZoneConfig::new(Name::from_ascii("cluster.local.").unwrap())
}

/// Resident set size in MiB (Linux `/proc/self/statm`, 4 KiB pages); 0 elsewhere.
fn rss_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

fn report_memory(objects: &ClusterObjects) {
    let before = LIVE.load(Ordering::Relaxed);
    let rss_before = rss_mib();
    let snap = project(objects, &config(), 1);
    let after = LIVE.load(Ordering::Relaxed);
    let s = snap.stats();
    eprintln!(
        "snapshot: {} services, {} published endpoints, {} PTR names: {:.1} MiB held, RSS +{:.1} MiB (process RSS {:.1} MiB with objects)",
        s.services,
        s.published_endpoints,
        s.ptr_names,
        (after - before) as f64 / (1024.0 * 1024.0),
        rss_mib() - rss_before,
        rss_mib(),
    );
    drop(snap);
    let before = LIVE.load(Ordering::Relaxed);
    let copy = big_cluster();
    let after = LIVE.load(Ordering::Relaxed);
    eprintln!(
        "input objects (k8s-openapi values): {:.1} MiB held",
        (after - before) as f64 / (1024.0 * 1024.0)
    );
    drop(copy);
}

fn benches(c: &mut Criterion) {
    let objects = big_cluster();
    report_memory(&objects);
    let cfg = config();
    let mut group = c.benchmark_group("project");
    group.sample_size(10);
    group.bench_function("10k_services_100k_endpoints", |b| {
        b.iter(|| black_box(project(black_box(&objects), &cfg, 1)))
    });
    group.finish();

    let snap = project(&objects, &cfg, 1);
    let mut group = c.benchmark_group("answer");
    let questions = [
        (
            "clusterip_a",
            "svc-5000.ns-0.svc.cluster.local.",
            RecordType::A,
        ),
        (
            "clusterip_srv",
            "_http._tcp.svc-5000.ns-0.svc.cluster.local.",
            RecordType::SRV,
        ),
        (
            "headless_a_100",
            "svc-500.ns-0.svc.cluster.local.",
            RecordType::A,
        ),
        (
            "headless_srv_100",
            "_http._tcp.svc-500.ns-0.svc.cluster.local.",
            RecordType::SRV,
        ),
        (
            "endpoint_a",
            "pod-42.svc-500.ns-0.svc.cluster.local.",
            RecordType::A,
        ),
        ("ptr", "42.244.129.10.in-addr.arpa.", RecordType::PTR),
        ("nxdomain", "nope.ns-0.svc.cluster.local.", RecordType::A),
        ("refused", "www.example.com.", RecordType::A),
    ];
    for (label, q, t) in questions {
        let name = Name::from_ascii(q).unwrap();
        group.bench_function(label, |b| {
            b.iter(|| black_box(snap.answer(black_box(&name), t, DNSClass::IN)))
        });
    }
    group.finish();
}

criterion_group!(project_benches, benches);
criterion_main!(project_benches);
