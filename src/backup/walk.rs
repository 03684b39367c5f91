//! The archive-writing walk of a tenant's data directory: one open
//! directory fd per level, every entry opened relative to its parent with
//! O_NOFOLLOW and described from that fd, so a name swapped for a link or a
//! fifo mid-walk is refused instead of read through.

use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{
    fgetxattr, fgetxattr_query, flistxattr, flistxattr_query, fstat, openat, readlinkat, statat,
    AtFlags, FileType, Mode, OFlags, Stat,
};
use rustix::io::Errno;

use super::mirror::{self, Record, Update};
use super::snapshot::{Kind, Snapshot};
use crate::fsutil::{dir_names, open_dir_nofollow, path_error};

#[path = "walk_mirror.rs"]
mod mirror_side;

pub(super) use mirror_side::walk_mirror;
use mirror_side::{append_file, key};

/// Appends the directory open as `root` (at `src`) to `tar` as the entry
/// "./", then everything below it; returns the files and source bytes
/// archived. `progress` counts source bytes as they are read. `mirror`,
/// if given, is brought up to the same tree as it goes.
pub(super) fn walk<W: Write>(
    tar: &mut tar::Builder<W>,
    progress: &AtomicU64,
    root: OwnedFd,
    src: &Path,
    mirror: Option<&mut Update>,
) -> io::Result<(u64, u64)> {
    let mut walker = Walker {
        tar,
        progress,
        mirror,
        files: 0,
        bytes: 0,
    };
    walker.dir(root, src, Path::new("./"))?;
    Ok((walker.files, walker.bytes))
}

/// The archive-writing walk: one open directory fd per level.
struct Walker<'a, W: Write> {
    tar: &'a mut tar::Builder<W>,
    progress: &'a AtomicU64,
    mirror: Option<&'a mut Update>,
    files: u64,
    bytes: u64,
}

impl<W: Write> Walker<'_, W> {
    /// Appends the directory open as `fd` (at `path`, named `name` in the
    /// archive), then its entries in name order. Sockets, fifos and devices
    /// are skipped: they are not data.
    fn dir(&mut self, fd: OwnedFd, path: &Path, name: &Path) -> io::Result<()> {
        let stat = fstat(&fd).map_err(|e| path_error(path, e))?;
        let xattrs = self.pax_xattrs(&fd, path)?;
        let mut header = header_of(&stat, tar::EntryType::Directory, 0);
        self.tar
            .append_data(&mut header, name, io::empty())
            .map_err(|e| path_error(path, e))?;
        if let Some(m) = self.mirror.as_deref_mut() {
            m.dir(Record::of_source(
                key(name),
                mirror::Kind::Dir,
                &stat,
                &xattrs,
                true,
            ));
        }
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
                    if let Some(m) = self.mirror.as_deref_mut() {
                        let mut r =
                            Record::of_source(key(&name), mirror::Kind::Link, &stat, &[], true);
                        r.link = Some(mirror::Hex(target.as_bytes().to_vec()));
                        m.link(r);
                    }
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
        let xattrs = self.pax_xattrs(&fd, path)?;
        let size = stat.st_size as u64;
        let mut header = header_of(&stat, tar::EntryType::Regular, size);
        let data = ExactLen {
            inner: File::from(fd).take(size),
            left: size,
        };
        let trusted = !super::snapshot::is_racy(&stat, super::snapshot::now_ns());
        let record = Record::of_source(key(name), mirror::Kind::File, &stat, &xattrs, trusted);
        append_file(self.tar, &mut self.mirror, record, &mut header, name, data)
            .map_err(|e| path_error(path, e))?;
        self.files += 1;
        self.bytes += size;
        self.progress.fetch_add(size, Ordering::Relaxed);
        Ok(())
    }

    /// Writes a PAX header carrying the `user.*` xattrs of `fd`, if any;
    /// it applies to the entry appended next. Returns them.
    fn pax_xattrs(&mut self, fd: &OwnedFd, path: &Path) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let xattrs = user_xattrs(fd).map_err(|e| path_error(path, e))?;
        pax_xattrs(self.tar, &xattrs, path)?;
        Ok(xattrs)
    }
}

/// Writes a PAX header carrying `xattrs`, if any; it applies to the entry
/// appended next. Only `user.*` ones are ever read ([`user_xattrs`]):
/// `security.capability` would be a privilege like a setuid bit, and
/// `trusted.*` needs CAP_SYS_ADMIN.
fn pax_xattrs<W: Write>(
    tar: &mut tar::Builder<W>,
    xattrs: &[(Vec<u8>, Vec<u8>)],
    path: &Path,
) -> io::Result<()> {
    if xattrs.is_empty() {
        return Ok(());
    }
    let mut records = Vec::new();
    for (key, value) in xattrs {
        let mut k = b"SCHILY.xattr.".to_vec();
        k.extend_from_slice(key);
        pax_record(&mut records, &k, value);
    }
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::XHeader);
    header.set_mode(0o644);
    header.set_size(records.len() as u64);
    tar.append_data(&mut header, "PaxHeader", records.as_slice())
        .map_err(|e| path_error(path, e))
}

/// Appends a staging copy to `tar` exactly as [`walk`] would append the
/// tree it was copied from at its last refresh: the same entries in the
/// same order with the source's owners, modes, mtimes and xattrs; only the
/// bytes come from the copy. Returns the files and source bytes archived.
pub(super) fn walk_snapshot<W: Write>(
    tar: &mut tar::Builder<W>,
    progress: &AtomicU64,
    snap: &Snapshot,
    mut mirror: Option<&mut Update>,
) -> io::Result<(u64, u64)> {
    let (mut files, mut bytes) = (0, 0);
    for (key, entry) in snap.entries() {
        let name = if key.is_empty() {
            PathBuf::from("./")
        } else {
            key.split(|b| *b == 0).map(OsStr::from_bytes).collect()
        };
        let path = snap.source_path(key);
        let stat = &entry.stat;
        let mirror_key = key
            .iter()
            .map(|b| if *b == 0 { b'/' } else { *b })
            .collect();
        let record =
            |kind| Record::of_source(mirror_key, kind, stat, &entry.xattrs, entry.trusted());
        match &entry.kind {
            Kind::Dir => {
                pax_xattrs(tar, &entry.xattrs, &path)?;
                let mut header = header_of(stat, tar::EntryType::Directory, 0);
                tar.append_data(&mut header, &name, io::empty())
                    .map_err(|e| path_error(&path, e))?;
                if let Some(m) = mirror.as_deref_mut() {
                    m.dir(record(mirror::Kind::Dir));
                }
            }
            Kind::File(copy) => {
                let file = snap.open_copy(*copy, key)?;
                pax_xattrs(tar, &entry.xattrs, &path)?;
                let size = stat.st_size as u64;
                let mut header = header_of(stat, tar::EntryType::Regular, size);
                let data = ExactLen {
                    inner: file.take(size),
                    left: size,
                };
                let record = record(mirror::Kind::File);
                append_file(tar, &mut mirror, record, &mut header, &name, data)
                    .map_err(|e| path_error(&path, e))?;
                files += 1;
                bytes += size;
                progress.fetch_add(size, Ordering::Relaxed);
            }
            Kind::Link(target) => {
                let mut header = header_of(stat, tar::EntryType::Symlink, 0);
                tar.append_link(&mut header, &name, OsStr::from_bytes(target))
                    .map_err(|e| path_error(&path, e))?;
                if let Some(m) = mirror.as_deref_mut() {
                    let mut r = record(mirror::Kind::Link);
                    r.link = Some(mirror::Hex(target.clone()));
                    m.link(r);
                }
                files += 1;
            }
        }
    }
    Ok((files, bytes))
}

/// A tar header with the owner, mode and mtime of `stat`.
fn header_of(stat: &Stat, kind: tar::EntryType, size: u64) -> tar::Header {
    header(
        kind,
        size,
        stat.st_mode & 0o7777,
        stat.st_uid,
        stat.st_gid,
        stat.st_mtime,
    )
}

fn header(
    kind: tar::EntryType,
    size: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_uid(u64::from(uid));
    header.set_gid(u64::from(gid));
    header.set_mtime(mtime.max(0) as u64);
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
pub(super) fn user_xattrs(fd: &OwnedFd) -> rustix::io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
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
