//! Reads from restic in large pieces: a pipe holds 64 KiB by default, so a
//! `restic dump` of 800 MB would be ~12 000 wake-ups of the reader. Widened
//! to 1 MiB (Linux's unprivileged maximum) and read 1 MiB at a time, both
//! ends do a fraction of the work.

use std::os::fd::AsRawFd;

/// Bytes per read, and the pipe size asked for.
pub const CHUNK: usize = 1 << 20;

/// Asks for a [`CHUNK`]-sized pipe behind `pipe`; the default stays if refused.
pub fn widen(pipe: &impl AsRawFd) {
    // SAFETY: F_SETPIPE_SZ only resizes the pipe's buffer; a failure leaves it as it was.
    unsafe { libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, CHUNK as libc::c_int) };
}
