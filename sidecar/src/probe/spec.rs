//! The `--probe` grammar (kube-dns `cmd/sidecar/main.go probeOptions.Set`).
//!
//! `<label>,<server>,<dns name>[,<interval_seconds>][,<type>]`, parsed purely into a
//! [`ProbeSpec`]. Error texts are kube-dns's, because operators grep for them. This module
//! must not resolve names or touch sockets: the server stays the string the user gave (with
//! `:53` appended when it has no `:`), exactly like kube-dns, and is resolved by the probe task.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use hickory_proto::rr::RecordType;

/// Interval used when the probe does not give one.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// One `--probe` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    /// Label of `/healthcheck/<label>` and of the `probe_<label>_*` metrics.
    pub label: String,
    /// `host:port` as given (`:53` appended when there is no `:`); `[::1]:53` style allowed.
    pub server: String,
    /// The name queried, always absolute (ends in `.`).
    pub name: String,
    /// Time between two probes.
    pub interval: Duration,
    /// Query type: A, AAAA, ANY or SRV.
    pub qtype: RecordType,
}

/// Why a `--probe` value was rejected; the texts are kube-dns's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// Fewer than 3 or more than 5 comma-separated fields.
    #[error("invalid format to --probe")]
    Format,
    /// The label does not match `^[a-zA-Z0-9_]+$`.
    #[error("label must be of format ^[a-zA-Z0-9_]+$")]
    Label,
    /// The interval is not an integer (Go's `strconv.Atoi` message).
    #[error("strconv.Atoi: parsing {value:?}: invalid syntax")]
    Interval {
        /// The rejected text.
        value: String,
    },
    /// The interval is an integer but not positive. kube-dns accepts it and then panics in
    /// `rand.Int63n`; we refuse it up front instead.
    #[error("interval must be a positive number of seconds, got {value}")]
    IntervalNotPositive {
        /// The rejected value.
        value: i64,
    },
    /// The type is not one of A, AAAA, ANY, SRV (exact case).
    #[error("invalid type for DNS: {value}")]
    Type {
        /// The rejected text.
        value: String,
    },
}

impl FromStr for ProbeSpec {
    type Err = SpecError;

    fn from_str(value: &str) -> Result<Self, SpecError> {
        let fields: Vec<&str> = value.split(',').collect();
        if !(3..=5).contains(&fields.len()) {
            return Err(SpecError::Format);
        }
        let label = fields[0];
        if label.is_empty()
            || !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(SpecError::Label);
        }
        let mut server = fields[1].to_string();
        if !server.contains(':') {
            server.push_str(":53");
        }
        let mut name = fields[2].to_string();
        if !name.ends_with('.') {
            name.push('.');
        }
        let interval = match fields.get(3) {
            None => DEFAULT_INTERVAL,
            Some(text) => {
                let secs = atoi(text).ok_or_else(|| SpecError::Interval {
                    value: (*text).to_string(),
                })?;
                if secs <= 0 {
                    return Err(SpecError::IntervalNotPositive { value: secs });
                }
                Duration::from_secs(secs.unsigned_abs())
            }
        };
        let qtype = match fields.get(4) {
            None => RecordType::ANY,
            Some(&"A") => RecordType::A,
            Some(&"AAAA") => RecordType::AAAA,
            Some(&"ANY") => RecordType::ANY,
            Some(&"SRV") => RecordType::SRV,
            Some(other) => {
                return Err(SpecError::Type {
                    value: (*other).to_string(),
                });
            }
        };
        Ok(ProbeSpec {
            label: label.to_string(),
            server,
            name,
            interval,
            qtype,
        })
    }
}

/// Go's `strconv.Atoi`: optional sign, then ASCII digits only.
fn atoi(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl fmt::Display for ProbeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{},{},{},{},{}",
            self.label,
            self.server,
            self.name,
            self.interval.as_secs(),
            self.qtype
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "kubernetes.default.svc.cluster.local";

    /// kube-dns's `probeoptions_test.go` table, plus the defaults (interval 5 s, type ANY).
    #[test]
    fn kube_dns_table() {
        let good = [
            (
                "kubedns,[127.0.0.1]:10053,{N},5,SRV",
                "[127.0.0.1]:10053",
                5,
                RecordType::SRV,
            ),
            (
                "dnsmasq,[127.0.0.1]:53,{N},5,SRV",
                "[127.0.0.1]:53",
                5,
                RecordType::SRV,
            ),
            (
                "dnsmasq,[127.0.0.1]:53,{N},5,ANY",
                "[127.0.0.1]:53",
                5,
                RecordType::ANY,
            ),
            (
                "dnsmasq,[127.0.0.1]:53,{N},5,A",
                "[127.0.0.1]:53",
                5,
                RecordType::A,
            ),
            (
                "dnsmasq,[::1]:53,{N},5,AAAA",
                "[::1]:53",
                5,
                RecordType::AAAA,
            ),
            ("dnsmasq,[::1]:53,{N},5,SRV", "[::1]:53", 5, RecordType::SRV),
            ("dnsmasq,[::1]:53,{N},5", "[::1]:53", 5, RecordType::ANY),
            ("ok,127.0.0.1,{N}", "127.0.0.1:53", 5, RecordType::ANY),
            (
                "Up_2,10.0.0.10:1053,{N}.,30,A",
                "10.0.0.10:1053",
                30,
                RecordType::A,
            ),
        ];
        for (input, server, secs, qtype) in good {
            let input = input.replace("{N}", NAME);
            let spec: ProbeSpec = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(spec.label, input.split(',').next().unwrap(), "{input}");
            assert_eq!(spec.server, server, "{input}");
            assert_eq!(spec.name, format!("{NAME}."), "{input}");
            assert_eq!(spec.interval, Duration::from_secs(secs), "{input}");
            assert_eq!(spec.qtype, qtype, "{input}");
        }
    }

    #[test]
    fn kube_dns_errors() {
        let bad = [
            ("dnsmasq,[::1]:53", "invalid format to --probe"),
            (
                "dnsmasq,[::1]:53,{N},5,SRV,BogusField",
                "invalid format to --probe",
            ),
            (
                "dn$m@s#,[::1]:53,{N},5,SRV",
                "label must be of format ^[a-zA-Z0-9_]+$",
            ),
            (",[::1]:53,{N}", "label must be of format ^[a-zA-Z0-9_]+$"),
            (
                "kube-dns,[::1]:53,{N}",
                "label must be of format ^[a-zA-Z0-9_]+$",
            ),
            (
                "dnsmasq,[::1]:53,{N},0.5,SRV",
                "strconv.Atoi: parsing \"0.5\": invalid syntax",
            ),
            (
                "dnsmasq,[::1]:53,{N},,SRV",
                "strconv.Atoi: parsing \"\": invalid syntax",
            ),
            (
                "dnsmasq,[::1]:53,{N},5,BogusType",
                "invalid type for DNS: BogusType",
            ),
            ("dnsmasq,[::1]:53,{N},5,srv", "invalid type for DNS: srv"),
            (
                "dnsmasq,[::1]:53,{N},0,SRV",
                "interval must be a positive number of seconds, got 0",
            ),
        ];
        for (input, message) in bad {
            let input = input.replace("{N}", NAME);
            let err = input.parse::<ProbeSpec>().unwrap_err();
            assert_eq!(err.to_string(), message, "{input}");
        }
    }

    #[test]
    fn display_round_trips() {
        let spec: ProbeSpec = format!("kubedns,127.0.0.1:10053,{NAME},5,SRV")
            .parse()
            .unwrap();
        assert_eq!(spec.to_string().parse::<ProbeSpec>().unwrap(), spec);
    }
}
