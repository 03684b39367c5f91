//! The first half of a restore from offsite, blocking: an instance's
//! snapshot written as an ordinary local archive with its manifest. The
//! second half is the local restore of that archive.
//!
//! A mirror snapshot (`dir-bytes` tag) is restored with `restic restore`
//! into scratch space beside the backups, and its index and files become
//! the archive its backup wrote. A tar-stream snapshot (`tar-bytes`, what
//! berth copied before mirrors) is `restic dump`ed through tar's own parser,
//! so a damaged stream fails here.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::pipe;
use super::restic::{exit_error, Content, Restic, Snapshot};
use crate::backup::archive;
use crate::backup::mirror::Mirror;
use crate::domain::Manifest;

/// Where the download goes, and what it belongs to.
pub struct Download {
    pub partial: PathBuf,
    pub archive: PathBuf,
    pub client: String,
    pub instance: String,
    pub instance_id: i64,
    pub level: i32,
}

/// Counts and hashes what is written through it (the compressed file).
struct Sink {
    file: File,
    hasher: Sha256,
    bytes: u64,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Passes everything read on to the encoder, counting it.
struct Tee<R, W> {
    inner: R,
    out: W,
    bytes: u64,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out.write_all(&buf[..n])?;
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Downloads `snapshot` into `d.archive` (via `d.partial`); its manifest on success.
pub fn download(restic: &Restic, snapshot: &Snapshot, d: &Download) -> Result<Manifest, String> {
    let started = Instant::now();
    let (kind, want) = snapshot.content().ok_or_else(|| {
        format!(
            "snapshot {} is not a berth instance copy (no dir-bytes or tar-bytes tag)",
            snapshot.short_id
        )
    })?;
    let path = snapshot
        .paths
        .first()
        .cloned()
        .ok_or_else(|| format!("snapshot {} names no path", snapshot.short_id))?;
    let scratch = scratch_path(&d.partial);
    let result = match kind {
        Content::Mirror => fetch_mirror(restic, snapshot, &path, want, &scratch, d),
        Content::TarStream => {
            fetch(restic, &snapshot.id, &path, d).and_then(|(tar_bytes, rest)| {
                if tar_bytes == want {
                    Ok(rest)
                } else {
                    Err(incomplete(snapshot, tar_bytes, want))
                }
            })
        }
    };
    let _ = crate::fsutil::remove_tree(&scratch);
    let (files, source_bytes, size, sha256) = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&d.partial);
            return Err(e);
        }
    };
    let manifest = Manifest {
        format: 1,
        client: d.client.clone(),
        instance: d.instance.clone(),
        instance_id: Some(d.instance_id),
        file: d
            .archive
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        consistency: format!("offsite snapshot {}", snapshot.short_id),
        level: d.level,
        source_bytes,
        size,
        files,
        sha256,
        duration_ms: started.elapsed().as_millis() as u64,
        freeze_ms: 0,
        created_at: crate::store::now(),
        finished_at: crate::store::now(),
        berth_version: env!("CARGO_PKG_VERSION").into(),
    };
    let bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string())?;
    archive::commit(&d.partial, &d.archive, &bytes).map_err(|e| e.to_string())?;
    Ok(manifest)
}

fn incomplete(snapshot: &Snapshot, got: u64, want: u64) -> String {
    format!(
        "snapshot {} holds {got} bytes where its copy wrote {want}: not a complete copy",
        snapshot.short_id
    )
}

/// (files, source bytes, archive size, archive sha256).
type Fetched = (u64, u64, u64, String);

/// `restic restore` of a mirror into `scratch`, then its index and files
/// written as the archive.
fn fetch_mirror(
    restic: &Restic,
    snapshot: &Snapshot,
    path: &str,
    want: u64,
    scratch: &Path,
    d: &Download,
) -> Result<Fetched, String> {
    crate::fsutil::remove_tree(scratch).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(scratch).map_err(|e| format!("creating {}: {e}", scratch.display()))?;
    let target = scratch.display().to_string();
    restic.run(&["restore", &snapshot.id, "--target", &target])?;
    let mirror = Mirror::at(scratch.join(path.trim_start_matches('/')));
    let index = mirror
        .read_index()
        .map_err(|e| format!("the snapshot's index is unreadable: {e}"))?;
    if index.total_bytes() != want {
        return Err(incomplete(snapshot, index.total_bytes(), want));
    }
    let stats = archive::create_from_mirror(
        &index,
        &mirror.data(),
        &d.partial,
        d.level,
        0,
        &AtomicU64::new(0),
    )
    .map_err(|e| format!("the snapshot's files do not match its index: {e}"))?;
    Ok((stats.files, stats.source_bytes, stats.size, stats.sha256))
}

/// A tar-stream snapshot through `restic dump`: (tar bytes, the rest).
fn fetch(restic: &Restic, id: &str, path: &str, d: &Download) -> Result<(u64, Fetched), String> {
    if let Some(dir) = d.partial.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    let file =
        File::create(&d.partial).map_err(|e| format!("creating {}: {e}", d.partial.display()))?;
    let sink = Sink {
        file,
        hasher: Sha256::new(),
        bytes: 0,
    };
    // Compressed as the backup worker compresses (one zstd worker per core,
    // frame checksum), on threads of its own while restic keeps dumping.
    let mut encoder =
        zstd::stream::write::Encoder::new(sink, d.level).map_err(|e| e.to_string())?;
    encoder
        .multithread(archive::worker_threads(0))
        .and_then(|()| encoder.include_checksum(true))
        .map_err(|e| e.to_string())?;
    let mut child = restic
        .command(&["dump", id, path])
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", restic.bin.display()))?;
    let stdout = child.stdout.take().expect("piped");
    pipe::widen(&stdout);
    let mut stderr = child.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut tee = Tee {
        // The tar parser reads headers 512 bytes at a time: not a syscall each.
        inner: BufReader::with_capacity(pipe::CHUNK, stdout),
        out: encoder,
        bytes: 0,
    };
    let parsed = read_tar(&mut tee);
    if parsed.is_err() {
        let _ = child.kill();
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for restic: {e}"))?;
    let stderr = errors.join().unwrap_or_default();
    if !status.success() {
        return Err(exit_error(status.code(), &stderr));
    }
    let (files, source_bytes) =
        parsed.map_err(|e| format!("the snapshot's tar is damaged: {e}"))?;
    let sink = tee.out.finish().map_err(|e| e.to_string())?;
    sink.file
        .sync_all()
        .map_err(|e| format!("writing {}: {e}", d.partial.display()))?;
    Ok((
        tee.bytes,
        (
            files,
            source_bytes,
            sink.bytes,
            hex::encode(sink.hasher.finalize()),
        ),
    ))
}

/// Walks the tar to its end (the parser reads every byte through the tee),
/// then drains what follows the end-of-archive blocks.
fn read_tar(tee: &mut impl Read) -> io::Result<(u64, u64)> {
    let (mut files, mut bytes) = (0u64, 0u64);
    {
        let mut tar = tar::Archive::new(&mut *tee);
        for entry in tar.entries()? {
            let entry = entry?;
            files += 1;
            bytes += entry.header().size()?;
        }
    }
    io::copy(tee, &mut io::sink())?;
    Ok((files, bytes))
}

/// Where a mirror snapshot is restored before it becomes the archive:
/// `.offsite-restore-<id>.tree` beside the partial archive.
pub fn scratch_path(partial: &Path) -> PathBuf {
    partial.with_extension("tree")
}

/// `<backup dir>/<client>/<instance>/.offsite-restore-<id>.partial`: a
/// crash leaves only this (and its scratch tree), which the worker's start
/// removes.
pub fn partial_path(backup_root: &Path, client: &str, instance: &str, id: i64) -> PathBuf {
    backup_root
        .join(client)
        .join(instance)
        .join(format!(".offsite-restore-{id}.partial"))
}
