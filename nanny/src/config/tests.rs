//! kube-dns's validation tables (`pkg/dns/config/config_test.go`, `sync_test.go`,
//! `federation_test.go`), written as ConfigMap data.

use super::*;

fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn stub(json: &str) -> BTreeMap<String, String> {
    data(&[(STUB_DOMAINS, json)])
}

fn up(json: &str) -> BTreeMap<String, String> {
    data(&[(UPSTREAM_NAMESERVERS, json)])
}

fn fed(v: &str) -> BTreeMap<String, String> {
    data(&[(FEDERATIONS, v)])
}

#[test]
fn valid_configs() {
    let cases = [
        data(&[]),
        fed("abc=d.e.f"),
        fed(""),
        fed(" myfederation=example.com , second=second.example.com "),
        stub(r#"{"foo.com": ["1.2.3.4"]}"#),
        stub(r#"{"foo.com": ["1.2.3.4:32564"]}"#),
        stub(r#"{"foo.com": ["ns.foo.com"]}"#),
        stub(r#"{"acme.local": ["2001:db8:1:1:1::1"]}"#),
        stub(r#"{"google.local": ["google-public-dns-a.google.com"]}"#),
        stub(r#"{"widget.local": ["[2001:db8:2:2:2::2]:10053", "2001:db8:3:3:3::3"]}"#),
        stub("{}"),
        stub("null"),
        up("[]"),
        up("null"),
        up(r#"["1.2.3.4"]"#),
        up(r#"["1.2.3.4", "8.8.4.4", "8.8.8.8"]"#),
        up(r#"["1.2.3.4:53"]"#),
        up(r#"["[2001:db8:2:2:2::2]:10053", "2001:db8:3:3:3::3"]"#),
        data(&[("unknownKey", "{{{ not json"), (UPSTREAM_NAMESERVERS, "[]")]),
    ];
    for d in cases {
        let got = Config::from_data(&d);
        assert!(got.is_ok(), "{d:?} refused: {}", got.unwrap_err());
    }
}

#[test]
fn invalid_configs() {
    let cases = [
        fed("a.b=cdef"),
        fed("noequals"),
        fed("abc=d_e"),
        stub(r#"{"": ["1.2.3.4"]}"#),
        stub(r#"{"$$$$": ["1.2.3.4"]}"#),
        stub(r#"{"Foo.com": ["1.2.3.4"]}"#),
        stub(r#"{"foo.com": ["$$$$"]}"#),
        stub(r#"{"foo.com": ["1.2.3.4:65564"]}"#),
        stub(r#"{"foo.com": ["ns.foo.com:53"]}"#),
        stub(r#"{"foo.com": "1.2.3.4"}"#),
        stub("{"),
        stub(""),
        up(r#"["1.2.3.4", "2.2.2.2", "3.3.3.3", "4.4.4.4"]"#),
        up(r#"["1.1.1.1:abc"]"#),
        up(r#"["1.1.1.1:"]"#),
        up(r#"["1.1.1.1:123456789"]"#),
        up(r#"["1.1.1.1:0"]"#),
        up(r#"["invalidip"]"#),
        up(r#"["badNameserver"]"#),
        up(r#"["[2001:db8::2]"]"#),
        up(r#"{"not": "a list"}"#),
    ];
    for d in cases {
        assert!(Config::from_data(&d).is_err(), "{d:?} accepted");
    }
}

#[test]
fn parses_values() {
    let d = data(&[
        (
            STUB_DOMAINS,
            r#"{"widget.local": ["2.2.2.2:10053", "3.3.3.3"], "acme.local": ["1.1.1.1"]}"#,
        ),
        (UPSTREAM_NAMESERVERS, r#"["8.8.8.8", "8.8.4.4:53"]"#),
        (FEDERATIONS, "myfederation=example.com"),
    ]);
    let cfg = Config::from_data(&d).unwrap();
    assert_eq!(
        cfg.stub_domains["widget.local"],
        vec!["2.2.2.2:10053", "3.3.3.3"]
    );
    assert_eq!(cfg.stub_domains["acme.local"], vec!["1.1.1.1"]);
    assert_eq!(cfg.upstream_nameservers, vec!["8.8.8.8", "8.8.4.4:53"]);
    assert_eq!(cfg.federations["myfederation"], "example.com");
}

#[test]
fn every_reason_is_reported() {
    let d = data(&[
        (
            STUB_DOMAINS,
            r#"{"$$$$": ["1.2.3.4:99999"], "ok.local": ["1.2.3.4"]}"#,
        ),
        (
            UPSTREAM_NAMESERVERS,
            r#"["1.1.1.1:abc", "2.2.2.2", "3.3.3.3", "4.4.4.4"]"#,
        ),
        (FEDERATIONS, "a.b=cdef"),
    ]);
    let Refused(errs) = Config::from_data(&d).unwrap_err();
    assert_eq!(
        errs,
        vec![
            ConfigError::InvalidFederation {
                value: "a.b=cdef".into(),
                reason: errs_reason(&errs[0]),
            },
            ConfigError::InvalidStubDomain {
                domain: "$$$$".into()
            },
            ConfigError::InvalidStubNameserver {
                domain: "$$$$".into(),
                nameserver: "1.2.3.4:99999".into()
            },
            ConfigError::TooManyUpstreams { count: 4 },
            ConfigError::InvalidUpstream {
                nameserver: "1.1.1.1:abc".into(),
                reason: "bad port number: \"abc\"".into()
            },
        ]
    );
    assert!(errs_reason(&errs[0]).starts_with("\"a.b\" not a valid federation name"));
    let text = Refused(errs).to_string();
    assert!(text.contains("invalid domain name: \"$$$$\""), "{text}");
    assert!(text.contains("upstreamNameserver cannot have more than three entries"));
}

fn errs_reason(e: &ConfigError) -> String {
    match e {
        ConfigError::InvalidFederation { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

/// `federation_test.go`: flag parsing.
#[test]
fn federations_flag() {
    let ok = parse_federations("abc=d.e.f, xyz=foo.bar").unwrap();
    assert_eq!(ok.len(), 2);
    assert_eq!(ok["xyz"], "foo.bar");
    assert!(parse_federations("   ").unwrap().is_empty());
    assert_eq!(
        parse_federations("abc").unwrap_err(),
        "invalid format, must be key=value"
    );
    assert!(parse_federations("abc=").is_err());
    assert!(parse_federations("=abc").is_err());
    assert!(parse_federations("abc=d.e.f,").is_err());
}
