//! The soak harness for one minute in the test suite: the whole pod against the fake API server
//! under a small fixed-rate load, Service churn, and every fault kind once (kill -9 of dnscache
//! and of kubedns, an API outage ending in 410 Gone, a silent upstream, ConfigMap edits with one
//! invalid); fails on any bound of the 30-minute run (no lost, wrong or stale answer, SERVFAIL
//! only in the allowed windows, dnscache back within 1 s, no RSS or fd growth over 5%).
//!
//! `SOAK_RECOVERY_BOUND_S` (default 5) sets how long after an API outage changes may take to
//! show; `SOAK_SEED` picks another plan. The report and timeline are written under
//! `target/soak-test/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use testkit::soak::{self, Config};

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minute_of_soak_holds_every_bound() {
    let mut cfg = Config {
        duration: Duration::from_secs(60),
        seed: env_u64("SOAK_SEED").unwrap_or(1),
        qps: 300,
        churn: 20,
        pool: 100,
        ..Config::default()
    };
    if let Some(s) = env_u64("SOAK_RECOVERY_BOUND_S") {
        cfg.recovery_bound = Duration::from_secs(s);
    }
    let result = soak::run(cfg).await.expect("the soak runs");
    let out = testkit::bin::target_dir().join("soak-test");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("report.txt"), &result.text).unwrap();
    std::fs::write(out.join("report.svg"), &result.svg).unwrap();
    std::fs::write(out.join("samples.csv"), &result.samples_csv).unwrap();
    eprintln!("{}", result.text);

    // The run did what it claims: the load went out and every fault kind happened and ended.
    let s = &result.summary;
    assert!(s.sent >= 60 * 300 * 9 / 10, "only {} queries sent", s.sent);
    for kind in [
        "kill -9 dnscache",
        "kill -9 kubedns",
        "API outage + 410",
        "upstream silent",
        "ConfigMap change",
        "ConfigMap invalid",
    ] {
        assert!(
            result.text.contains(kind),
            "no {kind} in the run:\n{}",
            result.text
        );
    }
    assert!(
        result.text.matches("serving again after").count() == 2,
        "a killed process did not come back:\n{}",
        result.text
    );
    assert!(s.failures.is_empty(), "bounds broken:\n{}", result.text);
}
