//! Finishing an in-place restore that a crash (kill -9, power loss) cut off,
//! from what is on disk: the restore's staging directory and a marker beside
//! it. The instance ends either fully restored or fully rolled back, and no
//! staging directory is left behind.
//!
//! The marker makes the directory swap decidable after the fact: before the
//! swap, `<staging>.swap` records the inode of the extracted directory, so
//! after a crash "the data path has that inode" means the swap happened.
//! Once the restored instance is healthy the marker is renamed to
//! `<staging>.done`: from then on the restore stands.

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{blocking, Runner};
use crate::store::{backup_jobs, instances, StoreError};

/// Where restore `id` of instance `name` extracts, beside the live data.
pub(super) fn staging_dir(data: &Path, name: &str, id: i64) -> PathBuf {
    data.with_file_name(format!(".{name}.restore-{id}"))
}

fn marker(staging: &Path, kind: &str) -> PathBuf {
    let mut name = OsString::from(staging.as_os_str());
    name.push(format!(".{kind}"));
    PathBuf::from(name)
}

/// Records, before the swap, which directory holds the restored data.
pub(super) fn mark_swapping(staging: &Path) -> std::io::Result<()> {
    let ino = std::fs::symlink_metadata(staging)?.ino();
    let path = marker(staging, "swap");
    std::fs::write(&path, ino.to_string())?;
    std::fs::File::open(&path)?.sync_all()
}

/// The restore stands: a crash from here on keeps the restored data.
pub(super) fn mark_committed(staging: &Path) -> std::io::Result<()> {
    std::fs::rename(marker(staging, "swap"), marker(staging, "done"))
}

/// Removes the staging directory, then its markers (in that order, so a
/// crash in between still finds the marker that explains the directory).
pub(super) fn remove_staging(staging: &Path) -> std::io::Result<()> {
    // Never follows a link the tenant left in the copy; names what failed.
    crate::fsutil::remove_tree(staging)?;
    for kind in ["swap", "done"] {
        let _ = std::fs::remove_file(marker(staging, kind));
    }
    Ok(())
}

/// Whether the data path holds the restored (extracted) directory while
/// the restore is not committed: then the previous data is in `staging`.
fn swapped_uncommitted(data: &Path, staging: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(marker(staging, "swap")) else {
        return false;
    };
    let restored_ino = text.trim().parse::<u64>().ok();
    let data_ino = std::fs::symlink_metadata(data).ok().map(|m| m.ino());
    staging.is_dir() && restored_ino.is_some() && restored_ino == data_ino
}

/// Puts the disk back in a consistent state for an interrupted restore;
/// returns whether the restore stands and what happened.
fn settle(data: &Path, staging: &Path) -> (bool, String) {
    let outcome = if marker(staging, "done").exists() {
        (
            true,
            "restored; berth restarted while removing the previous data".to_owned(),
        )
    } else if swapped_uncommitted(data, staging) {
        if let Err(e) = crate::fsutil::exchange(staging, data) {
            // Keep both directories: the previous data is still in `staging`.
            return (
                false,
                format!(
                    "interrupted after the swap; rolling back failed: {e}; the previous data is in {}",
                    staging.display()
                ),
            );
        }
        (
            false,
            "interrupted: berth ended during the restore; rolled back to the previous data"
                .to_owned(),
        )
    } else {
        (
            false,
            "interrupted: berth ended before the swap; the live data is untouched".to_owned(),
        )
    };
    if let Err(e) = remove_staging(staging) {
        tracing::warn!(error = %e, "cannot remove an interrupted restore's staging directory");
    }
    outcome
}

impl Runner {
    /// Settles restore `id`, whose process died, and records the outcome.
    pub(super) async fn recover_restore(&self, id: i64) -> Result<(), StoreError> {
        let job = self
            .store
            .call(move |c| backup_jobs::get_restore(c, id))
            .await?;
        let iid = job.instance_id;
        let inst = match self.store.call(move |c| instances::get(c, iid)).await {
            Ok(inst) => inst,
            Err(StoreError::NotFound(_)) => {
                let why = "interrupted: berth ended during the restore; the instance is gone";
                return self
                    .store
                    .call(move |c| backup_jobs::finish_restore(c, id, false, why))
                    .await;
            }
            Err(e) => return Err(e),
        };
        let data = self.config.instance_data_dir(&inst.client_slug, &inst.name);
        let staging = staging_dir(&data, &inst.name, id);
        // The dead process's hold no longer counts: take it, so the
        // reconciler does not start the container on a directory about to move.
        if let Err(e) = self.tenant.take(iid, "restore").await {
            // Another live process works on the instance: settle it next sweep.
            tracing::info!(restore = id, error = %e, "interrupted restore waits for the instance");
            return Ok(());
        }
        let (d, s) = (data.clone(), staging.clone());
        let rollback = blocking(move || Ok(swapped_uncommitted(&d, &s)))
            .await
            .unwrap_or(false);
        if rollback {
            // A container mounts the directory, not the path: stop any that
            // was started on the restored data before moving it away.
            if let Ok(Some(c)) = self.container_of(iid).await {
                let _ = self.tenant.stop(&c, 30).await;
            }
        }
        let (ok, message) = blocking(move || Ok(settle(&data, &staging)))
            .await
            .unwrap_or_else(|e| (false, e));
        tracing::warn!(restore = id, ok, %message, "settled an interrupted restore");
        let msg = message.clone();
        let result = self
            .store
            .call(move |c| backup_jobs::finish_restore(c, id, ok, &msg))
            .await;
        self.tenant.give_back(iid).await;
        self.wake();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("main");
        let staging = staging_dir(&data, "main", 7);
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("f"), "previous").unwrap();
        std::fs::create_dir_all(&staging).unwrap();
        std::fs::write(staging.join("f"), "restored").unwrap();
        (dir, data, staging)
    }

    fn read(p: &Path) -> String {
        std::fs::read_to_string(p.join("f")).unwrap()
    }

    #[test]
    fn killed_while_extracting_keeps_the_live_data() {
        let (_dir, data, staging) = setup();
        let (ok, _) = settle(&data, &staging);
        assert!(!ok);
        assert_eq!(read(&data), "previous");
        assert!(!staging.exists());
    }

    #[test]
    fn killed_after_marking_before_the_swap_keeps_the_live_data() {
        let (_dir, data, staging) = setup();
        mark_swapping(&staging).unwrap();
        let (ok, msg) = settle(&data, &staging);
        assert!(!ok);
        assert!(msg.contains("untouched"), "{msg}");
        assert_eq!(read(&data), "previous");
        assert!(!staging.exists() && !marker(&staging, "swap").exists());
    }

    #[test]
    fn killed_after_the_swap_rolls_back() {
        let (_dir, data, staging) = setup();
        mark_swapping(&staging).unwrap();
        crate::fsutil::exchange(&staging, &data).unwrap();
        assert_eq!(read(&data), "restored");
        let (ok, msg) = settle(&data, &staging);
        assert!(!ok);
        assert!(msg.contains("rolled back"), "{msg}");
        assert_eq!(read(&data), "previous");
        assert!(!staging.exists() && !marker(&staging, "swap").exists());
    }

    #[test]
    fn killed_after_the_commit_keeps_the_restore() {
        let (_dir, data, staging) = setup();
        mark_swapping(&staging).unwrap();
        crate::fsutil::exchange(&staging, &data).unwrap();
        mark_committed(&staging).unwrap();
        let (ok, _) = settle(&data, &staging);
        assert!(ok);
        assert_eq!(read(&data), "restored");
        assert!(!staging.exists() && !marker(&staging, "done").exists());
    }

    #[test]
    fn killed_after_a_rollback_keeps_the_previous_data() {
        let (_dir, data, staging) = setup();
        mark_swapping(&staging).unwrap();
        crate::fsutil::exchange(&staging, &data).unwrap();
        crate::fsutil::exchange(&staging, &data).unwrap();
        let (ok, _) = settle(&data, &staging);
        assert!(!ok);
        assert_eq!(read(&data), "previous");
        assert!(!staging.exists());
    }
}
