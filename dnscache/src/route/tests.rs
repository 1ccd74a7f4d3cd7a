use super::*;

fn a(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn wire(name: &str) -> Vec<u8> {
    domain_to_wire(name.trim_end_matches('.')).unwrap()
}

#[test]
fn server_values_parse_like_dnsmasq() {
    let table: &[(&str, ServerArg)] = &[
        ("1.2.3.4", ServerArg::Upstream(a("1.2.3.4:53"))),
        ("1.2.3.4#5353", ServerArg::Upstream(a("1.2.3.4:5353"))),
        ("2001:db8::1", ServerArg::Upstream(a("[2001:db8::1]:53"))),
        ("[2001:db8::2]", ServerArg::Upstream(a("[2001:db8::2]:53"))),
        (
            "[2001:db8::3]#53",
            ServerArg::Upstream(a("[2001:db8::3]:53")),
        ),
        (
            "/cluster.local/127.0.0.1#10053",
            ServerArg::Domains {
                domains: vec!["cluster.local".into()],
                target: Target::Servers(vec![a("127.0.0.1:10053")]),
            },
        ),
        (
            "/a.local/B.Local./1.1.1.1",
            ServerArg::Domains {
                domains: vec!["a.local".into(), "b.local".into()],
                target: Target::Servers(vec![a("1.1.1.1:53")]),
            },
        ),
        (
            "/corp/#",
            ServerArg::Domains {
                domains: vec!["corp".into()],
                target: Target::Default,
            },
        ),
        (
            "/local.only/",
            ServerArg::Domains {
                domains: vec!["local.only".into()],
                target: Target::Local,
            },
        ),
    ];
    for (input, want) in table {
        assert_eq!(&parse_server(input).unwrap(), want, "{input}");
    }
    for bad in [
        "",
        "1.2.3.4#x",
        "/x/not-an-ip",
        "/bad..name/1.1.1.1",
        "host.example",
        "/x",
    ] {
        assert!(parse_server(bad).is_err(), "{bad} should fail");
    }
}

fn manifest_routes() -> Routes {
    let args: Vec<ServerArg> = [
        "/cluster.local/127.0.0.1#10053",
        "/in-addr.arpa/127.0.0.1#10053",
        "/ip6.arpa/127.0.0.1#10053",
        "/acme.local/1.1.1.1",
        "/acme.local/2.2.2.2#10053",
        "/svc.cluster.local/3.3.3.3",
        "/blocked.example/",
        "8.8.8.8",
    ]
    .iter()
    .map(|s| parse_server(s).unwrap())
    .collect();
    Routes::new(&args, &[a("9.9.9.9:53")])
}

#[test]
fn longest_suffix_wins_and_failover_keeps_order() {
    let r = manifest_routes();
    let table: &[(&str, Option<&[&str]>)] = &[
        (
            "kubernetes.default.svc.cluster.local.",
            Some(&["3.3.3.3:53"]),
        ),
        ("web.default.pod.cluster.local.", Some(&["127.0.0.1:10053"])),
        ("CLUSTER.LOCAL.", Some(&["127.0.0.1:10053"])),
        ("notcluster.local.", Some(&["8.8.8.8:53", "9.9.9.9:53"])),
        ("10.0.96.10.in-addr.arpa.", Some(&["127.0.0.1:10053"])),
        ("1.0.0.0.ip6.arpa.", Some(&["127.0.0.1:10053"])),
        ("x.acme.local.", Some(&["1.1.1.1:53", "2.2.2.2:10053"])),
        ("www.example.com.", Some(&["8.8.8.8:53", "9.9.9.9:53"])),
        (".", Some(&["8.8.8.8:53", "9.9.9.9:53"])),
        ("a.blocked.example.", None),
    ];
    for (name, want) in table {
        let lower = wire(&name.to_ascii_lowercase());
        let got = r.servers(r.lookup(&lower)).map(|s| s.to_vec());
        let want = want.map(|w| w.iter().map(|x| a(x)).collect::<Vec<_>>());
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn reverse_names_are_recognised() {
    assert!(is_reverse(&wire("8.8.8.8.in-addr.arpa")));
    assert!(is_reverse(&wire("1.0.ip6.arpa")));
    assert!(!is_reverse(&wire("in-addr.arpa.example.com")));
}

#[test]
fn resolv_conf_nameservers_in_order() {
    let text = "# comment\nsearch default.svc.cluster.local svc.cluster.local\n\
                nameserver 10.0.0.10\noptions ndots:5\nnameserver 2001:db8::53\n\
                nameserver fe80::1%eth0\nnameserver not-an-ip\n  nameserver 1.1.1.1 \n";
    assert_eq!(
        parse_resolv_conf(text),
        [a("10.0.0.10:53"), a("[2001:db8::53]:53"), a("1.1.1.1:53")]
    );
}

#[test]
fn upstreams_pointing_at_ourselves_are_dropped() {
    let r =
        Routes::new(&[], &[a("127.0.0.1:53"), a("10.0.0.2:53")]).without_self(&[a("0.0.0.0:53")]);
    assert_eq!(r.default_servers(), [a("10.0.0.2:53")]);
    let stub = parse_server("/acme.local/127.0.0.1#5353").unwrap();
    let other = parse_server("/acme.local/10.0.0.3").unwrap();
    let r = Routes::new(&[stub, other], &[]).without_self(&[a("127.0.0.1:5353")]);
    let id = r.lookup(&domain_to_wire("x.acme.local").unwrap());
    assert_eq!(r.servers(id).unwrap(), [a("10.0.0.3:53")]);
}
