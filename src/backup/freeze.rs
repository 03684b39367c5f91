//! `pause` consistency in milliseconds: copy the data directory while the
//! tenant runs, pause, bring the copy up to date, thaw, and archive the
//! copy ([`super::snapshot`] says why this and not SQLite's backup API).
//! The tenant is frozen for one stat walk plus the bytes it changed during
//! the first copy, not for the archive. When the copy would not fit on the
//! disk beside the data, or cannot be written there, the tenant is paused
//! for the whole archive as before, and the backup's note says so.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::archive::{self, ArchiveStats};
use super::mirror::{self, Mirror};
use super::run::{describe_io, gone_or, Failed, Frozen};
use super::snapshot::{staging_dir, Snapshot, SnapshotError};
use super::{blocking, Progress, Runner};
use crate::docker::DockerError;

/// Room kept free beyond the copy itself, so a backup never fills the disk
/// the tenants write to.
const HEADROOM: u64 = 256 << 20;

/// What one backup archives, and where.
pub(super) struct ArchiveJob {
    pub id: i64,
    pub data: PathBuf,
    /// Source bytes measured before the backup.
    pub total: u64,
    pub partial: PathBuf,
    pub level: i32,
    pub threads: u32,
    pub progress: Progress,
    /// The instance's offsite mirror, when offsite targets are configured.
    pub mirror: Option<Mirror>,
}

impl ArchiveJob {
    /// Archives the live tree, for a tenant held still or not running.
    pub fn live_tree(&self) -> impl FnOnce() -> Result<ArchiveStats, String> + Send + 'static {
        let (data, partial, progress) = (
            self.data.clone(),
            self.partial.clone(),
            self.progress.clone(),
        );
        let (id, total, level, threads) = (self.id, self.total, self.level, self.threads);
        let mirror = self.mirror.clone();
        move || {
            mirror::alongside(mirror.as_ref(), id, total, |m| {
                archive::create(&data, &partial, level, threads, &progress, m)
            })
            .map_err(|e| describe_io(&e))
        }
    }
}

impl Runner {
    /// `pause` consistency: copy while running, freeze, catch up, thaw,
    /// archive the copy.
    pub(super) async fn paused_archive(
        &self,
        container: &str,
        job: &ArchiveJob,
    ) -> Result<(ArchiveStats, Frozen), Failed> {
        let staging = staging_dir(&job.data, job.id);
        let (data, total, stage) = (job.data.clone(), job.total, staging.clone());
        let taken = blocking(move || Ok(take_if_room(&data, total, &stage))).await;
        let snap = match taken {
            Ok(Ok(snap)) => snap,
            Ok(Err(Fallback::Source(e))) => {
                remove_staging(staging).await;
                return Err((describe_io(&e), None));
            }
            Ok(Err(Fallback::Paused(why))) => {
                remove_staging(staging).await;
                tracing::info!(backup = job.id, %why, "backup pauses the tenant for the whole archive");
                let note = format!("{why}: paused for the whole archive");
                return self.paused_whole(container, job, note).await;
            }
            Err(e) => {
                remove_staging(staging).await;
                return Err((e, None));
            }
        };
        let result = self.freeze_and_archive(container, job, snap).await;
        remove_staging(staging).await;
        result
    }

    async fn freeze_and_archive(
        &self,
        container: &str,
        job: &ArchiveJob,
        mut snap: Snapshot,
    ) -> Result<(ArchiveStats, Frozen), Failed> {
        let (refreshed, freeze_ms, thawed) = self
            .while_paused(container, move || {
                let r = snap.refresh();
                Ok((snap, r))
            })
            .await?;
        let snap = match refreshed {
            Ok((snap, Ok(()))) => snap,
            Ok((_, Err(e))) => return Err((snapshot_error(&e), Some(freeze_ms))),
            Err(e) => return Err((e, Some(freeze_ms))),
        };
        let note = match thawed {
            Ok(()) => String::new(),
            Err(e) => format!("unpausing failed afterwards: {e}"),
        };
        let (partial, progress) = (job.partial.clone(), job.progress.clone());
        let (id, total, level, threads) = (job.id, job.total, job.level, job.threads);
        let mirror = job.mirror.clone();
        let stats = blocking(move || {
            mirror::alongside(mirror.as_ref(), id, total, |m| {
                archive::create_from_snapshot(&snap, &partial, level, threads, &progress, m)
            })
            .map_err(|e| describe_io(&e))
        })
        .await
        .map_err(|e| (e, Some(freeze_ms)))?;
        Ok((stats, Frozen { freeze_ms, note }))
    }

    /// Runs `work` off the runtime with the tenant paused; returns its
    /// result, how long the tenant was frozen and how the unpause went.
    async fn while_paused<T: Send + 'static>(
        &self,
        container: &str,
        work: impl FnOnce() -> Result<T, String> + Send + 'static,
    ) -> Result<(Result<T, String>, u64, Result<(), DockerError>), Failed> {
        self.tenant
            .pause(container)
            .await
            .map_err(|e| (gone_or(e, "pausing"), None))?;
        let frozen_at = Instant::now();
        crate::testhook::pause_at("backup-frozen").await;
        let result = blocking(work).await;
        let caught_up = frozen_at.elapsed();
        let thawed = self.tenant.unpause(container).await;
        let frozen = frozen_at.elapsed();
        // Which part of a long freeze to shorten: the copy's catch-up or the
        // engine's unpause (slow on a loaded host).
        tracing::debug!(
            container,
            catch_up_ms = caught_up.as_millis() as u64,
            unpause_ms = (frozen - caught_up).as_millis() as u64,
            "tenant thawed"
        );
        Ok((result, frozen.as_millis() as u64, thawed))
    }

    /// The old way: the tenant stays paused while the live tree is archived.
    async fn paused_whole(
        &self,
        container: &str,
        job: &ArchiveJob,
        note: String,
    ) -> Result<(ArchiveStats, Frozen), Failed> {
        let (result, freeze_ms, thawed) = self.while_paused(container, job.live_tree()).await?;
        let stats = result.map_err(|e| (e, Some(freeze_ms)))?;
        let note = match thawed {
            Ok(()) => note,
            Err(e) => format!("{note}; unpausing failed afterwards: {e}"),
        };
        Ok((stats, Frozen { freeze_ms, note }))
    }
}

/// Why no staging copy is used: the tree itself could not be read (the
/// backup fails, as an archive of it would), or the copy cannot be made
/// beside it (the backup pauses for the whole archive instead).
enum Fallback {
    Source(std::io::Error),
    Paused(String),
}

/// Takes the first copy if the file system holding the data has room for
/// it (a clone may need none, but that cannot be known beforehand).
fn take_if_room(data: &Path, total: u64, staging: &Path) -> Result<Snapshot, Fallback> {
    let beside = staging.parent().unwrap_or(data);
    match rustix::fs::statvfs(beside) {
        Ok(fs) => {
            let free = fs.f_bavail.saturating_mul(fs.f_frsize);
            let need = total.saturating_add(total / 20).saturating_add(HEADROOM);
            if free < need {
                return Err(Fallback::Paused(format!(
                    "no room for a staging copy in {} ({} MB free, {} MB needed)",
                    beside.display(),
                    free >> 20,
                    need >> 20
                )));
            }
        }
        Err(e) => {
            let e = std::io::Error::from(e);
            return Err(Fallback::Paused(format!(
                "no staging copy: {}: {e}",
                beside.display()
            )));
        }
    }
    let fallback = |e| match e {
        SnapshotError::Source(e) => Fallback::Source(e),
        SnapshotError::Staging(e) => Fallback::Paused(format!("no staging copy: {e}")),
    };
    let mut snap = Snapshot::take(data, staging).map_err(fallback)?;
    // The first copy takes as long as the data is big, and the app wrote on
    // meanwhile: catch up once more while it runs, so the paused refresh
    // meets only what changed in the last moment (one walk, few bytes).
    snap.refresh().map_err(fallback)?;
    Ok(snap)
}

fn snapshot_error(e: &SnapshotError) -> String {
    match e {
        SnapshotError::Source(e) | SnapshotError::Staging(e) => describe_io(e),
    }
}

/// The staging copy never outlives its backup; a crash leaves it to the
/// start-up sweep.
async fn remove_staging(staging: PathBuf) {
    let shown = staging.display().to_string();
    if let Err(e) =
        blocking(move || crate::fsutil::remove_tree(&staging).map_err(|e| e.to_string())).await
    {
        tracing::warn!(dir = %shown, error = %e, "cannot remove a backup's staging copy");
    }
}
