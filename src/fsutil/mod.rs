//! Files inside tenant data directories, which are hostile: a tenant owns
//! everything below its data dir, including symlinks, and can swap entries
//! while berth looks at them. So everything here works relative to directory
//! fds opened with `O_NOFOLLOW`, creates with `O_CREAT|O_EXCL|O_NOFOLLOW`, and
//! never follows a link, whatever it points to. The path *up to* a data dir
//! (`<data_dir>/instances/<client>`) is berth's own and resolved normally.

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, CWD};
use rustix::io::Errno;

mod remove;
mod swap;
pub use remove::{dir_names, open_dir_nofollow, path_error, remove_tree};
pub use swap::exchange;

/// Deeper trees are not walked further (and say so): every level holds
/// two open fds, and the process has ~1024.
const MAX_DEPTH: usize = 128;

/// Who owns a new data dir and its seed files, e.g. `0:0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

/// Opens the data dir `dir` itself, refusing a link (or anything that is
/// not a directory) in its place.
pub fn open_tenant_dir(dir: &Path) -> Result<OwnedFd, String> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    rfs::openat(CWD, dir, flags, Mode::empty()).map_err(|e| match e {
        Errno::LOOP | Errno::NOTDIR => not_a_dir(dir),
        e => format!("opening {}: {}", dir.display(), std::io::Error::from(e)),
    })
}

fn not_a_dir(dir: &Path) -> String {
    let what = match std::fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => "a symbolic link",
        _ => "not a directory",
    };
    format!(
        "data dir {} is {what}; berth never follows links in tenant directories: move it away",
        dir.display()
    )
}

/// Creates the data dir `dir` when missing (parents too) and hands it to
/// `owner`; an existing one is left as it is. A link in its place is refused,
/// so Docker never bind-mounts a host path a tenant pointed it at.
pub fn ensure_data_dir(dir: &Path, owner: Owner) -> Result<OwnedFd, String> {
    let io = |what: &str, path: &Path, e: std::io::Error| format!("{what} {}: {e}", path.display());
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io("creating", parent, e))?;
    }
    let created = match rfs::mkdirat(CWD, dir, Mode::from_raw_mode(0o755)) {
        Ok(()) => true,
        Err(Errno::EXIST) => false,
        Err(e) => return Err(io("creating", dir, e.into())),
    };
    let fd = open_tenant_dir(dir)?;
    if created {
        chown(&fd, owner, dir).map_err(|e| io("changing the owner of", dir, e))?;
    }
    Ok(fd)
}

/// Writes `body` as `name` inside the directory `dir_fd` unless anything
/// (a file, a directory, a link, even a dangling one) already has that name.
/// Returns whether it wrote. `shown` is the dir's path, for errors.
pub fn create_new_file(
    dir_fd: &OwnedFd,
    shown: &Path,
    name: &str,
    body: &[u8],
    owner: Owner,
) -> Result<bool, String> {
    let path = shown.join(name);
    let err = |e: std::io::Error| format!("writing {}: {e}", path.display());
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = match rfs::openat(dir_fd, name, flags, Mode::from_raw_mode(0o644)) {
        Ok(fd) => fd,
        Err(Errno::EXIST) => return Ok(false),
        Err(e) => return Err(err(e.into())),
    };
    chown(&fd, owner, &path).map_err(err)?;
    let mut file = std::fs::File::from(fd);
    file.write_all(body).map_err(err)?;
    Ok(true)
}

/// Without CAP_CHOWN (berth started by hand as a plain user) the file stays
/// berth's: the app then needs write access some other way, which is said
/// loudly rather than failing every instance.
fn chown(fd: &OwnedFd, owner: Owner, path: &Path) -> std::io::Result<()> {
    let st = rfs::fstat(fd)?;
    if (st.st_uid, st.st_gid) == (owner.uid, owner.gid) {
        return Ok(());
    }
    match rfs::fchown(
        fd,
        Some(rustix::fs::Uid::from_raw(owner.uid)),
        Some(rustix::fs::Gid::from_raw(owner.gid)),
    ) {
        Err(Errno::PERM) => {
            tracing::warn!(
                path = %path.display(),
                uid = owner.uid,
                gid = owner.gid,
                "cannot hand a new tenant file to its container user (berth lacks CAP_CHOWN); the app may not be able to write its data"
            );
            Ok(())
        }
        r => Ok(r?),
    }
}

/// Bytes and regular files under `dir`. Links are counted as their own size
/// and never followed; other filesystems mounted inside are not entered; a
/// missing or unreadable dir (or a link in its place) counts as empty.
pub fn dir_usage(dir: &Path) -> (u64, u64) {
    let mut totals = (0, 0);
    if let Ok(fd) = open_tenant_dir(dir) {
        if let Ok(st) = rfs::fstat(&fd) {
            if walk(&fd, st.st_dev, 0, &mut totals) {
                tracing::warn!(dir = %dir.display(), max_depth = MAX_DEPTH,
                    "directories nested deeper than this were not counted");
            }
        }
    }
    totals
}

/// Returns whether it stopped somewhere at [`MAX_DEPTH`].
fn walk(dir: &OwnedFd, dev: u64, depth: usize, totals: &mut (u64, u64)) -> bool {
    let mut truncated = false;
    let Ok(entries) = rfs::Dir::read_from(dir) else {
        return truncated;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        let Ok(st) = rfs::statat(dir.as_fd(), name, AtFlags::SYMLINK_NOFOLLOW) else {
            continue;
        };
        match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => {
                totals.0 += st.st_size as u64;
                totals.1 += 1;
            }
            FileType::Symlink => totals.0 += st.st_size as u64,
            FileType::Directory if st.st_dev == dev && depth >= MAX_DEPTH => truncated = true,
            FileType::Directory if st.st_dev == dev => {
                // NOFOLLOW again: the entry may have become a link since statat.
                let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                if let Ok(sub) = rfs::openat(dir.as_fd(), name, flags, Mode::empty()) {
                    if rfs::fstat(&sub).is_ok_and(|s| s.st_dev == dev) {
                        truncated |= walk(&sub, dev, depth + 1, totals);
                    }
                }
            }
            _ => {}
        }
    }
    truncated
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    const ROOT: Owner = Owner { uid: 0, gid: 0 };

    /// Whoever runs the test: the owner of a dir it just made.
    fn me() -> Owner {
        use std::os::unix::fs::MetadataExt;
        let t = tempfile::tempdir().unwrap();
        let m = std::fs::metadata(t.path()).unwrap();
        Owner {
            uid: m.uid(),
            gid: m.gid(),
        }
    }

    #[test]
    fn seeds_never_follow_or_replace_anything() {
        let tmp = tempfile::tempdir().unwrap();
        let host = tmp.path().join("host");
        std::fs::create_dir(&host).unwrap();
        let data = tmp.path().join("data");
        let fd = ensure_data_dir(&data, me()).unwrap();
        // A tenant's links: to a host file that does not exist yet, and to one that does.
        symlink(host.join("planted"), data.join("index.html")).unwrap();
        std::fs::write(host.join("victim"), "host").unwrap();
        symlink(host.join("victim"), data.join("about.html")).unwrap();
        std::fs::create_dir(data.join("dir.html")).unwrap();
        std::fs::write(data.join("kept.html"), "tenant").unwrap();
        for name in ["index.html", "about.html", "dir.html", "kept.html"] {
            assert!(!create_new_file(&fd, &data, name, b"seed", me()).unwrap());
        }
        assert!(
            !host.join("planted").exists(),
            "a dangling link was followed"
        );
        assert_eq!(
            std::fs::read_to_string(host.join("victim")).unwrap(),
            "host"
        );
        assert_eq!(
            std::fs::read_to_string(data.join("kept.html")).unwrap(),
            "tenant"
        );
        assert!(create_new_file(&fd, &data, "new.html", b"seed", me()).unwrap());
        assert_eq!(
            std::fs::read_to_string(data.join("new.html")).unwrap(),
            "seed"
        );
    }

    #[test]
    fn a_link_as_the_data_dir_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let host = tmp.path().join("host");
        std::fs::create_dir(&host).unwrap();
        let data = tmp.path().join("data");
        symlink(&host, &data).unwrap();
        let err = ensure_data_dir(&data, me()).unwrap_err();
        assert!(err.contains("is a symbolic link"), "{err}");
        assert!(err.contains(&data.display().to_string()), "{err}");
        assert_eq!(dir_usage(&data), (0, 0));
    }

    #[test]
    fn new_data_dirs_and_seeds_get_their_owner() {
        if me().uid != 0 {
            // Changing owners needs CAP_CHOWN; as a plain user only our own ids work.
            let tmp = tempfile::tempdir().unwrap();
            let fd = ensure_data_dir(&tmp.path().join("d"), me()).unwrap();
            assert!(create_new_file(&fd, tmp.path(), "f", b"x", me()).unwrap());
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let owner = Owner {
            uid: 1234,
            gid: 2345,
        };
        let data = tmp.path().join("a/b/data");
        let fd = ensure_data_dir(&data, owner).unwrap();
        assert!(create_new_file(&fd, &data, "index.html", b"x", owner).unwrap());
        for path in [data.clone(), data.join("index.html")] {
            let st = rfs::stat(&path).unwrap();
            assert_eq!((st.st_uid, st.st_gid), (1234, 2345), "{}", path.display());
        }
        // An existing dir keeps its owner.
        std::fs::remove_file(data.join("index.html")).unwrap();
        ensure_data_dir(&data, ROOT).unwrap();
        assert_eq!(rfs::stat(&data).unwrap().st_uid, 1234);
    }

    #[test]
    fn usage_counts_links_as_links_and_never_follows_them() {
        let tmp = tempfile::tempdir().unwrap();
        let big = tmp.path().join("big");
        std::fs::create_dir(&big).unwrap();
        std::fs::write(big.join("blob"), vec![0u8; 1 << 20]).unwrap();
        let data = tmp.path().join("data");
        std::fs::create_dir_all(data.join("sub")).unwrap();
        std::fs::write(data.join("a"), b"12345").unwrap();
        std::fs::write(data.join("sub/b"), b"123").unwrap();
        let target = big.to_str().unwrap();
        symlink(target, data.join("sub/link")).unwrap();
        assert_eq!(dir_usage(&data), (5 + 3 + target.len() as u64, 2));
        assert_eq!(dir_usage(&tmp.path().join("missing")), (0, 0));
    }

    #[test]
    fn the_walk_stops_at_its_depth_bound() {
        let tmp = tempfile::tempdir().unwrap();
        let mut deep = tmp.path().to_path_buf();
        for level in 0..=MAX_DEPTH {
            deep.push("d");
            if level == 3 {
                std::fs::create_dir_all(&deep).unwrap();
                std::fs::write(deep.join("shallow"), b"12").unwrap();
            }
        }
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("too-deep"), b"1234").unwrap();
        assert_eq!(dir_usage(tmp.path()), (2, 1));
    }
}
