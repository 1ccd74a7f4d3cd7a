//! The nanny with the real dnscache, real sockets and kubelet-style ConfigMap writes: routes follow the ConfigMap, bad updates are refused while the old routes keep
//! answering, a killed child comes back, a crash loop ends the nanny, SIGTERM stops everything.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use testkit::pod::write_configmap;
use testkit::upstream::{MockUpstream, Reply, reply_a, reply_nxdomain};

const STUB_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const DEFAULT_IP: Ipv4Addr = Ipv4Addr::new(10, 9, 9, 9);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configmap_changes_routes_and_bad_updates_are_refused() {
    let stub = mock(STUB_IP).await;
    let default = mock(DEFAULT_IP).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config");
    let (nanny, addr) = start(nanny_cmd(&cfg, default.addr(), &[]));
    assert!(eventually_routes(addr, "acme.local", DEFAULT_IP).await);

    // A new stub domain answers through the cache.
    let stubs = format!(r#"{{"acme.local": ["{}"]}}"#, stub.addr());
    write_configmap(&cfg, &[("stubDomains", &stubs)]);
    assert!(
        eventually_routes(addr, "acme.local", STUB_IP).await,
        "stub route never answered"
    );
    let pid = wait_ready_count(&nanny, 2);
    let logged = nanny
        .wait_for_line("config changed: routes", BOUND)
        .unwrap();
    assert!(
        logged.contains(&format!(
            "--server=/acme.local/127.0.0.1#{}",
            stub.addr().port()
        )),
        "{logged}"
    );
    assert!(
        nanny
            .wait_for_line("dnscache restarted with hand-over", BOUND)
            .is_some()
    );

    // Invalid updates: refused with their reasons, the old routes keep answering, no restart.
    let bad: [(&str, &str, &str); 4] = [
        ("stubDomains", "{not json", "Invalid JSON"),
        (
            "upstreamNameservers",
            r#"["1.1.1.1","2.2.2.2","3.3.3.3","4.4.4.4"]"#,
            "more than three",
        ),
        (
            "upstreamNameservers",
            r#"["1.1.1.1:99999"]"#,
            "bad port number",
        ),
        (
            "stubDomains",
            r#"{"$$$$": ["1.2.3.4"]}"#,
            "invalid domain name",
        ),
    ];
    for (i, (key, value, reason)) in bad.iter().enumerate() {
        let files = if *key == "stubDomains" {
            vec![("stubDomains", *value)]
        } else {
            vec![
                ("stubDomains", stubs.as_str()),
                ("upstreamNameservers", *value),
            ]
        };
        write_configmap(&cfg, &files);
        let line = nanny
            .wait_for_line(&format!("refused_total={}", i + 1), BOUND)
            .unwrap_or_else(|| panic!("update {value} not refused"));
        assert!(line.contains(reason), "{line}");
        assert!(eventually_routes(addr, "acme.local", STUB_IP).await);
    }
    assert_eq!(
        ready_pids(&nanny.lines()).len(),
        2,
        "a refused update restarted dnscache"
    );
    assert_eq!(wait_ready_count(&nanny, 2), pid);

    // Removing the stub domain reverts to the default upstream.
    write_configmap(&cfg, &[]);
    assert!(
        eventually_routes(addr, "acme.local", DEFAULT_IP).await,
        "removal did not revert"
    );
    let newest = wait_ready_count(&nanny, 3);
    assert_ne!(newest, pid);
    // The old children were drained and reaped.
    assert!(
        nanny
            .wait_for_line(&format!("old dnscache stopped pid={pid}"), BOUND)
            .is_some()
    );
    assert!(!alive(pid), "old child {pid} still exists");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_lose_no_query() {
    let stub = mock(STUB_IP).await;
    let default = mock(DEFAULT_IP).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config");
    let (nanny, addr) = start(nanny_cmd(&cfg, default.addr(), &[]));
    let stubs = format!(r#"{{"acme.local": ["{}"]}}"#, stub.addr());
    let load = tokio::spawn(async move {
        let mut failed = 0;
        for i in 0..300 {
            if a(addr, &format!("load{i}.example.")).await != Some(DEFAULT_IP) {
                failed += 1;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        failed
    });
    for round in 0..4 {
        let files: Vec<(&str, &str)> = if round % 2 == 0 {
            vec![("stubDomains", &stubs)]
        } else {
            vec![]
        };
        write_configmap(&cfg, &files);
        wait_ready_count(&nanny, round + 2);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(load.await.unwrap(), 0, "queries lost across restarts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_child_comes_back_and_sigterm_stops_everything() {
    let default = mock(DEFAULT_IP).await;
    let dir = tempfile::tempdir().unwrap();
    let (mut nanny, addr) = start(nanny_cmd(dir.path(), default.addr(), &[]));
    let first = wait_ready_count(&nanny, 1);
    nix_kill(first, 9);
    let second = wait_ready_count(&nanny, 2);
    assert_ne!(first, second);
    assert!(
        nanny
            .wait_for_line("dnscache exited on its own", BOUND)
            .unwrap()
            .contains("SIGKILL")
    );
    assert!(eventually_routes(addr, "after.kill", DEFAULT_IP).await);
    assert!(!alive(first), "killed child {first} left a zombie");

    nanny.signal(15);
    let status = nanny
        .wait_timeout(BOUND)
        .expect("nanny exits after SIGTERM");
    assert_eq!(status.code(), Some(0));
    assert!(
        nanny
            .lines()
            .iter()
            .any(|l| l.contains(&format!("dnscache stopped pid={second}")))
    );
    assert!(!alive(second), "child {second} survived the nanny");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_loop_exits_nonzero() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(testkit::bin::path("nanny"));
    cmd.args([
        "-v=2",
        "-logtostderr",
        "-dnsmasqExec=/bin/false",
        "--port=0",
        "--listen-address=127.0.0.1",
    ])
    .arg(format!("-configDir={}", dir.path().display()));
    let mut nanny = testkit::proc::Proc::spawn(cmd).unwrap();
    let status = nanny.wait_timeout(BOUND).expect("nanny gives up");
    assert_eq!(status.code(), Some(1));
    assert!(nanny.wait_for_line("giving up", BOUND).is_some());
}

fn nix_kill(pid: i32, sig: i32) {
    let ok = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_are_reaped() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("orphan.pid");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/orphan-maker.sh");
    let mut cmd = std::process::Command::new(testkit::bin::path("nanny"));
    cmd.env("RUST_LOG", "debug")
        .arg(format!("-dnsmasqExec={}", script.display()))
        .arg(format!("-configDir={}", dir.path().display()))
        .args(["--port=0", "--listen-address=127.0.0.1", "--"])
        .arg(format!("--orphan-pidfile={}", pidfile.display()));
    let (mut nanny, _) = start(cmd);
    let orphan: i32 = testkit::dns::eventually(BOUND, || {
        let pidfile = pidfile.clone();
        async move { std::fs::read_to_string(&pidfile).ok()?.trim().parse().ok() }
    })
    .await
    .expect("orphan pid written");
    let line = nanny
        .wait_for_line(&format!("pid={orphan}"), BOUND)
        .expect("orphan reaped");
    assert!(line.contains("reaped an orphan"), "{line}");
    assert!(!alive(orphan), "orphan {orphan} left as a zombie");
    nanny.signal(15);
    assert_eq!(nanny.wait_timeout(BOUND).and_then(|s| s.code()), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_handover_the_child_binds_and_is_restarted_by_kill() {
    let stub = mock(STUB_IP).await;
    let default = mock(DEFAULT_IP).await;
    let dir = tempfile::tempdir().unwrap();
    let port = testkit::pod::free_port();
    let cmd = nanny_cmd_port(dir.path(), default.addr(), &["--handover=false"], port);
    let nanny = testkit::proc::Proc::spawn(cmd).unwrap();
    let addr = nanny.listening("udp", BOUND).unwrap();
    assert_eq!(addr.port(), port, "the child binds the port itself");
    let first = wait_ready_count(&nanny, 1);
    assert!(eventually_routes(addr, "acme.local", DEFAULT_IP).await);
    let stubs = format!(r#"{{"acme.local": ["{}"]}}"#, stub.addr());
    write_configmap(dir.path(), &[("stubDomains", &stubs)]);
    assert!(
        nanny
            .wait_for_line("kill, then respawn (no hand-over)", BOUND)
            .is_some()
    );
    assert_ne!(wait_ready_count(&nanny, 2), first);
    assert!(eventually_routes(addr, "acme.local", STUB_IP).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_interval_never_kills_the_child() {
    let default = mock(DEFAULT_IP).await;
    let dir = tempfile::tempdir().unwrap();
    let (nanny, addr) = start(nanny_cmd(
        dir.path(),
        default.addr(),
        &["-logInterval=50ms"],
    ));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(eventually_routes(addr, "log.interval", DEFAULT_IP).await);
    assert_eq!(
        ready_pids(&nanny.lines()).len(),
        1,
        "SIGUSR1 restarted dnscache"
    );
    assert_eq!(count(&nanny, "exited on its own"), 0);
}

/// A stub nameserver name that does not resolve (kubernetes/dns#82) is left out of the routes
/// instead of being handed to dnscache, which would refuse to start with it: the cache keeps
/// serving (the domain goes to the default upstreams meanwhile), and the next good config
/// applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unresolvable_stub_name_is_left_out_of_the_routes() {
    let stub = mock(STUB_IP).await;
    let default = mock(DEFAULT_IP).await;
    let dir = tempfile::tempdir().unwrap();
    let (nanny, addr) = start(nanny_cmd(dir.path(), default.addr(), &[]));
    wait_ready_count(&nanny, 1);
    write_configmap(
        dir.path(),
        &[(
            "stubDomains",
            r#"{"acme.local": ["ns.nonexistent.invalid"]}"#,
        )],
    );
    assert!(
        nanny
            .wait_for_line("left out of the routes", BOUND)
            .is_some()
    );
    assert!(eventually_routes(addr, "acme.local", DEFAULT_IP).await);
    let stubs = format!(r#"{{"acme.local": ["{}"]}}"#, stub.addr());
    write_configmap(dir.path(), &[("stubDomains", &stubs)]);
    assert!(eventually_routes(addr, "acme.local", STUB_IP).await);
    assert_eq!(count(&nanny, "new dnscache failed"), 0);
    assert_eq!(count(&nanny, "giving up"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_disabled_keeps_the_child() {
    let stub = mock(STUB_IP).await;
    let default = mock(DEFAULT_IP).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = nanny_cmd(dir.path(), default.addr(), &[]);
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| {
            a.to_string_lossy()
                .replace("-restartDnsmasq=true", "-restartDnsmasq=false")
        })
        .collect();
    cmd = std::process::Command::new(cmd.get_program());
    cmd.args(args);
    let (nanny, addr) = start(cmd);
    let stubs = format!(r#"{{"acme.local": ["{}"]}}"#, stub.addr());
    write_configmap(dir.path(), &[("stubDomains", &stubs)]);
    assert!(
        nanny
            .wait_for_line("not restarting dnscache", BOUND)
            .is_some()
    );
    assert!(eventually_routes(addr, "acme.local", DEFAULT_IP).await);
    assert_eq!(ready_pids(&nanny.lines()).len(), 1);
}

/// A stub nameserver named under the cluster domain that kubedns cannot resolve yet (not
/// synced, Service not created) is resolved again every sync interval: once kubedns answers,
/// the route applies without another ConfigMap change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unresolved_stub_names_are_resolved_again() {
    let answering = Arc::new(AtomicBool::new(false));
    let flag = answering.clone();
    let kubedns = MockUpstream::start(move |req| match flag.load(Ordering::SeqCst) {
        true => Reply::Msg(reply_a(req, STUB_IP, 30)),
        false => Reply::Msg(reply_nxdomain(req, 5)),
    })
    .await;
    let default = mock(DEFAULT_IP).await;
    let dir = tempfile::tempdir().unwrap();
    let kubedns_flag = format!("-kubednsServer={}", kubedns.addr());
    let (nanny, _) = start(nanny_cmd(dir.path(), default.addr(), &[&kubedns_flag]));
    write_configmap(
        dir.path(),
        &[(
            "stubDomains",
            r#"{"acme.local": ["dns.kube-system.svc.cluster.local"]}"#,
        )],
    );
    assert!(
        nanny
            .wait_for_line("left out of the routes", BOUND)
            .is_some()
    );
    answering.store(true, Ordering::SeqCst);
    let line = nanny
        .wait_for_line("stub nameserver names resolved: routes", BOUND)
        .expect("the name is resolved again");
    assert!(line.contains("--server=/acme.local/10.0.0.1"), "{line}");
    assert!(
        nanny
            .wait_for_line("dnscache restarted with hand-over", BOUND)
            .is_some()
    );
}
