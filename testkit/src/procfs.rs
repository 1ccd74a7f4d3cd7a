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

/// What a process holds, from `/proc/<pid>/status` and `/proc/<pid>/fd`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Resident set, KiB (`VmRSS`: anonymous + file-backed + shared memory).
    pub rss_kib: u64,
    /// Resident anonymous memory, KiB (`RssAnon`): heap, stacks, what the process allocated.
    pub anon_kib: u64,
    /// Resident file-backed pages, KiB (`RssFile`): mostly the pages of the program and its
    /// libraries that have run so far, shared with the page cache.
    pub file_kib: u64,
    /// Open descriptors.
    pub fds: u64,
}

/// The resident memory and open descriptors of `pid`.
pub fn usage(pid: u32) -> Option<Usage> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |key: &str| -> Option<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64;
    Some(Usage {
        rss_kib: kib("VmRSS:")?,
        anon_kib: kib("RssAnon:")?,
        file_kib: kib("RssFile:")?,
        fds,
    })
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
        let u = usage(me).unwrap();
        assert!(u.rss_kib > 0 && u.fds > 2, "{u:?}");
        assert!(u.anon_kib > 0 && u.file_kib > 0, "{u:?}");
        assert!(u.anon_kib + u.file_kib <= u.rss_kib, "{u:?}");
        let mut sleeper = Command::new("sleep").arg("5").spawn().unwrap();
        assert_eq!(ppid(sleeper.id()), Some(me));
        assert!(child_of(me).is_some());
        assert!(children_of(me).contains(&sleeper.id()));
        sleeper.kill().unwrap();
        sleeper.wait().unwrap();
    }
}
