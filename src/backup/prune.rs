//! Retention applied: after each good backup, the instance's GFS rules
//! (its plan's policy over the global config) decide what stays; the rest is
//! deleted, files first, with one audit entry per prune.

use std::path::PathBuf;

use serde_json::json;

use super::archive;
use super::retention::{self, Candidate, Rules};
use super::Runner;
use crate::audit::{self, Actor};
use crate::domain::BackupStatus;
use crate::store::backups::{self as rows, BackupRow};
use crate::store::{backup_jobs, instances, plans, StoreError};

/// A plan's retention: its backup policy's `keep_*`, else `[backup]`'s.
/// Offsite retention keeps an instance's snapshots by the same rules.
pub fn plan_rules(
    c: &rusqlite::Connection,
    g: &crate::config::BackupConfig,
    plan: &str,
) -> Result<Rules, StoreError> {
    let plan = plans::get(c, plan)?;
    let p = backup_jobs::policy(c, plan.id)?;
    Ok(Rules {
        last: p.keep_last.unwrap_or(g.keep_last),
        daily: p.keep_daily.unwrap_or(g.keep_daily),
        weekly: p.keep_weekly.unwrap_or(g.keep_weekly),
        monthly: p.keep_monthly.unwrap_or(g.keep_monthly),
    })
}

/// The global `[backup]` retention (berth's own state goes by it offsite).
pub fn global_rules(g: &crate::config::BackupConfig) -> Rules {
    Rules {
        last: g.keep_last,
        daily: g.keep_daily,
        weekly: g.keep_weekly,
        monthly: g.keep_monthly,
    }
}

/// Applies the instance's retention (its plan's policy over the global
/// one) and deletes what falls out, files first; one audit entry per prune.
pub async fn prune(runner: &Runner, instance_id: i64) -> Result<Vec<String>, StoreError> {
    let config = runner.config.clone();
    let root = config.backup_dir();
    let (list, rules, inst, protected) = runner
        .store
        .call(move |c| {
            let inst = instances::get(c, instance_id)?;
            let rules = plan_rules(c, &config.backup, &inst.plan)?;
            let mut protected = crate::store::rollouts::protected_backups(c, instance_id)?;
            protected.extend(crate::store::offsite::awaiting_copy(c, instance_id)?);
            Ok((
                rows::list_for_instance(c, instance_id)?,
                rules,
                inst,
                protected,
            ))
        })
        .await?;
    let good: Vec<&BackupRow> = list
        .iter()
        .filter(|b| b.status == BackupStatus::Ok)
        .collect();
    let candidates: Vec<Candidate> = good
        .iter()
        .map(|b| Candidate {
            id: b.id,
            at: unix(b.finished_at.as_deref().unwrap_or(&b.created_at)),
            verified: b.verify_state == Some(BackupStatus::Ok),
        })
        .collect();
    // A rollback point stays whatever the rules say: a manual rollback
    // (or a rollout under way) restores it; so does an archive an offsite
    // copy is queued for or reading.
    let mut kept = retention::keep(&candidates, &rules);
    kept.extend(protected);
    let dropped: Vec<(i64, Option<String>)> = good
        .iter()
        .filter(|b| !kept.contains(&b.id))
        .map(|b| (b.id, b.path.clone()))
        .collect();
    if dropped.is_empty() {
        return Ok(Vec::new());
    }
    let mut removed = Vec::new();
    for (_, path) in &dropped {
        if let Some(p) = path {
            let file: PathBuf = root.join(p);
            let _ = tokio::fs::remove_file(archive::manifest_path(&file)).await;
            match tokio::fs::remove_file(&file).await {
                Ok(()) => removed.push(p.clone()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => removed.push(p.clone()),
                Err(e) => {
                    tracing::warn!(file = %file.display(), error = %e, "cannot remove pruned backup")
                }
            }
        }
    }
    let ids: Vec<i64> = dropped.iter().map(|(id, _)| *id).collect();
    let (details, slug, target) = (
        json!({ "removed": removed, "ids": ids, "rules": rules }),
        inst.client_slug.clone(),
        format!("{}/{}", inst.client_slug, inst.name),
    );
    runner
        .store
        .call(move |c| {
            let tx = c.transaction()?;
            for id in &ids {
                rows::delete(&tx, *id)?;
            }
            audit::record(
                &tx,
                &Actor::system(),
                "backup.prune",
                &target,
                Some(&slug),
                details,
            )?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    Ok(removed)
}

fn unix(at: &str) -> i64 {
    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .unwrap_or(0)
}
