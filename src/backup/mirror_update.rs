//! Bringing a mirror up to a new backup, entry by entry as the archive is
//! written ([`Update`]), or whole from a finished archive
//! ([`Locked::rebuild`]) when no backup kept it current.
//!
//! An update never fails the backup it rides along: the first error stops
//! it, the half-changed tree is removed (its space given back) and the
//! next copy rebuilds it from the archive.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use super::{Index, Kind, Locked, Mirror, Record};
use crate::fsutil::{path_error, remove_tree};

/// Room left free on the mirror's file system beyond what an update may
/// write, so keeping a mirror never fills the disk tenants write to.
const HEADROOM: u64 = 256 << 20;

/// Runs `write` (one backup's archive of `total` source bytes) with an
/// update of `mirror` riding along, and makes the mirror backup `backup_id`
/// when the archive is written. Never fails the archive: a busy mirror (a
/// copy reads it), one without room, or one that cannot be written is left
/// for the next copy to rebuild from its archive.
pub fn alongside<T>(
    mirror: Option<&Mirror>,
    backup_id: i64,
    total: u64,
    write: impl FnOnce(Option<&mut Update>) -> io::Result<T>,
) -> io::Result<T> {
    let Some(m) = mirror else {
        return write(None);
    };
    let locked = match m.lock(false) {
        Ok(Some(locked)) => locked,
        Ok(None) => {
            tracing::info!(
                backup = backup_id,
                "offsite mirror busy (a copy reads it): left as it is"
            );
            return write(None);
        }
        Err(e) => {
            tracing::warn!(backup = backup_id, error = %e, "offsite mirror not updated");
            return write(None);
        }
    };
    // A whole rewrite needs room for everything; an update, for what
    // changed. (Whether an index exists is enough here: `begin` reads it.)
    let need = if m.index_path().is_file() {
        total / 4
    } else {
        total
    } + HEADROOM;
    let free = rustix::fs::statvfs(&m.dir)
        .map(|fs| fs.f_bavail.saturating_mul(fs.f_frsize))
        .unwrap_or(0);
    if free < need {
        tracing::warn!(
            backup = backup_id,
            free_mb = free >> 20,
            need_mb = need >> 20,
            "no room to update the offsite mirror; the copy will rebuild it"
        );
        locked.invalidate();
        let _ = remove_tree(&m.data());
        return write(None);
    }
    let mut update = match locked.begin() {
        Ok(update) => update,
        Err(e) => {
            tracing::warn!(backup = backup_id, error = %e, "offsite mirror not updated");
            locked.invalidate();
            return write(None);
        }
    };
    let out = write(Some(&mut update));
    if out.is_ok() {
        if let Err(e) = update.finish(backup_id) {
            tracing::warn!(backup = backup_id, error = %e, "offsite mirror update failed; the copy will rebuild it");
        }
    }
    out
}

/// An update in progress; [`Update::finish`] makes it the mirror's index.
pub struct Update {
    data: PathBuf,
    index: PathBuf,
    old: HashMap<Vec<u8>, Record>,
    records: Vec<Record>,
    files: u64,
    bytes: u64,
    /// Bytes written because their source changed.
    pub written: u64,
    failed: Option<io::Error>,
}

/// Where a changed file's bytes go while the archive reads them.
pub type Sink = BufWriter<File>;

impl Locked<'_> {
    /// Starts an update. The old index is read (what is unchanged since
    /// it needs no writing) and removed: until `finish`, the tree is not a
    /// backup. Without a readable index the tree is rewritten whole.
    pub fn begin(&self) -> io::Result<Update> {
        let m = self.mirror();
        let old = match Index::read(&m.index_path()) {
            Ok(index) => {
                std::fs::remove_file(m.index_path()).map_err(|e| path_error(&m.index_path(), e))?;
                index.by_path()
            }
            Err(_) => {
                remove_tree(&m.data())?;
                HashMap::new()
            }
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(m.data())
            .map_err(|e| path_error(&m.data(), e))?;
        Ok(Update {
            data: m.data(),
            index: m.index_path(),
            old,
            records: Vec::new(),
            files: 0,
            bytes: 0,
            written: 0,
            failed: None,
        })
    }

    /// Rewrites the whole mirror from a finished archive of backup
    /// `backup_id` (its tar's own order and metadata); the new index.
    pub fn rebuild(&self, archive: &Path, backup_id: i64) -> io::Result<Index> {
        self.invalidate();
        let mut update = self.begin()?;
        let file = File::open(archive).map_err(|e| path_error(archive, e))?;
        let (reader, producer) = super::super::decompress::spawn(file)?;
        let mut tar = tar::Archive::new(reader);
        let result = (|| {
            for entry in tar.entries()? {
                let mut entry = entry?;
                let record = record_of(&mut entry)?;
                match record.kind {
                    Kind::File => {
                        if let Some(mut sink) = update.file(record) {
                            io::copy(&mut entry, &mut sink)
                                .and_then(|_| sink.flush())
                                .unwrap_or_else(|e| update.fail(e));
                        }
                    }
                    Kind::Dir => update.dir(record),
                    Kind::Link => update.link(record),
                }
            }
            Ok::<_, io::Error>(())
        })();
        drop(tar);
        let _ = producer.join();
        if let Err(e) = result {
            update.fail(path_error(archive, e));
        }
        update.finish(backup_id)
    }
}

impl Update {
    pub fn dir(&mut self, record: Record) {
        if self.failed.is_none() {
            let path = self.path(&record);
            if let Err(e) = ensure_dir(&path) {
                self.fail(path_error(&path, e));
            }
        }
        self.records.push(record);
    }

    /// A link lives in the index only; whatever was at its path goes at `finish`.
    pub fn link(&mut self, record: Record) {
        self.files += 1;
        self.records.push(record);
    }

    /// A regular file: `None` when its source is unchanged since the last
    /// update (or the update failed), else where to write its bytes.
    pub fn file(&mut self, record: Record) -> Option<Sink> {
        self.files += 1;
        self.bytes += record.size;
        let unchanged = self
            .old
            .get(&record.path.0)
            .is_some_and(|old| record.same_source(old));
        let path = self.path(&record);
        let size = record.size;
        self.records.push(record);
        if unchanged || self.failed.is_some() {
            return None;
        }
        match create_file(&path) {
            Ok(file) => {
                self.written += size;
                Some(BufWriter::with_capacity(1 << 20, file))
            }
            Err(e) => {
                self.fail(path_error(&path, e));
                None
            }
        }
    }

    /// Writing a file's bytes failed: the update stops here.
    pub fn fail(&mut self, e: io::Error) {
        self.failed.get_or_insert(e);
    }

    /// Removes what the old tree had and the new one does not, flushes the
    /// file system, and writes the index: the mirror is now `backup_id`.
    /// On an earlier failure the tree is removed instead.
    pub fn finish(mut self, backup_id: i64) -> io::Result<Index> {
        if let Some(e) = self.failed.take() {
            let _ = remove_tree(&self.data);
            return Err(e);
        }
        let kept: HashSet<(&[u8], bool)> = self
            .records
            .iter()
            .map(|r| (r.path.0.as_slice(), r.kind == Kind::Dir))
            .collect();
        for old in self.old.values().filter(|r| r.kind != Kind::Link) {
            let is_dir = old.kind == Kind::Dir;
            if kept.contains(&(old.path.0.as_slice(), is_dir)) {
                continue;
            }
            let path = self.path(old);
            // Gone already (under a removed directory), or replaced by
            // the other kind, which the new entry put there itself.
            let removed = if is_dir {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            if let Err(e) = removed {
                if !matches!(
                    e.raw_os_error(),
                    Some(libc::ENOENT | libc::ENOTDIR | libc::EISDIR)
                ) {
                    return Err(path_error(&path, e));
                }
            }
        }
        // The index promises these bytes: they reach the disk first.
        let data = File::open(&self.data).map_err(|e| path_error(&self.data, e))?;
        rustix::fs::syncfs(&data).map_err(|e| path_error(&self.data, e))?;
        Index::write(&self.index, backup_id, self.records, self.files, self.bytes)
    }

    fn path(&self, record: &Record) -> PathBuf {
        if record.path.0.is_empty() {
            self.data.clone()
        } else {
            self.data.join(OsStr::from_bytes(&record.path.0))
        }
    }
}

fn ensure_dir(path: &Path) -> io::Result<()> {
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if std::fs::symlink_metadata(path)?.is_dir() {
                return Ok(());
            }
            std::fs::remove_file(path)?;
            std::fs::DirBuilder::new().mode(0o700).create(path)
        }
        Err(e) => Err(e),
    }
}

/// Opens `path` empty for writing, replacing a directory that was there.
fn create_file(path: &Path) -> io::Result<File> {
    let open = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
    };
    match open() {
        Err(e) if e.raw_os_error() == Some(libc::EISDIR) => {
            std::fs::remove_dir_all(path)?;
            open()
        }
        other => other,
    }
}

/// A record of an archive entry. Its source cannot be proved unchanged
/// later (a tar keeps whole-second mtimes only), so it is never trusted.
fn record_of<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Record> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let raw = entry.path_bytes().into_owned();
    let mut parts: Vec<&[u8]> = Vec::new();
    for c in Path::new(OsStr::from_bytes(&raw)).components() {
        match c {
            Component::CurDir => {}
            Component::Normal(n) => parts.push(n.as_bytes()),
            _ => return Err(invalid("an archive entry leaves its directory")),
        }
    }
    let h = entry.header();
    let kind = match h.entry_type() {
        tar::EntryType::Directory => Kind::Dir,
        tar::EntryType::Regular => Kind::File,
        tar::EntryType::Symlink => Kind::Link,
        _ => return Err(invalid("an archive entry of a kind berth never writes")),
    };
    let id = |v: u64| u32::try_from(v).map_err(|_| invalid("owner id out of range"));
    let mut record = Record {
        path: super::Hex(parts.join(&b'/')),
        kind,
        mode: h.mode()?,
        uid: id(h.uid()?)?,
        gid: id(h.gid()?)?,
        mtime: h.mtime()?.min(i64::MAX as u64) as i64,
        size: if kind == Kind::File { h.size()? } else { 0 },
        link: None,
        xattrs: Vec::new(),
        source: None,
    };
    if kind == Kind::Link {
        let target = entry
            .link_name_bytes()
            .ok_or_else(|| invalid("a link without a target"))?;
        record.link = Some(super::Hex(target.into_owned()));
    }
    if let Some(pax) = entry.pax_extensions()? {
        for ext in pax {
            let ext = ext?;
            if let Some(name) = ext.key_bytes().strip_prefix(b"SCHILY.xattr.") {
                record.xattrs.push((
                    super::Hex(name.to_vec()),
                    super::Hex(ext.value_bytes().to_vec()),
                ));
            }
        }
    }
    Ok(record)
}
