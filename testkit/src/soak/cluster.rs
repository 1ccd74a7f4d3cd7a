//! The cluster the soak drives: a fixed set of Services that never change (dual-stack
//! ClusterIP, ExternalName), headless Services whose EndpointSlices change, and a pool of
//! ClusterIP Services created and deleted at random (each with an EndpointSlice and a fresh
//! cluster IP, so a stale answer is told apart from a current one). Every write is recorded in
//! the [`Model`] first, then made at the fake API server, so the model's change time is never
//! later than the server's.

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use super::model::{Class, Expect, Key, Model};
use super::schedule::Rng;
use crate::apiserver::{EventType, FakeApiServer};
use crate::k8s::{SliceBuilder, SvcBuilder, slice_for, svc};

/// The namespace of every soak object.
pub const NS: &str = "soak";
/// kubedns `--ttl` in the pod the soak runs.
pub const CLUSTER_TTL: u32 = 30;
/// First pool cluster IP; pool IPs count up from here inside `REVERSE_CIDR`.
const POOL_BASE: u32 = u32::from_be_bytes([10, 96, 1, 0]);
/// The range kubedns answers PTR for authoritatively (NXDOMAIN for unknown addresses).
pub const REVERSE_CIDR: &str = "10.96.0.0/12";
const HEADLESS: usize = 10;

/// By when a change must be visible.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// After a change reached the API server.
    pub change: Duration,
    /// After the API server answers again following an outage.
    pub recovery: Duration,
    /// The planned outage `[start, end)`.
    pub outage: Option<(Instant, Instant)>,
}

impl Deadlines {
    /// The deadline of a change made at `now`: `now + change`, and no earlier than
    /// `end + recovery` once the outage has begun.
    pub fn of(&self, now: Instant) -> Instant {
        let plain = now + self.change;
        match self.outage {
            Some((start, end)) if now >= start => plain.max(end + self.recovery),
            _ => plain,
        }
    }
}

/// `<name>.soak.svc.cluster.local.`
pub fn fqdn(name: &str) -> String {
    format!("{name}.{NS}.svc.cluster.local.")
}

/// The reverse name of `ip`.
pub fn reverse(ip: Ipv4Addr) -> String {
    let o = ip.octets();
    format!("{}.{}.{}.{}.in-addr.arpa.", o[3], o[2], o[1], o[0])
}

/// The address the outside upstream gives `name` (stable per name).
pub fn outside_ip(name: &str) -> Ipv4Addr {
    let h = name
        .to_ascii_lowercase()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
    Ipv4Addr::new(203, 0, 113, 1 + (h % 254) as u8)
}

/// The ExternalName Service's target.
pub const EXT_TARGET: &str = "www.ext.example.";

/// The driven cluster.
pub struct Cluster {
    api: Arc<FakeApiServer>,
    model: Arc<Mutex<Model>>,
    deadlines: Deadlines,
    rng: Rng,
    pool: Vec<Option<Ipv4Addr>>,
    next_ip: u32,
    headless_ips: u32,
    /// Writes the API server refused (a harness bug if not zero).
    pub write_errors: u64,
}

fn pool_svc(i: usize, ip: Ipv4Addr) -> SvcBuilder {
    svc(NS, &format!("c-{i}"))
        .cluster_ip(&ip.to_string())
        .port("http", 80, "TCP")
}

fn headless_slice(j: usize, ips: &[Ipv4Addr]) -> SliceBuilder {
    let svc = svc(NS, &format!("hl-{j}"))
        .headless()
        .port("http", 80, "TCP");
    let mut slice = slice_for(&svc);
    for (k, ip) in ips.iter().enumerate() {
        slice = slice.ready(&ip.to_string()).hostname(&format!("h{k}"));
    }
    slice
}

impl Cluster {
    /// A cluster of `pool` churned Services, driven through `api`, recorded in `model`.
    pub fn new(
        api: Arc<FakeApiServer>,
        model: Arc<Mutex<Model>>,
        deadlines: Deadlines,
        seed: u64,
        pool: usize,
    ) -> Cluster {
        Cluster {
            api,
            model,
            deadlines,
            rng: Rng::new(seed.wrapping_add(1)),
            pool: vec![None; pool],
            next_ip: POOL_BASE,
            headless_ips: u32::from_be_bytes([10, 244, 0, 1]),
            write_errors: 0,
        }
    }

    fn write<T: serde::Serialize>(&mut self, obj: &T, kind: EventType) {
        if self.api.try_write(obj, kind).is_err() {
            self.write_errors += 1;
        }
    }

    /// Creates the fixed objects and half of the pool, and declares every question.
    pub fn setup(&mut self, now: Instant) {
        let dual = svc(NS, "dual")
            .cluster_ips(&["10.96.0.10", "fd00::10"])
            .port("http", 80, "TCP");
        let ext = svc(NS, "ext").external_name(EXT_TARGET.trim_end_matches('.'));
        self.write(&dual, EventType::Added);
        self.write(&ext, EventType::Added);
        {
            let mut m = self.model.lock().unwrap_or_else(|e| e.into_inner());
            let d = fqdn("dual");
            let ttl = CLUSTER_TTL;
            let ex = |l: &str| Expect::records([l.to_string()]);
            m.define(
                Key::new(&d, RecordType::A),
                Class::Cluster,
                ttl,
                now,
                ex("A 10.96.0.10"),
            );
            m.define(
                Key::new(&d, RecordType::AAAA),
                Class::Cluster,
                ttl,
                now,
                ex("AAAA fd00::10"),
            );
            let cname = Expect::records([
                format!("CNAME {EXT_TARGET}"),
                format!("A {}", outside_ip(EXT_TARGET)),
            ]);
            m.define(
                Key::new(&fqdn("ext"), RecordType::A),
                Class::ExternalName,
                ttl,
                now,
                cname,
            );
            for i in 0..self.pool.len() {
                let n = fqdn(&format!("c-{i}"));
                let srv = format!("_http._tcp.{n}");
                m.define(
                    Key::new(&n, RecordType::A),
                    Class::Cluster,
                    ttl,
                    now,
                    Expect::nxdomain(),
                );
                m.define(
                    Key::new(&srv, RecordType::SRV),
                    Class::Cluster,
                    ttl,
                    now,
                    Expect::nxdomain(),
                );
            }
            for j in 0..HEADLESS {
                let n = fqdn(&format!("hl-{j}"));
                m.define(
                    Key::new(&n, RecordType::A),
                    Class::Cluster,
                    ttl,
                    now,
                    Expect::nxdomain(),
                );
                let h0 = format!("h0.{n}");
                m.define(
                    Key::new(&h0, RecordType::A),
                    Class::Cluster,
                    ttl,
                    now,
                    Expect::nxdomain(),
                );
            }
        }
        for j in 0..HEADLESS {
            let s = svc(NS, &format!("hl-{j}"))
                .headless()
                .port("http", 80, "TCP");
            self.write(&s, EventType::Added);
            self.update_headless(j, now, EventType::Added);
        }
        for i in (0..self.pool.len()).step_by(2) {
            self.create(i, now);
        }
    }

    /// One change at the API server (a pool create or delete, or a headless slice update);
    /// returns the number of writes it took.
    pub fn step(&mut self, now: Instant) -> u32 {
        if self.rng.below(5) == 0 {
            let j = self.rng.below(HEADLESS as u64) as usize;
            self.update_headless(j, now, EventType::Modified);
            return 1;
        }
        let i = self.rng.below(self.pool.len() as u64) as usize;
        match self.pool[i] {
            None => self.create(i, now),
            Some(ip) => self.delete(i, ip, now),
        }
        2
    }

    fn update_headless(&mut self, j: usize, now: Instant, kind: EventType) {
        let n = 1 + self.rng.below(3) as u32;
        let ips: Vec<Ipv4Addr> = (0..n)
            .map(|k| Ipv4Addr::from(self.headless_ips + k))
            .collect();
        self.headless_ips += n;
        let name = fqdn(&format!("hl-{j}"));
        let deadline = self.deadlines.of(now);
        {
            let mut m = self.model.lock().unwrap_or_else(|e| e.into_inner());
            let all = Expect::records(ips.iter().map(|ip| format!("A {ip}")));
            m.set(&Key::new(&name, RecordType::A), all, now, deadline);
            let h0 = Expect::records([format!("A {}", ips[0])]);
            m.set(
                &Key::new(&format!("h0.{name}"), RecordType::A),
                h0,
                now,
                deadline,
            );
        }
        self.write(&headless_slice(j, &ips), kind);
    }

    fn create(&mut self, i: usize, now: Instant) {
        let ip = Ipv4Addr::from(self.next_ip);
        self.next_ip += 1;
        self.pool[i] = Some(ip);
        let name = fqdn(&format!("c-{i}"));
        let deadline = self.deadlines.of(now);
        let ptr = Key::new(&reverse(ip), RecordType::PTR);
        {
            let mut m = self.model.lock().unwrap_or_else(|e| e.into_inner());
            let a = Expect::records([format!("A {ip}")]);
            m.set(&Key::new(&name, RecordType::A), a, now, deadline);
            let srv = Expect::records([format!("SRV 10 100 80 {name}")]);
            let srv_key = Key::new(&format!("_http._tcp.{name}"), RecordType::SRV);
            m.set(&srv_key, srv, now, deadline);
            m.define(
                ptr.clone(),
                Class::Cluster,
                CLUSTER_TTL,
                now,
                Expect::nxdomain(),
            );
            let p = Expect::records([format!("PTR {name}")]);
            m.set(&ptr, p, now, deadline);
            m.note_ptr(ptr);
        }
        let s = pool_svc(i, ip);
        self.write(&s, EventType::Added);
        let pod = Ipv4Addr::from(u32::from_be_bytes([10, 245, 0, 0]) + (self.next_ip & 0xffff));
        self.write(&slice_for(&s).ready(&pod.to_string()), EventType::Added);
    }

    fn delete(&mut self, i: usize, ip: Ipv4Addr, now: Instant) {
        self.pool[i] = None;
        let name = fqdn(&format!("c-{i}"));
        let deadline = self.deadlines.of(now);
        {
            let mut m = self.model.lock().unwrap_or_else(|e| e.into_inner());
            m.set(
                &Key::new(&name, RecordType::A),
                Expect::nxdomain(),
                now,
                deadline,
            );
            let srv_key = Key::new(&format!("_http._tcp.{name}"), RecordType::SRV);
            m.set(&srv_key, Expect::nxdomain(), now, deadline);
            let ptr = Key::new(&reverse(ip), RecordType::PTR);
            m.set(&ptr, Expect::nxdomain(), now, deadline);
        }
        let s = pool_svc(i, ip);
        self.write(&s, EventType::Deleted);
        self.write(&slice_for(&s), EventType::Deleted);
    }

    /// Replaces the deadlines (the outage's times are known once traffic starts).
    pub fn set_deadlines(&mut self, deadlines: Deadlines) {
        self.deadlines = deadlines;
    }

    /// Pool size.
    pub fn pool_len(&self) -> usize {
        self.pool.len()
    }

    /// Number of headless Services.
    pub fn headless_len(&self) -> usize {
        HEADLESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_wait_for_the_outage_to_end() {
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        let d = Deadlines {
            change: Duration::from_secs(1),
            recovery: Duration::from_secs(5),
            outage: Some((s(10), s(20))),
        };
        assert_eq!(d.of(s(5)), s(6));
        assert_eq!(d.of(s(12)), s(25));
        assert_eq!(d.of(s(22)), s(25));
        assert_eq!(d.of(s(30)), s(31));
    }

    #[test]
    fn reverse_names_and_outside_addresses() {
        assert_eq!(
            reverse(Ipv4Addr::new(10, 96, 1, 7)),
            "7.1.96.10.in-addr.arpa."
        );
        assert_eq!(outside_ip("O1.example."), outside_ip("o1.example."));
    }
}
