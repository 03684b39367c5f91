//! One copy to a restic repository, blocking (run through `spawn_blocking`).
//!
//! An instance goes offsite as the uncompressed tar inside its verified
//! local archive, streamed into `restic backup --stdin`: restic's chunking
//! finds the unchanged runs of a tar again the next day, while a zstd
//! archive changes throughout when a little of its input does
//! (docs/offsite.md has the figures). The stream never touches the disk and
//! never touches the tenant: the archive was already made consistent.
//!
//! The tar's length is measured first (with the archive's sha256) and set
//! as the snapshot's `tar-bytes` tag; a restore refuses a snapshot whose
//! content differs from it, and a copy fails (its snapshot forgotten) when
//! restic read a different amount.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::pipe;
use super::restic::{exit_error, follow_backup, Restic};
use crate::store::offsite::CopyDone;

/// An instance's verified local backup, as the copy needs it.
pub struct InstanceSource {
    pub archive: PathBuf,
    pub sha256: String,
    pub client: String,
    pub instance: String,
    pub backup_id: i64,
}

impl InstanceSource {
    /// The name the tar has inside the snapshot.
    pub fn file_name(&self) -> String {
        format!("{}--{}.tar", self.client, self.instance)
    }
}

fn open_archive(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| crate::fsutil::path_error(path, e))
}

/// Feeds what it reads into a sha256.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// The archive's sha256 (of the zstd file) and its tar's length.
pub fn measure(archive: &Path) -> io::Result<(String, u64)> {
    let mut hashing = Hashing {
        inner: open_archive(archive)?,
        hasher: Sha256::new(),
    };
    let mut decoder = zstd::stream::read::Decoder::new(&mut hashing)?;
    let tar_bytes = pipe::pump(&mut decoder, &mut io::sink())?;
    drop(decoder);
    // The decoder may stop at the frame's end: hash what is left too.
    io::copy(&mut hashing, &mut io::sink())?;
    Ok((hex::encode(hashing.hasher.finalize()), tar_bytes))
}

/// Copies one instance's archive; `progress` gets bytes restic has read.
pub fn copy_instance(
    restic: &Restic,
    src: &InstanceSource,
    progress: impl FnMut(u64),
) -> Result<CopyDone, String> {
    let (sha, tar_bytes) =
        measure(&src.archive).map_err(|e| format!("reading the archive: {e}"))?;
    if sha != src.sha256 {
        return Err(format!(
            "{} is damaged (sha256 mismatch); nothing was copied",
            src.archive.display()
        ));
    }
    let tags = format!(
        "berth,client={},instance={},backup={},tar-bytes={tar_bytes}",
        src.client, src.instance, src.backup_id
    );
    let file_name = src.file_name();
    let args = [
        "backup",
        "--json",
        "--stdin",
        "--stdin-filename",
        &file_name,
        "--tag",
        &tags,
    ];
    let archive = src.archive.clone();
    let feed = move |stdin: &mut dyn Write| -> io::Result<u64> {
        let mut decoder = zstd::stream::read::Decoder::new(open_archive(&archive)?)?;
        pipe::pump(&mut decoder, stdin)
    };
    let done = run_backup(restic, &args, feed, progress)?;
    if done.bytes_processed != tar_bytes {
        let _ = restic.run(&["forget", &done.snapshot_id]);
        return Err(format!(
            "restic read {} bytes of a {tar_bytes}-byte tar; its snapshot was forgotten",
            done.bytes_processed
        ));
    }
    Ok(done)
}

/// Copies berth's own state: a directory holding a consistent copy of the
/// database and the config file, tagged `berth-state`.
pub fn copy_state(
    restic: &Restic,
    dir: &Path,
    progress: impl FnMut(u64),
) -> Result<CopyDone, String> {
    let dir = dir.display().to_string();
    let args = ["backup", "--json", "--tag", "berth,berth-state", &dir];
    run_backup(restic, &args, |_: &mut dyn Write| Ok(0), progress)
}

/// Runs `restic backup --json`, writing `feed` into its stdin from a
/// thread. If the feed fails, restic is killed *before* its stdin closes:
/// an end of input it could mistake for the end of the data never happens.
fn run_backup(
    restic: &Restic,
    args: &[&str],
    feed: impl FnOnce(&mut dyn Write) -> io::Result<u64> + Send + 'static,
    progress: impl FnMut(u64),
) -> Result<CopyDone, String> {
    let stdin_used = args.contains(&"--stdin");
    let mut cmd = restic.command(args);
    if stdin_used {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", restic.bin.display()))?;
    let stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let stdin = child.stdin.take();
    if let Some(pipe) = &stdin {
        pipe::widen(pipe);
    }
    let child = Arc::new(Mutex::new(child));
    let writer = stdin.map(|mut stdin| {
        let child = child.clone();
        std::thread::spawn(move || {
            let fed = feed(&mut stdin);
            if fed.is_err() {
                let _ = child.lock().unwrap_or_else(|p| p.into_inner()).kill();
            }
            drop(stdin);
            fed
        })
    });
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let summary = follow_backup(stdout, progress);
    let status = child
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .wait()
        .map_err(|e| format!("waiting for restic: {e}"))?;
    let stderr = errors.join().unwrap_or_default();
    let fed = writer.map(|w| {
        w.join()
            .unwrap_or_else(|_| Err(io::Error::other("the archive reader panicked")))
    });
    match fed {
        // restic quitting on its own (no repository, say) closes the pipe:
        // its own error says why, not the broken pipe.
        Some(Err(e)) if e.kind() != io::ErrorKind::BrokenPipe || status.success() => {
            return Err(format!("reading the archive: {e}; restic was stopped"));
        }
        _ => {}
    }
    let summary = summary.map_err(|e| format!("reading restic's output: {e}"))?;
    if !status.success() {
        // Exit 3 still wrote a snapshot; it is not a complete copy.
        if let (Some(3), Some((id, _, _))) = (status.code(), &summary) {
            let _ = restic.run(&["forget", id]);
        }
        return Err(exit_error(status.code(), &stderr));
    }
    let (snapshot_id, bytes_added, bytes_processed) =
        summary.ok_or("restic finished without a summary line")?;
    Ok(CopyDone {
        snapshot_id,
        bytes_processed,
        bytes_added,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measure_gives_the_files_sha256_and_the_tar_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tar.zst");
        let tar: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let packed = zstd::encode_all(&tar[..], 3).unwrap();
        std::fs::write(&path, &packed).unwrap();
        let (sha, len) = measure(&path).unwrap();
        assert_eq!(len, tar.len() as u64);
        assert_eq!(sha, hex::encode(Sha256::digest(&packed)));
    }
}
