//! The worker's loop: what is due, claiming rows, running them off the
//! runtime, finishing them, and cleaning up after a berth that died.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::copy::{self, InstanceSource};
use super::download;
use super::Worker;
use crate::backup::job_pool::JobPool;
use crate::backup::mirror::Mirror;
use crate::domain::{schedule, BackupStatus, OffsiteKind, Trigger};
use crate::store::offsite::{self as rows, CopyDone, NewCopy};
use crate::store::{backups, instances, StoreError};

/// Queued rows are looked for this often; the CLI and API queue from elsewhere.
const POLL: Duration = Duration::from_secs(1);
/// A backup whose copy failed this often is left until the next backup.
const MAX_FAILURES: u32 = 3;
/// Failed copies wait this long times their failures before the next try.
const BACKOFF: Duration = Duration::from_secs(300);

impl Worker {
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        if self.config.offsite.is_empty() {
            shutdown.await;
            return;
        }
        if let Err(e) = self.sweep().await {
            tracing::warn!(error = %e, "offsite sweep failed");
        }
        if let Err(e) = self.sweep_runs().await {
            tracing::warn!(error = %e, "offsite maintenance sweep failed");
        }
        let pool = JobPool::new("offsite", self.config.backup.offsite_concurrency);
        // Maintenance has its own pool, one run per target at most (the
        // claim sees to that), so it never takes a copy's place.
        let maintenance = JobPool::new("offsite-maintenance", self.config.offsite.len());
        let mut last = Utc::now();
        loop {
            let now = Utc::now();
            if let Err(e) = self.queue_due(last, now).await {
                tracing::warn!(error = %e, "offsite copies not queued");
            }
            if let Err(e) = self.queue_maintenance(last, now).await {
                tracing::warn!(error = %e, "offsite maintenance not queued");
            }
            last = now;
            if let Err(e) = self.dispatch(&pool).await {
                tracing::warn!(error = %e, "offsite queue not read");
            }
            if let Err(e) = self.dispatch_runs(&maintenance).await {
                tracing::warn!(error = %e, "offsite maintenance queue not read");
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = &mut shutdown => break,
            }
        }
        // Copies still running are cut off: restic dies with berth (see
        // `restic::die_with_parent`) and the next start fails their rows.
        tracing::info!("offsite worker stopped");
    }

    /// Rows a dead berth left running: copies are failed and queued again
    /// (a restic killed mid-copy wrote no snapshot), restores failed and
    /// their partial downloads removed (the live data was not touched).
    pub async fn sweep(&self) -> Result<(), StoreError> {
        let (copies, restores) = self
            .store
            .call(|c| {
                let copies = rows::fail_orphaned_copies(c)?;
                for row in &copies {
                    rows::enqueue_copy(
                        c,
                        &NewCopy {
                            target: &row.target,
                            kind: row.kind,
                            backup_id: row.backup_id,
                            instance_id: row.instance_id,
                            client_slug: &row.client_slug,
                            instance_name: &row.instance_name,
                        },
                    )?;
                }
                let restores = rows::fail_orphaned_restores(c)?;
                let mut partials = Vec::new();
                for r in restores {
                    if let Ok(inst) = instances::get(c, r.instance_id) {
                        partials.push((inst.client_slug, inst.name, r.id));
                    }
                }
                Ok((copies, partials))
            })
            .await?;
        for row in copies {
            tracing::warn!(copy = row.id, target = %row.target, "an interrupted offsite copy was failed and queued again");
        }
        let root = self.config.backup_dir();
        for (client, instance, id) in restores {
            let partial = download::partial_path(&root, &client, &instance, id);
            let _ = crate::fsutil::remove_tree(&download::scratch_path(&partial));
            let _ = std::fs::remove_file(partial);
            tracing::warn!(restore = id, "an interrupted offsite restore was failed");
        }
        Ok(())
    }

    /// Queues, per target, the newest good backup of every instance that
    /// has no copy there yet: after each backup when the target has no
    /// `copy_schedule`, else when it fires. Berth's state goes along.
    async fn queue_due(
        &self,
        after: chrono::DateTime<Utc>,
        now: chrono::DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let due: Vec<String> = self
            .config
            .offsite
            .iter()
            .filter(|t| match schedule::parse_optional(&t.copy_schedule) {
                Ok(None) => true,
                Ok(Some(cron)) => schedule::fired(&cron, after, now),
                Err(_) => false,
            })
            .map(|t| t.name.clone())
            .collect();
        if due.is_empty() {
            return Ok(());
        }
        let queued = self
            .store
            .call(move |c| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let mut queued = 0;
                let newest = backups::newest_ok_ids(&tx)?;
                for target in &due {
                    let mut any = false;
                    for &id in &newest {
                        if !rows::needs_copy(&tx, target, id, MAX_FAILURES, BACKOFF)? {
                            continue;
                        }
                        let b = backups::get(&tx, id)?;
                        // A download from offsite is already there.
                        if b.path.is_none() || b.trigger == Trigger::Offsite {
                            continue;
                        }
                        rows::enqueue_copy(
                            &tx,
                            &NewCopy {
                                target,
                                kind: OffsiteKind::Instance,
                                backup_id: Some(id),
                                instance_id: b.instance_id,
                                client_slug: &b.client_slug,
                                instance_name: &b.instance_name,
                            },
                        )?;
                        any = true;
                        queued += 1;
                    }
                    if any {
                        rows::enqueue_copy(
                            &tx,
                            &NewCopy {
                                target,
                                kind: OffsiteKind::State,
                                backup_id: None,
                                instance_id: None,
                                client_slug: "",
                                instance_name: "",
                            },
                        )?;
                    }
                }
                tx.commit()?;
                Ok(queued)
            })
            .await?;
        if queued > 0 {
            tracing::info!(copies = queued, "offsite copies queued");
        }
        Ok(())
    }

    async fn dispatch(&self, pool: &JobPool) -> Result<(), StoreError> {
        let (copies, restores) = self
            .store
            .read(|c| {
                Ok((
                    rows::copies_by_status(c, BackupStatus::Queued)?,
                    rows::restores_by_status(c, BackupStatus::Queued)?,
                ))
            })
            .await?;
        let jobs = copies
            .iter()
            .map(|r| ('c', r.id))
            .chain(restores.iter().map(|r| ('r', r.id)));
        for job in jobs {
            let worker = self.clone();
            pool.spawn(job, move || async move {
                match job.0 {
                    'c' => worker.run_copy(job.1).await,
                    _ => worker.run_restore(job.1).await,
                }
            });
        }
        Ok(())
    }

    /// Runs queued copy `id` if this process can claim it.
    pub async fn run_copy(&self, id: i64) -> Result<bool, StoreError> {
        let pid = self.pid;
        if !self
            .store
            .call(move |c| rows::claim_copy(c, id, pid))
            .await?
        {
            return Ok(false);
        }
        let row = self.store.read(move |c| rows::get_copy(c, id)).await?;
        let bytes: Arc<AtomicU64> = Arc::default();
        let work = self.copy(&row, bytes.clone());
        tokio::pin!(work);
        // restic's progress lands in the row every few seconds while it runs.
        let result = loop {
            tokio::select! {
                r = &mut work => break r,
                _ = tokio::time::sleep(Duration::from_secs(2)) => {
                    let b = bytes.load(Ordering::Relaxed);
                    let _ = self.store.call(move |c| rows::copy_progress(c, id, b)).await;
                }
            }
        };
        let outcome = result.as_ref().map_err(String::as_str);
        let finished = match outcome {
            Ok(d) => Ok(CopyDone {
                snapshot_id: d.snapshot_id.clone(),
                bytes_processed: d.bytes_processed,
                bytes_added: d.bytes_added,
            }),
            Err(e) => Err(e.to_owned()),
        };
        self.store
            .call(move |c| rows::finish_copy(c, id, finished.as_ref().map_err(String::as_str)))
            .await?;
        match result {
            Ok(d) => tracing::info!(copy = id, target = %row.target, snapshot = %d.snapshot_id,
                bytes_added = d.bytes_added, "offsite copy done"),
            Err(e) => {
                tracing::warn!(copy = id, target = %row.target, error = %e, "offsite copy failed");
                let what = match row.kind {
                    OffsiteKind::Instance => format!("{}/{}", row.client_slug, row.instance_name),
                    OffsiteKind::State => "berth state".into(),
                };
                self.notify_failure("offsite.copy.failed", id, &row.target, &what, &e)
                    .await;
            }
        }
        Ok(true)
    }

    async fn copy(&self, row: &rows::CopyRow, bytes: Arc<AtomicU64>) -> Result<CopyDone, String> {
        let target = self
            .config
            .offsite_target(&row.target)
            .ok_or_else(|| format!("target {:?} is no longer configured", row.target))?;
        let restic = self.restic(target);
        let progress = move |b| bytes.store(b, Ordering::Relaxed);
        match row.kind {
            OffsiteKind::Instance => {
                let id = row.backup_id.ok_or("the backup was deleted")?;
                let b = self
                    .store
                    .read(move |c| backups::get(c, id))
                    .await
                    .map_err(|e| e.to_string())?;
                let (Some(path), Some(sha256), BackupStatus::Ok) = (&b.path, &b.sha256, b.status)
                else {
                    return Err(format!("backup {id} has no finished archive"));
                };
                let src = InstanceSource {
                    archive: self.config.backup_dir().join(path),
                    sha256: sha256.clone(),
                    client: b.client_slug.clone(),
                    instance: b.instance_name.clone(),
                    backup_id: id,
                    mirror: Mirror::at(
                        self.config
                            .instance_mirror_dir(b.instance_id.ok_or("the instance was deleted")?),
                    ),
                };
                crate::backup::blocking(move || copy::copy_instance(&restic, &src, progress)).await
            }
            OffsiteKind::State => {
                let dir = self.stage_state().await?;
                crate::backup::blocking(move || {
                    let done = copy::copy_state(&restic, &dir, progress);
                    // The copy holds every secret the database does: not left lying about.
                    super::state::clear(&dir);
                    done
                })
                .await
            }
        }
    }

    /// `<data_dir>/offsite-state/`: a consistent copy of the database
    /// (`VACUUM INTO` reads one transaction's view), the config file, and
    /// what the database needs on a rebuilt host (`state::stage_extras`).
    async fn stage_state(&self) -> Result<std::path::PathBuf, String> {
        let dir = self.config.data_dir.join("offsite-state");
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("securing {}: {e}", dir.display()))?;
        let db = dir.join(super::state::DB);
        let _ = std::fs::remove_file(&db);
        let into = db.display().to_string();
        self.store
            .call(move |c| {
                c.execute("VACUUM INTO ?1", [&into])?;
                Ok(())
            })
            .await
            .map_err(|e| format!("copying the database: {e}"))?;
        if let Some(file) = &self.config.source_file {
            std::fs::copy(file, dir.join(super::state::CONFIG))
                .map_err(|e| format!("copying {}: {e}", file.display()))?;
        }
        super::state::stage_extras(&self.config, &dir)?;
        Ok(dir)
    }
}
