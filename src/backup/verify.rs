//! Verification: a backup is only as good as its restore. Re-read the
//! archive, compare its sha256, walk the whole tar stream, and run SQLite's
//! `PRAGMA integrity_check` on every database found inside (with its WAL).

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Component, Path, PathBuf};

use crate::fsutil::path_error;

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// A successful verification's summary, e.g. "sha256 ok, 20012 entries, 1 SQLite database ok".
pub fn verify(archive: &Path, expected_sha256: &str, scratch: &Path) -> Result<String, String> {
    let actual = super::archive::file_sha256(archive)
        .map_err(|e| format!("cannot read {}: {e}", archive.display()))?;
    if actual != expected_sha256 {
        return Err(format!(
            "sha256 mismatch: recorded {expected_sha256}, file has {actual}"
        ));
    }
    crate::fsutil::remove_tree(scratch).map_err(|e| format!("cannot remove {e}"))?;
    std::fs::create_dir_all(scratch)
        .map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;
    let result = walk_and_check(archive, scratch);
    if let Err(e) = crate::fsutil::remove_tree(scratch) {
        tracing::warn!(error = %e, "cannot remove a verify's scratch files");
    }
    result
}

fn walk_and_check(archive: &Path, scratch: &Path) -> Result<String, String> {
    let (entries, databases) =
        walk(archive, scratch).map_err(|e| format!("archive is damaged: {e}"))?;
    let mut problems = Vec::new();
    for db in &databases {
        if let Err(why) = integrity_check(&scratch.join(db)) {
            problems.push(format!("{}: {why}", db.display()));
        }
    }
    if !problems.is_empty() {
        return Err(format!(
            "SQLite integrity_check failed: {}",
            problems.join("; ")
        ));
    }
    Ok(format!(
        "sha256 ok, {entries} entries, {} SQLite database(s) pass integrity_check",
        databases.len()
    ))
}

/// Reads every entry to the end (the zstd frame checksums and tar headers
/// are checked on the way); copies SQLite databases and WAL files out.
fn walk(archive: &Path, scratch: &Path) -> io::Result<(u64, Vec<PathBuf>)> {
    let decoder = zstd::stream::read::Decoder::new(File::open(archive)?)?;
    let mut tar = tar::Archive::new(BufReader::with_capacity(1 << 20, decoder));
    let (mut entries, mut databases) = (0u64, Vec::new());
    let mut sink = vec![0u8; 1 << 16];
    for entry in tar.entries()? {
        let mut entry = entry?;
        entries += 1;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let rel: PathBuf = entry
            .path()?
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect();
        let mut head = Vec::with_capacity(16);
        (&mut entry).take(16).read_to_end(&mut head)?;
        let is_db = head.as_slice() == SQLITE_MAGIC;
        let is_wal = rel.to_string_lossy().ends_with("-wal");
        if is_db || is_wal {
            let target = scratch.join(&rel);
            if let Some(dir) = target.parent() {
                std::fs::create_dir_all(dir).map_err(|e| path_error(dir, e))?;
            }
            let mut out = File::create(&target).map_err(|e| path_error(&target, e))?;
            out.write_all(&head).map_err(|e| path_error(&target, e))?;
            io::copy(&mut entry, &mut out).map_err(|e| path_error(&target, e))?;
            if is_db {
                databases.push(rel);
            }
        } else {
            while entry.read(&mut sink)? > 0 {}
        }
    }
    Ok((entries, databases))
}

fn integrity_check(db: &Path) -> Result<(), String> {
    let conn = rusqlite::Connection::open(db).map_err(|e| e.to_string())?;
    let mut stmt = conn
        .prepare("PRAGMA integrity_check")
        .map_err(|e| e.to_string())?;
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .map_err(|e| e.to_string())?;
    if rows == ["ok"] {
        Ok(())
    } else {
        Err(rows.into_iter().take(3).collect::<Vec<_>>().join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::super::archive::{commit, create_plain, partial_path};
    use super::*;

    fn archive_with_db(dir: &Path) -> (PathBuf, String) {
        let src = dir.join("src");
        std::fs::create_dir_all(&src).unwrap();
        let conn = rusqlite::Connection::open(src.join("app.db")).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('a'), ('b');")
            .unwrap();
        std::fs::write(src.join("notes.txt"), vec![b'n'; 50_000]).unwrap();
        let archive = dir.join("a.tar.zst");
        let stats = create_plain(&src, &partial_path(&archive)).unwrap();
        drop(conn);
        commit(&partial_path(&archive), &archive, b"{}").unwrap();
        (archive, stats.sha256)
    }

    #[test]
    fn a_good_archive_verifies_and_checks_its_database() {
        let dir = tempfile::tempdir().unwrap();
        let (archive, sha) = archive_with_db(dir.path());
        let summary = verify(&archive, &sha, &dir.path().join("scratch")).unwrap();
        assert!(summary.contains("1 SQLite database(s)"), "{summary}");
        assert!(!dir.path().join("scratch").exists());
    }

    #[test]
    fn a_flipped_byte_fails_loudly() {
        let dir = tempfile::tempdir().unwrap();
        let (archive, sha) = archive_with_db(dir.path());
        let mut bytes = std::fs::read(&archive).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x40;
        std::fs::write(&archive, &bytes).unwrap();
        let err = verify(&archive, &sha, &dir.path().join("scratch")).unwrap_err();
        assert!(err.contains("sha256 mismatch"), "{err}");
        // Even with the new hash recorded, the stream itself is damaged.
        let new_sha = super::super::archive::file_sha256(&archive).unwrap();
        let err = verify(&archive, &new_sha, &dir.path().join("scratch")).unwrap_err();
        assert!(
            err.contains("damaged") || err.contains("integrity"),
            "{err}"
        );
    }
}
