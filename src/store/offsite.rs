//! Offsite copy and offsite restore rows (migration 020): jobs with a
//! status, queued → running → ok | failed, like backups.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::backup_jobs::pid_alive;
use super::rows::{all, by_id, count, count_opt, jobs_by_status, select_row};
use super::{now, StoreError};
use crate::domain::{BackupStatus, OffsiteKind, RestoreMode};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CopyRow {
    pub id: i64,
    pub target: String,
    pub kind: OffsiteKind,
    /// The local backup copied (instance copies only).
    pub backup_id: Option<i64>,
    pub instance_id: Option<i64>,
    pub client_slug: String,
    pub instance_name: String,
    pub status: BackupStatus,
    /// restic's snapshot id once the copy finished.
    pub snapshot_id: Option<String>,
    /// Bytes restic has read so far (progress), then in all.
    pub bytes_processed: u64,
    /// New bytes the copy stored in the repository after dedup and compression.
    pub bytes_added: Option<u64>,
    pub message: String,
    pub runner_pid: Option<i64>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

select_row! {
    CopyRow from "offsite_copies" as "offsite copy" {
        id, target, kind, backup_id, instance_id, client_slug, instance_name, status,
        snapshot_id, bytes_processed as count, bytes_added as count_opt, message,
        runner_pid, created_at, started_at, finished_at,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OffsiteRestoreRow {
    pub id: i64,
    pub target: String,
    pub snapshot_id: String,
    pub instance_id: i64,
    pub status: BackupStatus,
    /// The local backup the snapshot was downloaded into.
    pub backup_id: Option<i64>,
    /// The local restore (swap with rollback) that puts it in place.
    pub restore_id: Option<i64>,
    pub message: String,
    pub runner_pid: Option<i64>,
    pub created_at: String,
    pub finished_at: Option<String>,
    /// In place, or into `instance_id` as a new instance (migration 022).
    pub mode: RestoreMode,
    /// "client/instance" the snapshot holds ("" on rows older than 022).
    pub source: String,
}

select_row! {
    OffsiteRestoreRow from "offsite_restores" as "offsite restore" {
        id, target, snapshot_id, instance_id, status, backup_id, restore_id, message,
        runner_pid, created_at, finished_at, mode, source,
    }
}

/// What one copy is of.
pub struct NewCopy<'a> {
    pub target: &'a str,
    pub kind: OffsiteKind,
    pub backup_id: Option<i64>,
    pub instance_id: Option<i64>,
    pub client_slug: &'a str,
    pub instance_name: &'a str,
}

/// Queues a copy unless the same one (target, kind, backup) is already
/// queued or running; returns the id of the one that will run.
pub fn enqueue_copy(conn: &Connection, c: &NewCopy) -> Result<i64, StoreError> {
    let existing: Option<i64> = conn
        .query_row(
            "SELECT id FROM offsite_copies WHERE target = ?1 AND kind = ?2 AND backup_id IS ?3
             AND status IN ('queued', 'running')",
            params![c.target, c.kind, c.backup_id],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = existing {
        return Ok(id);
    }
    conn.execute(
        "INSERT INTO offsite_copies (target, kind, backup_id, instance_id, client_slug, instance_name, status, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![c.target, c.kind, c.backup_id, c.instance_id, c.client_slug, c.instance_name,
            BackupStatus::Queued, now()],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn get_copy(conn: &Connection, id: i64) -> Result<CopyRow, StoreError> {
    by_id(conn, id)
}

pub fn copies_by_status(conn: &Connection, s: BackupStatus) -> Result<Vec<CopyRow>, StoreError> {
    jobs_by_status(conn, s)
}

/// A target's copies, newest first.
pub fn list_copies(
    conn: &Connection,
    target: &str,
    limit: u32,
) -> Result<Vec<CopyRow>, StoreError> {
    let sql = format!(
        "{} WHERE target = ?1 ORDER BY id DESC LIMIT ?2",
        <CopyRow as super::rows::SelectRow>::SELECT
    );
    all(
        conn,
        &sql,
        params![target, limit],
        <CopyRow as super::rows::SelectRow>::from_row,
    )
}

pub fn claim_copy(conn: &Connection, id: i64, pid: u32) -> Result<bool, StoreError> {
    Ok(conn.execute(
        // Not while a forget, prune or check of the target is queued or
        // running: they take restic's exclusive lock (store::offsite_runs).
        "UPDATE offsite_copies SET status = ?3, runner_pid = ?2, started_at = ?5
         WHERE id = ?1 AND status = ?4
         AND NOT EXISTS (SELECT 1 FROM offsite_runs r WHERE r.target = offsite_copies.target
             AND r.status IN ('queued', 'running') AND r.kind IN ('forget', 'prune', 'check')
             AND r.dry_run = 0)",
        params![id, pid, BackupStatus::Running, BackupStatus::Queued, now()],
    )? > 0)
}

pub fn copy_progress(conn: &Connection, id: i64, bytes: u64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE offsite_copies SET bytes_processed = ?2 WHERE id = ?1",
        params![id, bytes as i64],
    )?;
    Ok(())
}

/// The outcome of a copy restic finished.
pub struct CopyDone {
    pub snapshot_id: String,
    pub bytes_processed: u64,
    pub bytes_added: u64,
}

pub fn finish_copy(
    conn: &Connection,
    id: i64,
    outcome: Result<&CopyDone, &str>,
) -> Result<(), StoreError> {
    match outcome {
        Ok(d) => conn.execute(
            "UPDATE offsite_copies SET status = ?2, snapshot_id = ?3, bytes_processed = ?4,
             bytes_added = ?5, message = '', finished_at = ?6 WHERE id = ?1",
            params![
                id,
                BackupStatus::Ok,
                d.snapshot_id,
                d.bytes_processed as i64,
                d.bytes_added as i64,
                now()
            ],
        )?,
        Err(why) => conn.execute(
            "UPDATE offsite_copies SET status = ?2, message = ?3, finished_at = ?4 WHERE id = ?1",
            params![id, BackupStatus::Failed, why, now()],
        )?,
    };
    Ok(())
}

/// Copies left running by a process that is gone (berth killed): failed,
/// with the reason, so no dead copy ever reads as in progress or done.
pub fn fail_orphaned_copies(conn: &Connection) -> Result<Vec<CopyRow>, StoreError> {
    let running = copies_by_status(conn, BackupStatus::Running)?;
    let mut failed = Vec::new();
    for row in running.into_iter().filter(|r| !pid_alive(r.runner_pid)) {
        let why = format!(
            "interrupted: the berth process (pid {}) ended during the copy; restic writes a \
             snapshot only when a copy completes, so none was written",
            row.runner_pid.unwrap_or(0)
        );
        finish_copy(conn, row.id, Err(&why))?;
        failed.push(row);
    }
    Ok(failed)
}

/// Per target: the newest good copy's finish time, and bytes added in all.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetSummary {
    pub target: String,
    pub last_success: Option<String>,
    pub last_failure: Option<String>,
    pub bytes_added_total: u64,
    pub copies_ok: u64,
    pub copies_failed: u64,
}

pub fn summary(conn: &Connection, target: &str) -> Result<TargetSummary, StoreError> {
    conn.query_row(
        "SELECT MAX(CASE WHEN status = 'ok' THEN finished_at END),
                MAX(CASE WHEN status = 'failed' THEN finished_at END),
                COALESCE(SUM(CASE WHEN status = 'ok' THEN bytes_added END), 0),
                COUNT(CASE WHEN status = 'ok' THEN 1 END),
                COUNT(CASE WHEN status = 'failed' THEN 1 END)
         FROM offsite_copies WHERE target = ?1",
        [target],
        |r| {
            Ok(TargetSummary {
                target: target.to_owned(),
                last_success: r.get(0)?,
                last_failure: r.get(1)?,
                bytes_added_total: count(r.get(2)?),
                copies_ok: count(r.get(3)?),
                copies_failed: count(r.get(4)?),
            })
        },
    )
    .map_err(StoreError::from)
}

/// Queues a restore from `snapshot`; refused by the caller while another
/// offsite or local restore of the instance is active.
pub fn enqueue_restore(
    conn: &Connection,
    target: &str,
    snapshot: &str,
    instance_id: i64,
) -> Result<i64, StoreError> {
    enqueue_restore_as(
        conn,
        target,
        snapshot,
        instance_id,
        RestoreMode::InPlace,
        "",
    )
}

/// Queues a restore of `snapshot` (holding `source`, "client/instance")
/// into `instance_id`: in place, or as a clone newly made for it.
pub fn enqueue_restore_as(
    conn: &Connection,
    target: &str,
    snapshot: &str,
    instance_id: i64,
    mode: RestoreMode,
    source: &str,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO offsite_restores (target, snapshot_id, instance_id, status, created_at, mode, source)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![target, snapshot, instance_id, BackupStatus::Queued, now(), mode, source],
    )?;
    Ok(conn.last_insert_rowid())
}

/// A target's offsite restores, newest first.
pub fn list_restores(
    conn: &Connection,
    target: &str,
    limit: u32,
) -> Result<Vec<OffsiteRestoreRow>, StoreError> {
    let sql = format!(
        "{} WHERE target = ?1 ORDER BY id DESC LIMIT ?2",
        <OffsiteRestoreRow as super::rows::SelectRow>::SELECT
    );
    all(
        conn,
        &sql,
        params![target, limit],
        <OffsiteRestoreRow as super::rows::SelectRow>::from_row,
    )
}

pub fn active_restore(conn: &Connection, instance_id: i64) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id FROM offsite_restores WHERE instance_id = ?1 AND status IN ('queued', 'running')",
            [instance_id],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn get_restore(conn: &Connection, id: i64) -> Result<OffsiteRestoreRow, StoreError> {
    by_id(conn, id)
}

pub fn restores_by_status(
    conn: &Connection,
    s: BackupStatus,
) -> Result<Vec<OffsiteRestoreRow>, StoreError> {
    jobs_by_status(conn, s)
}

pub fn claim_restore(conn: &Connection, id: i64, pid: u32) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE offsite_restores SET status = ?3, runner_pid = ?2 WHERE id = ?1 AND status = ?4
         AND NOT EXISTS (SELECT 1 FROM offsite_runs r WHERE r.target = offsite_restores.target
             AND r.status = 'running' AND r.kind IN ('forget', 'prune', 'check') AND r.dry_run = 0)",
        params![id, pid, BackupStatus::Running, BackupStatus::Queued],
    )? > 0)
}

pub fn finish_restore(
    conn: &Connection,
    id: i64,
    outcome: Result<(i64, i64), &str>,
) -> Result<(), StoreError> {
    match outcome {
        Ok((backup, restore)) => conn.execute(
            "UPDATE offsite_restores SET status = ?2, backup_id = ?3, restore_id = ?4,
             message = 'downloaded; the local restore puts it in place', finished_at = ?5 WHERE id = ?1",
            params![id, BackupStatus::Ok, backup, restore, now()],
        )?,
        Err(why) => conn.execute(
            "UPDATE offsite_restores SET status = ?2, message = ?3, finished_at = ?4 WHERE id = ?1",
            params![id, BackupStatus::Failed, why, now()],
        )?,
    };
    Ok(())
}

/// Offsite restores cut off mid-download: failed (the local data was not
/// touched yet; a partial download is removed by the worker's sweep).
pub fn fail_orphaned_restores(conn: &Connection) -> Result<Vec<OffsiteRestoreRow>, StoreError> {
    let running = restores_by_status(conn, BackupStatus::Running)?;
    let mut failed = Vec::new();
    for row in running.into_iter().filter(|r| !pid_alive(r.runner_pid)) {
        finish_restore(
            conn,
            row.id,
            Err("interrupted: berth ended during the download; the live data is untouched"),
        )?;
        failed.push(row);
    }
    Ok(failed)
}

/// Whether `backup_id` still needs a copy on `target`: none queued, running
/// or done, and fewer than `max_failures` failed attempts, the newest of
/// them longer ago than `backoff` times their number.
pub fn needs_copy(
    conn: &Connection,
    target: &str,
    backup_id: i64,
    max_failures: u32,
    backoff: std::time::Duration,
) -> Result<bool, StoreError> {
    let (active, failures, last): (bool, u32, Option<String>) = conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM offsite_copies WHERE target = ?1 AND backup_id = ?2
                       AND status IN ('queued', 'running', 'ok')),
                (SELECT COUNT(*) FROM offsite_copies WHERE target = ?1 AND backup_id = ?2 AND status = 'failed'),
                (SELECT MAX(finished_at) FROM offsite_copies WHERE target = ?1 AND backup_id = ?2 AND status = 'failed')",
        params![target, backup_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    if active || failures >= max_failures {
        return Ok(false);
    }
    Ok(match last {
        Some(at) => at < super::now_minus(backoff * failures),
        None => true,
    })
}

/// The instance's backups a queued or running copy still has to read:
/// local retention keeps them until the copy is done.
pub fn awaiting_copy(conn: &Connection, instance_id: i64) -> Result<Vec<i64>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT c.backup_id FROM offsite_copies c JOIN backups b ON b.id = c.backup_id
         WHERE b.instance_id = ?1 AND c.status IN ('queued', 'running')",
    )?;
    let ids = stmt.query_map([instance_id], |r| r.get(0))?;
    Ok(ids.collect::<Result<_, _>>()?)
}

/// A backup downloaded from an offsite snapshot, ready for a local restore.
pub fn insert_downloaded(
    conn: &Connection,
    instance_id: i64,
    m: &crate::domain::Manifest,
    path: &str,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO backups (instance_id, client_slug, instance_name, status, trigger, path, consistency,
         bytes_done, source_bytes, size, files, sha256, level, duration_ms, freeze_ms, created_at, started_at, finished_at)
         VALUES (?1, ?2, ?3, ?14, ?15, ?4, ?5, ?6, ?6, ?7, ?8, ?9, ?10, ?11, 0, ?12, ?12, ?13)",
        params![instance_id, m.client, m.instance, path, m.consistency, m.source_bytes as i64, m.size as i64,
            m.files as i64, m.sha256, m.level, m.duration_ms as i64, m.created_at, m.finished_at,
            BackupStatus::Ok, crate::domain::Trigger::Offsite],
    )?;
    Ok(conn.last_insert_rowid())
}

#[cfg(test)]
#[path = "offsite_tests.rs"]
mod tests;
