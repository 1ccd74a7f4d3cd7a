//! The Go and Kubernetes primitives that kube-dns's validation is built from, reproduced so
//! that the same strings pass and fail here: `net.SplitHostPort`, `net.ParseIP`,
//! `strconv.Atoi`/`ParseUint`, `validation.IsDNS1123Label`/`IsDNS1123Subdomain`, and
//! `util.ValidateNameserverIpAndPort` (kube-dns `pkg/dns/util`). Pure; no I/O.

use std::net::IpAddr;

const LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";

/// `net.SplitHostPort`: splits `host:port` or `[host]:port`; errors read as Go's.
pub fn split_host_port(hostport: &str) -> Result<(&str, &str), String> {
    let err = |why: &str| Err(format!("address {hostport}: {why}"));
    let Some(i) = hostport.rfind(':') else {
        return err("missing port in address");
    };
    let (host, j, k);
    if hostport.starts_with('[') {
        let Some(end) = hostport.find(']') else {
            return err("missing ']' in address");
        };
        if end + 1 == hostport.len() {
            return err("missing port in address");
        } else if end + 1 != i {
            if hostport.as_bytes()[end + 1] == b':' {
                return err("too many colons in address");
            }
            return err("missing port in address");
        }
        host = &hostport[1..end];
        (j, k) = (1, end + 1);
    } else {
        host = &hostport[..i];
        if host.contains(':') {
            return err("too many colons in address");
        }
        (j, k) = (0, 0);
    }
    if hostport[j..].contains('[') {
        return err("unexpected '[' in address");
    }
    if hostport[k..].contains(']') {
        return err("unexpected ']' in address");
    }
    Ok((host, &hostport[i + 1..]))
}

/// `net.ParseIP`: a bare IPv4 or IPv6 address (no brackets, no zone).
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse().ok()
}

/// `strconv.ParseUint(s, 10, 16)`: digits only, fits in 16 bits.
pub fn parse_uint16(s: &str) -> Option<u16> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `strconv.Atoi`: optional sign, then digits.
pub fn atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn is_label_body(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            alnum(first) && alnum(last) && b.iter().all(|c| alnum(c) || *c == b'-')
        }
        _ => false,
    }
}

/// `validation.IsDNS1123Label`: the list of reasons `s` is not a lowercase RFC 1123 label.
pub fn dns1123_label_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    if !is_label_body(s) {
        errs.push(format!(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', \
             and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', \
             regex used for validation is '{LABEL_FMT}')"
        ));
    }
    errs
}

/// `validation.IsDNS1123Subdomain`: the list of reasons `s` is not a lowercase RFC 1123
/// subdomain.
pub fn dns1123_subdomain_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push("must be no more than 253 characters".to_string());
    }
    if !s.split('.').all(is_label_body) {
        errs.push(format!(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' \
             or '.', and must start and end with an alphanumeric character (e.g. 'example.com', \
             regex used for validation is '{LABEL_FMT}(\\.{LABEL_FMT})*')"
        ));
    }
    errs
}

/// Whether `s` is a lowercase RFC 1123 subdomain.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    dns1123_subdomain_errors(s).is_empty()
}

/// kube-dns `util.ValidateNameserverIpAndPort`: a bare IP means port 53; otherwise
/// `ip:port` with a literal IP and a port in 1..=65535. Returns (ip, port).
pub fn validate_nameserver_ip_and_port(ns: &str) -> Result<(String, String), String> {
    if let Some(ip) = parse_ip(ns) {
        return Ok((ip.to_string(), "53".to_string()));
    }
    let (host, port) = split_host_port(ns)?;
    if parse_ip(host).is_none() {
        return Err(format!("bad IP address: {host:?}"));
    }
    match atoi(port) {
        Some(p) if (1..=65535).contains(&p) => Ok((host.to_string(), port.to_string())),
        _ => Err(format!("bad port number: {port:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_host_port_matches_go() {
        let ok = [
            ("1.2.3.4:53", ("1.2.3.4", "53")),
            ("[2001:db8::2]:10053", ("2001:db8::2", "10053")),
            ("1.1.1.1:", ("1.1.1.1", "")),
            ("ns.foo.com:53", ("ns.foo.com", "53")),
        ];
        for (input, want) in ok {
            assert_eq!(split_host_port(input), Ok(want), "{input}");
        }
        let bad = [
            ("1.2.3.4", "missing port in address"),
            ("2001:db8::1", "too many colons in address"),
            ("[2001:db8::2]", "missing port in address"),
            ("[2001:db8::2", "missing ']' in address"),
            ("[::1]x:53", "missing port in address"),
            ("[::1]:5:3", "too many colons in address"),
            ("a]:53", "unexpected ']' in address"),
        ];
        for (input, why) in bad {
            assert_eq!(
                split_host_port(input),
                Err(format!("address {input}: {why}")),
                "{input}"
            );
        }
    }

    #[test]
    fn dns1123() {
        for good in ["a", "foo.com", "acme.local", "1-2.x9", &"a".repeat(63)] {
            assert!(dns1123_label_errors(good.split('.').next().unwrap_or("")).is_empty());
            assert!(is_dns1123_subdomain(good), "{good}");
        }
        for bad in [
            "", "$$$$", "Foo.com", "-a.com", "a-.com", "a..b", ".a", "a.", "a_b",
        ] {
            assert!(!is_dns1123_subdomain(bad), "{bad}");
        }
        assert!(!dns1123_label_errors("a.b").is_empty());
        assert_eq!(dns1123_label_errors(&"a".repeat(64)).len(), 1);
        assert!(!is_dns1123_subdomain(&format!("{}.com", "a.".repeat(125))));
    }

    /// kube-dns `pkg/dns/util/util_test.go` TestValidateNameserverIpAndPort.
    #[test]
    fn validate_nameserver_ip_and_port_table() {
        let cases: [(&str, Option<(&str, &str)>); 9] = [
            ("", None),
            ("1.2.3.4", Some(("1.2.3.4", "53"))),
            ("1.2.3.4:53", Some(("1.2.3.4", "53"))),
            ("1.1.1.1:abc", None),
            ("1.1.1.1:123456789", None),
            ("1.1.1.1:", None),
            ("invalidip", None),
            ("invalidip:80", None),
            (
                "[2001:db8:2:2:2::2]:10053",
                Some(("2001:db8:2:2:2::2", "10053")),
            ),
        ];
        for (input, want) in cases {
            let got = validate_nameserver_ip_and_port(input);
            match want {
                Some((ip, port)) => assert_eq!(got, Ok((ip.into(), port.into())), "{input}"),
                None => assert!(got.is_err(), "{input} accepted: {got:?}"),
            }
        }
        assert_eq!(
            validate_nameserver_ip_and_port("invalidip:80"),
            Err("bad IP address: \"invalidip\"".into())
        );
        assert_eq!(
            validate_nameserver_ip_and_port("1.1.1.1:abc"),
            Err("bad port number: \"abc\"".into())
        );
    }
}
