//! The descriptor limit. Every open connection (DNS over TCP, HTTP, an upstream exchange)
//! holds a descriptor, and distributions start processes with a soft `RLIMIT_NOFILE` of 1024
//! while the hard limit is much higher. Go raises the soft limit to the hard one when a
//! program starts, so kube-dns's binaries ran with the hard limit; ours do the same.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// Raises the soft `RLIMIT_NOFILE` to the hard limit. Returns the soft limit now in force, or
/// `None` (after a warning) when it cannot be read or raised; the process then keeps running
/// with the limit it has.
pub fn raise_nofile() -> Option<u64> {
    let (soft, hard) = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok(limits) => limits,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the descriptor limit");
            return None;
        }
    };
    if soft >= hard {
        return Some(soft);
    }
    match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
        Ok(()) => Some(hard),
        Err(e) => {
            tracing::warn!(error = %e, soft, hard, "cannot raise the descriptor limit");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_limit_ends_at_the_hard_limit() {
        let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        // Lowering the soft limit is always allowed; start from the usual 1024.
        setrlimit(Resource::RLIMIT_NOFILE, hard.min(1024), hard).unwrap();
        assert_eq!(raise_nofile(), Some(hard));
        assert_eq!(getrlimit(Resource::RLIMIT_NOFILE).unwrap(), (hard, hard));
    }
}
