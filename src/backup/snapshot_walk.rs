//! The walk behind [`Snapshot::refresh`], on a few threads at once.
//!
//! The refresh that runs while the tenant is paused is mostly one stat per
//! entry: with tens of thousands of small files that walk is the freeze.
//! Directories and slices of a directory's names are tasks on one shared
//! stack, so a wide directory (a cache of 50,000 files) is shared out as
//! well as a deep tree. Each worker keeps its own entries; the caller puts
//! them in order once the walk is done.
//!
//! Tasks hold their directory open (an `Arc` shared by its slices), never a
//! path: a tenant cannot swap a component for a symlink between the listing
//! and the stat. A stack, not a queue, keeps the walk depth first, so the
//! directories held open stay about the tree's depth per worker.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use rustix::fs::{fstat, openat, readlinkat, statat, AtFlags, FileType, Mode, OFlags, Stat, CWD};
use rustix::io::Errno;

use super::{copy_data, is_no_room, is_racy, now_ns, unchanged, Entry, Kind, SnapshotError};
use crate::backup::walk::user_xattrs;
use crate::fsutil::{dir_names, open_dir_nofollow, path_error};

/// Names statted per task: small enough that two workers share a wide
/// directory evenly, large enough that the stack's lock is rarely met.
pub(super) const SLICE: usize = 256;

/// Workers per walk. Stats of cached inodes are CPU work, so more than the
/// cores only contend; a few cover a walk that waits on a cold disk.
fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 4))
}

/// Where the copies go and what the last walk saw; shared by the workers.
pub(super) struct Walk<'a> {
    pub old: &'a BTreeMap<Vec<u8>, Entry>,
    pub staging: &'a Path,
    pub staging_fd: &'a OwnedFd,
    pub next_copy: &'a AtomicU64,
    pub reflink: &'a AtomicBool,
    pub in_kernel: &'a AtomicBool,
    pub copied: &'a AtomicU64,
}

/// An open directory whose names are being statted.
#[derive(Clone)]
struct Dir {
    fd: Arc<OwnedFd>,
    path: Arc<PathBuf>,
    key: Arc<Vec<u8>>,
}

enum Task {
    /// A directory to open (by its parent's fd; the root by path) and list.
    Open {
        parent: Option<Dir>,
        name: CString,
        path: PathBuf,
        key: Vec<u8>,
        looked_at: i128,
    },
    /// `names[from..to]` of an open directory to stat (and copy).
    Names {
        dir: Dir,
        names: Arc<Vec<CString>>,
        from: usize,
        to: usize,
    },
}

#[derive(Default)]
struct Stack {
    tasks: Vec<Task>,
    /// Workers in the middle of a task (which may push more).
    busy: usize,
    failed: Option<SnapshotError>,
}

impl Walk<'_> {
    /// Walks `root` and returns every entry, in no particular order.
    pub fn run(&self, root: &Path) -> Result<Vec<(Vec<u8>, Entry)>, SnapshotError> {
        let stack = Mutex::new(Stack {
            tasks: vec![Task::Open {
                parent: None,
                name: CString::default(),
                path: root.to_path_buf(),
                key: Vec::new(),
                looked_at: now_ns(),
            }],
            ..Stack::default()
        });
        let wake = Condvar::new();
        let found = std::thread::scope(|scope| {
            let others: Vec<_> = (1..workers())
                .map(|_| scope.spawn(|| self.work(&stack, &wake)))
                .collect();
            let mut found = self.work(&stack, &wake);
            for worker in others {
                match worker.join() {
                    Ok(mut more) => found.append(&mut more),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            found
        });
        match stack.into_inner().unwrap_or_else(|p| p.into_inner()).failed {
            Some(e) => Err(e),
            None => Ok(found),
        }
    }

    /// Takes tasks until the stack is empty and nobody can push more, or a
    /// task failed.
    fn work(&self, stack: &Mutex<Stack>, wake: &Condvar) -> Vec<(Vec<u8>, Entry)> {
        let mut found = Vec::new();
        loop {
            let task = {
                let mut s = stack.lock().unwrap_or_else(|p| p.into_inner());
                loop {
                    if s.failed.is_some() {
                        return found;
                    }
                    if let Some(t) = s.tasks.pop() {
                        s.busy += 1;
                        break t;
                    }
                    if s.busy == 0 {
                        return found;
                    }
                    s = wake.wait(s).unwrap_or_else(|p| p.into_inner());
                }
            };
            let result = match task {
                Task::Open {
                    parent,
                    name,
                    path,
                    key,
                    looked_at,
                } => self.open(parent.as_ref(), &name, path, key, looked_at, &mut found),
                Task::Names {
                    dir,
                    names,
                    from,
                    to,
                } => self.names(&dir, &names[from..to], &mut found),
            };
            let mut s = stack.lock().unwrap_or_else(|p| p.into_inner());
            s.busy -= 1;
            match result {
                Ok(more) => s.tasks.extend(more),
                Err(e) => {
                    s.failed.get_or_insert(e);
                }
            }
            wake.notify_all();
        }
    }

    /// Opens and lists one directory; its names become slices to stat.
    fn open(
        &self,
        parent: Option<&Dir>,
        name: &CStr,
        path: PathBuf,
        key: Vec<u8>,
        looked_at: i128,
        found: &mut Vec<(Vec<u8>, Entry)>,
    ) -> Result<Vec<Task>, SnapshotError> {
        let source = |e: Errno| SnapshotError::Source(path_error(&path, e));
        let fd = match parent {
            Some(p) => match open_dir_nofollow(&*p.fd, name) {
                Ok(fd) => fd,
                // Removed since its parent was listed (the app runs): not data.
                Err(Errno::NOENT) => return Ok(Vec::new()),
                Err(e) => return Err(source(e)),
            },
            None => open_dir_nofollow(CWD, &path).map_err(source)?,
        };
        let stat = fstat(&fd).map_err(source)?;
        // A changed xattr moves the ctime: an unchanged directory keeps its list.
        let xattrs = match self.old.get(&key) {
            Some(e) if matches!(e.kind, Kind::Dir) && unchanged(e, &stat) => e.xattrs.clone(),
            _ => user_xattrs(&fd).map_err(source)?,
        };
        let names = Arc::new(dir_names(&fd).map_err(source)?);
        found.push((
            key.clone(),
            Entry {
                stat,
                xattrs,
                kind: Kind::Dir,
                racy: is_racy(&stat, looked_at),
            },
        ));
        let dir = Dir {
            fd: Arc::new(fd),
            path: Arc::new(path),
            key: Arc::new(key),
        };
        Ok((0..names.len())
            .step_by(SLICE)
            .map(|from| Task::Names {
                dir: dir.clone(),
                names: names.clone(),
                from,
                to: (from + SLICE).min(names.len()),
            })
            .collect())
    }

    /// Stats a slice of a directory's names: files and links are handled
    /// here, subdirectories come back as tasks.
    fn names(
        &self,
        dir: &Dir,
        names: &[CString],
        found: &mut Vec<(Vec<u8>, Entry)>,
    ) -> Result<Vec<Task>, SnapshotError> {
        let mut subdirs = Vec::new();
        for name in names {
            let child = || dir.path.join(OsStr::from_bytes(name.as_bytes()));
            let source = |e: Errno| SnapshotError::Source(path_error(&child(), e));
            let mut key = Vec::with_capacity(dir.key.len() + 1 + name.as_bytes().len());
            key.extend_from_slice(&dir.key);
            if !key.is_empty() {
                key.push(0);
            }
            key.extend_from_slice(name.as_bytes());
            let looked_at = now_ns();
            let stat = match statat(&*dir.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(s) => s,
                // Deleted since the listing (a temp file): nothing to keep.
                Err(Errno::NOENT) => continue,
                Err(e) => return Err(source(e)),
            };
            match FileType::from_raw_mode(stat.st_mode) {
                FileType::Directory => subdirs.push(Task::Open {
                    parent: Some(dir.clone()),
                    name: name.clone(),
                    path: child(),
                    key,
                    looked_at,
                }),
                FileType::RegularFile => {
                    if let Some(entry) = self.file(dir, name, &key, (stat, looked_at))? {
                        found.push((key, entry));
                    }
                }
                FileType::Symlink => {
                    let entry = match self.old.get(&key) {
                        Some(e) if matches!(e.kind, Kind::Link(_)) && unchanged(e, &stat) => {
                            e.clone()
                        }
                        _ => {
                            let target = readlinkat(&*dir.fd, name, Vec::new()).map_err(source)?;
                            Entry {
                                stat,
                                xattrs: Vec::new(),
                                kind: Kind::Link(target.into_bytes()),
                                racy: is_racy(&stat, looked_at),
                            }
                        }
                    };
                    found.push((key, entry));
                }
                // Sockets, fifos and devices are not data (the archive skips them too).
                _ => {}
            }
        }
        Ok(subdirs)
    }

    /// The entry of a regular file: the last one when nothing changed, else
    /// a fresh copy (into its old copy file, when it had one). `None` when
    /// it vanished or stopped being a regular file since the stat.
    fn file(
        &self,
        dir: &Dir,
        name: &CStr,
        key: &[u8],
        (seen, looked_at): (Stat, i128),
    ) -> Result<Option<Entry>, SnapshotError> {
        let reuse = match self.old.get(key) {
            Some(e) => match e.kind {
                Kind::File(_) if unchanged(e, &seen) => return Ok(Some(e.clone())),
                Kind::File(copy) => Some(copy),
                _ => None,
            },
            None => None,
        };
        let path = || dir.path.join(OsStr::from_bytes(name.to_bytes()));
        let source = |e: io::Error| SnapshotError::Source(path_error(&path(), e));
        // NONBLOCK: a name swapped for a fifo since the stat must not hang
        // the backup; the fstat below then skips it.
        let flags =
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        let fd = match openat(&*dir.fd, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(source(e.into())),
        };
        let stat = fstat(&fd).map_err(|e| source(e.into()))?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
            return Ok(None);
        }
        let xattrs = user_xattrs(&fd).map_err(|e| source(e.into()))?;
        let copy = reuse.unwrap_or_else(|| self.next_copy.fetch_add(1, Ordering::Relaxed) + 1);
        let out = copy.to_string();
        let staged = |e: io::Error| {
            let shown = self.staging.join(&out);
            SnapshotError::Staging(path_error(&shown, e))
        };
        let create = OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW;
        let dst = openat(
            self.staging_fd,
            out.as_str(),
            create | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| staged(e.into()))?;
        let size = stat.st_size as u64;
        match copy_data(self.reflink, self.in_kernel, fd, dst, size) {
            Ok(()) => {}
            Err(e) if is_no_room(&e) => return Err(staged(e)),
            Err(e) => return Err(source(e)),
        }
        self.copied.fetch_add(size, Ordering::Relaxed);
        Ok(Some(Entry {
            stat,
            xattrs,
            kind: Kind::File(copy),
            racy: is_racy(&stat, looked_at),
        }))
    }
}
