//! glibc's malloc, set up for a daemon that runs for months on a small host.
//!
//! Two of its defaults keep memory resident that the daemon no longer uses
//! (measured with `cargo bench --bench ui`; figures in the issue 10 notes):
//!
//! - The mmap threshold is dynamic: freeing one large mapped block, such as
//!   the 19 MiB an argon2 hash takes at every sign-in, raises the threshold
//!   to that size and the trim threshold to twice it, for the rest of the
//!   process. From then on every buffer below 19 MiB (rendered pages, query
//!   results) comes from the heaps, and a heap returns memory only once
//!   38 MiB are free at its top.
//! - Up to eight arenas per core: each blocking thread that ever ran a query
//!   or a hash can hold its own arena with its own free memory.
//!
//! Fixing the threshold at glibc's starting value (which also stops the
//! raise) and allowing one arena per core bounds both. An operator who sets
//! `GLIBC_TUNABLES` has chosen for themselves: nothing is changed then.

/// Call before the runtime starts its threads.
pub(super) fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var_os("GLIBC_TUNABLES").is_some() {
            return;
        }
        let arenas = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = i32::try_from(arenas).unwrap_or(i32::MAX);
        // SAFETY: mallopt only changes the allocator's parameters; glibc
        // takes its own lock for that, whatever other threads are doing.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}
