//! Config -> dnscache argv, exactly as dnsmasq-nanny's `Configure`: the args
//! after `--` unchanged, then one `--server=/<domain>/<server>` per stub nameserver (domains
//! sorted, for a deterministic argv; Go used map order), one `--server=<server>` per upstream,
//! and `--no-resolv` when there is at least one upstream. Servers are munged `ip:port` ->
//! `ip#port`. We emit single `--server=...` tokens where dnsmasq-nanny emitted two; dnscache
//! and dnsmasq read both the same way.
//!
//! Pure. Stub nameservers given as host names must already be resolved (`resolve.rs`);
//! descriptor flags for the hand-over are added by `supervise`, not here.

use crate::config::Config;

/// The argv (without the program name) for a child serving `cfg`.
pub fn render(cfg: &Config, base: &[String]) -> Vec<String> {
    let mut args = base.to_vec();
    args.extend(routes(cfg));
    if !cfg.upstream_nameservers.is_empty() {
        args.push("--no-resolv".to_string());
    }
    args
}

/// Only the `--server=...` arguments derived from `cfg` (what the logs call routes).
pub fn routes(cfg: &Config) -> Vec<String> {
    let mut out = Vec::new();
    for (domain, servers) in &cfg.stub_domains {
        for s in servers {
            out.push(format!("--server=/{domain}/{}", munge(s)));
        }
    }
    for s in &cfg.upstream_nameservers {
        out.push(format!("--server={}", munge(s)));
    }
    out
}

/// dnsmasq-nanny `munge`: `v4:port` and `[v6]:port` become `v4#port` and `[v6]#port`; bare
/// IPv6, `[v6]` and names are untouched.
pub fn munge(s: &str) -> String {
    let Some(colon) = s.rfind(':') else {
        return s.to_string();
    };
    let is_v4 = s.matches(':').count() == 1;
    let is_bracketed_v6 = s.find(']').is_some_and(|b| colon == b + 1);
    if is_v4 || is_bracketed_v6 {
        format!("{}#{}", &s[..colon], &s[colon + 1..])
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn cfg(stubs: &[(&str, &[&str])], ups: &[&str]) -> Config {
        Config {
            stub_domains: stubs
                .iter()
                .map(|(d, s)| (d.to_string(), s.iter().map(|x| x.to_string()).collect()))
                .collect(),
            upstream_nameservers: ups.iter().map(|s| s.to_string()).collect(),
            federations: BTreeMap::new(),
        }
    }

    /// `pkg/dnsmasq/nanny_test.go` TestNannyConfig, input prefix `--abc`, with the two-token
    /// `--server X` written as `--server=X`. The host-name stub (`google-public-dns-a`, which
    /// Go resolved to 8.8.8.8 over the network) is shown already resolved.
    #[test]
    fn nanny_test_table() {
        let cases: Vec<(Config, Vec<&str>)> = vec![
            (cfg(&[], &[]), vec!["--abc"]),
            (
                cfg(
                    &[
                        ("acme.local", &["1.1.1.1"]),
                        ("widget.local", &["2.2.2.2:10053", "3.3.3.3"]),
                        ("google.local", &["8.8.8.8"]),
                    ],
                    &[],
                ),
                vec![
                    "--abc",
                    "--server=/acme.local/1.1.1.1",
                    "--server=/google.local/8.8.8.8",
                    "--server=/widget.local/2.2.2.2#10053",
                    "--server=/widget.local/3.3.3.3",
                ],
            ),
            (
                cfg(&[], &["2.2.2.2:10053", "3.3.3.3"]),
                vec![
                    "--abc",
                    "--server=2.2.2.2#10053",
                    "--server=3.3.3.3",
                    "--no-resolv",
                ],
            ),
            (
                cfg(
                    &[],
                    &["2001:db8:1::1", "[2001:db8:2::2]", "[2001:db8:3::3]:53"],
                ),
                vec![
                    "--abc",
                    "--server=2001:db8:1::1",
                    "--server=[2001:db8:2::2]",
                    "--server=[2001:db8:3::3]#53",
                    "--no-resolv",
                ],
            ),
            (
                cfg(&[("acme.local", &["1.2.3.4"])], &["5.6.7.8"]),
                vec![
                    "--abc",
                    "--server=/acme.local/1.2.3.4",
                    "--server=5.6.7.8",
                    "--no-resolv",
                ],
            ),
        ];
        for (c, want) in cases {
            assert_eq!(render(&c, &["--abc".to_string()]), want, "{c:?}");
        }
    }

    #[test]
    fn munge_table() {
        for (input, want) in [
            ("1.2.3.4", "1.2.3.4"),
            ("2.2.2.2:10053", "2.2.2.2#10053"),
            ("[2001:db8:3::3]:53", "[2001:db8:3::3]#53"),
            ("2001:db8:1::1", "2001:db8:1::1"),
            ("[2001:db8:2::2]", "[2001:db8:2::2]"),
            ("ns.foo.com", "ns.foo.com"),
            ("ns.foo.com:53", "ns.foo.com#53"),
        ] {
            assert_eq!(munge(input), want, "{input}");
        }
    }

    /// The e2e sequence of `test/e2e/dnsmasq/nanny.go` after the prefix.
    #[test]
    fn e2e_sequence() {
        let base: Vec<String> = vec![];
        assert_eq!(
            render(&cfg(&[("acme.local", &["1.2.3.4"])], &[]), &base),
            ["--server=/acme.local/1.2.3.4"]
        );
        assert_eq!(
            render(&cfg(&[], &["5.6.7.8"]), &base),
            ["--server=5.6.7.8", "--no-resolv"]
        );
    }
}
