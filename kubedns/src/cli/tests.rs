use std::time::Duration;

use clap::Parser;

use super::*;

fn parse(args: &[&str]) -> Cli {
    let argv = ops::go_flags::normalize(
        std::iter::once("kubedns").chain(args.iter().copied()),
        GO_FLAGS,
    );
    Cli::try_parse_from(argv).expect("parses")
}

#[test]
fn kube_dns_manifest_flags_parse() {
    let cli = parse(&[
        "--domain=cluster.local.",
        "--dns-port=10053",
        "--config-dir=/kube-dns-config",
        "--v=2",
    ]);
    let cfg = cli.config().expect("valid");
    assert_eq!(cfg.zone.zone.to_ascii(), "cluster.local.");
    assert_eq!(cfg.dns_addr.port(), 10053);
    assert_eq!(cli.v, 2);
    assert_eq!(cfg.zone.ttl, 30);
    assert_eq!(cfg.zone.neg_ttl, 5);
    assert_eq!(cfg.healthz_addr.port(), 8081);
    assert_eq!(cfg.initial_sync_timeout, Duration::from_secs(60));
    assert!(matches!(cfg.source, SourceConfig::Kube(_)));
    assert_eq!(cli.ignored_flags().len(), 1);
}

#[test]
fn go_single_dash_spellings() {
    let cli = parse(&[
        "-v=4",
        "-logtostderr",
        "-domain=example.org",
        "-dns-port=5353",
    ]);
    assert_eq!(cli.v, 4);
    assert_eq!(cli.logtostderr.as_deref(), Some("true"));
    let cfg = cli.config().expect("valid");
    assert_eq!(cfg.zone.zone.to_ascii(), "example.org.");
    assert_eq!(cfg.dns_addr.port(), 5353);
}

#[test]
fn our_flags() {
    let cli = parse(&[
        "--manifests=/tmp/x.yaml",
        "--reverse-cidrs=10.96.0.0/12,fd00::/108",
        "--reverse-cidrs=10.244.0.1/16",
        "--pods=verified",
        "--dns-service=ns/dns",
        "--initial-sync-timeout=5m",
        "--udp-sockets=3",
        "--metrics-port=0",
    ]);
    let cfg = cli.config().expect("valid");
    assert_eq!(cfg.zone.reverse_cidrs.len(), 3);
    assert_eq!(cfg.zone.reverse_cidrs[2].to_string(), "10.244.0.0/16");
    assert_eq!(cfg.zone.pods, PodMode::Verified);
    assert_eq!(cfg.zone.dns_service.namespace, "ns");
    assert_eq!(cfg.initial_sync_timeout, Duration::from_secs(300));
    assert_eq!(cfg.udp_sockets, 3);
    assert_eq!(cfg.metrics_addr.map(|a| a.port()), Some(0));
    assert!(matches!(cfg.source, SourceConfig::Manifests(_)));
}

#[test]
fn invalid_values_are_rejected_before_binding() {
    for bad in [
        &["--domain=Bad_Domain"][..],
        &["--domain=."],
        &["--dns-service=nope"],
        &["--kube-master-url=localhost"],
        &["--udp-sockets=0"],
        &["--autopath"],
        &["--autopath", "--pods=insecure"],
        &["--autopath=true", "--pods=disabled"],
    ] {
        let cli = parse(bad);
        assert!(cli.config().is_err(), "{bad:?} accepted");
    }
    let argv = ["kubedns", "--pods=sometimes"];
    assert!(Cli::try_parse_from(argv).is_err());
    let argv = ["kubedns", "--initial-sync-timeout=soon"];
    assert!(Cli::try_parse_from(argv).is_err());
}

#[test]
fn autopath_needs_verified_pods_and_trusts_loopback_by_default() {
    let off = parse(&["--pods=verified"]).config().expect("valid");
    assert_eq!(off.autopath_trusted, None);
    let on = parse(&["--pods=verified", "--autopath"])
        .config()
        .expect("valid");
    let trusted: Vec<String> = on
        .autopath_trusted
        .expect("on")
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(trusted, ["127.0.0.0/8", "::1/128"]);
    let cfg = parse(&[
        "--pods=verified",
        "--autopath=true",
        "--autopath-trusted=10.0.0.7/8",
    ])
    .config()
    .expect("valid");
    let trusted = cfg.autopath_trusted.expect("on");
    assert_eq!(trusted[0].to_string(), "10.0.0.0/8");
    let off = parse(&["--autopath=false"]).config().expect("valid");
    assert_eq!(off.autopath_trusted, None);
    assert!(Cli::try_parse_from(["kubedns", "--autopath-trusted=nonsense"]).is_err());
}

#[test]
fn master_url_needs_scheme_and_host() {
    let cfg = parse(&["--kube-master-url=http://127.0.0.1:8080"])
        .config()
        .expect("valid");
    match cfg.source {
        SourceConfig::Kube(w) => assert_eq!(w.master_url.as_deref(), Some("http://127.0.0.1:8080")),
        SourceConfig::Manifests(_) => panic!("kube source expected"),
    }
}

#[test]
fn durations() {
    assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
    assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
    assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
    assert!(parse_duration("1d").is_err());
    assert!(parse_duration("").is_err());
}

#[test]
fn env_expansion() {
    let env = |k: &str| (k == "HOST").then(|| "api".to_string());
    assert_eq!(expand_env("https://$HOST:6443", env), "https://api:6443");
    assert_eq!(expand_env("https://${HOST}x/${NOPE}", env), "https://apix/");
    assert_eq!(expand_env("plain", env), "plain");
}
