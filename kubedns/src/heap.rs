//! How kubedns uses glibc's malloc (`--heap-tuning`, on by default).
//!
//! Measured on a 10,000-Service cluster (kubedns/benches/memory.sh): the live heap after the
//! first sync is about 20 MiB, yet with glibc's defaults the process kept 10 to 15 MiB more
//! as free but resident fragments. Three causes, three settings:
//!
//! - glibc raises its mmap threshold each time a large block is freed, up to 32 MiB, so after
//!   the first list page or manifest text the next large buffers come from the heap and the
//!   long-lived objects parsed out of them fill the gaps between them. A fixed threshold
//!   ([`MMAP_THRESHOLD`]) keeps every large transient buffer in its own mapping, returned to
//!   the kernel when freed.
//! - glibc gives every thread that allocates its own arena, up to eight per CPU. The threads
//!   that parse a big List (`objects/list.rs`), the runtime's workers and the blocking pool each
//!   leave objects and holes in their own arenas; one arena per CPU keeps the holes fewer
//!   (a 10,000-Service List: 38 MiB resident instead of 43) while threads on different CPUs
//!   still rarely wait for each other (small blocks come from the per-thread cache).
//! - A rebuild frees the previous snapshot and the source's transient values across several
//!   arenas (one per thread that allocated), and glibc returns memory only from the top of
//!   each heap. `malloc_trim(0)` after each published snapshot releases every free page of
//!   every arena (about 1 ms per 10 MiB of heap, off the query path). A page with one live
//!   block stays, so the snapshot keeps its Services in a few large vectors
//!   (`records/src/model/pool.rs`): the one a rebuild frees goes back whole, and Service
//!   churn leaves RSS flat (before: +12 % once two snapshots had interleaved).
//!
//! mimalloc (0.1.52, default options) held 74 MiB on the same run, 41 MiB with eager purging;
//! glibc tuned this way holds 34 MiB and rebuilds faster, hence this module.

use std::sync::atomic::{AtomicBool, Ordering};

/// Blocks at least this large are mapped on their own (glibc's initial default, made fixed).
pub const MMAP_THRESHOLD: usize = 128 * 1024;

/// Whether [`tune`] ran: [`trim`] only trims a tuned heap.
static TUNED: AtomicBool = AtomicBool::new(false);

/// Fixes the mmap threshold, allows one arena per CPU and turns on [`trim`]. Call once,
/// first thing in `main`.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let threshold = libc::c_int::try_from(MMAP_THRESHOLD).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt takes plain integers and changes allocator parameters under the
        // allocator's lock; any value is accepted or rejected by glibc itself.
        #[allow(unsafe_code)]
        let ok = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, threshold) };
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let arenas = libc::c_int::try_from(cpus).unwrap_or(libc::c_int::MAX);
        // SAFETY: as above.
        #[allow(unsafe_code)]
        let ok = ok != 0 && unsafe { libc::mallopt(libc::M_ARENA_MAX, arenas) } != 0;
        if !ok {
            tracing::warn!("mallopt refused a setting; glibc defaults stay for it");
        }
        TUNED.store(true, Ordering::Relaxed);
    }
}

/// Releases the free pages of every malloc arena when the heap is tuned; else a no-op (and
/// always with other C libraries).
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if TUNED.load(Ordering::Relaxed) {
        // SAFETY: malloc_trim takes no pointers and works under the allocator's own locks;
        // glibc documents it as callable at any time from any thread.
        #[allow(unsafe_code)]
        unsafe {
            libc::malloc_trim(0);
        }
        if tracing::enabled!(tracing::Level::DEBUG) {
            // SAFETY: as above; mallinfo2 only reads allocator statistics.
            #[allow(unsafe_code)]
            let info = unsafe { libc::mallinfo2() };
            tracing::debug!(
                in_use = info.uordblks,
                free = info.fordblks,
                mapped = info.hblkhd,
                "heap trimmed"
            );
        }
    }
}
