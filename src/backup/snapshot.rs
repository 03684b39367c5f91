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
use std::ffi::{CStr, OsStr};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{
    copy_file_range, fstat, ioctl_ficlone, mkdirat, openat, readlinkat, statat, AtFlags, FileType,
    Mode, OFlags, Stat, CWD,
};
use rustix::io::Errno;

use super::walk::user_xattrs;
use crate::fsutil::{dir_names, open_dir_nofollow, path_error, remove_tree};

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
pub struct Entry {
    pub stat: Stat,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    pub kind: Kind,
    /// Its ctime was too recent to prove later that it did not change.
    racy: bool,
}

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
    next_copy: u64,
    reflink: bool,
    in_kernel: bool,
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
            next_copy: 0,
            reflink: true,
            in_kernel: true,
            copied: 0,
        };
        snap.refresh()?;
        Ok(snap)
    }

    /// Brings the copy up to the tree as it is now: unchanged entries are
    /// kept, changed and new ones copied, vanished ones dropped. Called
    /// with the tenant paused, this is the one consistent moment.
    pub fn refresh(&mut self) -> Result<(), SnapshotError> {
        self.copied = 0;
        let src = self.src.clone();
        let root =
            open_dir_nofollow(CWD, &src).map_err(|e| SnapshotError::Source(path_error(&src, e)))?;
        let mut old = std::mem::take(&mut self.entries);
        let mut new = BTreeMap::new();
        self.dir(root, &src, Vec::new(), now_ns(), &mut old, &mut new)?;
        self.entries = new;
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

    fn dir(
        &mut self,
        fd: OwnedFd,
        path: &Path,
        key: Vec<u8>,
        looked_at: i128,
        old: &mut BTreeMap<Vec<u8>, Entry>,
        new: &mut BTreeMap<Vec<u8>, Entry>,
    ) -> Result<(), SnapshotError> {
        let source = |e: Errno, p: &Path| SnapshotError::Source(path_error(p, e));
        let stat = fstat(&fd).map_err(|e| source(e, path))?;
        // A changed xattr moves the ctime: an unchanged directory keeps its list.
        let xattrs = match old.remove(&key) {
            Some(e) if matches!(e.kind, Kind::Dir) && unchanged(&e, &stat) => e.xattrs,
            _ => user_xattrs(&fd).map_err(|e| source(e, path))?,
        };
        let racy = is_racy(&stat, looked_at);
        let children = dir_names(&fd).map_err(|e| source(e, path))?;
        new.insert(
            key.clone(),
            Entry {
                stat,
                xattrs,
                kind: Kind::Dir,
                racy,
            },
        );
        for name in children {
            let child = path.join(OsStr::from_bytes(name.as_bytes()));
            let mut ckey = key.clone();
            if !ckey.is_empty() {
                ckey.push(0);
            }
            ckey.extend_from_slice(name.as_bytes());
            let looked_at = now_ns();
            let stat = match statat(&fd, &name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(s) => s,
                // Deleted since the listing (a temp file): nothing to keep.
                Err(Errno::NOENT) => continue,
                Err(e) => return Err(source(e, &child)),
            };
            match FileType::from_raw_mode(stat.st_mode) {
                FileType::Directory => {
                    let sub = open_dir_nofollow(&fd, &name).map_err(|e| source(e, &child))?;
                    self.dir(sub, &child, ckey, looked_at, old, new)?;
                }
                FileType::RegularFile => {
                    self.file(&fd, &name, &child, ckey, (stat, looked_at), old, new)?
                }
                FileType::Symlink => {
                    let entry = match old.remove(&ckey) {
                        Some(e) if matches!(e.kind, Kind::Link(_)) && unchanged(&e, &stat) => e,
                        _ => {
                            let target = readlinkat(&fd, &name, Vec::new())
                                .map_err(|e| source(e, &child))?;
                            Entry {
                                stat,
                                xattrs: Vec::new(),
                                kind: Kind::Link(target.into_bytes()),
                                racy: is_racy(&stat, looked_at),
                            }
                        }
                    };
                    new.insert(ckey, entry);
                }
                // Sockets, fifos and devices are not data (the archive skips them too).
                _ => {}
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn file(
        &mut self,
        dir: &OwnedFd,
        name: &CStr,
        path: &Path,
        key: Vec<u8>,
        (seen, looked_at): (Stat, i128),
        old: &mut BTreeMap<Vec<u8>, Entry>,
        new: &mut BTreeMap<Vec<u8>, Entry>,
    ) -> Result<(), SnapshotError> {
        let reuse = match old.remove(&key) {
            Some(e) => match e.kind {
                Kind::File(_) if unchanged(&e, &seen) => {
                    new.insert(key, e);
                    return Ok(());
                }
                Kind::File(copy) => Some(copy),
                _ => None,
            },
            None => None,
        };
        let source = |e: io::Error| SnapshotError::Source(path_error(path, e));
        // NONBLOCK: a name swapped for a fifo since the stat must not hang
        // the backup; the fstat below then skips it.
        let flags =
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        let fd = match openat(dir, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(()),
            Err(e) => return Err(source(e.into())),
        };
        let stat = fstat(&fd).map_err(|e| source(e.into()))?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
            return Ok(());
        }
        let xattrs = user_xattrs(&fd).map_err(|e| source(e.into()))?;
        let copy = reuse.unwrap_or_else(|| {
            self.next_copy += 1;
            self.next_copy
        });
        let out = copy.to_string();
        let staged = |e: io::Error| {
            let shown = self.staging.join(&out);
            SnapshotError::Staging(path_error(&shown, e))
        };
        let create = OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW;
        let dst = openat(
            &self.staging_fd,
            out.as_str(),
            create | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| staged(e.into()))?;
        let size = stat.st_size as u64;
        match copy_data(&mut self.reflink, &mut self.in_kernel, fd, dst, size) {
            Ok(()) => {}
            Err(e) if is_no_room(&e) => return Err(staged(e)),
            Err(e) => return Err(source(e)),
        }
        self.copied += size;
        new.insert(
            key,
            Entry {
                stat,
                xattrs,
                kind: Kind::File(copy),
                racy: is_racy(&stat, looked_at),
            },
        );
        Ok(())
    }
}

/// Copies `size` bytes of `src` into the empty `dst`: a clone where the
/// file system shares extents, else in the kernel, else through a buffer.
/// A way that fails once is not tried again for this snapshot.
fn copy_data(
    reflink: &mut bool,
    in_kernel: &mut bool,
    src: OwnedFd,
    dst: OwnedFd,
    size: u64,
) -> io::Result<()> {
    if *reflink {
        match ioctl_ficlone(&dst, &src) {
            Ok(()) => return Ok(()),
            Err(_) => *reflink = false,
        }
    }
    let mut left = size;
    if *in_kernel {
        while left > 0 {
            let chunk = left.min(1 << 30) as usize;
            match copy_file_range(&src, None, &dst, None, chunk) {
                // Shrunk while it is read (the app runs): the refresh copies it again.
                Ok(0) => return Ok(()),
                Ok(n) => left -= n as u64,
                Err(Errno::XDEV | Errno::NOSYS | Errno::INVAL | Errno::OPNOTSUPP)
                    if left == size =>
                {
                    *in_kernel = false;
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        if *in_kernel {
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

fn is_racy(stat: &Stat, looked_at: i128) -> bool {
    let ctime = i128::from(stat.st_ctime) * 1_000_000_000 + i128::from(stat.st_ctime_nsec);
    ctime >= looked_at - RACY_NS
}

fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
mod tests;
