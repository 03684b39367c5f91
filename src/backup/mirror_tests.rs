use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use super::*;
use crate::backup::archive::{self, create, create_from_mirror};

/// A tree with a nested dir, an xattr, a link and a file to change later.
fn tree(src: &Path) {
    std::fs::create_dir_all(src.join("uploads/deep")).unwrap();
    std::fs::write(src.join("webui.db"), vec![7u8; 300_000]).unwrap();
    std::fs::write(src.join("uploads/a.bin"), b"first upload").unwrap();
    std::fs::write(src.join("uploads/deep/b.txt"), b"kept as it is").unwrap();
    std::fs::write(src.join("gone.txt"), b"deleted before the second backup").unwrap();
    std::fs::write(src.join("becomes-dir"), b"a file, then a directory").unwrap();
    std::os::unix::fs::symlink("uploads/a.bin", src.join("latest")).unwrap();
    let f = std::fs::File::open(src.join("uploads/a.bin")).unwrap();
    let _ = rustix::fs::fsetxattr(
        &f,
        "user.origin",
        b"portal",
        rustix::fs::XattrFlags::empty(),
    );
}

/// Waits until every ctime in `src` is old enough to be trusted by the
/// next backup (`snapshot::is_racy`): a condition on the clock.
fn settle() {
    let deadline = Instant::now() + Duration::from_millis(150);
    while Instant::now() < deadline {
        std::thread::yield_now();
    }
}

fn backup(src: &Path, out: &Path, mirror: &Mirror, id: i64) -> archive::ArchiveStats {
    let partial = archive::partial_path(out);
    let stats = alongside(Some(mirror), id, 1 << 20, |m| {
        create(src, &partial, 3, 1, &AtomicU64::new(0), m)
    })
    .unwrap();
    std::fs::rename(partial, out).unwrap();
    stats
}

fn tar_bytes(archive: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    zstd::stream::read::Decoder::new(std::fs::File::open(archive).unwrap())
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn names_travel_as_text_or_hex_and_come_back_the_same() {
    for raw in [&b"notes/a.txt"[..], b"%percent", b"caf\xe9", b""] {
        let json = serde_json::to_string(&Hex(raw.to_vec())).unwrap();
        assert_eq!(serde_json::from_str::<Hex>(&json).unwrap().0, raw, "{json}");
    }
    assert_eq!(
        serde_json::to_string(&Hex(b"a/b".to_vec())).unwrap(),
        "\"a/b\""
    );
    assert_eq!(
        serde_json::to_string(&Hex(b"%x".to_vec())).unwrap(),
        "\"%2578\""
    );
}

#[test]
fn a_second_backup_rewrites_only_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let (src, mirror) = (dir.path().join("src"), Mirror::at(dir.path().join("m")));
    tree(&src);
    settle();
    backup(&src, &dir.path().join("1.tar.zst"), &mirror, 1);
    let first = mirror.read_index().unwrap();
    assert_eq!(first.backup_id, 1);
    assert_eq!(first.files, 6, "five files and the link");
    let data = mirror.data();
    assert_eq!(
        std::fs::read(data.join("uploads/deep/b.txt")).unwrap(),
        b"kept as it is"
    );
    assert!(
        !data.join("latest").exists(),
        "links live in the index only"
    );
    let kept = std::fs::metadata(data.join("uploads/deep/b.txt")).unwrap();

    std::fs::write(src.join("webui.db"), vec![8u8; 300_000]).unwrap();
    std::fs::remove_file(src.join("gone.txt")).unwrap();
    std::fs::remove_file(src.join("becomes-dir")).unwrap();
    std::fs::create_dir(src.join("becomes-dir")).unwrap();
    std::fs::write(src.join("becomes-dir/inside"), b"new").unwrap();
    backup(&src, &dir.path().join("2.tar.zst"), &mirror, 2);

    let second = mirror.read_index().unwrap();
    assert_eq!(second.backup_id, 2);
    let now = std::fs::metadata(data.join("uploads/deep/b.txt")).unwrap();
    assert_eq!(
        (now.ino(), now.ctime(), now.ctime_nsec()),
        (kept.ino(), kept.ctime(), kept.ctime_nsec()),
        "an unchanged file is left alone, so restic skips it"
    );
    assert_eq!(
        std::fs::read(data.join("webui.db")).unwrap(),
        vec![8u8; 300_000]
    );
    assert!(!data.join("gone.txt").exists());
    assert_eq!(
        std::fs::read(data.join("becomes-dir/inside")).unwrap(),
        b"new"
    );
    assert_eq!(second.bytes, 300_000 + 12 + 13 + 3);
}

#[test]
fn a_mirror_makes_the_same_archive_its_backup_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let (src, mirror) = (dir.path().join("src"), Mirror::at(dir.path().join("m")));
    tree(&src);
    let original = dir.path().join("1.tar.zst");
    let stats = backup(&src, &original, &mirror, 1);
    let index = mirror.read_index().unwrap();
    let again = dir.path().join("again.tar.zst");
    let partial = archive::partial_path(&again);
    let made =
        create_from_mirror(&index, &mirror.data(), &partial, 3, 1, &AtomicU64::new(0)).unwrap();
    assert_eq!(
        (made.files, made.source_bytes),
        (stats.files, stats.source_bytes)
    );
    assert_eq!(
        tar_bytes(&partial),
        tar_bytes(&original),
        "byte for byte the same tar"
    );

    // A file the index does not describe exactly is refused.
    std::fs::write(mirror.data().join("webui.db"), b"short").unwrap();
    let err =
        create_from_mirror(&index, &mirror.data(), &partial, 3, 1, &AtomicU64::new(0)).unwrap_err();
    assert!(
        err.to_string()
            .contains("where the copy's index says 300000"),
        "{err}"
    );
}

#[test]
fn a_rebuild_from_the_archive_gives_the_same_tree() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    tree(&src);
    let (a, b) = (
        Mirror::at(dir.path().join("a")),
        Mirror::at(dir.path().join("b")),
    );
    let archive = dir.path().join("1.tar.zst");
    backup(&src, &archive, &a, 1);
    let rebuilt = b.lock(true).unwrap().unwrap().rebuild(&archive, 1).unwrap();
    let along = a.read_index().unwrap();
    let strip = |i: &Index| -> Vec<Record> {
        i.records
            .iter()
            .cloned()
            .map(|mut r| {
                r.source = None;
                r
            })
            .collect()
    };
    assert_eq!(strip(&rebuilt), strip(&along));
    assert_eq!((rebuilt.files, rebuilt.bytes), (along.files, along.bytes));
    for r in along.records.iter().filter(|r| r.kind == Kind::File) {
        let rel = std::ffi::OsStr::from_bytes(&r.path.0);
        assert_eq!(
            std::fs::read(b.data().join(rel)).unwrap(),
            std::fs::read(a.data().join(rel)).unwrap()
        );
    }
}

#[test]
fn a_failed_or_skipped_update_never_leaves_an_index_that_lies() {
    let dir = tempfile::tempdir().unwrap();
    let (src, mirror) = (dir.path().join("src"), Mirror::at(dir.path().join("m")));
    tree(&src);
    backup(&src, &dir.path().join("1.tar.zst"), &mirror, 1);

    // The archive fails after the mirror began changing: no index at all.
    let failed: io::Result<()> = alongside(Some(&mirror), 2, 1 << 20, |m| {
        let m = m.expect("the mirror is free");
        m.file(Record {
            path: Hex(b"webui.db".to_vec()),
            kind: Kind::File,
            mode: 0o600,
            uid: 0,
            gid: 0,
            mtime: 0,
            size: 1,
            link: None,
            xattrs: Vec::new(),
            source: None,
        });
        Err(io::Error::other("disk full"))
    });
    assert!(failed.is_err());
    assert!(
        mirror.read_index().is_err(),
        "a half-changed tree has no index"
    );

    // A copy holds the mirror: the backup leaves it alone.
    backup(&src, &dir.path().join("3.tar.zst"), &mirror, 3);
    let held = mirror.lock(true).unwrap().unwrap();
    let mut ran = false;
    alongside(Some(&mirror), 4, 1 << 20, |m| {
        ran = true;
        assert!(m.is_none(), "a busy mirror is not updated");
        Ok(())
    })
    .unwrap();
    assert!(ran);
    drop(held);
    assert_eq!(mirror.read_index().unwrap().backup_id, 3);
}

use std::os::unix::ffi::OsStrExt;
