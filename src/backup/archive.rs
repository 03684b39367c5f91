//! The archive format: a tar stream of the data directory, compressed with
//! multi-threaded zstd, hashed (sha256) as it is written. Written to a
//! `.partial` file and fsynced; only [`commit`] gives it its final name, so
//! a half-written file never looks like a backup. Walking the tenant's
//! directory is `walk`; reading an archive back is `unpack`.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;

use rustix::fs::CWD;
use sha2::{Digest, Sha256};

use super::mirror::{Index, Update};
use super::snapshot::Snapshot;
use crate::fsutil::{open_dir_nofollow, path_error};

pub use super::unpack::{extract, extract_tree};

/// What one archive holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveStats {
    pub source_bytes: u64,
    pub files: u64,
    pub size: u64,
    pub sha256: String,
}

const BUF: usize = 1 << 20;

/// The temporary name of an archive being written.
pub fn partial_path(archive: &Path) -> PathBuf {
    let mut name = archive.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// The sidecar manifest's name.
pub fn manifest_path(archive: &Path) -> PathBuf {
    let mut name = archive.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

/// Counts and hashes what passes through to the file.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// zstd workers per backup: `threads`, or one per core when 0 (like `zstd -T0`).
pub fn worker_threads(threads: u32) -> u32 {
    if threads > 0 {
        return threads;
    }
    std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1)
}

/// Archives `src` into `partial` (created fresh) and fsyncs it. `progress`
/// counts source bytes read, for the UI while it runs.
///
/// The data directory belongs to a tenant, so nothing in it is trusted: every
/// entry is opened relative to its parent's fd with O_NOFOLLOW and described
/// from that fd, symlinks are archived as links, and a name swapped for a
/// link or a fifo mid-walk is refused instead of read through. The top
/// directory is the entry "./", so a restore gets its owner and mode back
/// too; `user.*` xattrs travel as PAX `SCHILY.xattr.*` records (what GNU tar
/// writes). Every error names the file it is about. `mirror`, if given,
/// is brought up to the same tree on the way (see [`super::mirror`]).
pub fn create(
    src: &Path,
    partial: &Path,
    level: i32,
    threads: u32,
    progress: &AtomicU64,
    mirror: Option<&mut Update>,
) -> io::Result<ArchiveStats> {
    write(partial, level, threads, |tar| {
        let root = open_dir_nofollow(CWD, src).map_err(|e| path_error(src, e))?;
        super::walk::walk(tar, progress, root, src, mirror)
    })
}

/// [`create`] from a staging copy: the archive holds the tree as it was at
/// the snapshot's last refresh, entry for entry what [`create`] would have
/// written from the tree at that moment.
pub fn create_from_snapshot(
    snap: &Snapshot,
    partial: &Path,
    level: i32,
    threads: u32,
    progress: &AtomicU64,
    mirror: Option<&mut Update>,
) -> io::Result<ArchiveStats> {
    write(partial, level, threads, |tar| {
        super::walk::walk_snapshot(tar, progress, snap, mirror)
    })
}

/// [`create`] from a mirror restored from offsite: `index` and the files
/// under `data` become the archive its backup wrote.
pub fn create_from_mirror(
    index: &Index,
    data: &Path,
    partial: &Path,
    level: i32,
    threads: u32,
    progress: &AtomicU64,
) -> io::Result<ArchiveStats> {
    write(partial, level, threads, |tar| {
        super::walk::walk_mirror(tar, progress, index, data)
    })
}

type Tar =
    tar::Builder<BufWriter<zstd::stream::write::Encoder<'static, HashingWriter<BufWriter<File>>>>>;

/// Creates `partial`, lets `entries` append to the tar stream (returning
/// files and source bytes), finishes, fsyncs and hashes it.
fn write(
    partial: &Path,
    level: i32,
    threads: u32,
    entries: impl FnOnce(&mut Tar) -> io::Result<(u64, u64)>,
) -> io::Result<ArchiveStats> {
    if let Some(dir) = partial.parent() {
        std::fs::create_dir_all(dir).map_err(|e| path_error(dir, e))?;
    }
    let file = File::create(partial).map_err(|e| path_error(partial, e))?;
    let out = HashingWriter {
        inner: BufWriter::with_capacity(BUF, file),
        hasher: Sha256::new(),
        bytes: 0,
    };
    let mut encoder = zstd::stream::write::Encoder::new(out, level)?;
    encoder.multithread(worker_threads(threads))?;
    // A frame checksum lets a restore or verify notice a damaged archive.
    encoder.include_checksum(true)?;
    let mut tar = tar::Builder::new(BufWriter::with_capacity(BUF, encoder));
    let (files, source_bytes) = entries(&mut tar)?;
    let encoder = tar
        .into_inner()
        .map_err(|e| path_error(partial, e))?
        .into_inner()
        .map_err(|e| path_error(partial, e.into_error()))?;
    let mut out = encoder.finish().map_err(|e| path_error(partial, e))?;
    out.flush().map_err(|e| path_error(partial, e))?;
    let file = out
        .inner
        .into_inner()
        .map_err(|e| path_error(partial, e.into_error()))?;
    file.sync_all().map_err(|e| path_error(partial, e))?;
    Ok(ArchiveStats {
        source_bytes,
        files,
        size: out.bytes,
        sha256: hex::encode(out.hasher.finalize()),
    })
}

/// [`create`] as tests call it: level 3, one worker, no mirror.
#[cfg(test)]
pub(crate) fn create_plain(src: &Path, partial: &Path) -> io::Result<ArchiveStats> {
    create(src, partial, 3, 1, &AtomicU64::new(0), None)
}

/// Publishes a written archive: manifest first (written, fsynced), then the
/// archive renamed into place, then the directory fsynced. A crash before
/// the rename leaves only a `.partial`, which is never listed.
pub fn commit(partial: &Path, archive: &Path, manifest: &[u8]) -> io::Result<()> {
    let manifest_path = manifest_path(archive);
    let manifest_tmp = partial_path(&manifest_path);
    let write = |path: &Path| -> io::Result<()> {
        let mut f = File::create(path)?;
        f.write_all(manifest)?;
        f.sync_all()
    };
    write(&manifest_tmp).map_err(|e| path_error(&manifest_tmp, e))?;
    std::fs::rename(&manifest_tmp, &manifest_path).map_err(|e| path_error(&manifest_path, e))?;
    std::fs::rename(partial, archive).map_err(|e| path_error(archive, e))?;
    if let Some(dir) = archive.parent() {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| path_error(dir, e))?;
    }
    Ok(())
}

/// sha256 of a file, hex.
pub fn file_sha256(path: &Path) -> io::Result<String> {
    let mut f = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUF];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fs::{
        fgetxattr, fsetxattr, utimensat, AtFlags, FileType, Mode, Timestamps, XattrFlags,
    };
    use std::sync::atomic::Ordering;

    #[test]
    fn round_trip_keeps_content_modes_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("sub/deeper")).unwrap();
        std::fs::write(src.join("a.txt"), "hello").unwrap();
        std::fs::write(src.join("sub/deeper/b.bin"), vec![7u8; 100_000]).unwrap();
        std::os::unix::fs::symlink("a.txt", src.join("link")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(src.join("a.txt"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        let archive = dir.path().join("x.tar.zst");
        let progress = AtomicU64::new(0);
        let stats = create(&src, &partial_path(&archive), 3, 0, &progress, None).unwrap();
        assert_eq!((stats.files, stats.source_bytes), (3, 100_005));
        assert_eq!(progress.load(Ordering::Relaxed), 100_005);
        commit(&partial_path(&archive), &archive, b"{}").unwrap();
        assert!(!partial_path(&archive).exists());
        assert_eq!(file_sha256(&archive).unwrap(), stats.sha256);
        assert_eq!(std::fs::metadata(&archive).unwrap().len(), stats.size);
        let out = dir.path().join("out");
        extract(&archive, &out).unwrap();
        assert_eq!(std::fs::read_to_string(out.join("a.txt")).unwrap(), "hello");
        assert_eq!(
            std::fs::read(out.join("sub/deeper/b.bin")).unwrap().len(),
            100_000
        );
        assert_eq!(
            std::fs::read_link(out.join("link")).unwrap(),
            Path::new("a.txt")
        );
        let mode = std::fs::metadata(out.join("a.txt"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    fn mode_of(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn restore_keeps_owners_modes_times_and_xattrs_but_no_setid_bits() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let root = unsafe { libc::geteuid() } == 0;
        let dir = tempfile::tempdir().unwrap();
        let (src, outside) = (dir.path().join("src"), dir.path().join("outside"));
        std::fs::create_dir_all(src.join("db")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(src.join("db/data"), "rows").unwrap();
        std::fs::write(src.join("tool"), "#!/bin/sh").unwrap();
        std::fs::write(src.join("upload"), "jpeg").unwrap();
        std::os::unix::fs::symlink(&outside, src.join("escape")).unwrap();
        rustix::fs::mknodat(
            CWD,
            src.join("pipe"),
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let set = |p: &str, m: u32| {
            std::fs::set_permissions(src.join(p), std::fs::Permissions::from_mode(m)).unwrap()
        };
        set("db/data", 0o600);
        set("tool", 0o4755);
        set("db", 0o700);
        set(".", 0o2750);
        let xattr = File::open(src.join("db/data"))
            .map(|f| fsetxattr(&f, "user.origin", b"tenant", XattrFlags::empty()).is_ok())
            .unwrap();
        let old = Timestamps {
            last_access: rustix::fs::Timespec {
                tv_sec: 1_000_000_000,
                tv_nsec: 0,
            },
            last_modification: rustix::fs::Timespec {
                tv_sec: 1_000_000_000,
                tv_nsec: 0,
            },
        };
        utimensat(CWD, src.join("db/data"), &old, AtFlags::empty()).unwrap();
        if root {
            std::os::unix::fs::chown(src.join("upload"), Some(1000), Some(1000)).unwrap();
            std::os::unix::fs::chown(src.join("db"), Some(0), Some(0)).unwrap();
        }

        let archive = dir.path().join("x.tar.zst");
        let stats = create_plain(&src, &partial_path(&archive)).unwrap();
        assert_eq!(
            stats.files, 4,
            "db/data, tool, upload, escape; the fifo is skipped"
        );
        commit(&partial_path(&archive), &archive, b"{}").unwrap();
        let out = dir.path().join("out");
        assert!(
            extract_tree(&archive, &out).unwrap(),
            "the top directory is archived"
        );

        assert_eq!(mode_of(&out), 0o750);
        assert_eq!(mode_of(&out.join("db")), 0o700);
        assert_eq!(mode_of(&out.join("db/data")), 0o600);
        assert_eq!(mode_of(&out.join("tool")), 0o755, "setuid stripped");
        assert_eq!(std::fs::read_link(out.join("escape")).unwrap(), outside);
        assert!(!out.join("pipe").exists());
        let data = std::fs::metadata(out.join("db/data")).unwrap();
        assert_eq!(data.mtime(), 1_000_000_000);
        if xattr {
            let f = File::open(out.join("db/data")).unwrap();
            let mut buf = [0u8; 16];
            let n = fgetxattr(&f, "user.origin", &mut buf[..]).unwrap();
            assert_eq!(&buf[..n], b"tenant");
        }
        if root {
            let up = std::fs::metadata(out.join("upload")).unwrap();
            assert_eq!((up.uid(), up.gid()), (1000, 1000));
        }
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    }

    #[test]
    fn an_unreadable_file_is_named_in_the_error() {
        if unsafe { libc::geteuid() } == 0 {
            // Root reads everything; the service-user integration test covers it.
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("secret"), "x").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(src.join("secret"), std::fs::Permissions::from_mode(0o000))
            .unwrap();
        let archive = dir.path().join("x.tar.zst");
        let err = create_plain(&src, &partial_path(&archive)).unwrap_err();
        assert!(err.to_string().contains("src/secret"), "{err}");
    }
}
