//! `berth offsite ...`: targets' status, copies, snapshots, restores and
//! repository checks. Like `berth backup`, copies and restores are done in
//! this process (no daemon needed) when the daemon has not taken them first.

use clap::Subcommand;

use super::error::Failure;
use super::offsite_maintenance as maintenance;
use super::output::{self, size};
use crate::audit::Actor;
use crate::domain::{BackupStatus, OffsiteRunKind};
use crate::offsite::Worker;
use crate::ops::{OffsiteCloneInput, OffsiteRestoreInput, Ops, RunOptions};

#[derive(Subcommand)]
pub enum OffsiteCmd {
    /// Every target: last success, its age, bytes added, the last copy.
    Status,
    /// Create a target's restic repository (once, before the first copy).
    Init { target: String },
    /// Copy an instance's newest good backup now, or `--state` berth's database and config.
    Copy {
        target: String,
        #[arg(long, conflicts_with = "state", required_unless_present = "state")]
        instance: Option<i64>,
        #[arg(long)]
        state: bool,
    },
    /// A target's snapshots made by berth, oldest first.
    Snapshots {
        target: String,
        #[arg(long)]
        instance: Option<i64>,
    },
    /// Restore an instance from a snapshot (default: its newest), in place
    /// or `--into NAME` as a new instance, with the local restore's atomic
    /// swap and rollback. `--client SLUG --snapshot S --into NAME` instead of
    /// an instance restores any instance's snapshot (also of one deleted
    /// since) as a new instance of that client.
    Restore {
        #[arg(required_unless_present = "client", conflicts_with = "client")]
        instance: Option<i64>,
        #[arg(long)]
        target: String,
        #[arg(long)]
        snapshot: Option<String>,
        #[arg(long)]
        into: Option<String>,
        #[arg(long, requires_all = ["snapshot", "into"])]
        client: Option<String>,
        /// With `--client`: the app to run the restored data with.
        #[arg(long, requires = "client")]
        blueprint: Option<String>,
    },
    /// `restic check`, recorded as a run; `--read-data all` reads every
    /// pack, `--read-data 10%` a sample (default: the target's check_read_data).
    Check {
        target: String,
        #[arg(long)]
        read_data: Option<String>,
    },
    /// Forget snapshots outside each instance's plan retention and those of
    /// deleted instances; `--dry-run` only lists them.
    Forget {
        target: String,
        #[arg(long)]
        dry_run: bool,
    },
    /// `restic prune`: remove data no snapshot references any more.
    Prune { target: String },
    /// Restore an instance's newest snapshot into scratch space and verify
    /// it (default: the instance test-restored least recently).
    TestRestore {
        target: String,
        #[arg(long)]
        instance: Option<i64>,
    },
    /// A target's maintenance runs, newest first.
    Runs { target: String },
}

pub async fn run(ops: &Ops, actor: &Actor, cmd: OffsiteCmd, as_json: bool) -> Result<(), Failure> {
    match cmd {
        OffsiteCmd::Status => {
            let status = ops.offsite_status().await?;
            output::list(
                as_json,
                &status,
                &[
                    "TARGET",
                    "REPOSITORY",
                    "LAST OK",
                    "AGE",
                    "ADDED",
                    "OK",
                    "FAILED",
                ],
                |s| {
                    vec![
                        s.name.clone(),
                        s.repository.clone(),
                        s.summary
                            .last_success
                            .clone()
                            .unwrap_or_else(|| "never".into()),
                        s.age_seconds.map_or("-".into(), |a| format!("{a}s")),
                        size(s.summary.bytes_added_total),
                        s.summary.copies_ok.to_string(),
                        s.summary.copies_failed.to_string(),
                    ]
                },
            );
            if !as_json {
                maintenance::print_maintenance(&status);
            }
        }
        OffsiteCmd::Init { target } => {
            ops.offsite_init(actor, &target).await?;
            output::done(
                as_json,
                "initialized",
                &target,
                format!("repository of {target} created"),
            );
        }
        OffsiteCmd::Copy {
            target,
            instance,
            state,
        } => {
            let row = ops
                .request_offsite_copy(actor, &target, instance.filter(|_| !state))
                .await?;
            worker(ops)
                .run_copy(row.id)
                .await
                .map_err(|e| Failure::failed(e.to_string()))?;
            let row = wait(|| async {
                ops.offsite_copy(row.id)
                    .await
                    .map(|r| r.status.is_finished().then_some(r))
            })
            .await?;
            output::show(as_json, &row, |r| match r.status {
                BackupStatus::Ok => println!(
                    "copy {} to {}: snapshot {}, {} read, {} added",
                    r.id,
                    r.target,
                    r.snapshot_id.as_deref().unwrap_or("?"),
                    size(r.bytes_processed),
                    size(r.bytes_added.unwrap_or(0))
                ),
                _ => println!("copy {} to {} failed: {}", r.id, r.target, r.message),
            });
            if row.status != BackupStatus::Ok {
                return Err(Failure::failed(format!(
                    "copy {} failed: {}",
                    row.id, row.message
                )));
            }
        }
        OffsiteCmd::Snapshots { target, instance } => {
            let snaps = ops.offsite_snapshots(&target, instance).await?;
            output::list(
                as_json,
                &snaps,
                &["ID", "TIME", "CLIENT", "INSTANCE", "BACKUP", "BYTES"],
                |s| {
                    let tag = |k| s.tag(k).unwrap_or("-").to_owned();
                    let kind = if s.tags.iter().any(|t| t == "berth-state") {
                        "(berth state)".to_owned()
                    } else {
                        tag("client")
                    };
                    vec![
                        s.short_id.clone(),
                        s.time.clone(),
                        kind,
                        tag("instance"),
                        tag("backup"),
                        s.content()
                            .map(|(_, b)| b.to_string())
                            .unwrap_or_else(|| "-".into()),
                    ]
                },
            );
        }
        OffsiteCmd::Restore {
            instance,
            target,
            snapshot,
            into,
            client,
            blueprint,
        } => {
            let job = match (instance, client) {
                (Some(id), _) => {
                    let input = OffsiteRestoreInput {
                        target: target.clone(),
                        snapshot,
                        into,
                    };
                    ops.request_offsite_restore_as(actor, id, input).await?
                }
                (None, Some(slug)) => {
                    let input = OffsiteCloneInput {
                        target: target.clone(),
                        snapshot: snapshot.unwrap_or_default(),
                        into: into.unwrap_or_default(),
                        blueprint,
                    };
                    ops.request_offsite_clone(actor, &slug, input).await?
                }
                (None, None) => return Err(Failure::failed("name an instance or --client")),
            };
            worker(ops)
                .run_restore(job.id)
                .await
                .map_err(|e| Failure::failed(e.to_string()))?;
            let job = wait(|| async {
                ops.get_offsite_restore(job.id)
                    .await
                    .map(|r| r.status.is_finished().then_some(r))
            })
            .await?;
            let Some(restore) = job.restore_id.filter(|_| job.status == BackupStatus::Ok) else {
                return Err(Failure::failed(format!(
                    "offsite restore {} failed: {}",
                    job.id, job.message
                )));
            };
            let local = super::backup_jobs::run_queued_restore(ops, restore).await?;
            output::show(as_json, &local, |r| {
                println!(
                    "restore {} from {target} snapshot {}: {} {}",
                    r.id, job.snapshot_id, r.status, r.message
                )
            });
            if local.status != BackupStatus::Ok {
                return Err(Failure::failed(format!(
                    "restore {} failed: {}",
                    local.id, local.message
                )));
            }
        }
        OffsiteCmd::Check { target, read_data } => {
            let line = ops.offsite_check(&target, read_data).await?;
            output::done(as_json, "checked", &target, format!("{target}: {line}"));
        }
        OffsiteCmd::Forget { target, dry_run } => {
            let opts = RunOptions {
                dry_run,
                ..RunOptions::default()
            };
            maintenance::run(ops, actor, &target, OffsiteRunKind::Forget, opts, as_json).await?;
        }
        OffsiteCmd::Prune { target } => {
            let opts = RunOptions::default();
            maintenance::run(ops, actor, &target, OffsiteRunKind::Prune, opts, as_json).await?;
        }
        OffsiteCmd::TestRestore { target, instance } => {
            let opts = RunOptions {
                instance,
                ..RunOptions::default()
            };
            let kind = OffsiteRunKind::TestRestore;
            maintenance::run(ops, actor, &target, kind, opts, as_json).await?;
        }
        OffsiteCmd::Runs { target } => maintenance::list(ops, &target, as_json).await?,
    }
    Ok(())
}

fn worker(ops: &Ops) -> Worker {
    let shared = ops.shared();
    Worker::new(shared.store, shared.config)
}

async fn wait<T, F, Fut>(mut f: F) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, crate::ops::OpsError>>,
{
    loop {
        if let Some(v) = f().await? {
            return Ok(v);
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}
