//! `berth backup ...`: the same operations as the API. `run`, `verify` and
//! `restore` also do the work in this process (so a system cron or the
//! systemd timer works with or without the daemon) and wait for the result.

use std::time::Duration;

use clap::Subcommand;

use super::output;
use super::run::{show, Failure};
use super::views;
use crate::audit::Actor;
use crate::backup::Runner;
use crate::docker::Docker;
use crate::domain::{BackupStatus, Trigger};
use crate::ops::{BackupView, Ops, RestoreInput};
use crate::store::{BackupPolicy, BackupRow};

#[derive(Subcommand)]
pub enum BackupCmd {
    /// Back up now and wait: every instance, one client's, or one instance.
    Run {
        #[arg(long, conflicts_with_all = ["client", "instance"])]
        all: bool,
        #[arg(long, conflicts_with = "instance")]
        client: Option<String>,
        #[arg(long)]
        instance: Option<i64>,
    },
    /// An instance's backups, newest first.
    List {
        instance: i64,
    },
    Show {
        id: i64,
    },
    /// Re-read an archive: sha256, tar structure, SQLite integrity_check.
    Verify {
        id: i64,
    },
    /// Restore into its instance (atomic swap, rolled back if unhealthy), or `--into NAME` a new one.
    Restore {
        id: i64,
        #[arg(long)]
        into: Option<String>,
    },
    /// Newest good backup per instance; stale ones flagged.
    Status,
    /// Rebuild the backup list from the manifests beside the archives.
    ImportManifests,
    /// Show or change a plan's schedule and retention (unset values use the config's).
    Policy {
        plan: String,
        /// Cron expression (UTC); "" disables scheduled backups for the plan.
        #[arg(long)]
        schedule: Option<String>,
        #[arg(long)]
        keep_last: Option<u32>,
        #[arg(long)]
        keep_daily: Option<u32>,
        #[arg(long)]
        keep_weekly: Option<u32>,
        #[arg(long)]
        keep_monthly: Option<u32>,
    },
}

pub async fn run(ops: &Ops, cmd: BackupCmd, as_json: bool) -> Result<(), Failure> {
    let actor = Actor::cli();
    match cmd {
        BackupCmd::Run {
            all,
            client,
            instance,
        } => {
            let ids: Vec<i64> = match (all, client, instance) {
                (_, _, Some(id)) => vec![id],
                (_, Some(slug), _) => ops
                    .list_instances(Some(&slug))
                    .await?
                    .into_iter()
                    .map(|i| i.id)
                    .collect(),
                (true, _, _) => ops
                    .list_instances(None)
                    .await?
                    .into_iter()
                    .map(|i| i.id)
                    .collect(),
                _ => {
                    return Err(Failure::usage(
                        "say what to back up: --all, --client SLUG or --instance ID",
                    ))
                }
            };
            let runner = runner(ops).await?;
            // Without a daemon (systemd timer) nobody else finishes what a
            // killed run left behind.
            runner
                .sweep()
                .await
                .map_err(|e| Failure::from(crate::ops::OpsError::from(e)))?;
            ops.queue_backups(&actor, &ids, Trigger::Cli).await?;
            let queued = ops.pending_backups(&ids).await?;
            let permits =
                std::sync::Arc::new(tokio::sync::Semaphore::new(ops.config().backup.concurrency));
            let jobs = queued.iter().map(|id| {
                let (runner, permits, id) = (runner.clone(), permits.clone(), *id);
                async move {
                    let _p = permits.acquire().await;
                    runner.run_backup(id).await
                }
            });
            for r in futures_util::future::join_all(jobs).await {
                r.map_err(|e| Failure::from(crate::ops::OpsError::from(e)))?;
            }
            let rows = wait_all(ops, &queued).await?;
            print_backups(&rows, as_json);
            let failed = rows
                .iter()
                .filter(|r| r.status == BackupStatus::Failed)
                .count();
            if failed > 0 {
                return Err(Failure {
                    code: 1,
                    message: format!("{failed} of {} backup(s) failed", rows.len()),
                });
            }
        }
        BackupCmd::List { instance } => print_backups(&ops.list_backups(instance).await?, as_json),
        BackupCmd::Show { id } => {
            let row = ops.get_backup(id).await?;
            show(as_json, &BackupView::from(row.clone()), |_| {
                output::fields(&views::backup_details(&row))
            })
        }
        BackupCmd::Verify { id } => {
            ops.request_verify(&actor, id).await?;
            runner(ops)
                .await?
                .run_verify(id)
                .await
                .map_err(|e| Failure::from(crate::ops::OpsError::from(e)))?;
            let row = wait(ops, || async {
                ops.get_backup(id).await.map(|r| {
                    r.verify_state
                        .is_some_and(BackupStatus::is_finished)
                        .then_some(r)
                })
            })
            .await?;
            show(as_json, &BackupView::from(row.clone()), |b| {
                println!(
                    "Backup {id} {}: {}",
                    if b.verify_state == Some(BackupStatus::Ok) {
                        "verified"
                    } else {
                        "FAILED verification"
                    },
                    b.verify_message
                )
            });
            if row.verify_state == Some(BackupStatus::Failed) {
                return Err(Failure {
                    code: 1,
                    message: format!("backup {id} FAILED verification: {}", row.verify_message),
                });
            }
        }
        BackupCmd::Restore { id, into } => {
            let job = ops
                .request_restore(&actor, id, RestoreInput { into })
                .await?;
            runner(ops)
                .await?
                .run_restore(job.id)
                .await
                .map_err(|e| Failure::from(crate::ops::OpsError::from(e)))?;
            let row = wait(ops, || async {
                ops.get_restore(job.id)
                    .await
                    .map(|r| r.status.is_finished().then_some(r))
            })
            .await?;
            show(as_json, &row, |r| println!("{}", views::restore_summary(r)));
            if row.status == BackupStatus::Failed {
                return Err(Failure {
                    code: 1,
                    message: format!("restore failed: {}", row.message),
                });
            }
        }
        BackupCmd::Status => {
            let list = ops.backup_status().await?;
            if as_json {
                output::json(&list);
            } else {
                let cells = list.into_iter().map(|s| {
                    vec![
                        s.instance_id.to_string(),
                        format!("{}/{}", s.client, s.instance),
                        s.last_ok_at.unwrap_or_else(|| "never".into()),
                        s.last_failed_at.unwrap_or_else(|| "-".into()),
                        if s.stale { "STALE".into() } else { "ok".into() },
                    ]
                });
                output::table(
                    &["id", "instance", "last good", "last failed", "state"],
                    cells.collect(),
                );
            }
        }
        BackupCmd::ImportManifests => show(as_json, &ops.import_manifests(&actor).await?, |r| {
            println!(
                "Imported {} backup(s); {} already known; {} problem(s).",
                r.imported.len(),
                r.already_known,
                r.problems.len()
            );
            for p in &r.problems {
                println!("problem: {p}");
            }
        }),
        BackupCmd::Policy {
            plan,
            schedule,
            keep_last,
            keep_daily,
            keep_weekly,
            keep_monthly,
        } => {
            let mut policy: BackupPolicy = ops.get_backup_policy(&plan).await?;
            let changed = schedule.is_some()
                || keep_last.is_some()
                || keep_daily.is_some()
                || keep_weekly.is_some()
                || keep_monthly.is_some();
            if changed {
                policy.schedule = schedule.or(policy.schedule);
                policy.keep_last = keep_last.or(policy.keep_last);
                policy.keep_daily = keep_daily.or(policy.keep_daily);
                policy.keep_weekly = keep_weekly.or(policy.keep_weekly);
                policy.keep_monthly = keep_monthly.or(policy.keep_monthly);
                policy = ops.set_backup_policy(&actor, &plan, policy).await?;
            }
            show(as_json, &policy, |p| {
                let or_default = |v: Option<u32>| v.map_or("default".into(), |n| n.to_string());
                println!(
                    "Plan {plan}: schedule {}, keep last {}, daily {}, weekly {}, monthly {}.",
                    p.schedule.as_deref().map_or("default".into(), |s| {
                        if s.is_empty() {
                            "off".to_owned()
                        } else {
                            format!("\"{s}\"")
                        }
                    }),
                    or_default(p.keep_last),
                    or_default(p.keep_daily),
                    or_default(p.keep_weekly),
                    or_default(p.keep_monthly)
                )
            });
        }
    }
    Ok(())
}

async fn runner(ops: &Ops) -> Result<Runner, Failure> {
    // This process runs the jobs itself (a system cron, no daemon needed):
    // a worker beside the operations, on their store.
    let shared = ops.shared();
    let docker = Docker::connect(&shared.config.docker.socket, &shared.config.docker.owner)
        .await
        .map_err(|e| Failure {
            code: 1,
            message: e.to_string(),
        })?;
    Ok(Runner::new(
        shared.store,
        shared.config,
        shared.blueprints,
        docker,
        shared.wake,
    ))
}

/// Jobs the daemon claimed first finish there; wait for them too.
async fn wait_all(ops: &Ops, ids: &[i64]) -> Result<Vec<BackupRow>, Failure> {
    let mut out = Vec::new();
    for id in ids {
        out.push(
            wait(ops, || async {
                ops.get_backup(*id)
                    .await
                    .map(|r| r.status.is_finished().then_some(r))
            })
            .await?,
        );
    }
    Ok(out)
}

async fn wait<T, F, Fut>(_ops: &Ops, mut f: F) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, crate::ops::OpsError>>,
{
    loop {
        if let Some(v) = f().await? {
            return Ok(v);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn print_backups(rows: &[BackupRow], as_json: bool) {
    if as_json {
        return output::json(&crate::ops::views::<_, BackupView>(rows.to_vec()));
    }
    let cells = rows.iter().map(|b| {
        vec![
            b.id.to_string(),
            format!("{}/{}", b.client_slug, b.instance_name),
            b.status.to_string(),
            b.created_at.clone(),
            b.size.map(output::size).unwrap_or_else(|| "-".into()),
            b.ratio()
                .map(|r| format!("{:.0}%", r * 100.0))
                .unwrap_or_else(|| "-".into()),
            b.duration_ms
                .map(|d| format!("{:.1}s", d as f64 / 1000.0))
                .unwrap_or_else(|| "-".into()),
            b.freeze_ms
                .map(|d| format!("{:.1}s", d as f64 / 1000.0))
                .unwrap_or_else(|| "-".into()),
            b.verify_state.map_or_else(|| "-".into(), |v| v.to_string()),
            b.message.clone(),
        ]
    });
    output::table(
        &[
            "id", "instance", "status", "created", "size", "ratio", "took", "frozen", "verified",
            "message",
        ],
        cells.collect(),
    );
}
