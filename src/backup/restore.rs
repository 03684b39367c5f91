//! Restores. In place: extract beside the live data, stop the container,
//! swap the two directories atomically, start, and keep the old data until
//! the instance is healthy; roll back if it is not. Clone: the same into a
//! new instance created stopped by the operation.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{archive, blocking, Runner};
use crate::docker::{ContainerState, Health};
use crate::domain::{ClientStatus, DesiredState, RestoreMode};
use crate::fsutil;
use crate::store::backups as rows;
use crate::store::{backup_jobs, instances, InstanceRow, RestoreRow, StoreError};

impl Runner {
    /// Runs queued restore `id` if this process can claim it.
    pub async fn run_restore(&self, id: i64) -> Result<bool, StoreError> {
        let pid = self.tenant.pid();
        if !self
            .store
            .call(move |c| backup_jobs::claim_restore(c, id, pid))
            .await?
        {
            return Ok(false);
        }
        let job = self
            .store
            .call(move |c| backup_jobs::get_restore(c, id))
            .await?;
        let result = self.restore(&job).await;
        let (ok, message) = match &result {
            Ok(m) => (true, m.clone()),
            Err(e) => (false, e.clone()),
        };
        let msg = message.clone();
        self.store
            .call(move |c| backup_jobs::finish_restore(c, id, ok, &msg))
            .await?;
        if !ok {
            tracing::warn!(restore = id, error = %message, "restore failed");
            self.notify_failure("restore.failed", id, &job.instance_id.to_string(), &message)
                .await;
        }
        Ok(true)
    }

    async fn restore(&self, job: &RestoreRow) -> Result<String, String> {
        let (bid, iid) = (job.backup_id, job.instance_id);
        let (backup, inst) = self
            .store
            .call(move |c| Ok((rows::get(c, bid)?, instances::get(c, iid)?)))
            .await
            .map_err(|e| e.to_string())?;
        let file = backup
            .path
            .as_ref()
            .map(|p| self.backup_root().join(p))
            .ok_or("backup has no archive")?;
        let data = self.config.instance_data_dir(&inst.client_slug, &inst.name);
        let staging = super::recover::staging_dir(&data, &inst.name, job.id);
        let (f, s, sha) = (
            file.clone(),
            staging.clone(),
            backup.sha256.clone().unwrap_or_default(),
        );
        let live = data.clone();
        blocking(move || {
            let actual = archive::file_sha256(&f)
                .map_err(|e| format!("reading {}: {e}; the live data is untouched", f.display()))?;
            if actual != sha {
                return Err("archive damaged (sha256 mismatch); the live data is untouched".into());
            }
            let untouched = |e: std::io::Error| format!("{e}; the live data is untouched");
            fsutil::remove_tree(&s).map_err(untouched)?;
            let extracted = archive::extract_tree(&f, &s).and_then(|had_top| {
                if had_top {
                    Ok(())
                } else {
                    inherit_top(&live, &s)
                }
            });
            extracted.map_err(|e| {
                if let Err(e) = fsutil::remove_tree(&s) {
                    tracing::warn!(error = %e, "cannot remove a failed restore's files");
                }
                format!(
                    "extracting {}: {e}; the live data is untouched",
                    f.display()
                )
            })
        })
        .await?;
        std::fs::create_dir_all(&data).map_err(|e| format!("creating {}: {e}", data.display()))?;

        self.tenant
            .take(iid, "restore")
            .await
            .map_err(|e| e.to_string())?;
        let outcome = self
            .swap_and_check(&inst, &data, &staging, job.mode == RestoreMode::Clone)
            .await;
        self.tenant.give_back(iid).await;
        if job.mode == RestoreMode::Clone && outcome.is_ok() {
            let _ = self
                .store
                .call(move |c| instances::set_desired(c, iid, DesiredState::Running))
                .await;
        }
        self.wake();
        outcome
    }

    async fn swap_and_check(
        &self,
        inst: &InstanceRow,
        data: &Path,
        staging: &Path,
        clone: bool,
    ) -> Result<String, String> {
        let container = self.container_of(inst.id).await?;
        if let Some(c) = &container {
            self.tenant
                .stop(c, 30)
                .await
                .map_err(|e| format!("stopping the container: {e}"))?;
        }
        crate::testhook::pause_at("restore-staged").await;
        // The marker lets a restart after a crash tell whether the swap happened.
        let swapped = super::recover::mark_swapping(staging)
            .map_err(|e| format!("marking {}: {e}", staging.display()))
            .and_then(|()| {
                fsutil::exchange(staging, data)
                    .map_err(|e| format!("swapping data directories: {e}"))
            });
        if let Err(e) = swapped {
            // Nothing was swapped: the extracted copy is of no use.
            remove_later(staging.to_path_buf());
            return Err(format!("{e}; the live data is untouched"));
        }
        // From here `staging` holds the previous data.
        crate::testhook::pause_at("restore-swapped").await;
        let should_run = !clone
            && inst.desired == DesiredState::Running
            && inst.client_status == ClientStatus::Active;
        let Some(c) = container.filter(|_| should_run) else {
            commit_and_remove(staging.to_path_buf()).await;
            return Ok("restored; the instance was not running".into());
        };
        let health = match self.tenant.start(&c).await {
            Ok(()) => self.wait_healthy(inst).await,
            Err(e) => Err(format!("starting the container: {e}")),
        };
        match health {
            Ok(()) => {
                commit_and_remove(staging.to_path_buf()).await;
                Ok("restored; the instance is healthy".into())
            }
            Err(why) => {
                let _ = self.tenant.stop(&c, 30).await;
                fsutil::exchange(staging, data)
                    .map_err(|e| format!("{why}; rolling back failed too: {e}"))?;
                let _ = self.tenant.start(&c).await;
                remove_later(staging.to_path_buf());
                Err(format!("{why}; rolled back to the previous data"))
            }
        }
    }

    pub(super) async fn container_of(&self, instance_id: i64) -> Result<Option<String>, String> {
        let found = self
            .tenant
            .container(instance_id)
            .await
            .map_err(|e| format!("docker: {e}"))?;
        Ok(found.map(|c| c.id))
    }

    /// Healthy: running and its health check passing (or, without one, still
    /// running after a few seconds). Unhealthy or exited fails at once.
    async fn wait_healthy(&self, inst: &InstanceRow) -> Result<(), String> {
        let start_period = self
            .blueprints
            .get(&inst.blueprint)
            .and_then(|b| b.health.as_ref())
            .map(|h| h.start_period)
            .unwrap_or(0);
        let deadline = Instant::now() + Duration::from_secs(u64::from(start_period) + 90);
        let first = Instant::now();
        loop {
            let found = self
                .tenant
                .container(inst.id)
                .await
                .map_err(|e| format!("docker: {e}"))?;
            match found {
                Some(c) if c.state == ContainerState::Running => match c.health {
                    Some(Health::Healthy) => return Ok(()),
                    Some(Health::Unhealthy) => {
                        return Err("the restored instance is unhealthy".into())
                    }
                    None if first.elapsed() > Duration::from_secs(3) => return Ok(()),
                    _ => {}
                },
                Some(c) if matches!(c.state, ContainerState::Exited | ContainerState::Dead) => {
                    return Err("the restored instance exited".into())
                }
                None => return Err("the container disappeared".into()),
                _ => {}
            }
            if Instant::now() > deadline {
                return Err("the restored instance did not become healthy in time".into());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// The restore stands: marks it committed, then drops the previous data.
async fn commit_and_remove(staging: PathBuf) {
    if let Err(e) = super::recover::mark_committed(&staging) {
        tracing::warn!(dir = %staging.display(), error = %e, "cannot mark the restore committed");
    }
    crate::testhook::pause_at("restore-committed").await;
    remove_later(staging);
}

/// Old data can be large: drop it off the request path.
fn remove_later(dir: PathBuf) {
    tokio::task::spawn_blocking(move || {
        if let Err(e) = super::recover::remove_staging(&dir) {
            tracing::warn!(error = %e, "cannot remove replaced data");
        }
    });
}

/// An archive from before berth archived the top directory: give the
/// restored one the owner and mode of the directory it replaces (berth
/// made it for the container's user), without set-id bits.
fn inherit_top(live: &Path, restored: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let Ok(meta) = std::fs::symlink_metadata(live) else {
        return Ok(());
    };
    if !meta.is_dir() {
        return Ok(());
    }
    let mode = std::fs::Permissions::from_mode(meta.mode() & 0o1777);
    std::fs::set_permissions(restored, mode).map_err(|e| fsutil::path_error(restored, e))?;
    std::os::unix::fs::lchown(restored, Some(meta.uid()), Some(meta.gid()))
        .map_err(|e| fsutil::path_error(restored, e))
}
