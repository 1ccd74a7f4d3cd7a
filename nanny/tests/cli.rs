//! The kube-dns manifest's dnsmasq-nanny argument list parses unchanged: existing
//! deployments must start without edits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use nanny::Cli;

const MANIFEST: &[&str] = &[
    "/dnsmasq-nanny",
    "-v=2",
    "-logtostderr",
    "-configDir=/etc/k8s/dns/dnsmasq-nanny",
    "-restartDnsmasq=true",
    "--",
    "-k",
    "--cache-size=1000",
    "--no-negcache",
    "--dns-loop-detect",
    "--log-facility=-",
    "--server=/cluster.local/127.0.0.1#10053",
    "--server=/in-addr.arpa/127.0.0.1#10053",
    "--server=/ip6.arpa/127.0.0.1#10053",
];

#[test]
fn manifest_args_parse() {
    let cli = Cli::parse_go(MANIFEST.iter().copied()).unwrap();
    assert_eq!(cli.v, 2);
    assert!(cli.logtostderr);
    assert_eq!(cli.config_dir.to_str(), Some("/etc/k8s/dns/dnsmasq-nanny"));
    assert!(cli.restart_dnsmasq);
    assert_eq!(cli.sync_interval, Duration::from_secs(10));
    assert_eq!(cli.kubedns_server.to_string(), "127.0.0.1:10053");
    assert_eq!(cli.log_interval, Duration::ZERO);
    assert!(cli.handover);
    assert_eq!(cli.child_args, &MANIFEST[6..]);
    assert_eq!(cli.listen_addr().to_string(), "0.0.0.0:53");
}

#[test]
fn manifest_args_parse_with_clap_directly() {
    let normalized = ops::go_flags::normalize(MANIFEST.iter().copied(), nanny::cli::GO_FLAGS);
    let cli = <Cli as clap::Parser>::try_parse_from(normalized).unwrap();
    assert_eq!(cli.child_args.len(), 8);
}

#[test]
fn go_spellings_and_our_flags() {
    let cli = Cli::parse_go([
        "nanny",
        "--configDir",
        "/tmp/x",
        "-restartDnsmasq=false",
        "-dnsmasqExec",
        "/bin/false",
        "-syncInterval=200ms",
        "-kubednsServer=127.0.0.1:5353",
        "-logInterval=1m",
        "--handover=false",
        "--port=0",
        "--listen-address=127.0.0.1",
        "--",
        "--port=5",
    ])
    .unwrap();
    assert!(!cli.restart_dnsmasq);
    assert_eq!(cli.child_program().to_str(), Some("/bin/false"));
    assert_eq!(cli.sync_interval, Duration::from_millis(200));
    assert_eq!(cli.log_interval, Duration::from_secs(60));
    assert!(!cli.handover);
    assert_eq!(cli.listen_addr().to_string(), "127.0.0.1:0");
    let from_child =
        Cli::parse_go(["nanny", "--", "-p", "5354", "--listen-address=127.0.0.2"]).unwrap();
    assert_eq!(from_child.listen_addr().to_string(), "127.0.0.2:5354");
}

#[test]
fn bad_values_are_usage_errors() {
    for bad in [
        ["nanny", "-syncInterval=10"],
        ["nanny", "-restartDnsmasq=maybe"],
        ["nanny", "-kubednsServer=nowhere"],
        ["nanny", "-noSuchFlag=1"],
    ] {
        let err = Cli::parse_go(bad).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{bad:?}");
    }
}

/// Everything after the first `--` reaches dnscache unchanged, including flags that look
/// like the nanny's own and a second `--` (dnsmasq-nanny's `ExtractDnsmasqArgs`).
#[test]
fn child_args_are_passed_verbatim() {
    let cli = Cli::parse_go([
        "nanny",
        "-v=1",
        "--",
        "-v=2",
        "-configDir=/x",
        "--port=5",
        "--",
        "-k",
    ])
    .unwrap();
    assert_eq!(cli.v, 1);
    assert_eq!(
        cli.child_args,
        ["-v=2", "-configDir=/x", "--port=5", "--", "-k"]
    );
}
