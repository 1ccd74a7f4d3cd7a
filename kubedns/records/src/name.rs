//! Label-level helpers shared by the projection and the answer path: lower-cased relative
//! labels of a question, endpoint hostnames derived from IPs (`10-1-2-3`), pod labels parsed
//! back into IPs, and reverse (`in-addr.arpa.` / `ip6.arpa.`) names in both directions.
//!
//! Everything here is total: malformed input gives `None`, never a panic (the answer path
//! runs these on untrusted names). Spec: Kubernetes DNS schema 1.1.0 §2.3.3, §2.4.1.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::Name;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// The label an endpoint without `hostname` gets: its IP with `.` or `:` replaced by `-`, as
/// CoreDNS does (an IPv6 form ending in `-` gets a trailing `0`).
pub fn dashed_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string().replace('.', "-"),
        IpAddr::V6(v6) => {
            let mut s = v6.to_string().replace(':', "-");
            if s.ends_with('-') {
                s.push('0');
            }
            s
        }
    }
}

/// Writes [`dashed_ip`] of `ip` into `buf` without allocating; returns the written prefix.
pub(crate) fn dashed_ip_into(ip: IpAddr, buf: &mut [u8; 48]) -> &[u8] {
    use std::io::Write as _;
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    let _ = match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            write!(cursor, "{a}-{b}-{c}-{d}")
        }
        IpAddr::V6(v6) => write!(cursor, "{v6}"),
    };
    let mut len = usize::try_from(cursor.position()).unwrap_or(0).min(47);
    if ip.is_ipv6() {
        for b in buf.iter_mut().take(len) {
            if *b == b':' {
                *b = b'-';
            }
        }
        if len > 0 && buf.get(len - 1) == Some(&b'-') {
            buf[len] = b'0';
            len += 1;
        }
    }
    buf.get(..len).unwrap_or(&[])
}

/// Parses an IP from an object field the way kube-dns does (`net.ParseIP(s).String()`):
/// surrounding blanks ignored, an IPv4-mapped IPv6 address (`::ffff:10.0.0.9`) is IPv4.
pub(crate) fn parse_object_ip(text: &str) -> Option<IpAddr> {
    text.trim()
        .parse::<IpAddr>()
        .ok()
        .map(|ip| ip.to_canonical())
}

/// Parses a pod label (`10-244-1-5`, `fd00--5`) back into an IP, case-insensitively.
pub fn parse_dashed_ip(label: &[u8]) -> Option<IpAddr> {
    if label.is_empty() || label.len() > 45 {
        return None;
    }
    let mut buf = [0u8; 45];
    let text = buf.get_mut(..label.len())?;
    text.copy_from_slice(label);
    let swap = |text: &mut [u8], from: u8, to: u8| {
        for b in text.iter_mut().filter(|b| **b == from) {
            *b = to;
        }
    };
    swap(text, b'-', b'.');
    if let Ok(v4) = std::str::from_utf8(text).ok()?.parse::<Ipv4Addr>() {
        return Some(IpAddr::V4(v4));
    }
    text.copy_from_slice(label);
    swap(text, b'-', b':');
    std::str::from_utf8(text)
        .ok()?
        .parse::<Ipv6Addr>()
        .ok()
        .map(IpAddr::V6)
}

/// The reverse name of `ip`: `4.3.2.1.in-addr.arpa.` or 32 nibbles `.ip6.arpa.`.
pub fn reverse_name(ip: IpAddr) -> Option<Name> {
    let text = match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa.", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(72);
            for byte in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", byte & 0x0f, byte >> 4));
            }
            s.push_str("ip6.arpa.");
            s
        }
    };
    Name::from_ascii(text).ok()
}

/// Parses a reverse name strictly (decimal octets without sign or leading zeros, single hex
/// nibbles) into the network it names: a full address gives a /32 or /128, a shorter name
/// the enclosing prefix (`96.10.in-addr.arpa.` is 10.96.0.0/16). `None` when not reverse.
pub fn parse_reverse(name: &Name) -> Option<IpNet> {
    let labels: Vec<&[u8]> = name.iter().collect();
    parse_reverse_labels(&labels)
}

/// [`parse_reverse`] of a name given as its labels, leftmost first, root excluded.
pub fn parse_reverse_labels(labels: &[&[u8]]) -> Option<IpNet> {
    let n = labels.len();
    if n < 2 || !labels[n - 1].eq_ignore_ascii_case(b"arpa") {
        return None;
    }
    let body = &labels[..n - 2];
    if labels[n - 2].eq_ignore_ascii_case(b"in-addr") {
        if body.len() > 4 {
            return None;
        }
        let mut octets = [0u8; 4];
        for (i, label) in body.iter().rev().enumerate() {
            octets[i] = parse_octet(label)?;
        }
        let len = u8::try_from(body.len() * 8).ok()?;
        return Ipv4Net::new(Ipv4Addr::from(octets), len)
            .ok()
            .map(IpNet::V4);
    }
    if labels[n - 2].eq_ignore_ascii_case(b"ip6") {
        if body.len() > 32 {
            return None;
        }
        let mut addr: u128 = 0;
        for (i, label) in body.iter().rev().enumerate() {
            let nibble = parse_nibble(label)?;
            addr |= u128::from(nibble) << (124 - 4 * i);
        }
        let len = u8::try_from(body.len() * 4).ok()?;
        return Ipv6Net::new(Ipv6Addr::from(addr), len).ok().map(IpNet::V6);
    }
    None
}

fn parse_octet(label: &[u8]) -> Option<u8> {
    if label.is_empty() || label.len() > 3 || (label.len() > 1 && label[0] == b'0') {
        return None;
    }
    if !label.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(label).ok()?.parse().ok()
}

fn parse_nibble(label: &[u8]) -> Option<u8> {
    match label {
        [c] => (*c as char).to_digit(16).and_then(|d| u8::try_from(d).ok()),
        _ => None,
    }
}

/// The labels of `qname` below `zone`, leftmost first, or `None` when `qname` is not in `zone`.
pub fn relative_labels<'a>(qname: &'a Name, zone: &Name) -> Option<Vec<&'a [u8]>> {
    if !zone.zone_of(qname) {
        return None;
    }
    let keep = usize::from(qname.num_labels()).checked_sub(usize::from(zone.num_labels()))?;
    Some(qname.iter().take(keep).collect())
}

/// A lower-cased copy of `label` when it is valid UTF-8.
pub fn lower(label: &[u8]) -> Option<String> {
    std::str::from_utf8(label).ok().map(str::to_ascii_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashed_round_trips() {
        for ip in ["10.1.2.3", "fd00::1", "2001:db8::", "::1"] {
            let ip: IpAddr = ip.parse().unwrap();
            let label = dashed_ip(ip);
            assert_eq!(parse_dashed_ip(label.as_bytes()), Some(ip), "{label}");
        }
        assert_eq!(dashed_ip("2001:db8::".parse().unwrap()), "2001-db8--0");
        for ip in ["10.1.2.3", "fd00::1", "2001:db8::", "::", "1:2:3:4:5:6:7:8"] {
            let ip: IpAddr = ip.parse().unwrap();
            let mut buf = [0u8; 48];
            assert_eq!(dashed_ip_into(ip, &mut buf), dashed_ip(ip).as_bytes());
        }
        assert_eq!(parse_dashed_ip(b"not-an-ip"), None);
    }

    #[test]
    fn reverse_names_round_trip() {
        for ip in ["10.96.0.1", "2001:db8::8a2e:370:7334"] {
            let ip: IpAddr = ip.parse().unwrap();
            let name = reverse_name(ip).unwrap();
            let net = parse_reverse(&name).unwrap();
            assert_eq!(net.addr(), ip);
            assert_eq!(net.prefix_len(), net.max_prefix_len());
        }
        let n = Name::from_ascii("96.10.IN-ADDR.arpa.").unwrap();
        assert_eq!(parse_reverse(&n).unwrap().to_string(), "10.96.0.0/16");
        for bad in [
            "01.0.0.10.in-addr.arpa.",
            "1.2.3.4.5.in-addr.arpa.",
            "zz.ip6.arpa.",
            "example.com.",
        ] {
            assert_eq!(
                parse_reverse(&Name::from_ascii(bad).unwrap()),
                None,
                "{bad}"
            );
        }
    }
}
