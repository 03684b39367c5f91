//! The archive format: a tar stream of the data directory, compressed with
//! multi-threaded zstd, hashed (sha256) as it is written. Written to a
//! `.partial` file and fsynced; only [`commit`] gives it its final name, so
//! a half-written file never looks like a backup. Reading one back is
//! [`super::unpack`].

use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{
    fgetxattr, fgetxattr_query, flistxattr, flistxattr_query, fstat, openat, readlinkat, statat,
    AtFlags, FileType, Mode, OFlags, Stat, CWD,
};
use rustix::io::Errno;
use sha2::{Digest, Sha256};

use crate::fsutil::{dir_names, open_dir_nofollow, path_error};

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
/// writes). Every error names the file it is about.
pub fn create(
    src: &Path,
    partial: &Path,
    level: i32,
    threads: u32,
    progress: &AtomicU64,
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
    let root = open_dir_nofollow(CWD, src).map_err(|e| path_error(src, e))?;
    let mut walker = Walker {
        tar: &mut tar,
        progress,
        files: 0,
        bytes: 0,
    };
    walker.dir(root, src, Path::new("./"))?;
    let (files, source_bytes) = (walker.files, walker.bytes);
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

/// The archive-writing walk: one open directory fd per level.
struct Walker<'a, W: Write> {
    tar: &'a mut tar::Builder<W>,
    progress: &'a AtomicU64,
    files: u64,
    bytes: u64,
}

impl<W: Write> Walker<'_, W> {
    /// Appends the directory open as `fd` (at `path`, named `name` in the
    /// archive), then its entries in name order. Sockets, fifos and devices
    /// are skipped: they are not data.
    fn dir(&mut self, fd: OwnedFd, path: &Path, name: &Path) -> io::Result<()> {
        let stat = fstat(&fd).map_err(|e| path_error(path, e))?;
        self.pax_xattrs(&fd, path)?;
        let mut header = header_of(&stat, tar::EntryType::Directory, 0);
        self.tar
            .append_data(&mut header, name, io::empty())
            .map_err(|e| path_error(path, e))?;
        let rel = if name == Path::new("./") {
            Path::new("")
        } else {
            name
        };
        for entry in dir_names(&fd).map_err(|e| path_error(path, e))? {
            let os = OsStr::from_bytes(entry.as_bytes());
            let (path, name) = (path.join(os), rel.join(os));
            let stat = match statat(&fd, &entry, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(s) => s,
                // Deleted since the listing (a temp file): nothing to keep.
                Err(Errno::NOENT) => continue,
                Err(e) => return Err(path_error(&path, e)),
            };
            match FileType::from_raw_mode(stat.st_mode) {
                FileType::Directory => {
                    let sub = open_dir_nofollow(&fd, &entry).map_err(|e| path_error(&path, e))?;
                    self.dir(sub, &path, &name)?;
                }
                FileType::RegularFile => self.file(&fd, &entry, &path, &name)?,
                FileType::Symlink => {
                    let target =
                        readlinkat(&fd, &entry, Vec::new()).map_err(|e| path_error(&path, e))?;
                    let target = OsStr::from_bytes(target.as_bytes());
                    let mut header = header_of(&stat, tar::EntryType::Symlink, 0);
                    self.tar
                        .append_link(&mut header, &name, target)
                        .map_err(|e| path_error(&path, e))?;
                    self.files += 1;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn file(&mut self, dir: &OwnedFd, entry: &CStr, path: &Path, name: &Path) -> io::Result<()> {
        // NONBLOCK: a name swapped for a fifo since the stat must not hang
        // the backup; the fstat below then skips it.
        let fd = openat(
            dir,
            entry,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| path_error(path, e))?;
        let stat = fstat(&fd).map_err(|e| path_error(path, e))?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
            return Ok(());
        }
        self.pax_xattrs(&fd, path)?;
        let size = stat.st_size as u64;
        let mut header = header_of(&stat, tar::EntryType::Regular, size);
        let data = ExactLen {
            inner: File::from(fd).take(size),
            left: size,
        };
        self.tar
            .append_data(&mut header, name, data)
            .map_err(|e| path_error(path, e))?;
        self.files += 1;
        self.bytes += size;
        self.progress.fetch_add(size, Ordering::Relaxed);
        Ok(())
    }

    /// Writes a PAX header carrying the `user.*` xattrs of `fd`, if any;
    /// it applies to the entry appended next. Other namespaces stay out on
    /// purpose: `security.capability` would be a privilege like a setuid
    /// bit, and `trusted.*` needs CAP_SYS_ADMIN.
    fn pax_xattrs(&mut self, fd: &OwnedFd, path: &Path) -> io::Result<()> {
        let xattrs = user_xattrs(fd).map_err(|e| path_error(path, e))?;
        if xattrs.is_empty() {
            return Ok(());
        }
        let mut records = Vec::new();
        for (key, value) in &xattrs {
            let mut k = b"SCHILY.xattr.".to_vec();
            k.extend_from_slice(key);
            pax_record(&mut records, &k, value);
        }
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::XHeader);
        header.set_mode(0o644);
        header.set_size(records.len() as u64);
        self.tar
            .append_data(&mut header, "PaxHeader", records.as_slice())
            .map_err(|e| path_error(path, e))
    }
}

/// A tar header with the owner, mode and mtime of `stat`.
fn header_of(stat: &Stat, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(stat.st_mode & 0o7777);
    header.set_uid(u64::from(stat.st_uid));
    header.set_gid(u64::from(stat.st_gid));
    header.set_mtime(stat.st_mtime.max(0) as u64);
    header.set_size(size);
    header
}

/// Reads exactly `left` bytes: a file that shrank while it was read is
/// padded with zeros, one that grew is cut, so the tar stream stays whole.
struct ExactLen<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for ExactLen<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len().min(self.left as usize);
        if want == 0 {
            return Ok(0);
        }
        let n = match self.inner.read(&mut buf[..want])? {
            0 => {
                buf[..want].fill(0);
                want
            }
            n => n,
        };
        self.left -= n as u64;
        Ok(n)
    }
}

/// One PAX record: "<len> <key>=<value>\n", where len counts itself.
fn pax_record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let rest = key.len() + value.len() + 3;
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// The `user.*` extended attributes of an open file, by name. A file
/// system without xattrs has none.
fn user_xattrs(fd: &OwnedFd) -> rustix::io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let len = match flistxattr_query(fd) {
        Ok(0) | Err(Errno::NOTSUP) => return Ok(Vec::new()),
        Ok(n) => n,
        Err(e) => return Err(e),
    };
    let mut names = vec![0u8; len];
    let len = flistxattr(fd, &mut names[..])?;
    names.truncate(len);
    let mut out = Vec::new();
    for name in names.split(|b| *b == 0).filter(|n| n.starts_with(b"user.")) {
        let cname = CString::new(name).map_err(|_| Errno::INVAL)?;
        let size = match fgetxattr_query(fd, &cname) {
            Ok(n) => n,
            // Removed between the listing and now.
            Err(Errno::NODATA) => continue,
            Err(e) => return Err(e),
        };
        let mut value = vec![0u8; size];
        let size = fgetxattr(fd, &cname, &mut value[..])?;
        value.truncate(size);
        out.push((name.to_vec(), value));
    }
    Ok(out)
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
    use rustix::fs::{fsetxattr, utimensat, Timestamps, XattrFlags};

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
        let stats = create(&src, &partial_path(&archive), 3, 0, &progress).unwrap();
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
        let stats = create(&src, &partial_path(&archive), 3, 1, &AtomicU64::new(0)).unwrap();
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
        let err = create(&src, &partial_path(&archive), 3, 1, &AtomicU64::new(0)).unwrap_err();
        assert!(err.to_string().contains("src/secret"), "{err}");
    }
}
