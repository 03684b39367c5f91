//! `berth offsite forget|prune|test-restore|runs`: maintenance runs queued
//! through `ops::` and carried out in this process when the daemon has not
//! taken them first (like `berth offsite copy`), then reported.

use super::error::Failure;
use super::output::{self, size};
use crate::audit::Actor;
use crate::domain::{BackupStatus, OffsiteRunKind};
use crate::ops::{OffsiteStatus, Ops, RunOptions};
use crate::store::offsite_runs::RunRow;

/// Queues a run, runs it here, prints how it ended; non-zero when it failed.
pub async fn run(
    ops: &Ops,
    actor: &Actor,
    target: &str,
    kind: OffsiteRunKind,
    opts: RunOptions,
    as_json: bool,
) -> Result<(), Failure> {
    let row = ops.request_offsite_run(actor, target, kind, opts).await?;
    let row = ops.run_offsite_run_here(row.id).await?;
    output::show(as_json, &row, |r| println!("{}", line(r)));
    if row.status != BackupStatus::Ok {
        return Err(Failure::failed(format!(
            "{} {} failed: {}",
            row.kind, row.id, row.message
        )));
    }
    Ok(())
}

/// A target's runs, newest first.
pub async fn list(ops: &Ops, target: &str, as_json: bool) -> Result<(), Failure> {
    let runs = ops.offsite_runs(target, 50).await?;
    output::list(
        as_json,
        &runs,
        &["ID", "KIND", "STATUS", "FINISHED", "INSTANCE", "MESSAGE"],
        |r| {
            vec![
                r.id.to_string(),
                if r.dry_run {
                    format!("{} (dry run)", r.kind)
                } else {
                    r.kind.to_string()
                },
                r.status.to_string(),
                r.finished_at.clone().unwrap_or_else(|| "-".into()),
                if r.client_slug.is_empty() {
                    "-".into()
                } else {
                    format!("{}/{}", r.client_slug, r.instance_name)
                },
                r.message.chars().take(100).collect(),
            ]
        },
    );
    Ok(())
}

/// `berth offsite status`'s second table: when maintenance last succeeded.
pub fn print_maintenance(status: &[OffsiteStatus]) {
    let never = |v: &Option<String>| v.clone().unwrap_or_else(|| "never".into());
    println!();
    output::list(
        false,
        status,
        &[
            "TARGET",
            "LAST FORGET",
            "LAST PRUNE",
            "LAST CHECK",
            "LAST TEST-RESTORE",
            "FAILING",
        ],
        |s| {
            let m = &s.maintenance;
            let failing: Vec<&str> = m.failing.iter().map(|k| k.as_str()).collect();
            vec![
                s.name.clone(),
                never(&m.last_forget),
                never(&m.last_prune),
                never(&m.last_check),
                never(&m.last_test_restore),
                if failing.is_empty() {
                    "-".into()
                } else {
                    failing.join(",")
                },
            ]
        },
    );
}

fn line(r: &RunRow) -> String {
    let what = if r.dry_run {
        format!("{} (dry run)", r.kind)
    } else {
        r.kind.to_string()
    };
    let bytes = r
        .bytes
        .map(|b| format!(" ({} verified)", size(b)))
        .unwrap_or_default();
    format!(
        "{what} {} on {}: {}: {}{bytes}",
        r.id, r.target, r.status, r.message
    )
}
