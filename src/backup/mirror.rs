//! An instance's newest backup as a plain directory, kept for offsite
//! copies (only when `[[offsite]]` targets are configured).
//!
//! restic backs up a directory far faster the second time than a stream:
//! it skips every file whose size, mtime, ctime and inode match its last
//! snapshot and reads only the rest, while a tar stream on stdin must be
//! chunked and hashed whole every time (docs/offsite.md has the figures).
//! So the backup that writes an archive also brings this directory up to
//! date, rewriting only the files whose source changed since the last
//! backup; unchanged files keep their inode and ctime, and restic skips
//! them.
//!
//! Layout, under `<data_dir>/offsite-mirror/` (`Config::instance_mirror_dir`):
//! - `<instance id>/data/`: the tree, dirs and regular files only, all
//!   berth's own (0700/0600): no link, owner or mode the tenant chose ever
//!   exists here, so plain paths are safe to follow. Tenant-chosen names
//!   are only ever joined below this directory.
//! - `<instance id>/entries`: the index (JSON lines): which backup the
//!   tree is, and every entry's owner, mode, mtime, xattrs and link target
//!   as the archive holds them, so a restore from offsite rebuilds the
//!   same archive. Written last; absent while the tree is being changed.
//! - `<instance id>/lock`: `flock`ed by whoever changes or reads the tree
//!   (empty; restic copies it along).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{flock, FlockOperation, Stat};
use serde::{Deserialize, Serialize};

use crate::fsutil::path_error;

#[path = "mirror_update.rs"]
mod update;

pub use update::{alongside, Sink, Update};

/// Index format written in the first line.
const FORMAT: u32 = 1;

/// One instance's mirror.
#[derive(Debug, Clone)]
pub struct Mirror {
    dir: PathBuf,
}

impl Mirror {
    /// The mirror in `dir`: `Config::instance_mirror_dir`, or one restored
    /// from offsite.
    pub fn at(dir: PathBuf) -> Mirror {
        Mirror { dir }
    }

    /// The index of a mirror no one changes (one restored from offsite).
    pub fn read_index(&self) -> io::Result<Index> {
        Index::read(&self.index_path())
    }

    /// What restic backs up: the index and the tree.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join("entries")
    }

    fn lock_path(&self) -> PathBuf {
        self.dir.join("lock")
    }

    /// Takes the mirror for changing or reading. `wait: false` gives `None`
    /// at once when someone else holds it (a backup never waits for a copy).
    pub fn lock(&self, wait: bool) -> io::Result<Option<Locked<'_>>> {
        let path = self.lock_path();
        // Like every archive, a mirror holds tenants' data: berth's alone.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| path_error(&self.dir, e))?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| path_error(&path, e))?;
        let op = if wait {
            FlockOperation::LockExclusive
        } else {
            FlockOperation::NonBlockingLockExclusive
        };
        match flock(&file, op) {
            Ok(()) => Ok(Some(Locked {
                mirror: self,
                _file: file,
            })),
            Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
            Err(e) => Err(path_error(&path, e)),
        }
    }
}

/// A mirror held under its lock; released on drop.
pub struct Locked<'a> {
    mirror: &'a Mirror,
    _file: File,
}

impl Locked<'_> {
    pub fn mirror(&self) -> &Mirror {
        self.mirror
    }

    /// The index, if the tree is complete (an update is not half done).
    pub fn index(&self) -> Option<Index> {
        Index::read(&self.mirror.index_path()).ok()
    }

    /// Drops the index: the tree is no longer trusted and the next update
    /// or copy rewrites it whole.
    pub fn invalidate(&self) {
        let _ = std::fs::remove_file(self.mirror.index_path());
    }
}

/// What kind of entry a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    #[serde(rename = "d")]
    Dir,
    #[serde(rename = "f")]
    File,
    #[serde(rename = "l")]
    Link,
}

/// Bytes (names, link targets, xattrs) in the index: as text when they are
/// UTF-8 not starting with `%`, else `%` and hex. The index is copied
/// with every change, so the usual case stays short.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hex(pub Vec<u8>);

impl Serialize for Hex {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(text) if !text.starts_with('%') => s.serialize_str(text),
            _ => s.serialize_str(&format!("%{}", hex::encode(&self.0))),
        }
    }
}

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Hex, D::Error> {
        let text = String::deserialize(d)?;
        match text.strip_prefix('%') {
            Some(hex) => hex::decode(hex).map(Hex).map_err(serde::de::Error::custom),
            None => Ok(Hex(text.into_bytes())),
        }
    }
}

/// One entry as the archive holds it. `path` is relative, components
/// joined by `/`, empty for the top directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    #[serde(rename = "p")]
    pub path: Hex,
    #[serde(rename = "k")]
    pub kind: Kind,
    #[serde(rename = "m")]
    pub mode: u32,
    #[serde(rename = "u")]
    pub uid: u32,
    #[serde(rename = "g")]
    pub gid: u32,
    #[serde(rename = "t")]
    pub mtime: i64,
    #[serde(rename = "s", default)]
    pub size: u64,
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    pub link: Option<Hex>,
    #[serde(rename = "x", default, skip_serializing_if = "Vec::is_empty")]
    pub xattrs: Vec<(Hex, Hex)>,
    /// The source's (dev, inode, mtime, mtime ns, ctime, ctime ns) when it
    /// was read: a later backup whose source still matches it (and size,
    /// mode, owner) leaves the file alone. `None` when that cannot be
    /// trusted (ctime too recent, or the entry came from an archive).
    #[serde(rename = "f", default, skip_serializing_if = "Option::is_none")]
    pub source: Option<[i64; 6]>,
}

impl Record {
    /// A record of a source entry as its `stat` describes it; `trusted`
    /// says whether the stat can prove later that the file did not change.
    pub fn of_source(
        path: Vec<u8>,
        kind: Kind,
        stat: &Stat,
        xattrs: &[(Vec<u8>, Vec<u8>)],
        trusted: bool,
    ) -> Record {
        let size = if kind == Kind::File {
            stat.st_size as u64
        } else {
            0
        };
        Record {
            path: Hex(path),
            kind,
            mode: stat.st_mode & 0o7777,
            uid: stat.st_uid,
            gid: stat.st_gid,
            mtime: stat.st_mtime,
            size,
            link: None,
            xattrs: xattrs
                .iter()
                .map(|(k, v)| (Hex(k.clone()), Hex(v.clone())))
                .collect(),
            source: trusted.then_some([
                stat.st_dev as i64,
                stat.st_ino as i64,
                stat.st_mtime,
                stat.st_mtime_nsec as i64,
                stat.st_ctime,
                stat.st_ctime_nsec as i64,
            ]),
        }
    }

    /// The same source file as `old`, unchanged since `old` was written.
    fn same_source(&self, old: &Record) -> bool {
        self.source.is_some()
            && self.source == old.source
            && (self.kind, self.size, self.mode, self.uid, self.gid)
                == (old.kind, old.size, old.mode, old.uid, old.gid)
    }

    pub fn xattrs(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.xattrs
            .iter()
            .map(|(k, v)| (k.0.clone(), v.0.clone()))
            .collect()
    }
}

/// The first line of the index.
#[derive(Debug, Serialize, Deserialize)]
struct Head {
    format: u32,
    backup_id: i64,
    files: u64,
    bytes: u64,
}

/// A complete mirror: which backup it is and every entry, in archive order.
#[derive(Debug, Clone)]
pub struct Index {
    pub backup_id: i64,
    /// Files and links, as the archive counts them.
    pub files: u64,
    /// Bytes of regular files under `data/`.
    pub bytes: u64,
    pub records: Vec<Record>,
    /// Length of the `entries` file itself.
    pub len: u64,
}

impl Index {
    /// Everything restic reads when it backs up the mirror: the files'
    /// bytes and the index's own.
    pub fn total_bytes(&self) -> u64 {
        self.bytes + self.len
    }

    pub fn read(path: &Path) -> io::Result<Index> {
        let file = File::open(path).map_err(|e| path_error(path, e))?;
        let len = file.metadata()?.len();
        let bad = |e: serde_json::Error| io::Error::new(io::ErrorKind::InvalidData, e);
        let mut lines = BufReader::with_capacity(1 << 20, file).lines();
        let head: Head =
            serde_json::from_str(&lines.next().unwrap_or(Ok(String::new()))?).map_err(bad)?;
        if head.format != FORMAT {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: index format {} unknown", path.display(), head.format),
            ));
        }
        let mut records = Vec::new();
        for line in lines {
            records.push(serde_json::from_str(&line?).map_err(bad)?);
        }
        Ok(Index {
            backup_id: head.backup_id,
            files: head.files,
            bytes: head.bytes,
            records,
            len,
        })
    }

    /// Writes the index to `path` through a temporary file, fsynced, so it
    /// is either whole or absent.
    fn write(
        path: &Path,
        backup_id: i64,
        records: Vec<Record>,
        files: u64,
        bytes: u64,
    ) -> io::Result<Index> {
        let tmp = path.with_extension("tmp");
        let file = File::create(&tmp).map_err(|e| path_error(&tmp, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let head = Head {
            format: FORMAT,
            backup_id,
            files,
            bytes,
        };
        serde_json::to_writer(&mut out, &head)?;
        out.write_all(b"\n")?;
        for r in &records {
            serde_json::to_writer(&mut out, r)?;
            out.write_all(b"\n")?;
        }
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all().map_err(|e| path_error(&tmp, e))?;
        let len = file.metadata()?.len();
        std::fs::rename(&tmp, path).map_err(|e| path_error(path, e))?;
        Ok(Index {
            backup_id,
            files,
            bytes,
            records,
            len,
        })
    }

    /// Records by path, for the next update.
    fn by_path(self) -> HashMap<Vec<u8>, Record> {
        self.records
            .into_iter()
            .map(|r| (r.path.0.clone(), r))
            .collect()
    }
}

#[cfg(test)]
#[path = "mirror_tests.rs"]
mod tests;
