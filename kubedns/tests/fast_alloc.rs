//! The fast path allocates nothing per query: a counting global allocator (this test binary
//! only) counts the allocations the answering thread makes while it answers the same query
//! many times after a warm-up (the warm-up fills the reply buffer's capacity and the metrics'
//! lazily created label sets).
//!
//! `unsafe` is needed for `GlobalAlloc` (its methods are `unsafe fn`); each call forwards to
//! `System` with the caller's arguments unchanged, so `System`'s contract is the caller's.
#![allow(unsafe_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hickory_net::xfer::Protocol;
use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::{Name, RecordType};
use kubedns::handler::Handler;
use kubedns_records::{ZoneConfig, from_yaml_documents, project};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to `System` with the same arguments (see the module doc).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn query(name: &str, ty: RecordType, edns: bool) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = 4321;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), ty));
    if edns {
        let mut e = Edns::new();
        e.set_max_payload(4096);
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

/// Allocations made by `n` answers to `packet` through `Handler::respond`, and through
/// `Handler::respond_udp` with a flush of the tally after every fourth, after a warm-up.
fn allocations(h: &Handler, packet: &[u8], n: usize) -> usize {
    let src = "10.244.0.9:5353".parse().unwrap();
    let mut out = Vec::with_capacity(1232);
    let mut tally = h.tally();
    for _ in 0..3 {
        assert!(h.respond_fast(packet, Protocol::Udp, &mut out), "fast path");
        assert!(h.respond(packet, src, Protocol::Udp, &mut out));
        assert!(h.respond_udp(packet, src, &mut out, &mut tally));
        h.flush(&mut tally);
    }
    ALLOCATIONS.store(0, Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    for i in 0..n {
        h.respond(packet, src, Protocol::Udp, &mut out);
        h.respond_udp(packet, src, &mut out, &mut tally);
        if i % 4 == 3 {
            h.flush(&mut tally);
        }
    }
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.load(Ordering::Relaxed)
}

#[test]
fn repeated_queries_through_the_fast_path_allocate_nothing() {
    let cfg = ZoneConfig::new(Name::from_ascii("cluster.local.").unwrap());
    let mut yaml = support::CLUSTER.to_string();
    yaml.push_str("\n---\n");
    yaml.push_str(&support::headless(20));
    let objects = from_yaml_documents(&yaml).unwrap();
    let zone = Arc::new(kubedns::zone::ZoneView::new());
    zone.store(Arc::new(project(&objects, &cfg, 1)));
    let metrics = kubedns::metrics::DnsMetrics::register(&prometheus::Registry::new()).unwrap();
    let h = Handler::new(zone, &cfg, metrics);
    for (name, ty, edns) in [
        ("my-nginx.default.svc.cluster.local.", RecordType::A, false),
        ("My-Nginx.Default.svc.cluster.local.", RecordType::A, true),
        (
            "my-nginx.default.svc.cluster.local.",
            RecordType::AAAA,
            true,
        ),
        ("my-nginx.default.svc.cluster.local.", RecordType::SRV, true),
        ("nope.default.svc.cluster.local.", RecordType::A, true),
        ("big.default.svc.cluster.local.", RecordType::A, true),
        ("client-svc.default.svc.cluster.local.", RecordType::A, true),
        ("dns-version.cluster.local.", RecordType::TXT, false),
        ("cluster.local.", RecordType::NS, true),
        ("10-244-1-5.default.pod.cluster.local.", RecordType::A, true),
    ] {
        let packet = query(name, ty, edns);
        assert_eq!(allocations(&h, &packet, 1000), 0, "{name} {ty}");
    }
    // The counter counts: the reference path allocates (packet copy, records, encoder).
    let packet = query("my-nginx.default.svc.cluster.local.", RecordType::A, true);
    let mut out = Vec::with_capacity(1232);
    COUNTING.with(|c| c.set(true));
    let src = "10.244.0.9:5353".parse().unwrap();
    h.respond_reference(
        &packet,
        src,
        Protocol::Udp,
        &mut out,
        std::time::Instant::now(),
    );
    COUNTING.with(|c| c.set(false));
    assert!(ALLOCATIONS.load(Ordering::Relaxed) > 0);
}
