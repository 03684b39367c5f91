//! Removing and listing tenant trees without following a link, and IO
//! errors that name their path.

use std::path::Path;

/// Labels an IO error with the path it concerns, keeping its kind (a bare
/// "Permission denied (os error 13)" does not say which tenant file).
pub fn path_error(path: &Path, e: impl Into<std::io::Error>) -> std::io::Error {
    let e = e.into();
    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Removes `path` and everything under it without ever following a symlink:
/// a link (even at the top) is removed itself, never its target. Tenant
/// directories are hostile, so every step is relative to an open directory
/// fd (O_NOFOLLOW), and the error names the path that could not go. A path
/// that does not exist is already removed.
pub fn remove_tree(path: &Path) -> std::io::Result<()> {
    use rustix::fs::{unlinkat, AtFlags, CWD};
    use rustix::io::Errno;
    let Some(dir) = unlink_or_open(CWD, &path, path)? else {
        return Ok(());
    };
    empty_dir(&dir, path)?;
    match unlinkat(CWD, path, AtFlags::REMOVEDIR) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(path_error(path, e)),
    }
}

/// Unlinks `name` in `base` when it is not a directory (a link is unlinked
/// itself); a directory is opened instead and returned, to be emptied first.
fn unlink_or_open<Fd: std::os::fd::AsFd + Copy>(
    base: Fd,
    name: &(impl rustix::path::Arg + Copy),
    path: &Path,
) -> std::io::Result<Option<std::os::fd::OwnedFd>> {
    use rustix::fs::{unlinkat, AtFlags};
    use rustix::io::Errno;
    match unlinkat(base, *name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => Ok(None),
        // unlink(2) of a directory fails EISDIR on Linux (EPERM in POSIX,
        // which is also the answer for a sticky directory): look closer.
        Err(first @ (Errno::ISDIR | Errno::PERM)) => match open_dir_nofollow(base, *name) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::NOENT) => Ok(None),
            Err(Errno::NOTDIR | Errno::LOOP) => Err(path_error(path, first)),
            Err(e) => Err(path_error(path, e)),
        },
        Err(e) => Err(path_error(path, e)),
    }
}

/// Opens a directory for reading; a symlink in the last component is refused.
pub fn open_dir_nofollow<Fd: std::os::fd::AsFd>(
    base: Fd,
    name: impl rustix::path::Arg,
) -> rustix::io::Result<std::os::fd::OwnedFd> {
    use rustix::fs::{openat, Mode, OFlags};
    openat(
        base,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// The names in a directory, without "." and "..", sorted.
pub fn dir_names<Fd: std::os::fd::AsFd>(dir: Fd) -> rustix::io::Result<Vec<std::ffi::CString>> {
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(dir)? {
        let name = entry?.file_name().to_owned();
        if name.as_bytes() != b"." && name.as_bytes() != b".." {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

fn empty_dir(dir: &std::os::fd::OwnedFd, path: &Path) -> std::io::Result<()> {
    use rustix::fs::{unlinkat, AtFlags};
    use rustix::io::Errno;
    use std::os::fd::AsFd;
    use std::os::unix::ffi::OsStrExt;
    for name in dir_names(dir).map_err(|e| path_error(path, e))? {
        let child = path.join(std::ffi::OsStr::from_bytes(name.as_bytes()));
        let Some(sub) = unlink_or_open(dir.as_fd(), &name.as_c_str(), &child)? else {
            continue;
        };
        empty_dir(&sub, &child)?;
        drop(sub);
        match unlinkat(dir, &name, AtFlags::REMOVEDIR) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(e) => return Err(path_error(&child, e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_tree_removes_links_not_their_targets() {
        let dir = tempfile::tempdir().unwrap();
        let (tree, outside) = (dir.path().join("tree"), dir.path().join("outside"));
        std::fs::create_dir_all(tree.join("a/b")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("keep"), "host").unwrap();
        std::fs::write(tree.join("a/b/f"), "x").unwrap();
        std::os::unix::fs::symlink(&outside, tree.join("a/dirlink")).unwrap();
        std::os::unix::fs::symlink(outside.join("keep"), tree.join("filelink")).unwrap();
        remove_tree(&tree).unwrap();
        assert!(std::fs::symlink_metadata(&tree).is_err());
        assert_eq!(
            std::fs::read_to_string(outside.join("keep")).unwrap(),
            "host"
        );

        // A link at the top is removed itself.
        let top = dir.path().join("top");
        std::os::unix::fs::symlink(&outside, &top).unwrap();
        remove_tree(&top).unwrap();
        assert!(std::fs::symlink_metadata(&top).is_err());
        assert!(outside.join("keep").exists());
        // Gone already: nothing to do.
        remove_tree(&top).unwrap();
    }
}
