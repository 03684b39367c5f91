//! The mirror's side of the archive walk (`super::mirror`): a backup's
//! walk hands each entry to the mirror's update, and a file's bytes to the
//! mirror too when its source changed; a mirror restored from offsite is
//! walked back into the archive its backup wrote.

use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{header, pax_xattrs};
use crate::backup::mirror::{self, Record, Update};
use crate::fsutil::path_error;

/// The mirror's name for an archive path ("./" is the top directory).
pub(super) fn key(name: &Path) -> Vec<u8> {
    if name == Path::new("./") {
        Vec::new()
    } else {
        name.as_os_str().as_bytes().to_vec()
    }
}

/// Appends a regular file; its bytes also go to the mirror when the
/// mirror asks for them (its source changed). A mirror that cannot be
/// written stops updating; the archive goes on.
pub(super) fn append_file<W: Write>(
    tar: &mut tar::Builder<W>,
    mirror: &mut Option<&mut Update>,
    record: Record,
    header: &mut tar::Header,
    name: &Path,
    data: impl Read,
) -> io::Result<()> {
    let Some(m) = mirror.as_deref_mut() else {
        return tar.append_data(header, name, data);
    };
    let mut tee = Tee {
        inner: data,
        sink: m.file(record),
        error: None,
    };
    tar.append_data(header, name, &mut tee)?;
    let flushed = match (tee.error, tee.sink) {
        (Some(e), _) => Err(e),
        (None, Some(mut sink)) => sink.flush(),
        (None, None) => Ok(()),
    };
    if let Err(e) = flushed {
        m.fail(path_error(name, e));
    }
    Ok(())
}

/// Passes what the archive reads on to the mirror's copy of the file.
struct Tee<R> {
    inner: R,
    sink: Option<mirror::Sink>,
    error: Option<io::Error>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(sink) = &mut self.sink {
            if let Err(e) = sink.write_all(&buf[..n]) {
                self.error = Some(e);
                self.sink = None;
            }
        }
        Ok(n)
    }
}
/// Appends a mirror restored from offsite (its `index`, its files under
/// `data`) as the archive of its backup: the same entries in the same
/// order with the same owners, modes, mtimes and xattrs. A file whose
/// length differs from the index fails it. Returns files and bytes.
pub(in crate::backup) fn walk_mirror<W: Write>(
    tar: &mut tar::Builder<W>,
    progress: &AtomicU64,
    index: &mirror::Index,
    data: &Path,
) -> io::Result<(u64, u64)> {
    let (mut files, mut bytes) = (0, 0);
    for r in &index.records {
        let name = if r.path.0.is_empty() {
            PathBuf::from("./")
        } else {
            PathBuf::from(OsStr::from_bytes(&r.path.0))
        };
        let path = data.join(&name);
        let kind = match r.kind {
            mirror::Kind::Dir => tar::EntryType::Directory,
            mirror::Kind::File => tar::EntryType::Regular,
            mirror::Kind::Link => tar::EntryType::Symlink,
        };
        let mut header = header(kind, r.size, r.mode, r.uid, r.gid, r.mtime);
        match (r.kind, &r.link) {
            (mirror::Kind::Dir, _) => {
                pax_xattrs(tar, &r.xattrs(), &path)?;
                tar.append_data(&mut header, &name, io::empty())
                    .map_err(|e| path_error(&path, e))?;
            }
            (mirror::Kind::File, _) => {
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&path)
                    .map_err(|e| path_error(&path, e))?;
                let len = file.metadata().map_err(|e| path_error(&path, e))?.len();
                if len != r.size {
                    return Err(path_error(
                        &path,
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("{len} bytes where the copy's index says {}", r.size),
                        ),
                    ));
                }
                pax_xattrs(tar, &r.xattrs(), &path)?;
                tar.append_data(&mut header, &name, file.take(r.size))
                    .map_err(|e| path_error(&path, e))?;
                files += 1;
                bytes += r.size;
                progress.fetch_add(r.size, Ordering::Relaxed);
            }
            (mirror::Kind::Link, Some(target)) => {
                tar.append_link(&mut header, &name, OsStr::from_bytes(&target.0))
                    .map_err(|e| path_error(&path, e))?;
                files += 1;
            }
            (mirror::Kind::Link, None) => {
                return Err(path_error(
                    &path,
                    io::Error::new(io::ErrorKind::InvalidData, "a link without a target"),
                ));
            }
        }
    }
    Ok((files, bytes))
}
