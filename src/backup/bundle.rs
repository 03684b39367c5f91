//! The GDPR export bundle: an uncompressed tar holding `export.json` and
//! the newest backup archive of each instance (already zstd: compressing
//! them again gains nothing). Tar rather than zip because berth already
//! writes and reads tar, and a tar is written front to back in one pass,
//! so the bundle streams to the browser or a file without being held in
//! memory or staged on disk.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

/// Writes the bundle to `out`, front to back. Archives are opened without
/// following a link; one that is gone since the document was read (pruned
/// in between) is left out and the document still lists it.
pub fn write(out: impl Write, json: &[u8], archives: &[(String, PathBuf)]) -> std::io::Result<()> {
    let mut tar = tar::Builder::new(out);
    let mut header = tar::Header::new_gnu();
    header.set_size(json.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(now());
    header.set_cksum();
    tar.append_data(&mut header, "export.json", json)?;
    for (name, path) in archives {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path);
        let mut file = match file {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(crate::fsutil::path_error(path, e)),
        };
        tar.append_file(name, &mut file)
            .map_err(|e| crate::fsutil::path_error(path, e))?;
    }
    tar.into_inner()?.flush()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundle_holds_the_document_and_the_archives_and_skips_links() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("a.tar.zst");
        std::fs::write(&archive, b"zstd bytes").unwrap();
        let link = dir.path().join("link.tar.zst");
        std::os::unix::fs::symlink("/etc/passwd", &link).unwrap();
        let mut out = Vec::new();
        let files = vec![("archives/main/a.tar.zst".to_owned(), archive)];
        write(&mut out, b"{}", &files).unwrap();
        let mut names = Vec::new();
        for entry in tar::Archive::new(&out[..]).entries().unwrap() {
            names.push(entry.unwrap().path().unwrap().display().to_string());
        }
        assert_eq!(names, ["export.json", "archives/main/a.tar.zst"]);
        let linked = vec![("archives/x/l.tar.zst".to_owned(), link)];
        assert!(write(Vec::new(), b"{}", &linked).is_err());
    }
}
