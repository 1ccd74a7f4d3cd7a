//! User-space cost of one answer: `Handler::respond` over the queries of the saturation
//! benchmark (`benches/dnsperf.sh`): the A records of 10,000 ClusterIP Services, asked in a
//! shuffled order so that each lookup finds the Service's slot and entry out of the cache as
//! it would under real traffic. Includes the metrics every query updates.
//!
//! `cargo bench -p kubedns --bench respond`

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hickory_net::xfer::Protocol;
use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::{Name, RecordType};
use kubedns::handler::Handler;
use kubedns_records::{ZoneConfig, from_yaml_documents, project};

const NAMESPACES: usize = 100;
const PER_NAMESPACE: usize = 100;

/// The Services of `dnsperf.sh`: `svc-S.ns-N`, one port, cluster IP 10.96.x.y.
fn cluster_yaml() -> String {
    let mut yaml = String::new();
    for k in 0..NAMESPACES * PER_NAMESPACE {
        let (n, s) = (k / PER_NAMESPACE, k % PER_NAMESPACE);
        let ip = format!("10.96.{}.{}", k / 250, k % 250 + 1);
        yaml.push_str(&format!(
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: svc-{s}, namespace: ns-{n}}}\n\
             spec: {{clusterIP: {ip}, clusterIPs: [{ip}], ports: [{{name: http, port: 80, protocol: TCP}}]}}\n"
        ));
    }
    yaml
}

fn query(name: &str, id: u16) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = id;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(
        Name::from_ascii(name).expect("name"),
        RecordType::A,
    ));
    m.set_edns(Edns::new());
    m.to_vec().expect("encode")
}

/// Every Service's A query, in an order that jumps around the zone (a fixed permutation:
/// multiplying by a number coprime with the count visits each index once).
fn queries() -> Vec<Vec<u8>> {
    let total = NAMESPACES * PER_NAMESPACE;
    (0..total)
        .map(|i| {
            let k = (i * 7919) % total;
            let (n, s) = (k / PER_NAMESPACE, k % PER_NAMESPACE);
            let id = u16::try_from(i % 65536).expect("fits");
            query(&format!("svc-{s}.ns-{n}.svc.cluster.local."), id)
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let cfg = ZoneConfig::new(Name::from_ascii("cluster.local.").expect("zone"));
    let objects = from_yaml_documents(&cluster_yaml()).expect("objects");
    let zone = Arc::new(kubedns::zone::ZoneView::new());
    zone.store(Arc::new(project(&objects, &cfg, 1)));
    let metrics =
        kubedns::metrics::DnsMetrics::register(&prometheus::Registry::new()).expect("metrics");
    let h = Handler::new(zone, &cfg, metrics);
    let packets = queries();
    let src = "10.244.0.9:5353".parse().expect("addr");
    let mut out = Vec::with_capacity(1232);
    let mut group = c.benchmark_group("respond");
    group.throughput(Throughput::Elements(packets.len() as u64));
    // One query at a time, as over TCP: metrics updated per query.
    group.bench_function("10k_services_a_shuffled", |b| {
        b.iter(|| {
            for p in &packets {
                assert!(h.respond(black_box(p), src, Protocol::Udp, &mut out));
                black_box(&out);
            }
        })
    });
    // As a UDP worker answers: batches of 4 (about what the worker reads per wake-up at
    // saturation), counted in its tally and flushed after each batch.
    let mut tally = h.tally();
    group.bench_function("10k_services_a_shuffled_udp_batches", |b| {
        b.iter(|| {
            for batch in packets.chunks(4) {
                for p in batch {
                    assert!(h.respond_udp(black_box(p), src, &mut out, &mut tally));
                    black_box(&out);
                }
                h.flush(&mut tally);
            }
        })
    });
    group.finish();
}

criterion_group!(respond_benches, benches);
criterion_main!(respond_benches);
