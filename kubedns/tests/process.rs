//! The kubedns binary as a process: listening lines, SIGTERM drain and exit 0, the initial
//! sync timeout exit, usage errors.

#![allow(clippy::expect_used)]

mod support;

use std::process::Command;
use std::time::Duration;

use hickory_proto::rr::RecordType;
use testkit::proc::Proc;

const START: Duration = Duration::from_secs(60);

fn kubedns(args: &[&str]) -> Proc {
    // Our own binary: cargo builds it for this test (no nested cargo run).
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubedns"));
    cmd.args([
        "--dns-bind-address=127.0.0.1",
        "--dns-port=0",
        "--healthz-port=0",
        "--metrics-port=0",
        "--udp-sockets=2",
    ])
    .args(args);
    Proc::spawn(cmd).expect("spawn kubedns")
}

#[tokio::test]
async fn serves_then_drains_on_sigterm_and_exits_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("c.yaml"), support::CLUSTER).expect("write");
    let manifests = format!("--manifests={}", dir.path().display());
    let mut p = kubedns(&[&manifests, "-v=2", "-logtostderr"]);
    let udp = p.listening("udp", START).expect("udp line");
    let tcp = p.listening("tcp", START).expect("tcp line");
    assert_eq!(udp, tcp, "udp and tcp share the address");
    let http = p.listening_all("http", 2, START).expect("two http lines");
    let ready = testkit::dns::eventually(support::BOUND, || async {
        let (status, _) = support::http_get(http[0], "/readiness").await.ok()?;
        (status == 200).then_some(())
    })
    .await;
    assert!(ready.is_some(), "readiness never 200");
    let m = support::q(udp, "example.com.", RecordType::A).await;
    assert_eq!(
        m.metadata.response_code,
        hickory_proto::op::ResponseCode::Refused
    );
    // Every answer is counted, whichever worker batch it was in: the workers' tallies reach
    // the metrics once their batch's replies have been sent (before the client has them).
    for _ in 0..5 {
        let m = support::q(udp, "my-nginx.default.svc.cluster.local.", RecordType::A).await;
        assert_eq!(m.answers.len(), 1);
    }
    for _ in 0..3 {
        let m = support::q(udp, "nope.default.svc.cluster.local.", RecordType::A).await;
        assert_eq!(
            m.metadata.response_code,
            hickory_proto::op::ResponseCode::NXDomain
        );
    }
    let _ = support::q(udp, "5.1.244.10.in-addr.arpa.", RecordType::PTR).await;
    let (status, body) = support::http_get(http[1], "/metrics")
        .await
        .expect("metrics");
    assert_eq!(status, 200);
    let value = |series: &str| -> f64 {
        body.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{body}"))
    };
    assert_eq!(
        value("skydns_skydns_dns_request_count_total{system=\"auth\"}"),
        9.0
    );
    assert_eq!(
        value("skydns_skydns_dns_request_count_total{system=\"reverse\"}"),
        1.0
    );
    assert_eq!(
        value("skydns_skydns_dns_request_duration_seconds_count{system=\"auth\"}"),
        9.0
    );
    assert_eq!(
        value("skydns_skydns_dns_error_count_total{cause=\"nxdomain\",system=\"auth\"}"),
        3.0
    );
    assert_eq!(
        value("skydns_skydns_dns_error_count_total{cause=\"refused\",system=\"auth\"}"),
        1.0
    );
    assert_eq!(
        value("kubedns_answers_total{qtype=\"A\",rcode=\"NOERROR\"}"),
        5.0
    );
    p.signal(15);
    let status = p
        .wait_timeout(Duration::from_secs(10))
        .expect("exits after SIGTERM");
    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test]
async fn initial_sync_timeout_exits_non_zero_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = format!("--manifests={}", dir.path().join("absent.yaml").display());
    let mut p = kubedns(&[&missing, "--initial-sync-timeout=1s"]);
    let status = p.wait_timeout(START).expect("exits by itself");
    assert!(!status.success());
    let lines = p.lines().join("\n");
    assert!(
        lines.contains("timed out waiting for initial sync of services and endpoints after 1s"),
        "{lines}"
    );
}

#[test]
fn usage_errors_exit_2_before_binding() {
    for bad in [
        &["--pods=sometimes"][..],
        &["--domain=Not_A_Domain"],
        &["--kube-master-url=nohost"],
    ] {
        let mut p = kubedns(bad);
        let status = p.wait_timeout(START).expect("exits");
        assert_eq!(status.code(), Some(2), "{bad:?}");
        assert!(
            !p.lines().iter().any(|l| l.contains("listening on")),
            "{bad:?} bound sockets"
        );
    }
}

/// SIGTERM still stops kubedns when its stderr is a pipe nobody reads any more (a log shipper
/// or supervisor that died first, or `timeout` signalling the whole process group): logging
/// must never stand between the signal and the shutdown.
#[test]
fn sigterm_with_a_closed_stderr_still_exits() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("c.yaml"), support::CLUSTER).expect("write");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubedns"))
        .args([
            "--dns-bind-address=127.0.0.1",
            "--dns-port=0",
            "--healthz-port=0",
            "--metrics-port=0",
        ])
        .arg(format!("--manifests={}", dir.path().display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kubedns");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    while stderr.read_line(&mut line).expect("read stderr") > 0
        && !line.contains("initial sync done")
    {
        line.clear();
    }
    drop(stderr); // the reader goes away
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break Some(s);
        }
        if std::time::Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if status.is_none() {
        let _ = child.kill();
    }
    assert!(
        status.is_some_and(|s| s.success()),
        "kubedns did not exit 0 after SIGTERM: {status:?}"
    );
}
