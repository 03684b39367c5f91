//! The daemon's backup worker: picks up queued backups, verifications and
//! restores (from the API, the UI or the CLI), fires the schedules, and
//! cleans up after a berth that died mid-backup. An infrastructure worker
//! like the reconciler: it may talk to Docker, through [`Runner`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use tokio_cron_scheduler::{Job, JobScheduler};

use super::job_pool::JobPool;
use super::{archive, verify, Runner};
use crate::audit::{self, Actor};
use crate::domain::schedule;
use crate::domain::{BackupStatus, Phase, Trigger};
use crate::fsutil::remove_tree;
use crate::store::backups as rows;
use crate::store::{backup_jobs, instances, StoreError};

/// How often queued work is looked for; the CLI queues from another process.
const POLL: Duration = Duration::from_millis(500);

impl Runner {
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        if let Err(e) = self.sweep().await {
            tracing::warn!(error = %e, "backup sweep failed");
        }
        let _ = self.store.call(|c| rows::requeue_running_verifies(c)).await;
        let pool = JobPool::new("backup", self.config.backup.concurrency);
        // Cron expressions have minute resolution: tokio-cron-scheduler ticks
        // once a minute (`backup.schedule_tick`) and each tick fires what
        // became due since the last.
        let scheduler = self.start_schedule_ticker().await;
        let mut sweeps = 0u32;
        tokio::pin!(shutdown);
        loop {
            if let Err(e) = self.dispatch(&pool).await {
                tracing::warn!(error = %e, "backup queue not read");
            }
            sweeps += 1;
            if sweeps.is_multiple_of(20) {
                let _ = self.sweep().await;
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = &mut shutdown => break,
            }
        }
        if let Some(mut scheduler) = scheduler {
            let _ = scheduler.shutdown().await;
        }
        // Jobs still running are cut off with the runtime; the next start's
        // sweep marks them interrupted.
        tracing::info!("backup worker stopped");
    }

    /// A ticker on tokio-cron-scheduler, at second 0 of every minute by
    /// default; `None` (logged) if it cannot start, in which case only
    /// on-demand and CLI backups run.
    async fn start_schedule_ticker(&self) -> Option<JobScheduler> {
        let last_tick = Arc::new(Mutex::new(Utc::now()));
        let runner = self.clone();
        let tick = self.config.backup.schedule_tick;
        let result = async {
            let scheduler = JobScheduler::new().await?;
            let fire = move |_, _| {
                let (runner, last_tick) = (runner.clone(), last_tick.clone());
                Box::pin(async move {
                    let now = Utc::now();
                    let after = std::mem::replace(
                        &mut *last_tick.lock().unwrap_or_else(|p| p.into_inner()),
                        now,
                    );
                    runner.fire_schedules(after, now).await;
                })
                    as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
            };
            let job = if tick == Duration::from_secs(60) {
                Job::new_async("0 * * * * *", fire)?
            } else {
                Job::new_repeated_async(tick, fire)?
            };
            scheduler.add(job).await?;
            scheduler.start().await?;
            Ok::<_, tokio_cron_scheduler::JobSchedulerError>(scheduler)
        }
        .await;
        result
            .map_err(|e| tracing::error!(error = %e, "backup schedule ticker did not start"))
            .ok()
    }

    /// Starts a task for each queued job not yet taken, bounded by the semaphore.
    async fn dispatch(&self, pool: &JobPool) -> Result<(), StoreError> {
        let (backups, verifies, restores) = self
            .store
            .call(|c| {
                Ok((
                    rows::list_by_status(c, BackupStatus::Queued)?,
                    rows::list_verify_queued(c)?,
                    backup_jobs::restores_by_status(c, BackupStatus::Queued)?,
                ))
            })
            .await?;
        // `berth backup run` queues and then claims its own jobs; the daemon
        // takes one over only if the CLI left it queued (it died first).
        let cutoff = crate::store::now_minus(Duration::from_secs(15));
        let backups: Vec<_> = backups
            .into_iter()
            .filter(|b| b.trigger != Trigger::Cli || b.created_at < cutoff)
            .collect();
        let jobs = backups
            .iter()
            .map(|b| ('b', b.id))
            .chain(verifies.iter().map(|b| ('v', b.id)))
            .chain(restores.iter().map(|r| ('r', r.id)));
        for job in jobs {
            let runner = self.clone();
            pool.spawn(job, move || async move {
                match job.0 {
                    'b' => runner.run_backup(job.1).await,
                    'v' => runner.run_verify(job.1).await,
                    _ => runner.run_restore(job.1).await,
                }
            });
        }
        Ok(())
    }

    /// Queues backups for instances whose schedule (plan's or global) fired
    /// in (after, now], and verifications of newest backups on the verify schedule.
    async fn fire_schedules(&self, after: chrono::DateTime<Utc>, now: chrono::DateTime<Utc>) {
        self.fire_update_check(after, now);
        let global = self.config.backup.schedule.clone();
        let result = async {
            let (policies, instances) = self
                .store
                .call(|c| Ok((backup_jobs::all_policies(c)?, instances::list_all(c)?)))
                .await?;
            let instances = instances.into_iter().filter(|i| i.desired.is_live());
            let mut due = Vec::new();
            for inst in instances {
                // Created but never provisioned yet: there is nothing to back
                // up, and a "data directory is missing" failure would be noise.
                let data = self.config.instance_data_dir(&inst.client_slug, &inst.name);
                if inst.phase == Phase::Pending && !data.is_dir() {
                    continue;
                }
                let expr = policies
                    .iter()
                    .find(|(plan, _)| *plan == inst.plan)
                    .and_then(|(_, p)| p.schedule.clone())
                    .unwrap_or_else(|| global.clone());
                if let Ok(Some(cron)) = schedule::parse_optional(&expr) {
                    if schedule::fired(&cron, after, now) {
                        due.push(inst.id);
                    }
                }
            }
            if !due.is_empty() {
                tracing::info!(instances = due.len(), "scheduled backups due");
                self.store.call(move |c| queue_scheduled(c, &due)).await?;
            }
            if let Ok(Some(cron)) = schedule::parse_optional(&self.config.backup.verify_schedule) {
                if schedule::fired(&cron, after, now) {
                    self.store.call(queue_scheduled_verifies).await?;
                }
            }
            Ok::<_, StoreError>(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "backup schedule not applied");
        }
    }

    /// A backup that died while its container was paused must not leave the tenant frozen.
    async fn thaw(&self, instance_id: Option<i64>) {
        let Some(instance_id) = instance_id else {
            return;
        };
        let Ok(list) = self.tenant.containers(instance_id).await else {
            return;
        };
        for c in list
            .iter()
            .filter(|c| c.state == crate::docker::ContainerState::Paused)
        {
            match self.tenant.unpause(&c.id).await {
                Ok(()) => {
                    tracing::warn!(container = %c.name, "unpaused a container left paused by an interrupted backup")
                }
                Err(e) => tracing::warn!(container = %c.name, error = %e, "cannot unpause"),
            }
        }
    }

    /// Verifies backup `id` if this process can claim the job.
    pub async fn run_verify(&self, id: i64) -> Result<bool, StoreError> {
        if !self.store.call(move |c| rows::claim_verify(c, id)).await? {
            return Ok(false);
        }
        let row = self.store.call(move |c| rows::get(c, id)).await?;
        let root = self.backup_root();
        let scratch = root.join(format!(".verify-{id}-{}", self.tenant.pid()));
        let result = match (&row.path, &row.sha256) {
            (Some(p), Some(sha)) => {
                let (file, sha) = (root.join(p), sha.clone());
                super::blocking(move || Ok(verify::verify(&file, &sha, &scratch)))
                    .await
                    .and_then(|r| r)
            }
            _ => Err("backup has no archive to verify".into()),
        };
        let (ok, message) = match result {
            Ok(m) => (true, m),
            Err(e) => (false, e),
        };
        let msg = message.clone();
        self.store
            .call(move |c| rows::finish_verify(c, id, ok, &msg))
            .await?;
        if !ok {
            tracing::error!(backup = id, error = %message, "backup verification FAILED");
            self.notify_failure(
                "verify.failed",
                id,
                &format!("{}/{}", row.client_slug, row.instance_name),
                &message,
            )
            .await;
        }
        Ok(true)
    }

    /// Finishes jobs whose process died (kill -9, power loss): a backup whose
    /// archive and manifest were both published is recovered as ok, any other
    /// is failed with its partial file removed. Also voids dead holds.
    pub async fn sweep(&self) -> Result<(), StoreError> {
        let running = self
            .store
            .call(|c| rows::list_by_status(c, BackupStatus::Running))
            .await?;
        let root = self.backup_root();
        for row in running
            .into_iter()
            .filter(|r| !backup_jobs::pid_alive(r.runner_pid))
        {
            let file = row.path.as_ref().map(|p| root.join(p));
            let recovered = file.as_ref().and_then(|f| {
                let m: crate::domain::Manifest =
                    serde_json::from_slice(&std::fs::read(archive::manifest_path(f)).ok()?).ok()?;
                (f.is_file() && std::fs::metadata(f).ok()?.len() == m.size).then_some(m)
            });
            let id = row.id;
            // A copy staged for the dead backup (`freeze`): gone either way.
            let data = self
                .config
                .instance_data_dir(&row.client_slug, &row.instance_name);
            let staging = super::snapshot::staging_dir(&data, id);
            if let Err(e) =
                super::blocking(move || remove_tree(&staging).map_err(|e| e.to_string())).await
            {
                tracing::warn!(backup = id, error = %e, "cannot remove an interrupted backup's staging copy");
            }
            match recovered {
                Some(m) => {
                    let result = crate::store::backups::BackupResult {
                        source_bytes: m.source_bytes,
                        size: m.size,
                        files: m.files,
                        sha256: m.sha256,
                        level: m.level,
                        duration_ms: m.duration_ms,
                        freeze_ms: m.freeze_ms,
                        message: "recovered from its manifest after an interruption".into(),
                    };
                    self.store
                        .call(move |c| rows::finish_ok(c, id, &result))
                        .await?;
                }
                None => {
                    if let Some(f) = &file {
                        for p in [
                            archive::partial_path(f),
                            archive::partial_path(&archive::manifest_path(f)),
                            archive::manifest_path(f),
                            f.clone(),
                        ] {
                            let _ = std::fs::remove_file(p);
                        }
                    }
                    self.thaw(row.instance_id).await;
                    let why = format!(
                        "interrupted: the berth process (pid {}) ended during the backup",
                        row.runner_pid.unwrap_or(0)
                    );
                    self.store
                        .call(move |c| rows::finish_failed(c, id, &why, None))
                        .await?;
                    tracing::warn!(backup = id, "marked an interrupted backup failed");
                }
            }
        }
        for id in self.store.call(backup_jobs::orphaned_restores).await? {
            self.recover_restore(id).await?;
        }
        self.store.call(backup_jobs::release_dead).await?;
        Ok(())
    }
}

/// The schedule's backups, audited like any other request (the system asks).
fn queue_scheduled(conn: &mut rusqlite::Connection, due: &[i64]) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let queued = rows::enqueue_many(&tx, due, Trigger::Schedule)?;
    if !queued.is_empty() {
        let details = json!({ "backups": queued, "trigger": Trigger::Schedule.as_str() });
        let actor = Actor::system();
        audit::record(&tx, &actor, "backup.request", "instances", None, details)?;
    }
    Ok(tx.commit()?)
}

/// The verify schedule: every instance's newest good backup, audited.
fn queue_scheduled_verifies(conn: &mut rusqlite::Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let queued = rows::request_verify_newest(&tx)?;
    if !queued.is_empty() {
        let details = json!({ "backups": queued });
        audit::record(
            &tx,
            &Actor::system(),
            "backup.verify",
            "backups",
            None,
            details,
        )?;
    }
    Ok(tx.commit()?)
}
