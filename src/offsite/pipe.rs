//! Streams to and from restic in large pieces. A pipe holds 64 KiB by
//! default and `io::copy` moves 8 KiB at a time: 800 MB is then ~100 000
//! writes, each waking the reader. Widened to 1 MiB (Linux's unprivileged
//! maximum) and fed 1 MiB at a time, both ends do a fraction of the work.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;

/// Bytes per read and write, and the pipe size asked for.
pub const CHUNK: usize = 1 << 20;

/// Asks for a [`CHUNK`]-sized pipe behind `pipe`; the default stays if refused.
pub fn widen(pipe: &impl AsRawFd) {
    // SAFETY: F_SETPIPE_SZ only resizes the pipe's buffer; a failure leaves it as it was.
    unsafe { libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, CHUNK as libc::c_int) };
}

/// Copies `from` to its end into `to`, [`CHUNK`] bytes at a time; the count.
pub fn pump<R: Read + ?Sized, W: Write + ?Sized>(from: &mut R, to: &mut W) -> io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pump_copies_everything_and_counts_it() {
        let data: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i % 251) as u8).collect();
        let mut out = Vec::new();
        assert_eq!(pump(&mut &data[..], &mut out).unwrap(), data.len() as u64);
        assert_eq!(out, data);
    }
}
