//! The rest of backups' state: restore jobs, per-plan policies, and the
//! holds that keep the reconciler away from a container a backup stopped.

use std::collections::HashSet;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::rows::{by_id, jobs_by_status, select_row};
use super::{now, StoreError};
use crate::domain::{BackupStatus, RestoreMode};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RestoreRow {
    pub id: i64,
    pub backup_id: i64,
    /// The instance restored into (the original, or the clone).
    pub instance_id: i64,
    pub mode: RestoreMode,
    pub status: BackupStatus,
    pub message: String,
    pub created_at: String,
    pub finished_at: Option<String>,
}

select_row! {
    RestoreRow from "restores" as "restore" {
        id, backup_id, instance_id, mode, status, message, created_at, finished_at,
    }
}

pub fn enqueue_restore(
    conn: &Connection,
    backup_id: i64,
    instance_id: i64,
    mode: RestoreMode,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO restores (backup_id, instance_id, mode, status, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![backup_id, instance_id, mode, BackupStatus::Queued, now()],
    )?;
    Ok(conn.last_insert_rowid())
}

/// The queued or running restore into `instance_id`, if any. Callers check it
/// in the same (immediate) transaction that enqueues, so two requests cannot
/// both see none.
pub fn active_restore(conn: &Connection, instance_id: i64) -> Result<Option<i64>, StoreError> {
    active_job(conn, "restores", instance_id)
}

/// The oldest queued or running job in `table` (backups or restores) for
/// this instance.
pub(super) fn active_job(
    conn: &Connection,
    table: &'static str,
    instance_id: i64,
) -> Result<Option<i64>, StoreError> {
    let sql = format!(
        "SELECT id FROM {table} WHERE instance_id = ?1 AND status IN (?2, ?3) ORDER BY id LIMIT 1"
    );
    Ok(conn
        .query_row(
            &sql,
            params![instance_id, BackupStatus::Queued, BackupStatus::Running],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn get_restore(conn: &Connection, id: i64) -> Result<RestoreRow, StoreError> {
    by_id(conn, id)
}

pub fn restores_by_status(
    conn: &Connection,
    status: BackupStatus,
) -> Result<Vec<RestoreRow>, StoreError> {
    jobs_by_status(conn, status)
}

pub fn claim_restore(conn: &Connection, id: i64, pid: u32) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE restores SET status = ?3, runner_pid = ?2 WHERE id = ?1 AND status = ?4",
        params![id, pid, BackupStatus::Running, BackupStatus::Queued],
    )? > 0)
}

pub fn finish_restore(
    conn: &Connection,
    id: i64,
    ok: bool,
    message: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE restores SET status = ?2, message = ?3, finished_at = ?4 WHERE id = ?1",
        params![id, BackupStatus::finished(ok), message, now()],
    )?;
    Ok(())
}

/// Running restores whose process is gone (berth was killed mid-restore).
pub fn orphaned_restores(conn: &mut Connection) -> Result<Vec<i64>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT id, runner_pid FROM restores WHERE status = 'running'")?;
    let rows: Vec<(i64, Option<i64>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows
        .into_iter()
        .filter(|(_, pid)| !pid_alive(*pid))
        .map(|(id, _)| id)
        .collect())
}

/// A plan's override of the global backup settings; `None` fields inherit.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BackupPolicy {
    pub schedule: Option<String>,
    pub keep_last: Option<u32>,
    pub keep_daily: Option<u32>,
    pub keep_weekly: Option<u32>,
    pub keep_monthly: Option<u32>,
}

pub fn policy(conn: &Connection, plan_id: i64) -> Result<BackupPolicy, StoreError> {
    Ok(conn
        .query_row(
            "SELECT schedule, keep_last, keep_daily, keep_weekly, keep_monthly FROM backup_policies WHERE plan_id = ?1",
            [plan_id],
            |r| {
                Ok(BackupPolicy {
                    schedule: r.get(0)?,
                    keep_last: r.get(1)?,
                    keep_daily: r.get(2)?,
                    keep_weekly: r.get(3)?,
                    keep_monthly: r.get(4)?,
                })
            },
        )
        .optional()?
        .unwrap_or_default())
}

pub fn set_policy(conn: &Connection, plan_id: i64, p: &BackupPolicy) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO backup_policies (plan_id, schedule, keep_last, keep_daily, keep_weekly, keep_monthly)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (plan_id) DO UPDATE SET schedule = ?2, keep_last = ?3, keep_daily = ?4, keep_weekly = ?5, keep_monthly = ?6",
        params![plan_id, p.schedule, p.keep_last, p.keep_daily, p.keep_weekly, p.keep_monthly],
    )?;
    Ok(())
}

/// Plan name → its policy, for plans that have one.
pub fn all_policies(conn: &mut Connection) -> Result<Vec<(String, BackupPolicy)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.name, b.schedule, b.keep_last, b.keep_daily, b.keep_weekly, b.keep_monthly
         FROM backup_policies b JOIN plans p ON p.id = b.plan_id ORDER BY p.name",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                BackupPolicy {
                    schedule: r.get(1)?,
                    keep_last: r.get(2)?,
                    keep_daily: r.get(3)?,
                    keep_weekly: r.get(4)?,
                    keep_monthly: r.get(5)?,
                },
            ))
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Takes the hold; fails with a conflict when another live process has it.
pub fn hold(conn: &Connection, instance_id: i64, reason: &str, pid: u32) -> Result<(), StoreError> {
    let existing: Option<i64> = conn
        .query_row(
            "SELECT pid FROM instance_holds WHERE instance_id = ?1",
            [instance_id],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(other) = existing {
        if other != i64::from(pid) && pid_alive(Some(other)) {
            return Err(StoreError::Conflict(format!(
                "instance {instance_id} is held by process {other}"
            )));
        }
    }
    conn.execute(
        "INSERT OR REPLACE INTO instance_holds (instance_id, reason, pid, since) VALUES (?1, ?2, ?3, ?4)",
        params![instance_id, reason, pid, now()],
    )?;
    Ok(())
}

pub fn release(conn: &Connection, instance_id: i64, pid: u32) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM instance_holds WHERE instance_id = ?1 AND pid = ?2",
        params![instance_id, pid],
    )?;
    Ok(())
}

/// Drops holds whose process is gone.
pub fn release_dead(conn: &mut Connection) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached("SELECT instance_id, pid FROM instance_holds")?;
    let rows: Vec<(i64, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    drop(stmt);
    for (id, pid) in rows.into_iter().filter(|(_, pid)| !pid_alive(Some(*pid))) {
        conn.execute(
            "DELETE FROM instance_holds WHERE instance_id = ?1 AND pid = ?2",
            params![id, pid],
        )?;
    }
    Ok(())
}

/// Instances whose container the reconciler must leave alone right now.
pub fn held(conn: &Connection) -> Result<HashSet<i64>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT instance_id, pid FROM instance_holds")?;
    let rows: Vec<(i64, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows
        .into_iter()
        .filter(|(_, pid)| pid_alive(Some(*pid)))
        .map(|(id, _)| id)
        .collect())
}

/// Whether the process that claimed a job still exists. The CLI and the
/// daemon share the host, so a pid names the same process for both.
pub fn pid_alive(pid: Option<i64>) -> bool {
    match pid {
        // A zombie (killed, not yet reaped) is as gone as a missing pid.
        Some(p) if p > 0 => std::fs::read_to_string(format!("/proc/{p}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .map(|(_, rest)| rest.trim_start().starts_with('Z'))
            })
            .is_some_and(|zombie| !zombie),
        _ => false,
    }
}
