//! The one atomic step of a restore: two directories trade places.

use std::path::Path;

/// Swaps two directories in one step (renameat2 RENAME_EXCHANGE), so the
/// data path always names a complete directory, never a half-restored one.
pub fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(std::io::Error::from)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    fn ino(p: &std::path::Path) -> u64 {
        std::fs::metadata(p).unwrap().ino()
    }

    #[test]
    fn exchange_swaps_directories() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("x"), "from a").unwrap();
        std::fs::write(b.join("y"), "from b").unwrap();
        let (ino_a, ino_b) = (ino(&a), ino(&b));

        super::exchange(&a, &b).unwrap();
        // Each name now holds the other's directory: the very same inodes,
        // not copies, and nothing left over from before.
        assert_eq!((ino(&a), ino(&b)), (ino_b, ino_a));
        assert_eq!(std::fs::read_to_string(b.join("x")).unwrap(), "from a");
        assert_eq!(std::fs::read_to_string(a.join("y")).unwrap(), "from b");
        assert!(!a.join("x").exists() && !b.join("y").exists());

        // Both names exist at every instant: a watcher looking at them while
        // the swap runs back and forth never finds either missing (a rename
        // through a temporary name would leave one missing for a moment).
        let (stop, watching) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let watcher = {
            let (a, b, stop, watching) = (a.clone(), b.clone(), stop.clone(), watching.clone());
            std::thread::spawn(move || {
                let (mut looks, mut missing) = (0u64, 0u64);
                while !stop.load(Ordering::Relaxed) {
                    watching.store(true, Ordering::Relaxed);
                    for p in [&a, &b] {
                        looks += 1;
                        if std::fs::symlink_metadata(p).is_err() {
                            missing += 1;
                        }
                    }
                }
                (looks, missing)
            })
        };
        while !watching.load(Ordering::Relaxed) {
            std::thread::yield_now();
        }
        for _ in 0..2_000 {
            super::exchange(&a, &b).unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        let (looks, missing) = watcher.join().unwrap();
        assert!(looks > 0);
        assert_eq!(
            missing, 0,
            "a name was missing {missing} times in {looks} looks"
        );
        // An even number of swaps puts everything back where the first left it.
        assert_eq!((ino(&a), ino(&b)), (ino_b, ino_a));
    }

    #[test]
    fn exchange_refuses_a_missing_side_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        let before = ino(&a);
        let err = super::exchange(&a, &b).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
        assert_eq!(ino(&a), before);
        assert!(!b.exists());
    }
}
