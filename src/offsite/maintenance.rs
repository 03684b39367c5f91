//! Offsite maintenance runs: forget (after each round of copies, and when a
//! delete asks), prune, check and test-restore (each on its target's
//! schedule), queued as rows and run beside the copies: each in its own
//! task, never through the copies' `JobPool`, so a long prune of one
//! target delays no copy to another. The claim (`store::offsite_runs`)
//! keeps restic's locks apart: one run per target, and forget, prune and
//! check (exclusive locks in restic 0.14) only while no copy or restore
//! of that target runs; copies wait for them.

use std::collections::HashMap;

use chrono::Utc;

use super::restic::Restic;
use super::retention::{self, Live, Reason};
use super::Worker;
use crate::backup::job_pool::JobPool;
use crate::backup::prune::{global_rules, plan_rules};
use crate::domain::{schedule, BackupStatus, OffsiteRunKind, ReadData};
use crate::store::offsite_runs::{self as runs, NewRun, RunDone, RunRow};
use crate::store::{instances, StoreError};

/// restic is handed at most this many snapshot ids per `forget`.
const FORGET_BATCH: usize = 100;
/// Waits before running again a run that found the repository locked.
const LOCK_RETRIES: [std::time::Duration; 3] = [
    std::time::Duration::from_secs(5),
    std::time::Duration::from_secs(15),
    std::time::Duration::from_secs(45),
];

impl Worker {
    /// Runs a dead berth left running: failed, with the reason.
    pub(super) async fn sweep_runs(&self) -> Result<(), StoreError> {
        for row in self.store.call(|c| runs::fail_orphaned_runs(c)).await? {
            let _ = crate::fsutil::remove_tree(&super::test_restore::scratch_dir(
                &self.config.data_dir,
                row.id,
            ));
            tracing::warn!(run = row.id, target = %row.target, kind = %row.kind,
                "an interrupted offsite run was failed");
        }
        Ok(())
    }

    /// Queues what is due in (after, now]: each target's scheduled prune,
    /// check and test-restore, and a forget once a round of copies ended.
    pub(super) async fn queue_maintenance(
        &self,
        after: chrono::DateTime<Utc>,
        now: chrono::DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut due: Vec<(String, OffsiteRunKind, &'static str)> = Vec::new();
        for t in &self.config.offsite {
            for (kind, cron) in [
                (OffsiteRunKind::Prune, &t.prune_schedule),
                (OffsiteRunKind::Check, &t.check_schedule),
                (OffsiteRunKind::TestRestore, &t.test_restore_schedule),
            ] {
                if let Ok(Some(cron)) = schedule::parse_optional(cron) {
                    if schedule::fired(&cron, after, now) {
                        due.push((t.name.clone(), kind, "schedule"));
                    }
                }
            }
        }
        let targets: Vec<String> = self.config.offsite.iter().map(|t| t.name.clone()).collect();
        let queued = self
            .store
            .call(move |c| {
                for t in targets {
                    if runs::forget_due(c, &t)? {
                        due.push((t, OffsiteRunKind::Forget, "copies"));
                    }
                }
                for (target, kind, by) in &due {
                    runs::enqueue_run(
                        c,
                        &NewRun {
                            target,
                            kind: *kind,
                            dry_run: false,
                            read_data: None,
                            requested_by: by,
                            instance_id: None,
                        },
                    )?;
                }
                Ok(due)
            })
            .await?;
        for (target, kind, by) in queued {
            tracing::info!(%target, %kind, by, "offsite maintenance queued");
        }
        Ok(())
    }

    /// Starts queued runs; the claim decides whether each may run yet.
    pub(super) async fn dispatch_runs(&self, pool: &JobPool) -> Result<(), StoreError> {
        let queued = self
            .store
            .read(|c| runs::runs_by_status(c, BackupStatus::Queued))
            .await?;
        for row in queued {
            let worker = self.clone();
            pool.spawn(('m', row.id), move || async move {
                worker.run_maintenance(row.id).await
            });
        }
        Ok(())
    }

    /// Runs queued run `id` if this process can claim it now.
    pub async fn run_maintenance(&self, id: i64) -> Result<bool, StoreError> {
        let pid = self.pid;
        if !self
            .store
            .call(move |c| runs::claim_run(c, id, pid))
            .await?
        {
            return Ok(false);
        }
        let row = self.store.read(move |c| runs::get_run(c, id)).await?;
        let mut result = self.maintain(&row).await;
        // restic 0.14 does not wait for a lock: someone listing snapshots
        // for a moment is no reason to fail a weekly check.
        for wait in LOCK_RETRIES {
            match &result {
                Err(e) if e.contains("locked") => {
                    tracing::info!(run = id, error = %e, "offsite repository locked; trying again");
                    tokio::time::sleep(wait).await;
                    result = self.maintain(&row).await;
                }
                _ => break,
            }
        }
        let outcome = result.clone();
        self.store
            .call(move |c| runs::finish_run(c, id, outcome.as_ref().map_err(String::as_str)))
            .await?;
        match result {
            Ok(done) => tracing::info!(run = id, target = %row.target, kind = %row.kind,
                message = %done.message, "offsite maintenance done"),
            Err(e) => {
                tracing::warn!(run = id, target = %row.target, kind = %row.kind, error = %e,
                    "offsite maintenance failed");
                let row = self.store.read(move |c| runs::get_run(c, id)).await?;
                let what = if row.client_slug.is_empty() {
                    String::new()
                } else {
                    format!("{}/{}", row.client_slug, row.instance_name)
                };
                self.notify_failure(row.kind.failure_event(), id, &row.target, &what, &e)
                    .await;
            }
        }
        Ok(true)
    }

    async fn maintain(&self, row: &RunRow) -> Result<RunDone, String> {
        let target = self
            .config
            .offsite_target(&row.target)
            .ok_or_else(|| format!("target {:?} is no longer configured", row.target))?
            .clone();
        let restic = self.restic(&target);
        match row.kind {
            OffsiteRunKind::Forget => self.forget(restic, row.dry_run).await,
            OffsiteRunKind::Prune => {
                let summary = crate::backup::blocking(move || restic.prune()).await?;
                Ok(RunDone {
                    message: summary,
                    ..RunDone::default()
                })
            }
            OffsiteRunKind::Check => {
                let wanted = row.read_data.as_deref().unwrap_or(&target.check_read_data);
                let read = ReadData::parse(wanted).map_err(|e| e.to_string())?;
                let line = crate::backup::blocking(move || restic.check_reading(&read)).await?;
                Ok(RunDone {
                    message: format!("read {wanted}: {line}"),
                    ..RunDone::default()
                })
            }
            OffsiteRunKind::TestRestore => self.test_restore(restic, row).await,
        }
    }

    /// Forgets what [`retention::plan`] says; a dry run only says it.
    async fn forget(&self, restic: Restic, dry_run: bool) -> Result<RunDone, String> {
        let (live, fresh) = self.live_instances().await.map_err(|e| e.to_string())?;
        let state = global_rules(&self.config.backup);
        crate::backup::blocking(move || {
            let snapshots = restic.snapshots(Some("berth"))?;
            let mut plan = retention::plan(&snapshots, &live, &state);
            // A berth that never had an instance (a new host before `berth
            // recover`) must not take every copy for a deleted one.
            let spared = if fresh { plan.spare_gone() } else { 0 };
            let ids: Vec<String> = plan.forget.iter().map(|(id, _)| id.clone()).collect();
            if !dry_run {
                for batch in ids.chunks(FORGET_BATCH) {
                    restic.forget_ids(batch)?;
                }
            }
            let short: Vec<String> = plan
                .forget
                .iter()
                .map(|(id, why)| {
                    let s = &id[..id.len().min(8)];
                    match why {
                        Reason::Gone => format!("{s} (gone)"),
                        Reason::Policy => s.to_owned(),
                    }
                })
                .collect();
            let verb = if dry_run { "would forget" } else { "forgot" };
            let mut message = format!(
                "{verb} {} of {} snapshots ({} of instances that no longer exist), {} kept",
                ids.len(),
                snapshots.len(),
                plan.gone(),
                plan.kept
            );
            if !short.is_empty() {
                message.push_str(&format!(": {}", short.join(" ")));
            }
            if spared > 0 {
                message.push_str(&format!(
                    "; kept {spared} snapshots of instances this berth never had \
                     (a new host? restore its state first)"
                ));
            }
            Ok(RunDone {
                message,
                snapshots: Some(ids.len() as u64),
                ..RunDone::default()
            })
        })
        .await
    }

    /// Every existing instance by (client slug, name): its plan's rules and
    /// since when it exists; and whether this store never had an instance.
    async fn live_instances(&self) -> Result<(HashMap<(String, String), Live>, bool), StoreError> {
        let config = self.config.clone();
        self.store
            .read(move |c| {
                // AUTOINCREMENT keeps the highest id ever handed out.
                let ever: i64 = c
                    .query_row(
                        "SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'instances'",
                        [],
                        |r| r.get(0),
                    )
                    .unwrap_or(0);
                let mut by_plan = HashMap::new();
                let mut out = HashMap::new();
                for inst in instances::list_all(c)? {
                    let rules = match by_plan.get(&inst.plan) {
                        Some(r) => *r,
                        None => {
                            let r = plan_rules(c, &config.backup, &inst.plan)?;
                            by_plan.insert(inst.plan.clone(), r);
                            r
                        }
                    };
                    let since = unix(&inst.created_at);
                    out.insert((inst.client_slug, inst.name), Live { rules, since });
                }
                Ok((out, ever == 0))
            })
            .await
    }
}

fn unix(at: &str) -> i64 {
    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .unwrap_or(0)
}

impl Restic {
    /// `restic forget ID…` (no policy: berth chose the ids).
    pub fn forget_ids(&self, ids: &[String]) -> Result<(), String> {
        let mut args = vec!["forget"];
        args.extend(ids.iter().map(String::as_str));
        self.run(&args).map(|_| ())
    }

    /// `restic prune`; its "total prune" and "remaining" lines.
    pub fn prune(&self) -> Result<String, String> {
        let out = self.run(&["prune"])?;
        let text = String::from_utf8_lossy(&out);
        let summary: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("total prune:") || l.starts_with("remaining:"))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        Ok(if summary.is_empty() {
            "pruned".into()
        } else {
            summary.join("; ")
        })
    }

    /// `restic check` reading `read` of the data. A failure names restic's
    /// first finding (a damaged pack, say), not only its closing "Fatal".
    pub fn check_reading(&self, read: &ReadData) -> Result<String, String> {
        let flag = read.flag();
        // check puts its temporary cache under --cache-dir, which must exist.
        let _ = std::fs::create_dir_all(&self.cache_dir);
        let out = self
            .command(&["check", &flag])
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.bin.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if out.status.success() {
            let last = stdout.lines().rev().find(|l| !l.trim().is_empty());
            return Ok(last.unwrap_or("checked").trim().to_owned());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let why = super::restic::exit_error(out.status.code(), &stderr);
        let first = stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("Fatal") && !l.contains("cache"));
        Err(match first {
            Some(line) => format!("{why} ({})", line.chars().take(300).collect::<String>()),
            None => why,
        })
    }
}
