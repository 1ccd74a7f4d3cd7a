//! Go `flag`/pflag spellings to clap spellings.
//!
//! Existing kube-dns manifests pass single-dash long flags (`-v=2 -logtostderr
//! -configDir=/x`), which clap cannot parse (clap-rs/clap#1210). [`normalize`] rewrites the
//! names it is given to `--name` before clap sees them. Everything after the first `--` is
//! left untouched (it belongs to a child process).

use std::time::Duration;

/// Rewrites `-name`, `-name=value` to `--name`, `--name=value` for every `name` in `long`.
///
/// The first element (program name) is kept as is. Arguments after a bare `--` are copied
/// unchanged, and so is the `--` itself.
pub fn normalize<I, S>(argv: I, long: &[&str]) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut out = Vec::new();
    let mut passthrough = false;
    for (i, arg) in argv.into_iter().enumerate() {
        let arg: String = arg.into();
        if i == 0 || passthrough {
            out.push(arg);
            continue;
        }
        if arg == "--" {
            passthrough = true;
            out.push(arg);
            continue;
        }
        out.push(rewrite(&arg, long).unwrap_or(arg));
    }
    out
}

fn rewrite(arg: &str, long: &[&str]) -> Option<String> {
    let body = arg.strip_prefix('-')?;
    if body.starts_with('-') {
        return None;
    }
    let name = body.split('=').next().unwrap_or(body);
    long.contains(&name).then(|| format!("-{arg}"))
}

/// Go `time.ParseDuration` for non-negative durations (`10s`, `100ms`, `1m30s`, `1.5h`, `0`),
/// the value syntax of every duration flag of the kube-dns binaries.
pub fn duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {s:?} (want e.g. 10s, 100ms, 1m)");
    let body = s.strip_prefix('+').unwrap_or(s);
    if body == "0" {
        return Ok(Duration::ZERO);
    }
    if body.is_empty() {
        return Err(bad());
    }
    let mut rest = body;
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let num: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += num * nanos;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_nanos(total.round() as u64))
}

#[cfg(test)]
mod tests {
    use super::{duration, normalize};
    use std::time::Duration;

    #[test]
    fn rewrites_known_single_dash_flags_only() {
        let argv = [
            "nanny",
            "-v=2",
            "-logtostderr",
            "-configDir=/etc/k8s",
            "-x",
            "--already",
            "--",
            "-k",
            "-v=9",
        ];
        let got = normalize(argv, &["v", "logtostderr", "configDir"]);
        assert_eq!(
            got,
            [
                "nanny",
                "--v=2",
                "--logtostderr",
                "--configDir=/etc/k8s",
                "-x",
                "--already",
                "--",
                "-k",
                "-v=9"
            ]
        );
    }

    #[test]
    fn durations() {
        for (s, ms) in [
            ("10s", 10_000),
            ("100ms", 100),
            ("1m", 60_000),
            ("1m30s", 90_000),
            ("1.5s", 1_500),
            ("0", 0),
            ("0s", 0),
            ("2h", 7_200_000),
        ] {
            assert_eq!(duration(s), Ok(Duration::from_millis(ms)), "{s}");
        }
        assert_eq!(duration("250us"), Ok(Duration::from_micros(250)));
        for bad in ["", "10", "s", "10x", "-1s", "1..5s"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }
}
