//! The archive format: a tar stream of the data directory, compressed with
//! multi-threaded zstd, hashed (sha256) as it is written. Written to a
//! `.partial` file and fsynced; only [`commit`] gives it its final name, so
//! a half-written file never looks like a backup.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

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
pub fn create(
    src: &Path,
    partial: &Path,
    level: i32,
    threads: u32,
    progress: &AtomicU64,
) -> io::Result<ArchiveStats> {
    if let Some(dir) = partial.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = File::create(partial)?;
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
    tar.follow_symlinks(false);
    tar.mode(tar::HeaderMode::Complete);
    let (files, source_bytes) = walk(&mut tar, src, Path::new(""), progress)?;
    let encoder = tar.into_inner()?.into_inner().map_err(|e| e.into_error())?;
    let mut out = encoder.finish()?;
    out.flush()?;
    let file = out.inner.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(ArchiveStats {
        source_bytes,
        files,
        size: out.bytes,
        sha256: hex::encode(out.hasher.finalize()),
    })
}

/// Appends `dir` in name order; returns (files, bytes). Sockets and fifos
/// are skipped: they are not data and tar cannot hold them.
fn walk<W: Write>(
    tar: &mut tar::Builder<W>,
    dir: &Path,
    rel: &Path,
    progress: &AtomicU64,
) -> io::Result<(u64, u64)> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    let (mut files, mut bytes) = (0, 0);
    for entry in entries {
        let path = entry.path();
        let name = rel.join(entry.file_name());
        let meta = std::fs::symlink_metadata(&path)?;
        let kind = meta.file_type();
        if kind.is_dir() {
            tar.append_dir(&name, &path)?;
            let (f, b) = walk(tar, &path, &name, progress)?;
            files += f;
            bytes += b;
        } else if kind.is_file() || kind.is_symlink() {
            tar.append_path_with_name(&path, &name)?;
            files += 1;
            if kind.is_file() {
                bytes += meta.len();
                progress.fetch_add(meta.len(), Ordering::Relaxed);
            }
        }
    }
    Ok((files, bytes))
}

/// Publishes a written archive: manifest first (written, fsynced), then the
/// archive renamed into place, then the directory fsynced. A crash before
/// the rename leaves only a `.partial`, which is never listed.
pub fn commit(partial: &Path, archive: &Path, manifest: &[u8]) -> io::Result<()> {
    let manifest_path = manifest_path(archive);
    let manifest_tmp = partial_path(&manifest_path);
    {
        let mut f = File::create(&manifest_tmp)?;
        f.write_all(manifest)?;
        f.sync_all()?;
    }
    std::fs::rename(&manifest_tmp, &manifest_path)?;
    std::fs::rename(partial, archive)?;
    if let Some(dir) = archive.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Unpacks an archive into `dest` with modes, times and owners as archived.
/// Decompression runs on its own thread, feeding the unpacking one (like
/// `zstd -d | tar -x`), so a restore uses two cores.
pub fn extract(archive: &Path, dest: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dest)?;
    let mut decoder = zstd::stream::read::Decoder::new(File::open(archive)?)?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<Vec<u8>>>(8);
    let producer = std::thread::spawn(move || loop {
        let mut buf = vec![0u8; BUF];
        let mut filled = 0;
        let result = loop {
            match decoder.read(&mut buf[filled..]) {
                Ok(0) => break Ok(filled),
                Ok(n) => {
                    filled += n;
                    if filled == buf.len() {
                        break Ok(filled);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        match result {
            Ok(0) => return,
            Ok(n) => {
                buf.truncate(n);
                if tx.send(Ok(buf)).is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        }
    });
    let mut tar = tar::Archive::new(ChannelReader {
        rx,
        current: Vec::new(),
        pos: 0,
    });
    tar.set_preserve_permissions(true);
    tar.set_preserve_mtime(true);
    tar.set_preserve_ownerships(true);
    tar.set_overwrite(true);
    let result = tar.unpack(dest);
    drop(tar);
    let _ = producer.join();
    result
}

/// Reads the decompressed chunks the producer thread sends.
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    current: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            match self.rx.recv() {
                Ok(chunk) => {
                    self.current = chunk?;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len() - self.pos);
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
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
}
