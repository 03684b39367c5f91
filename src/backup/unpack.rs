//! Unpacking an archive (restore, clone): owners, modes, mtimes and
//! `user.*` xattrs come back, set-id bits do not, and no entry is ever
//! written through a link.

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{
    fchmod, fchown, fsetxattr, fstat, futimens, mkdirat, openat, symlinkat, unlinkat, utimensat,
    AtFlags, Gid, Mode, OFlags, Timestamps, Uid, XattrFlags, CWD,
};
use rustix::io::Errno;

use crate::fsutil::{open_dir_nofollow, path_error};

/// Unpacks an archive into `dest` (created, or an empty directory) with
/// owners, modes, mtimes and `user.*` xattrs as archived, except that
/// setuid and setgid bits are dropped: a restore must not mint privileged
/// programs from tenant data (and the unit's RestrictSUIDSGID forbids them).
///
/// Every entry is created relative to its parent's fd with O_EXCL|O_NOFOLLOW,
/// so an entry can never write through a link, even one made by an earlier
/// entry. Decompression runs on its own thread, feeding the unpacking one
/// (like `zstd -d | tar -x`), so a restore uses two cores.
pub fn extract(archive: &Path, dest: &Path) -> io::Result<()> {
    extract_tree(archive, dest).map(|_| ())
}

/// [`extract`], returning whether the archive described the top directory
/// itself (archives written before berth did carry only its contents).
pub fn extract_tree(archive: &Path, dest: &Path) -> io::Result<bool> {
    std::fs::create_dir_all(dest).map_err(|e| path_error(dest, e))?;
    let root = open_dir_nofollow(CWD, dest).map_err(|e| path_error(dest, e))?;
    let file = File::open(archive).map_err(|e| path_error(archive, e))?;
    let (reader, producer) = super::decompress::spawn(file)?;
    let mut tar = tar::Archive::new(reader);
    let mut unpacker = Unpacker {
        root,
        dest,
        open: Vec::new(),
        dirs: Vec::new(),
        top: None,
    };
    let result = (|| {
        for entry in tar.entries()? {
            unpacker.entry(&mut entry?)?;
        }
        unpacker.finish()
    })();
    drop(tar);
    let _ = producer.join();
    result
}

/// What a restored entry gets back besides its content.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    xattrs: Vec<(CString, Vec<u8>)>,
}

impl Meta {
    fn of<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Meta> {
        let h = entry.header();
        let (mode, uid, gid, mtime) = (h.mode()?, h.uid()?, h.gid()?, h.mtime()?);
        let mut xattrs = Vec::new();
        if let Some(pax) = entry.pax_extensions()? {
            for ext in pax {
                let ext = ext?;
                let key = ext.key_bytes();
                if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                    if name.starts_with(b"user.") {
                        let name = CString::new(name).map_err(io::Error::other)?;
                        xattrs.push((name, ext.value_bytes().to_vec()));
                    }
                }
            }
        }
        // -1 means "leave unchanged" to chown(2), never an owner.
        let id = |v: u64| match u32::try_from(v) {
            Ok(id) if id != u32::MAX => Ok(id),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "owner id out of range",
            )),
        };
        Ok(Meta {
            // No setuid/setgid bits; sticky and permissions stay.
            mode: mode & 0o1777,
            uid: id(uid)?,
            gid: id(gid)?,
            mtime: mtime.min(i64::MAX as u64) as i64,
            xattrs,
        })
    }

    /// Applies xattrs, mode and mtime while berth still owns the file, and
    /// the owner last: after the chown, changing the others would need
    /// CAP_FOWNER.
    fn apply(&self, fd: BorrowedFd<'_>) -> rustix::io::Result<()> {
        for (name, value) in &self.xattrs {
            match fsetxattr(fd, name, value, XattrFlags::empty()) {
                // Restored onto a file system without xattrs.
                Ok(()) | Err(Errno::NOTSUP) => {}
                Err(e) => return Err(e),
            }
        }
        fchmod(fd, Mode::from_raw_mode(self.mode))?;
        futimens(fd, &self.times())?;
        let now = fstat(fd)?;
        if (now.st_uid, now.st_gid) != (self.uid, self.gid) {
            fchown(fd, Some(uid(self.uid)), Some(gid(self.gid)))?;
        }
        Ok(())
    }

    fn times(&self) -> Timestamps {
        let t = rustix::fs::Timespec {
            tv_sec: self.mtime,
            tv_nsec: 0,
        };
        Timestamps {
            last_access: t,
            last_modification: t,
        }
    }
}

fn uid(raw: u32) -> Uid {
    Uid::from_raw(raw)
}

fn gid(raw: u32) -> Gid {
    Gid::from_raw(raw)
}

/// Extraction state: the destination's fd, the chain of directories open
/// for the entry at hand, and the directories whose metadata is applied at
/// the end (their contents first need them writable by berth).
struct Unpacker<'a> {
    root: OwnedFd,
    dest: &'a Path,
    open: Vec<(OsString, OwnedFd)>,
    dirs: Vec<(Vec<OsString>, Meta)>,
    top: Option<Meta>,
}

impl Unpacker<'_> {
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> io::Result<()> {
        let raw = entry.path()?.into_owned();
        let path = self.dest.join(&raw);
        let mut parts = Vec::new();
        for c in raw.components() {
            match c {
                Component::Normal(n) => parts.push(n.to_owned()),
                Component::CurDir => {}
                _ => {
                    return Err(path_error(
                        &path,
                        io::Error::new(io::ErrorKind::InvalidData, "entry leaves the directory"),
                    ))
                }
            }
        }
        let kind = entry.header().entry_type();
        let meta = Meta::of(entry).map_err(|e| path_error(&path, e))?;
        let Some((name, parents)) = parts.split_last() else {
            if kind == tar::EntryType::Directory {
                self.top = Some(meta);
            }
            return Ok(());
        };
        let parent = self.parent(parents)?;
        match kind {
            tar::EntryType::Directory => {
                match mkdirat(parent, name.as_os_str(), Mode::from_raw_mode(0o700)) {
                    Ok(()) => {}
                    Err(Errno::EXIST) => {
                        // Already made for an earlier entry below it; a link is refused.
                        open_dir_nofollow(parent, name.as_os_str())
                            .map_err(|e| path_error(&path, e))?;
                    }
                    Err(e) => return Err(path_error(&path, e)),
                }
                self.dirs.push((parts.clone(), meta));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let flags = OFlags::WRONLY
                    | OFlags::CREATE
                    | OFlags::EXCL
                    | OFlags::NOFOLLOW
                    | OFlags::CLOEXEC;
                let fd = retry_after_unlink(parent, name, || {
                    openat(parent, name.as_os_str(), flags, Mode::from_raw_mode(0o600))
                })
                .map_err(|e| path_error(&path, e))?;
                let mut file = File::from(fd);
                io::copy(entry, &mut file).map_err(|e| path_error(&path, e))?;
                meta.apply(file.as_fd()).map_err(|e| path_error(&path, e))?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| path_error(&path, io::Error::other("symlink without target")))?;
                let target = OsStr::from_bytes(&target).to_owned();
                retry_after_unlink(parent, name, || {
                    symlinkat(target.as_os_str(), parent, name.as_os_str())
                })
                .map_err(|e| path_error(&path, e))?;
                let nofollow = AtFlags::SYMLINK_NOFOLLOW;
                utimensat(parent, name.as_os_str(), &meta.times(), nofollow)
                    .map_err(|e| path_error(&path, e))?;
                rustix::fs::chownat(
                    parent,
                    name.as_os_str(),
                    Some(uid(meta.uid)),
                    Some(gid(meta.gid)),
                    nofollow,
                )
                .map_err(|e| path_error(&path, e))?;
            }
            // Hard links, devices and fifos: berth's archives hold none.
            _ => {}
        }
        Ok(())
    }

    /// The fd of the directory `parents` under the destination, opening
    /// (and, when an archive lists a file before its directory, creating)
    /// each level without following links. Entries come in walk order, so
    /// the chain open for the previous entry is mostly reused.
    fn parent(&mut self, parents: &[OsString]) -> io::Result<BorrowedFd<'_>> {
        let keep = self
            .open
            .iter()
            .zip(parents)
            .take_while(|((open, _), want)| open == *want)
            .count();
        self.open.truncate(keep);
        for (depth, name) in parents.iter().enumerate().skip(keep) {
            let base = match self.open.last() {
                Some((_, fd)) => fd.as_fd(),
                None => self.root.as_fd(),
            };
            let here = || {
                self.dest
                    .join(parents[..=depth].iter().collect::<PathBuf>())
            };
            let fd = match open_dir_nofollow(base, name.as_os_str()) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => {
                    mkdirat(base, name.as_os_str(), Mode::from_raw_mode(0o700))
                        .map_err(|e| path_error(&here(), e))?;
                    open_dir_nofollow(base, name.as_os_str()).map_err(|e| path_error(&here(), e))?
                }
                Err(e) => return Err(path_error(&here(), e)),
            };
            self.open.push((name.clone(), fd));
        }
        Ok(match self.open.last() {
            Some((_, fd)) => fd.as_fd(),
            None => self.root.as_fd(),
        })
    }

    /// Directory metadata, deepest first (a directory made root-owned 0700
    /// must not be in the way of its subdirectories), the top last; then
    /// one syncfs so the data is on disk before the swap makes it live.
    fn finish(mut self) -> io::Result<bool> {
        self.open.clear();
        let mut dirs = std::mem::take(&mut self.dirs);
        dirs.sort_by_key(|(parts, _)| std::cmp::Reverse(parts.len()));
        for (parts, meta) in &dirs {
            let path = self.dest.join(parts.iter().collect::<PathBuf>());
            let mut fd = None::<OwnedFd>;
            for name in parts {
                let base = fd.as_ref().map_or(self.root.as_fd(), |f| f.as_fd());
                fd = Some(
                    open_dir_nofollow(base, name.as_os_str()).map_err(|e| path_error(&path, e))?,
                );
            }
            if let Some(fd) = fd {
                meta.apply(fd.as_fd()).map_err(|e| path_error(&path, e))?;
            }
        }
        let had_top = self.top.is_some();
        if let Some(meta) = &self.top {
            meta.apply(self.root.as_fd())
                .map_err(|e| path_error(self.dest, e))?;
        }
        rustix::fs::syncfs(&self.root).map_err(|e| path_error(self.dest, e))?;
        Ok(had_top)
    }
}

/// Runs `create`; when the name is taken (an archive that lists it twice),
/// removes what is there (never following it) and tries once more.
fn retry_after_unlink<T>(
    parent: BorrowedFd<'_>,
    name: &OsStr,
    mut create: impl FnMut() -> rustix::io::Result<T>,
) -> rustix::io::Result<T> {
    match create() {
        Err(Errno::EXIST) => {
            unlinkat(parent, name, AtFlags::empty())?;
            create()
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zst(dir: &Path, tar: Vec<u8>) -> PathBuf {
        let path = dir.join("crafted.tar.zst");
        std::fs::write(&path, zstd::encode_all(tar.as_slice(), 1).unwrap()).unwrap();
        path
    }

    /// A header owned by whoever runs the test, so extracting it needs no chown.
    fn header(kind: tar::EntryType, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o644);
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        h.set_uid(uid.into());
        h.set_gid(gid.into());
        h.set_mtime(0);
        h
    }

    #[test]
    fn a_crafted_archive_never_writes_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("keep"), "host file").unwrap();

        // A link to a host directory, then a file "inside" it.
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = header(tar::EntryType::Symlink, 0);
        tar.append_link(&mut h, "a", &outside).unwrap();
        let mut h = header(tar::EntryType::Regular, 4);
        tar.append_data(&mut h, "a/evil", &b"evil"[..]).unwrap();
        let archive = zst(dir.path(), tar.into_inner().unwrap());
        let err = extract(&archive, &dir.path().join("out1")).unwrap_err();
        assert!(err.to_string().contains("out1/a"), "{err}");
        assert!(!outside.join("evil").exists());

        // A link to a host file, then a file of the same name: the link is
        // replaced, its target untouched.
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = header(tar::EntryType::Symlink, 0);
        tar.append_link(&mut h, "keep", outside.join("keep"))
            .unwrap();
        let mut h = header(tar::EntryType::Regular, 4);
        tar.append_data(&mut h, "keep", &b"evil"[..]).unwrap();
        let archive = zst(dir.path(), tar.into_inner().unwrap());
        extract(&archive, &dir.path().join("out2")).unwrap();
        assert_eq!(
            std::fs::read_to_string(outside.join("keep")).unwrap(),
            "host file"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out2/keep")).unwrap(),
            "evil"
        );
    }
}
