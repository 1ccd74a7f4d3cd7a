//! `soak`: the soak and chaos run of the whole pod (see `testkit::soak`), as
//! `deploy/local/soak.sh` starts it. Writes `report.txt` and `report.svg` into `--out` and
//! exits 1 when a bound is broken, 2 on a usage error, 3 when the run could not be carried out.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use testkit::soak::{self, Config};

const USAGE: &str = "usage: soak [--duration 30m] [--seed N] [--qps 2000] [--churn 50] \
[--tcp-per-mille 20] [--pool 300] [--bin-dir DIR] [--out DIR]";

/// `90`, `90s`, `10m`, `1h`.
fn duration(s: &str) -> Option<Duration> {
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

fn parse(args: &[String]) -> Result<(Config, PathBuf), String> {
    let mut cfg = Config::default();
    let mut out = PathBuf::from(".");
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (flag.as_str(), None),
        };
        let value = match inline.or_else(|| it.next().cloned()) {
            Some(v) => v,
            None => return Err(format!("{name} needs a value")),
        };
        let bad = || format!("bad value for {name}: {value}");
        let num = || value.parse::<u64>().map_err(|_| bad());
        match name {
            "--duration" => cfg.duration = duration(&value).ok_or_else(bad)?,
            "--seed" => cfg.seed = num()?,
            "--qps" => cfg.qps = num()? as u32,
            "--churn" => cfg.churn = num()? as u32,
            "--tcp-per-mille" => cfg.tcp_per_mille = num()?.min(1000) as u32,
            "--pool" => cfg.pool = num()?.max(1) as usize,
            "--bin-dir" => cfg.bin_dir = Some(PathBuf::from(value)),
            "--out" => out = PathBuf::from(value),
            _ => return Err(format!("unknown flag {name}")),
        }
    }
    Ok((cfg, out))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let (cfg, out) = match parse(&args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("soak: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("soak: tokio runtime: {e}");
            return ExitCode::from(3);
        }
    };
    let result = match rt.block_on(soak::run(cfg)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("soak: {e}");
            return ExitCode::from(3);
        }
    };
    print!("{}", result.text);
    let written = std::fs::create_dir_all(&out)
        .and_then(|_| std::fs::write(out.join("report.txt"), &result.text))
        .and_then(|_| std::fs::write(out.join("report.svg"), &result.svg))
        .and_then(|_| std::fs::write(out.join("samples.csv"), &result.samples_csv));
    if let Err(e) = written {
        eprintln!("soak: writing the report into {}: {e}", out.display());
        return ExitCode::from(3);
    }
    println!(
        "report: {}/report.txt, {}/report.svg",
        out.display(),
        out.display()
    );
    if result.summary.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_flags() {
        assert_eq!(duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(duration("5x"), None);
        let args: Vec<String> = ["--duration", "2m", "--seed=9", "--qps", "100"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (cfg, _) = parse(&args).unwrap();
        assert_eq!((cfg.duration.as_secs(), cfg.seed, cfg.qps), (120, 9, 100));
        assert!(parse(&["--bogus".to_string(), "1".to_string()]).is_err());
        assert!(parse(&["--qps".to_string()]).is_err());
    }
}
