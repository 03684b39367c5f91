//! `berth backup ...`: the same operations as the API. `run`, `verify` and
//! `restore` also do the work in this process (see `backup_jobs`); this file
//! says what to do and prints the outcome.

use clap::{Args, Subcommand};

use super::backup_jobs;
use super::error::Failure;
use super::output::size;
use super::output::{self, show};
use crate::audit::Actor;
use crate::domain::BackupStatus;
use crate::ops::{views, BackupHealth, BackupView, ImportReport, Ops};
use crate::store::{BackupPolicy, BackupRow, RestoreRow};

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
    List { instance: i64 },
    /// One backup: status, sizes, checksum, freeze time, verification.
    Show { id: i64 },
    /// Re-read an archive: sha256, tar structure, SQLite integrity_check.
    Verify { id: i64 },
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
        #[command(flatten)]
        change: PolicyChange,
    },
}

/// The policy values given on the command line; the others stay as they are.
#[derive(Args)]
pub struct PolicyChange {
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
}

pub async fn run(ops: &Ops, actor: &Actor, cmd: BackupCmd, as_json: bool) -> Result<(), Failure> {
    match cmd {
        BackupCmd::Run {
            all,
            client,
            instance,
        } => {
            let ids = targets(ops, all, client, instance).await?;
            let rows = backup_jobs::back_up(ops, actor, &ids).await?;
            print_backups(&rows, as_json);
            let failed = rows
                .iter()
                .filter(|r| r.status == BackupStatus::Failed)
                .count();
            if failed > 0 {
                return Err(Failure::failed(format!(
                    "{failed} of {} backup(s) failed",
                    rows.len()
                )));
            }
        }
        BackupCmd::List { instance } => print_backups(&ops.list_backups(instance).await?, as_json),
        BackupCmd::Show { id } => {
            let row = ops.get_backup(id).await?;
            show(as_json, &BackupView::from(row.clone()), |_| {
                output::fields(&backup_details(&row))
            })
        }
        BackupCmd::Verify { id } => {
            let row = backup_jobs::verify(ops, actor, id).await?;
            show(as_json, &BackupView::from(row.clone()), |_| {
                println!("{}", verify_summary(&row))
            });
            if row.verify_state == Some(BackupStatus::Failed) {
                return Err(Failure::failed(format!(
                    "backup {id} FAILED verification: {}",
                    row.verify_message
                )));
            }
        }
        BackupCmd::Restore { id, into } => {
            let row = backup_jobs::restore(ops, actor, id, into).await?;
            show(as_json, &row, |r| println!("{}", restore_summary(r)));
            if row.status == BackupStatus::Failed {
                return Err(Failure::failed(format!("restore failed: {}", row.message)));
            }
        }
        BackupCmd::Status => print_status(&ops.backup_status().await?, as_json),
        BackupCmd::ImportManifests => {
            show(as_json, &ops.import_manifests(actor).await?, print_import)
        }
        BackupCmd::Policy { plan, change } => {
            let mut policy = ops.get_backup_policy(&plan).await?;
            if let Some(changed) = change.applied_to(&policy) {
                policy = ops.set_backup_policy(actor, &plan, changed).await?;
            }
            show(as_json, &policy, |p| {
                println!("{}", policy_summary(&plan, p))
            });
        }
    }
    Ok(())
}

/// The instances `backup run` means: one, one client's, or all.
async fn targets(
    ops: &Ops,
    all: bool,
    client: Option<String>,
    instance: Option<i64>,
) -> Result<Vec<i64>, Failure> {
    let slug = match (all, client, instance) {
        (_, _, Some(id)) => return Ok(vec![id]),
        (_, Some(slug), _) => Some(slug),
        (true, _, _) => None,
        _ => {
            return Err(Failure::usage(
                "say what to back up: --all, --client SLUG or --instance ID",
            ))
        }
    };
    let instances = ops.list_instances(slug.as_deref()).await?;
    Ok(instances.into_iter().map(|i| i.id).collect())
}

impl PolicyChange {
    /// `policy` with the given values, or None when none was given.
    fn applied_to(self, policy: &BackupPolicy) -> Option<BackupPolicy> {
        let given = self.schedule.is_some()
            || self.keep_last.is_some()
            || self.keep_daily.is_some()
            || self.keep_weekly.is_some()
            || self.keep_monthly.is_some();
        given.then(|| BackupPolicy {
            schedule: self.schedule.or_else(|| policy.schedule.clone()),
            keep_last: self.keep_last.or(policy.keep_last),
            keep_daily: self.keep_daily.or(policy.keep_daily),
            keep_weekly: self.keep_weekly.or(policy.keep_weekly),
            keep_monthly: self.keep_monthly.or(policy.keep_monthly),
        })
    }
}

fn print_import(r: &ImportReport) {
    println!(
        "Imported {} backup(s); {} already known; {} problem(s).",
        r.imported.len(),
        r.already_known,
        r.problems.len()
    );
    for p in &r.problems {
        println!("problem: {p}");
    }
}

fn print_status(list: &[BackupHealth], as_json: bool) {
    let header = &["id", "instance", "last good", "last failed", "state"];
    output::list(as_json, list, header, |s| {
        vec![
            s.instance_id.to_string(),
            format!("{}/{}", s.client, s.instance),
            s.last_ok_at.clone().unwrap_or_else(|| "never".into()),
            s.last_failed_at.clone().unwrap_or_else(|| "-".into()),
            if s.stale { "STALE".into() } else { "ok".into() },
        ]
    });
}

fn print_backups(rows: &[BackupRow], as_json: bool) {
    let header = &[
        "id", "instance", "status", "created", "size", "ratio", "took", "frozen", "verified",
        "message",
    ];
    if as_json {
        return output::json(&views::<_, BackupView>(rows.to_vec()));
    }
    let cells = |b: &BackupRow| {
        let secs = |ms: Option<u64>| {
            ms.map(|d| format!("{:.1}s", d as f64 / 1000.0))
                .unwrap_or_else(|| "-".into())
        };
        vec![
            b.id.to_string(),
            format!("{}/{}", b.client_slug, b.instance_name),
            b.status.to_string(),
            b.created_at.clone(),
            b.size.map(output::size).unwrap_or_else(|| "-".into()),
            b.ratio()
                .map(|r| format!("{:.0}%", r * 100.0))
                .unwrap_or_else(|| "-".into()),
            secs(b.duration_ms),
            secs(b.freeze_ms),
            b.verify_state.map_or_else(|| "-".into(), |v| v.to_string()),
            b.message.clone(),
        ]
    };
    output::table(header, rows.iter().map(cells).collect());
}

fn backup_details(b: &BackupRow) -> Vec<(&'static str, String)> {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    vec![
        ("id", b.id.to_string()),
        ("instance", format!("{}/{}", b.client_slug, b.instance_name)),
        ("status", b.status.to_string()),
        ("trigger", b.trigger.to_string()),
        ("created", b.created_at.clone()),
        ("finished", opt(b.finished_at.clone())),
        ("archive", opt(b.path.clone())),
        ("size", opt(b.size.map(size))),
        ("source", opt(b.source_bytes.map(size))),
        ("files", opt(b.files.map(|f| f.to_string()))),
        ("sha256", opt(b.sha256.clone())),
        ("consistency", b.consistency.clone()),
        (
            "verified",
            match &b.verify_state {
                Some(s) => format!("{s} {}", b.verify_message).trim_end().to_owned(),
                None => "-".into(),
            },
        ),
        ("message", b.message.clone()),
    ]
}

fn restore_summary(r: &RestoreRow) -> String {
    let tail = if r.message.is_empty() {
        String::new()
    } else {
        format!(": {}", r.message)
    };
    format!(
        "Restore {} of backup {} into instance {} ({}): {}{tail}",
        r.id,
        r.backup_id,
        r.instance_id,
        r.mode.as_str().replace('_', " "),
        r.status
    )
}

fn verify_summary(b: &BackupRow) -> String {
    let outcome = if b.verify_state == Some(BackupStatus::Ok) {
        "verified"
    } else {
        "FAILED verification"
    };
    format!("Backup {} {outcome}: {}", b.id, b.verify_message)
}

fn policy_summary(plan: &str, p: &BackupPolicy) -> String {
    let or_default = |v: Option<u32>| v.map_or("default".into(), |n| n.to_string());
    let schedule = match p.schedule.as_deref() {
        None => "default".into(),
        Some("") => "off".into(),
        Some(s) => format!("\"{s}\""),
    };
    format!(
        "Plan {plan}: schedule {schedule}, keep last {}, daily {}, weekly {}, monthly {}.",
        or_default(p.keep_last),
        or_default(p.keep_daily),
        or_default(p.keep_weekly),
        or_default(p.keep_monthly)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(schedule: Option<&str>, keep_last: Option<u32>) -> BackupPolicy {
        BackupPolicy {
            schedule: schedule.map(str::to_owned),
            keep_last,
            keep_daily: Some(7),
            keep_weekly: None,
            keep_monthly: None,
        }
    }

    fn change(schedule: Option<&str>, keep_last: Option<u32>) -> PolicyChange {
        PolicyChange {
            schedule: schedule.map(str::to_owned),
            keep_last,
            keep_daily: None,
            keep_weekly: None,
            keep_monthly: None,
        }
    }

    #[test]
    fn a_policy_changes_only_in_the_values_given() {
        let old = policy(Some("0 3 * * *"), Some(5));
        assert!(change(None, None).applied_to(&old).is_none());
        let new = change(None, Some(9)).applied_to(&old).unwrap();
        assert_eq!(new, policy(Some("0 3 * * *"), Some(9)));
        let off = change(Some(""), None).applied_to(&old).unwrap();
        assert_eq!(off, policy(Some(""), Some(5)));
    }

    #[test]
    fn a_policy_reads_default_off_or_its_cron() {
        assert_eq!(
            policy_summary("small", &policy(None, None)),
            "Plan small: schedule default, keep last default, daily 7, weekly default, monthly default."
        );
        assert!(policy_summary("small", &policy(Some(""), None)).contains("schedule off,"));
        assert!(policy_summary("small", &policy(Some("0 3 * * *"), Some(2)))
            .contains("schedule \"0 3 * * *\", keep last 2,"));
    }
}
