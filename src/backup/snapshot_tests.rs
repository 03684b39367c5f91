//! The staging copy against the archive of the live tree: after a take and
//! after a refresh, an archive of the copy is byte for byte the archive of
//! the tree at that moment.

use std::fs::File;
use std::path::Path;
use std::sync::atomic::AtomicU64;

use rustix::fs::{fsetxattr, mknodat, FileType, Mode, XattrFlags, CWD};

use super::*;
use crate::backup::archive::{create_from_snapshot, create_plain};

/// A tree with nested dirs, modes, an xattr, a link out of it and a fifo.
fn tenant_tree(root: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let src = root.join("src");
    std::fs::create_dir_all(src.join("db/deeper")).unwrap();
    std::fs::create_dir_all(root.join("outside")).unwrap();
    std::fs::write(src.join("db/app.db"), vec![3u8; 200_000]).unwrap();
    std::fs::write(src.join("db/deeper/x"), "x").unwrap();
    std::fs::write(src.join("a-c"), "sorts after a/").unwrap();
    std::fs::create_dir_all(src.join("a")).unwrap();
    std::fs::write(src.join("a/b"), "in a").unwrap();
    std::fs::write(src.join("tool"), "#!/bin/sh").unwrap();
    std::fs::set_permissions(src.join("tool"), std::fs::Permissions::from_mode(0o4750)).unwrap();
    std::fs::set_permissions(src.join("db"), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(root.join("outside"), src.join("escape")).unwrap();
    let _ = File::open(src.join("a/b"))
        .map(|f| fsetxattr(&f, "user.origin", b"tenant", XattrFlags::empty()));
    mknodat(
        CWD,
        src.join("pipe"),
        FileType::Fifo,
        Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    src
}

/// sha256 of the archive of the live tree and of the copy (one zstd
/// thread, so equal tar streams give equal files).
fn archives(root: &Path, src: &Path, snap: &Snapshot) -> (String, String) {
    let live = create_plain(src, &root.join("live.partial")).unwrap();
    let copy = create_from_snapshot(
        snap,
        &root.join("copy.partial"),
        3,
        1,
        &AtomicU64::new(0),
        None,
    )
    .unwrap();
    assert_eq!(
        (copy.files, copy.source_bytes),
        (live.files, live.source_bytes)
    );
    (live.sha256, copy.sha256)
}

#[test]
fn the_copy_archives_exactly_like_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let src = tenant_tree(dir.path());
    let staging = staging_dir(&src, 7);
    assert_eq!(staging, dir.path().join(".src.backup-7"));
    let snap = Snapshot::take(&src, &staging).unwrap();
    let (live, copy) = archives(dir.path(), &src, &snap);
    assert_eq!(live, copy);
    // The copy holds plain files only: no link of the tenant's, no fifo.
    for entry in std::fs::read_dir(&staging).unwrap() {
        assert!(entry.unwrap().file_type().unwrap().is_file());
    }
    snap.remove().unwrap();
    assert!(!staging.exists());
    assert_eq!(
        std::fs::read_dir(dir.path().join("outside"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn a_refresh_catches_every_kind_of_change() {
    let dir = tempfile::tempdir().unwrap();
    let src = tenant_tree(dir.path());
    let mut snap = Snapshot::take(&src, &staging_dir(&src, 1)).unwrap();
    // Same size, rewritten in place; deleted; new; a file become a
    // directory; a link retargeted; a mode changed.
    std::fs::write(src.join("db/app.db"), vec![4u8; 200_000]).unwrap();
    std::fs::remove_file(src.join("db/deeper/x")).unwrap();
    std::fs::write(src.join("db/new"), "new").unwrap();
    std::fs::remove_file(src.join("a-c")).unwrap();
    std::fs::create_dir(src.join("a-c")).unwrap();
    std::fs::write(src.join("a-c/inside"), "inside").unwrap();
    std::fs::remove_file(src.join("escape")).unwrap();
    std::os::unix::fs::symlink("/elsewhere", src.join("escape")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(src.join("a/b"), std::fs::Permissions::from_mode(0o600)).unwrap();
    snap.refresh().unwrap();
    let (live, copy) = archives(dir.path(), &src, &snap);
    assert_eq!(live, copy);
}

#[test]
fn a_refresh_copies_only_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let src = tenant_tree(dir.path());
    // Older than the racy window: unchanged files can be trusted by their stat.
    std::thread::sleep(std::time::Duration::from_millis(150));
    let mut snap = Snapshot::take(&src, &staging_dir(&src, 1)).unwrap();
    assert_eq!(snap.copied, 200_000 + 1 + 14 + 4 + 9);
    snap.refresh().unwrap();
    assert_eq!(snap.copied, 0, "nothing changed, nothing copied");
    std::fs::write(src.join("db/deeper/x"), "xy").unwrap();
    snap.refresh().unwrap();
    assert_eq!(snap.copied, 2, "only the changed file");
    // Just written: its ctime cannot prove a later same-tick write, so the
    // next refresh copies it again rather than trust it.
    snap.refresh().unwrap();
    assert_eq!(snap.copied, 2);
}

#[test]
fn a_link_as_the_data_dir_is_refused_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let src = tenant_tree(dir.path());
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&src, &link).unwrap();
    let err = match Snapshot::take(&link, &staging_dir(&link, 1)) {
        Err(SnapshotError::Source(e)) => e,
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a link was followed"),
    };
    assert!(
        err.to_string().contains(&link.display().to_string()),
        "{err}"
    );
}

/// Wider than a walk task's slice of names and deeper than one level, so
/// the workers share directories and slices; files change in several.
#[test]
fn a_wide_deep_tree_is_copied_whole_by_the_parallel_walk() {
    let dir = tempfile::tempdir().unwrap();
    let src = tenant_tree(dir.path());
    for d in 0..3 {
        let sub = src.join(format!("cache/{d}/inner"));
        std::fs::create_dir_all(&sub).unwrap();
        for f in 0..(walk::SLICE + 50) {
            std::fs::write(sub.join(format!("{f}.dat")), format!("{d}/{f}")).unwrap();
        }
    }
    let mut snap = Snapshot::take(&src, &staging_dir(&src, 1)).unwrap();
    let (live, copy) = archives(dir.path(), &src, &snap);
    assert_eq!(live, copy);
    std::fs::write(src.join("cache/0/inner/7.dat"), "changed").unwrap();
    std::fs::remove_file(src.join("cache/2/inner/300.dat")).unwrap();
    std::fs::remove_dir_all(src.join("cache/1")).unwrap();
    snap.refresh().unwrap();
    let (live, copy) = archives(dir.path(), &src, &snap);
    assert_eq!(live, copy);
}
