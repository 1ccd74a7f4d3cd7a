//! What `/proc` tells of a running process: its children, resident memory and open
//! descriptors (the soak samples them), and a kill -9.

use std::process::Command;

/// The first child of `parent` found in `/proc` (the nanny's dnscache).
pub fn child_of(parent: u32) -> Option<u32> {
    children_of(parent).into_iter().next()
}

/// Every child process of `parent`.
pub fn children_of(parent: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            (ppid(pid)? == parent).then_some(pid)
        })
        .collect()
}

fn ppid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Resident set size (KiB) and open descriptors of `pid`.
pub fn usage(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64;
    Some((rss, fds))
}

/// Sends SIGKILL to `pid`.
pub fn kill9(pid: u32) {
    let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_usage_and_parent() {
        let me = std::process::id();
        let (rss, fds) = usage(me).unwrap();
        assert!(rss > 0 && fds > 2, "{rss} {fds}");
        let mut sleeper = Command::new("sleep").arg("5").spawn().unwrap();
        assert_eq!(ppid(sleeper.id()), Some(me));
        assert!(child_of(me).is_some());
        assert!(children_of(me).contains(&sleeper.id()));
        sleeper.kill().unwrap();
        sleeper.wait().unwrap();
    }
}
