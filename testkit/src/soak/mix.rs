//! The traffic mix: which questions the load asks and how often (weights out of 100), over
//! the cluster's churned and fixed Services, reverse names, names that never exist, outside
//! names and stub-domain names. The outside and stub questions are declared in the model here.

use std::time::Instant;

use hickory_proto::rr::RecordType;

use super::Config;
use super::cluster::{self, outside_ip};
use super::faults::{STUB_DOMAIN, stub_answer};
use super::model::{Class, Expect, Key, Model};
use super::traffic::Questions;

fn declare(
    m: &mut Model,
    names: &[String],
    class: Class,
    ttl: u32,
    now: Instant,
    f: impl Fn(&str) -> Expect,
) -> Vec<Key> {
    names
        .iter()
        .map(|n| {
            let key = Key::new(n, RecordType::A);
            m.define(key.clone(), class, ttl, now, f(&key.name));
            key
        })
        .collect()
}

fn names(n: usize, f: impl Fn(usize) -> String) -> Vec<String> {
    (0..n).map(f).collect()
}

/// The traffic mix (weights out of 100) over the declared questions.
pub fn questions(m: &mut Model, cfg: &Config, now: Instant) -> (Questions, Vec<Key>) {
    let svc = |n: &str, t| Key::new(&cluster::fqdn(n), t);
    let pool = |f: &dyn Fn(usize) -> Key| (0..cfg.pool).map(f).collect::<Vec<_>>();
    let churn_a = pool(&|i| svc(&format!("c-{i}"), RecordType::A));
    let churn_srv = pool(&|i| {
        Key::new(
            &format!("_http._tcp.{}", cluster::fqdn(&format!("c-{i}"))),
            RecordType::SRV,
        )
    });
    let hl: Vec<Key> = (0..10)
        .map(|j| svc(&format!("hl-{j}"), RecordType::A))
        .collect();
    let h0: Vec<Key> = (0..10)
        .map(|j| {
            Key::new(
                &format!("h0.{}", cluster::fqdn(&format!("hl-{j}"))),
                RecordType::A,
            )
        })
        .collect();
    let outside = declare(
        m,
        &names(300, |i| format!("o{i}.example.")),
        Class::Outside,
        60,
        now,
        |n| Expect::records([format!("A {}", outside_ip(n))]),
    );
    let stub = declare(
        m,
        &names(100, |i| format!("s{i}.{STUB_DOMAIN}.")),
        Class::Stub,
        5,
        now,
        |_| stub_answer(0),
    );
    let nx = declare(
        m,
        &names(100, |i| cluster::fqdn(&format!("nx-{i}"))),
        Class::Cluster,
        5,
        now,
        |_| Expect::nxdomain(),
    );
    let q = Questions {
        groups: vec![
            (30, churn_a),
            (6, churn_srv),
            (6, Vec::new()),
            (8, hl),
            (4, h0),
            (4, vec![svc("dual", RecordType::A)]),
            (4, vec![svc("dual", RecordType::AAAA)]),
            (4, vec![svc("ext", RecordType::A)]),
            (6, nx),
            (18, outside),
            (10, stub.clone()),
        ],
    };
    (q, stub)
}
