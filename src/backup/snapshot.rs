//! A staging copy of a tenant's data directory, so a `pause` backup
//! freezes the tenant only for the files that changed, not for the archive.
//!
//! [`Snapshot::take`] copies the tree while the app runs; the runner then
//! pauses the container, [`Snapshot::refresh`] walks the tree again and
//! recopies only what changed since (size, mtime, ctime, inode, owner or
//! mode differ), and the container is thawed before the archive is written
//! from the copy. The paused part costs one stat per entry plus the bytes
//! changed during the first copy, whatever the directory's size.
//!
//! Why this and not SQLite's online backup API: that would open tenant
//! files with SQLite on the host (a hostile file parsed by a C library, its
//! `-shm` mapped, its name resolved by SQLite rather than with O_NOFOLLOW),
//! would cover SQLite only (not uploads, not other stores), and would give
//! each database its own moment instead of one moment for the whole tree.
//!
//! The copy is a flat directory of berth-owned files named by number; the
//! tree's shape, symlinks, owners, modes, mtimes and `user.*` xattrs live in
//! [`Entry`]s taken from the source, which the archive writes as it would
//! from the tree itself. So the copy needs no privilege beyond reading the
//! tenant's files (the backup unit holds only CAP_DAC_READ_SEARCH), and no
//! link the tenant made ever exists in it. Data is cloned (FICLONE) where
//! the file system shares extents, else copied in the kernel
//! (copy_file_range), else read and written.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rustix::fs::{copy_file_range, ioctl_ficlone, mkdirat, openat, Mode, OFlags, Stat, CWD};
use rustix::io::Errno;

use crate::fsutil::{open_dir_nofollow, path_error, remove_tree};

#[path = "snapshot_walk.rs"]
mod walk;

/// A file whose ctime is this close to the moment it was looked at may
/// have been written again within the same clock tick without its ctime
/// moving (the kernel stamps with a coarse clock): it is copied again while
/// the tenant is paused instead of trusted.
const RACY_NS: i128 = 100_000_000;

/// Where backup `id` of the instance whose data is `data` stages its copy:
/// beside the data, on the same file system, never inside the tenant's tree.
pub fn staging_dir(data: &Path, id: i64) -> PathBuf {
    let name = data
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    data.with_file_name(format!(".{name}.backup-{id}"))
}

/// Why a staging copy could not be made. Only a source error would also
/// have failed an archive of the live tree; a staging error (no room, no
/// write access beside the data) leaves the old way open.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{0}")]
    Source(io::Error),
    #[error("staging copy: {0}")]
    Staging(io::Error),
}

/// What one entry of the tree was when it was copied.
#[derive(Clone)]
pub struct Entry {
    pub stat: Stat,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    pub kind: Kind,
    /// Its ctime was too recent to prove later that it did not change.
    racy: bool,
}

impl Entry {
    /// Whether its stat can prove later that it did not change (its ctime
    /// was not too recent when it was looked at).
    pub fn trusted(&self) -> bool {
        !self.racy
    }
}

#[derive(Clone)]
pub enum Kind {
    Dir,
    /// Its bytes are the copy file with this number.
    File(u64),
    Link(Vec<u8>),
}

/// A staging copy of one data directory. Keys are the relative paths with
/// components joined by NUL, which sorts exactly like the archive walk
/// (a directory, then its entries by name, each subtree together).
pub struct Snapshot {
    src: PathBuf,
    staging: PathBuf,
    staging_fd: OwnedFd,
    entries: BTreeMap<Vec<u8>, Entry>,
    /// The highest copy file number handed out.
    next_copy: AtomicU64,
    /// Whether cloning, and copying in the kernel, still look possible:
    /// a way that fails once is not tried again for this snapshot.
    reflink: AtomicBool,
    in_kernel: AtomicBool,
    /// Bytes copied by the last take or refresh.
    pub copied: u64,
}

impl Snapshot {
    /// Copies `src` into a new `staging` directory (any leftover of that
    /// name is removed first). The tree may change while this runs.
    pub fn take(src: &Path, staging: &Path) -> Result<Snapshot, SnapshotError> {
        remove_tree(staging).map_err(SnapshotError::Staging)?;
        mkdirat(CWD, staging, Mode::from_raw_mode(0o700))
            .map_err(|e| SnapshotError::Staging(path_error(staging, e)))?;
        let staging_fd = open_dir_nofollow(CWD, staging)
            .map_err(|e| SnapshotError::Staging(path_error(staging, e)))?;
        let mut snap = Snapshot {
            src: src.to_path_buf(),
            staging: staging.to_path_buf(),
            staging_fd,
            entries: BTreeMap::new(),
            next_copy: AtomicU64::new(0),
            reflink: AtomicBool::new(true),
            in_kernel: AtomicBool::new(true),
            copied: 0,
        };
        snap.refresh()?;
        Ok(snap)
    }

    /// Brings the copy up to the tree as it is now: unchanged entries are
    /// kept, changed and new ones copied, vanished ones dropped. Called
    /// with the tenant paused, this is the one consistent moment.
    pub fn refresh(&mut self) -> Result<(), SnapshotError> {
        let copied = AtomicU64::new(0);
        let found = walk::Walk {
            old: &self.entries,
            staging: &self.staging,
            staging_fd: &self.staging_fd,
            next_copy: &self.next_copy,
            reflink: &self.reflink,
            in_kernel: &self.in_kernel,
            copied: &copied,
        }
        .run(&self.src)?;
        self.copied = copied.into_inner();
        // Vanished entries are left behind with the old map (their copy
        // files stay in the staging directory until it is removed).
        self.entries = found.into_iter().collect();
        Ok(())
    }

    /// Entries in archive order.
    pub fn entries(&self) -> impl Iterator<Item = (&Vec<u8>, &Entry)> {
        self.entries.iter()
    }

    /// The live path an entry was copied from, for messages.
    pub fn source_path(&self, key: &[u8]) -> PathBuf {
        key.split(|b| *b == 0)
            .filter(|c| !c.is_empty())
            .fold(self.src.clone(), |p, c| p.join(OsStr::from_bytes(c)))
    }

    /// Opens the copy of a file's bytes; the error names it and its source.
    pub fn open_copy(&self, copy: u64, key: &[u8]) -> io::Result<File> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        openat(&self.staging_fd, copy.to_string(), flags, Mode::empty())
            .map(File::from)
            .map_err(|e| {
                let shown = format!(
                    "{}/{copy} (copy of {})",
                    self.staging.display(),
                    self.source_path(key).display()
                );
                path_error(Path::new(&shown), e)
            })
    }

    /// Removes the staging copy.
    pub fn remove(self) -> io::Result<()> {
        let staging = self.staging.clone();
        drop(self);
        remove_tree(&staging)
    }
}

/// Copies `size` bytes of `src` into the empty `dst`: a clone where the
/// file system shares extents, else in the kernel, else through a buffer.
/// A way that fails once is not tried again for this snapshot.
fn copy_data(
    reflink: &AtomicBool,
    in_kernel: &AtomicBool,
    src: OwnedFd,
    dst: OwnedFd,
    size: u64,
) -> io::Result<()> {
    if reflink.load(Ordering::Relaxed) {
        match ioctl_ficlone(&dst, &src) {
            Ok(()) => return Ok(()),
            Err(_) => reflink.store(false, Ordering::Relaxed),
        }
    }
    let mut left = size;
    if in_kernel.load(Ordering::Relaxed) {
        while left > 0 {
            let chunk = left.min(1 << 30) as usize;
            match copy_file_range(&src, None, &dst, None, chunk) {
                // Shrunk while it is read (the app runs): the refresh copies it again.
                Ok(0) => return Ok(()),
                Ok(n) => left -= n as u64,
                Err(Errno::XDEV | Errno::NOSYS | Errno::INVAL | Errno::OPNOTSUPP)
                    if left == size =>
                {
                    in_kernel.store(false, Ordering::Relaxed);
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        if in_kernel.load(Ordering::Relaxed) {
            return Ok(());
        }
    }
    let (src, mut dst) = (File::from(src), File::from(dst));
    io::copy(&mut src.take(left), &mut dst)?;
    Ok(())
}

fn is_no_room(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOSPC) | Some(libc::EDQUOT) | Some(libc::EFBIG)
    )
}

/// Nothing a write, chmod, chown, xattr change or rename would move differs.
fn unchanged(old: &Entry, now: &Stat) -> bool {
    let s = &old.stat;
    !old.racy
        && (s.st_dev, s.st_ino, s.st_size, s.st_mode)
            == (now.st_dev, now.st_ino, now.st_size, now.st_mode)
        && (s.st_uid, s.st_gid) == (now.st_uid, now.st_gid)
        && (s.st_mtime, s.st_mtime_nsec) == (now.st_mtime, now.st_mtime_nsec)
        && (s.st_ctime, s.st_ctime_nsec) == (now.st_ctime, now.st_ctime_nsec)
}

pub(super) fn is_racy(stat: &Stat, looked_at: i128) -> bool {
    let ctime = i128::from(stat.st_ctime) * 1_000_000_000 + i128::from(stat.st_ctime_nsec);
    ctime >= looked_at - RACY_NS
}

pub(super) fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
mod tests;
