//! The `sidecar` binary as a process: the kube-dns manifest's arguments start
//! it unchanged, a bad `--probe` exits 2 with kube-dns's message, SIGTERM exits 0.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::time::Duration;

use hickory_proto::rr::RecordType;
use sidecar::Cli;
use testkit::pod::http_get;
use testkit::proc::Proc;

/// The sidecar container's args in kube-dns.yaml.in, with `dns_domain` = `cluster.local`.
const MANIFEST: [&str; 4] = [
    "--v=2",
    "--logtostderr",
    "--probe=kubedns,127.0.0.1:10053,kubernetes.default.svc.cluster.local,5,SRV",
    "--probe=dnsmasq,127.0.0.1:53,kubernetes.default.svc.cluster.local,5,SRV",
];

fn sidecar(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sidecar"));
    cmd.args(args);
    cmd
}

#[test]
fn manifest_args_parse_unchanged() {
    let cli = Cli::parse_args(std::iter::once("sidecar").chain(MANIFEST)).unwrap();
    assert_eq!(cli.klog.v, 2);
    assert_eq!(cli.klog.logtostderr, Some(true));
    assert_eq!(cli.prometheus_port, 10054);
    let cfg = cli.config().unwrap();
    let probes: Vec<(&str, &str, &str, u64, RecordType)> = cfg
        .probes
        .iter()
        .map(|p| {
            (
                p.label.as_str(),
                p.server.as_str(),
                p.name.as_str(),
                p.interval.as_secs(),
                p.qtype,
            )
        })
        .collect();
    assert_eq!(
        probes,
        [
            (
                "kubedns",
                "127.0.0.1:10053",
                "kubernetes.default.svc.cluster.local.",
                5,
                RecordType::SRV
            ),
            (
                "dnsmasq",
                "127.0.0.1:53",
                "kubernetes.default.svc.cluster.local.",
                5,
                RecordType::SRV
            ),
        ]
    );
}

#[test]
fn manifest_args_start_it_and_sigterm_exits_zero() {
    // The manifest's args, plus a loopback listener on a free port (the test must not take
    // 0.0.0.0:10054).
    let mut args = MANIFEST.to_vec();
    args.extend(["--prometheus-addr=127.0.0.1", "--prometheus-port=0"]);
    let mut p = Proc::spawn(sidecar(&args)).unwrap();
    let addr = p
        .listening("http", Duration::from_secs(10))
        .expect("listening on http line");
    let (code, body) = http_get(addr, "/healthcheck/kubedns").unwrap();
    assert_eq!(code, 503, "{body}");
    assert!(body.starts_with(r#"{"IsOk":false"#), "{body}");
    assert_eq!(http_get(addr, "/healthz").unwrap().0, 200);
    let (code, body) = http_get(addr, "/metrics").unwrap();
    assert_eq!(code, 200);
    assert!(body.contains("# TYPE kubedns_probe_dnsmasq_latency_ms histogram"));

    p.signal(15);
    let status = p
        .wait_timeout(Duration::from_secs(10))
        .expect("exits after SIGTERM");
    assert_eq!(status.code(), Some(0), "{:?}", p.lines());
    assert!(
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(),
        "HTTP closed"
    );
}

#[test]
fn bad_probe_exits_2_with_kube_dns_message() {
    let cases = [
        ("--probe=dnsmasq,[::1]:53", "invalid format to --probe"),
        (
            "--probe=dn$m@s#,[::1]:53,a.b,5,SRV",
            "label must be of format ^[a-zA-Z0-9_]+$",
        ),
        (
            "--probe=dnsmasq,[::1]:53,a.b,0.5,SRV",
            "strconv.Atoi: parsing \"0.5\": invalid syntax",
        ),
        (
            "--probe=dnsmasq,[::1]:53,a.b,5,BogusType",
            "invalid type for DNS: BogusType",
        ),
    ];
    for (arg, message) in cases {
        let out = sidecar(&[arg]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{arg}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{arg}: {stderr}");
    }
    let out = sidecar(&["--probe=a,127.0.0.1,x", "--probe=a,127.0.0.1,y"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("duplicate --probe label"));
}

#[test]
fn version_exits_zero() {
    let out = sidecar(&["--version"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("sidecar "));
}
