//! One backup job: claim, freeze the container as its blueprint says,
//! archive, thaw, publish with manifest, record, prune. Any failure leaves a
//! failed row with its cause, no partial file, and older backups untouched.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::archive::{self, ArchiveStats};
use super::freeze::ArchiveJob;
use super::mirror::Mirror;
use super::{blocking, prune, Progress, Runner};
use crate::blueprint::Consistency;
use crate::docker::{ContainerState, ObservedContainer};
use crate::domain::{DesiredState, Manifest};
use crate::store::backups::{self as rows, BackupResult};
use crate::store::{instances, InstanceRow, StoreError};

/// How the container was held still, and for how long.
pub(super) struct Frozen {
    pub freeze_ms: u64,
    pub note: String,
}

/// Why a backup failed, and how long the tenant was held still before it
/// did (`None`: it never was).
pub(super) type Failed = (String, Option<u64>);

impl Runner {
    /// Runs queued backup `id` if this process can claim it; returns whether it ran.
    pub async fn run_backup(&self, id: i64) -> Result<bool, StoreError> {
        let row = self.store.call(move |c| rows::get(c, id)).await?;
        let Some(instance_id) = row.instance_id else {
            return Ok(false);
        };
        let inst = self
            .store
            .call(move |c| instances::get(c, instance_id))
            .await?;
        let consistency = self
            .blueprints
            .get(&inst.blueprint)
            .map(|b| b.backup_consistency)
            .unwrap_or_default();
        let name = archive_name(time::OffsetDateTime::now_utc());
        let rel = format!("{}/{}/{name}", inst.client_slug, inst.name);
        let (pid, rel_c, mode) = (
            self.tenant.pid(),
            rel.clone(),
            consistency_name(consistency),
        );
        if !self
            .store
            .call(move |c| rows::claim(c, id, pid, &rel_c, mode))
            .await?
        {
            return Ok(false);
        }
        let archive = self.backup_root().join(&rel);
        let started = Instant::now();
        let progress = Progress::default();
        let reporter = tokio::spawn(report_progress(self.clone(), id, progress.clone()));
        let outcome = self
            .backup(id, &inst, consistency, &archive, &progress, started)
            .await;
        reporter.abort();
        match outcome {
            Ok(result) => {
                self.store
                    .call(move |c| rows::finish_ok(c, id, &result))
                    .await?;
                if let Err(e) = prune(self, instance_id).await {
                    tracing::warn!(error = %e, instance = instance_id, "pruning backups failed");
                }
            }
            Err((why, freeze_ms)) => {
                discard(&archive).await;
                tracing::warn!(backup = id, instance = %rel, error = %why, "backup failed");
                let msg = why.clone();
                self.store
                    .call(move |c| rows::finish_failed(c, id, &msg, freeze_ms))
                    .await?;
                self.notify_failure(
                    "backup.failed",
                    id,
                    &format!("{}/{}", inst.client_slug, inst.name),
                    &why,
                )
                .await;
            }
        }
        Ok(true)
    }

    /// Measure, hold still, archive, publish: the steps of one backup.
    async fn backup(
        &self,
        id: i64,
        inst: &InstanceRow,
        consistency: Consistency,
        archive: &Path,
        progress: &Progress,
        started: Instant,
    ) -> Result<BackupResult, Failed> {
        let (data, total) = self.measure_source(inst).await?;
        let container = self
            .tenant
            .container(inst.id)
            .await
            .map_err(|e| (format!("docker: {e}"), None))?;
        let level = self.config.backup.level;
        let partial = archive::partial_path(archive);
        let job = ArchiveJob {
            id,
            data,
            total,
            partial: partial.clone(),
            level,
            threads: self.config.backup.threads,
            progress: progress.clone(),
            mirror: (!self.config.offsite.is_empty())
                .then(|| Mirror::at(self.config.instance_mirror_dir(inst.id))),
        };
        let (stats, frozen) = self
            .archive_still(inst, consistency, container, &job)
            .await?;
        let duration_ms = started.elapsed().as_millis() as u64;
        self.publish(
            inst,
            consistency,
            archive,
            &partial,
            &stats,
            duration_ms,
            &frozen,
        )
        .await
        .map_err(|e| (e, Some(frozen.freeze_ms)))?;
        Ok(BackupResult {
            source_bytes: stats.source_bytes,
            size: stats.size,
            files: stats.files,
            sha256: stats.sha256,
            level,
            duration_ms,
            freeze_ms: frozen.freeze_ms,
            message: frozen.note,
        })
    }

    /// The instance's data directory and its total size, which becomes the
    /// job's progress target.
    async fn measure_source(&self, inst: &InstanceRow) -> Result<(PathBuf, u64), Failed> {
        let data = self.config.instance_data_dir(&inst.client_slug, &inst.name);
        if !data.is_dir() {
            return Err((
                format!("data directory {} is missing", data.display()),
                None,
            ));
        }
        let (src, id) = (data.clone(), inst.id);
        let total = blocking(move || Ok(crate::fsutil::dir_usage(&src).0))
            .await
            .map_err(|e| (e, None))?;
        let _ = self
            .store
            .call(move |c| rows::progress(c, id, 0, Some(total)))
            .await;
        Ok((data, total))
    }

    /// Runs `work` with the tenant held still the way its blueprint asks; a
    /// container that is not running is archived as it is.
    async fn archive_still(
        &self,
        inst: &InstanceRow,
        consistency: Consistency,
        container: Option<ObservedContainer>,
        job: &ArchiveJob,
    ) -> Result<(ArchiveStats, Frozen), Failed> {
        let work = job.live_tree();
        let running = container
            .as_ref()
            .filter(|c| matches!(c.state, ContainerState::Running));
        match (running, consistency) {
            (None, _) => {
                if container.is_none() && inst.desired == DesiredState::Running {
                    return Err((
                        format!(
                            "container gone: instance {}/{} has no container",
                            inst.client_slug, inst.name
                        ),
                        None,
                    ));
                }
                let note = "instance not running: archived as it is".to_owned();
                let stats = blocking(work).await.map_err(|e| (e, None))?;
                Ok((stats, Frozen { freeze_ms: 0, note }))
            }
            (Some(c), Consistency::Pause) => self.paused_archive(&c.id, job).await,
            (Some(c), Consistency::Stop) => self.stopped_archive(inst, &c.id, work).await,
            (Some(c), Consistency::Exec) => {
                self.run_hook(inst, &c.id).await?;
                let stats = blocking(work).await.map_err(|e| (e, None))?;
                let note = String::new();
                Ok((stats, Frozen { freeze_ms: 0, note }))
            }
        }
    }

    /// `exec` consistency: the blueprint's hook quiesces the app (e.g. a
    /// database dump) before the archive; it must succeed within 10 minutes.
    async fn run_hook(&self, inst: &InstanceRow, container: &str) -> Result<(), Failed> {
        let hook = self
            .blueprints
            .get(&inst.blueprint)
            .and_then(|b| b.backup_exec.clone())
            .unwrap_or_default();
        let args: Vec<&str> = hook.iter().map(String::as_str).collect();
        let ran = self.tenant.exec(container, &args);
        match tokio::time::timeout(Duration::from_secs(600), ran).await {
            Ok(Ok((0, _))) => Ok(()),
            Ok(Ok((code, out))) => {
                let out: String = out.chars().take(300).collect();
                Err((
                    format!("backup hook exited with code {code}: {}", out.trim()),
                    None,
                ))
            }
            Ok(Err(e)) => Err((gone_or(e, "running the backup hook"), None)),
            Err(_) => Err(("backup hook did not finish within 10 minutes".into(), None)),
        }
    }

    /// `stop` consistency: hold off the reconciler, stop, archive, start.
    async fn stopped_archive(
        &self,
        inst: &InstanceRow,
        container: &str,
        work: impl FnOnce() -> Result<ArchiveStats, String> + Send + 'static,
    ) -> Result<(ArchiveStats, Frozen), Failed> {
        let id = inst.id;
        self.tenant
            .take(id, "backup")
            .await
            .map_err(|e| (e.to_string(), None))?;
        let stopped_at = Instant::now();
        let result = match self.tenant.stop(container, 30).await {
            Ok(()) => blocking(work).await,
            Err(e) => Err(gone_or(e, "stopping")),
        };
        let started = self.tenant.start(container).await;
        self.tenant.give_back(id).await;
        self.wake();
        let freeze_ms = stopped_at.elapsed().as_millis() as u64;
        let stats = result.map_err(|e| (e, Some(freeze_ms)))?;
        let note = started
            .err()
            .map(|e| format!("starting again failed: {e}"))
            .unwrap_or_default();
        Ok((stats, Frozen { freeze_ms, note }))
    }

    #[allow(clippy::too_many_arguments)]
    async fn publish(
        &self,
        inst: &InstanceRow,
        consistency: Consistency,
        archive: &Path,
        partial: &Path,
        stats: &ArchiveStats,
        duration_ms: u64,
        frozen: &Frozen,
    ) -> Result<(), String> {
        let manifest = Manifest {
            format: 1,
            client: inst.client_slug.clone(),
            instance: inst.name.clone(),
            instance_id: Some(inst.id),
            file: archive
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            consistency: consistency_name(consistency).into(),
            level: self.config.backup.level,
            source_bytes: stats.source_bytes,
            size: stats.size,
            files: stats.files,
            sha256: stats.sha256.clone(),
            duration_ms,
            freeze_ms: frozen.freeze_ms,
            created_at: crate::store::now(),
            finished_at: crate::store::now(),
            berth_version: env!("CARGO_PKG_VERSION").into(),
        };
        let bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string())?;
        let (partial, archive) = (partial.to_path_buf(), archive.to_path_buf());
        blocking(move || archive::commit(&partial, &archive, &bytes).map_err(|e| describe_io(&e)))
            .await
    }
}

/// `20250101T020000.123Z.tar.zst`: sorts by time, unique per instance.
fn archive_name(stamp: time::OffsetDateTime) -> String {
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}.{:03}Z.tar.zst",
        stamp.year(),
        u8::from(stamp.month()),
        stamp.day(),
        stamp.hour(),
        stamp.minute(),
        stamp.second(),
        stamp.millisecond()
    )
}

/// A failed backup leaves no file behind: partial, manifest or archive.
async fn discard(archive: &Path) {
    let _ = tokio::fs::remove_file(archive::partial_path(archive)).await;
    let _ = tokio::fs::remove_file(archive::manifest_path(archive)).await;
    let _ = tokio::fs::remove_file(archive).await;
}

/// Writes progress to the store every half second, also as the heartbeat.
async fn report_progress(runner: Runner, id: i64, progress: Progress) {
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let done = progress.load(Ordering::Relaxed);
        let _ = runner
            .store
            .call(move |c| rows::progress(c, id, done, None))
            .await;
    }
}

pub(super) fn consistency_name(c: Consistency) -> &'static str {
    match c {
        Consistency::Pause => "pause",
        Consistency::Stop => "stop",
        Consistency::Exec => "exec",
    }
}

pub(super) fn describe_io(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::StorageFull {
        format!("disk full: {e}")
    } else {
        e.to_string()
    }
}

pub(super) fn gone_or(e: crate::docker::DockerError, doing: &str) -> String {
    match e {
        crate::docker::DockerError::NotFound(what) => {
            format!("container gone while {doing}: {what} not found")
        }
        other => format!("{doing} the container: {other}"),
    }
}
