use super::*;
use std::net::SocketAddr;

const MANIFEST: &[&str] = &[
    "dnscache",
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
fn kube_dns_manifest_arguments_parse_unchanged() {
    let cli = Cli::try_parse_from(MANIFEST).unwrap();
    assert_eq!(cli.cache_size, 1000);
    assert!(cli.no_negcache);
    assert_eq!(cli.port, 53);
    assert_eq!(cli.server.len(), 3);
    assert_eq!(
        cli.ignored(),
        ["--keep-in-foreground", "--log-facility"],
        "--dns-loop-detect is always on: no warning"
    );
    let cfg = cli.config(Some("nameserver 10.0.0.2\n")).unwrap();
    assert_eq!(cfg.cache.capacity, 1000);
    assert!(cfg.cache.no_negcache);
    assert_eq!(cfg.cache.neg_ttl, 5);
    assert_eq!(cfg.settings.forward_max, 1500);
    let reverse = crate::route::domain_to_wire("1.0.0.10.in-addr.arpa").unwrap();
    let id = cfg.routes.lookup(&reverse);
    assert_eq!(
        cfg.routes.servers(id).unwrap(),
        ["127.0.0.1:10053".parse::<SocketAddr>().unwrap()]
    );
    assert_eq!(
        cfg.routes.default_servers(),
        ["10.0.0.2:53".parse::<SocketAddr>().unwrap()]
    );
}

#[test]
fn nanny_two_token_server_and_no_resolv() {
    let mut argv = MANIFEST.to_vec();
    argv.extend([
        "--server",
        "/acme.local/1.2.3.4",
        "--server",
        "2.2.2.2#10053",
        "--server",
        "[2001:db8:3::3]#53",
        "--no-resolv",
    ]);
    let cli = Cli::try_parse_from(argv).unwrap();
    let cfg = cli.config(Some("nameserver 10.0.0.2\n")).unwrap();
    assert_eq!(
        cfg.routes.default_servers(),
        [
            "2.2.2.2:10053".parse::<SocketAddr>().unwrap(),
            "[2001:db8:3::3]:53".parse().unwrap()
        ]
    );
    let acme = crate::route::domain_to_wire("x.acme.local").unwrap();
    assert_eq!(
        cfg.routes.servers(cfg.routes.lookup(&acme)).unwrap(),
        ["1.2.3.4:53".parse::<SocketAddr>().unwrap()]
    );
}

#[test]
fn dnsmasq_short_options_and_ours() {
    let cli = Cli::try_parse_from([
        "dnscache",
        "-p",
        "5353",
        "-c",
        "10",
        "-a",
        "127.0.0.1,::1",
        "-S",
        "1.1.1.1",
        "-R",
        "--inherit-udp-fd=3",
        "--inherit-tcp-fd=4",
        "--ready-fd=5",
        "--serve-stale",
        "--v=4",
    ])
    .unwrap();
    assert_eq!(cli.port, 5353);
    assert_eq!(cli.listen_address.len(), 2);
    assert!(cli.inherits());
    assert_eq!(cli.ready_fd, Some(5));
    let cfg = cli.config(None).unwrap();
    assert!(cfg.settings.serve_stale);
    assert_eq!(cfg.cache.capacity, 10);
}

#[test]
fn behaviour_changing_unknown_options_are_usage_errors() {
    for bad in [
        "--address=/x/1.2.3.4",
        "--bogus-priv",
        "--conf-file=/etc/x",
        "--no-such",
    ] {
        let err = Cli::try_parse_from(["dnscache", bad]).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{bad}");
    }
}

#[test]
fn invalid_values_are_rejected() {
    let cli = Cli::try_parse_from(["dnscache", "--server=/x/not-ip"]).unwrap();
    assert!(cli.config(None).is_err());
    let cli = Cli::try_parse_from(["dnscache", "--inherit-udp-fd=4", "--ready-fd=4"]).unwrap();
    assert!(cli.config(None).is_err());
}

#[test]
fn add_subnet_goes_to_the_cluster_route_only() {
    let with = |extra: &[&str]| {
        let mut argv = MANIFEST.to_vec();
        argv.push("--server=/example.org/10.0.0.9");
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).unwrap().config(None)
    };
    assert!(with(&[]).unwrap().add_subnet.is_none());
    let cfg = with(&["--add-subnet"]).unwrap();
    let add = cfg.add_subnet.expect("on");
    assert_eq!((add.v4_prefix, add.v6_prefix), (32, 128));
    let cluster = cfg
        .routes
        .lookup(&route::domain_to_wire("cluster.local").unwrap());
    let other = cfg
        .routes
        .lookup(&route::domain_to_wire("example.org").unwrap());
    assert_eq!(add.routes, [cluster]);
    assert!(!add.routes.contains(&other) && !add.routes.contains(&RouteId::Default));

    let add = with(&[
        "--add-subnet=24,56",
        "--add-subnet-domain=cluster.local.,example.org",
    ])
    .unwrap()
    .add_subnet
    .expect("on");
    assert_eq!((add.v4_prefix, add.v6_prefix), (24, 56));
    assert_eq!(add.routes, [cluster, other]);

    // A domain without its own route, or a bad prefix: usage errors.
    assert!(with(&["--add-subnet", "--add-subnet-domain=svc.cluster.local"]).is_err());
    assert!(with(&["--add-subnet", "--add-subnet-domain=nowhere.test"]).is_err());
    assert!(with(&["--add-subnet=40"]).is_err());
}

#[test]
fn repeated_options_are_accepted_as_dnsmasq_does() {
    let cli = Cli::try_parse_from([
        "dnscache",
        "--no-resolv",
        "--no-resolv",
        "--cache-size=10",
        "--cache-size=20",
        "--server=127.0.0.1#1",
        "--server=127.0.0.1#2",
    ])
    .unwrap();
    assert!(cli.no_resolv);
    assert_eq!(cli.cache_size, 20);
    assert_eq!(cli.server.len(), 2, "--server still accumulates");
}
