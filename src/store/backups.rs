//! Backup rows: each is a job (queued → running) and then its result
//! (ok | failed) with size, sha256, timings and the last verification.

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::rows::{all, by_id, count, count_opt, jobs_by_status, select_row, SelectRow};
use super::{now, StoreError};
use crate::domain::{BackupStatus, Trigger};

pub use super::backup_jobs::{BackupPolicy, RestoreRow};

#[derive(Debug, Clone, PartialEq)]
pub struct BackupRow {
    pub id: i64,
    pub instance_id: Option<i64>,
    pub client_slug: String,
    pub instance_name: String,
    pub status: BackupStatus,
    pub trigger: Trigger,
    /// Relative to the backup dir: `<client>/<instance>/<timestamp>.tar.zst`.
    pub path: Option<String>,
    pub consistency: String,
    /// Source bytes archived so far (progress while running).
    pub bytes_done: u64,
    /// Source bytes to archive, measured before starting.
    pub bytes_total: Option<u64>,
    pub source_bytes: Option<u64>,
    /// Size of the archive.
    pub size: Option<u64>,
    pub files: Option<u64>,
    pub sha256: Option<String>,
    pub level: Option<i32>,
    pub duration_ms: Option<u64>,
    /// How long the container was paused or stopped.
    pub freeze_ms: Option<u64>,
    /// Why it failed, or notes (e.g. "instance not running: archived as is").
    pub message: String,
    pub verify_state: Option<BackupStatus>,
    pub verified_at: Option<String>,
    pub verify_message: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub runner_pid: Option<i64>,
}

impl BackupRow {
    /// Archive size over source size; < 1 means it compressed.
    pub fn ratio(&self) -> Option<f64> {
        match (self.size, self.source_bytes) {
            (Some(s), Some(src)) if src > 0 => Some(s as f64 / src as f64),
            _ => None,
        }
    }
}

select_row! {
    BackupRow from "backups" as "backup" {
        id, instance_id, client_slug, instance_name, status, trigger, path, consistency,
        bytes_done as count, bytes_total as count_opt, source_bytes as count_opt,
        size as count_opt, files as count_opt, sha256, level, duration_ms as count_opt,
        freeze_ms as count_opt, message, verify_state, verified_at, verify_message,
        created_at, started_at, finished_at, runner_pid,
    }
}

/// Queues a backup; returns its id.
pub fn enqueue(
    conn: &Connection,
    instance_id: i64,
    client_slug: &str,
    instance_name: &str,
    trigger: Trigger,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO backups (instance_id, client_slug, instance_name, status, trigger, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            instance_id,
            client_slug,
            instance_name,
            BackupStatus::Queued,
            trigger,
            now()
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// A queued or running backup of this instance, if any: one at a time per instance.
pub fn active_for(conn: &Connection, instance_id: i64) -> Result<Option<i64>, StoreError> {
    super::backup_jobs::active_job(conn, "backups", instance_id)
}

pub fn get(conn: &Connection, id: i64) -> Result<BackupRow, StoreError> {
    by_id(conn, id)
}

/// Newest first.
pub fn list_for_instance(
    conn: &Connection,
    instance_id: i64,
) -> Result<Vec<BackupRow>, StoreError> {
    let sql = format!(
        "{} WHERE instance_id = ?1 ORDER BY id DESC",
        BackupRow::SELECT
    );
    all(conn, &sql, [instance_id], BackupRow::from_row)
}

/// Every backup record of a client, oldest first: its instances' (removed
/// ones' records went with them) and those imported from manifests.
pub fn list_for_client(
    conn: &Connection,
    client_id: i64,
    slug: &str,
) -> Result<Vec<BackupRow>, StoreError> {
    let sql = format!(
        "{} WHERE instance_id IN (SELECT id FROM instances WHERE client_id = ?1)
            OR (instance_id IS NULL AND client_slug = ?2) ORDER BY id",
        BackupRow::SELECT
    );
    all(conn, &sql, params![client_id, slug], BackupRow::from_row)
}

pub fn list_by_status(
    conn: &Connection,
    status: BackupStatus,
) -> Result<Vec<BackupRow>, StoreError> {
    jobs_by_status(conn, status)
}

pub fn list_verify_queued(conn: &Connection) -> Result<Vec<BackupRow>, StoreError> {
    let sql = format!("{} WHERE verify_state = ?1 ORDER BY id", BackupRow::SELECT);
    all(conn, &sql, [BackupStatus::Queued], BackupRow::from_row)
}

/// Takes a queued backup for this process; false when another runner was first.
pub fn claim(
    conn: &Connection,
    id: i64,
    pid: u32,
    path: &str,
    consistency: &str,
) -> Result<bool, StoreError> {
    let at = now();
    Ok(conn.execute(
        "UPDATE backups SET status = ?6, runner_pid = ?2, path = ?3, consistency = ?4,
         started_at = ?5, heartbeat_at = ?5 WHERE id = ?1 AND status = ?7",
        params![
            id,
            pid,
            path,
            consistency,
            at,
            BackupStatus::Running,
            BackupStatus::Queued
        ],
    )? > 0)
}

pub fn progress(
    conn: &Connection,
    id: i64,
    done: u64,
    total: Option<u64>,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE backups SET bytes_done = ?2, bytes_total = COALESCE(?3, bytes_total), heartbeat_at = ?4 WHERE id = ?1",
        params![id, done as i64, total.map(|t| t as i64), now()],
    )?;
    Ok(())
}

/// What a finished archive recorded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BackupResult {
    pub source_bytes: u64,
    pub size: u64,
    pub files: u64,
    pub sha256: String,
    pub level: i32,
    pub duration_ms: u64,
    pub freeze_ms: u64,
    pub message: String,
}

pub fn finish_ok(conn: &Connection, id: i64, r: &BackupResult) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE backups SET status = ?11, source_bytes = ?2, bytes_done = ?2, size = ?3, files = ?4, sha256 = ?5,
         level = ?6, duration_ms = ?7, freeze_ms = ?8, message = ?9, finished_at = ?10 WHERE id = ?1",
        params![id, r.source_bytes as i64, r.size as i64, r.files as i64, r.sha256, r.level,
            r.duration_ms as i64, r.freeze_ms as i64, r.message, now(), BackupStatus::Ok],
    )?;
    Ok(())
}

/// A failed backup keeps no file: its path is cleared with it.
pub fn finish_failed(
    conn: &Connection,
    id: i64,
    message: &str,
    freeze_ms: Option<u64>,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE backups SET status = ?5, path = NULL, message = ?2, freeze_ms = COALESCE(?3, freeze_ms),
         finished_at = ?4 WHERE id = ?1",
        params![id, message, freeze_ms.map(|f| f as i64), now(), BackupStatus::Failed],
    )?;
    Ok(())
}

pub fn request_verify(conn: &Connection, id: i64) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE backups SET verify_state = ?2 WHERE id = ?1 AND status = ?3
         AND (verify_state IS NULL OR verify_state NOT IN (?2, ?4))",
        params![
            id,
            BackupStatus::Queued,
            BackupStatus::Ok,
            BackupStatus::Running
        ],
    )? > 0)
}

/// Queues a backup of each instance that is not being removed and has none
/// queued or running (the schedule, `backup run --all`); returns the new ids.
pub fn enqueue_many(
    conn: &Connection,
    instance_ids: &[i64],
    trigger: Trigger,
) -> Result<Vec<i64>, StoreError> {
    let mut queued = Vec::new();
    for &id in instance_ids {
        let inst = super::instances::get(conn, id)?;
        if !inst.desired.is_live() || active_for(conn, id)?.is_some() {
            continue;
        }
        queued.push(enqueue(conn, id, &inst.client_slug, &inst.name, trigger)?);
    }
    Ok(queued)
}

/// Queues verification of every instance's newest good backup; returns
/// those not already queued or running.
pub fn request_verify_newest(conn: &Connection) -> Result<Vec<i64>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT MAX(id) FROM backups WHERE status = 'ok' AND instance_id IS NOT NULL GROUP BY instance_id",
    )?;
    let newest: Vec<i64> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut queued = Vec::new();
    for id in newest {
        if request_verify(conn, id)? {
            queued.push(id);
        }
    }
    Ok(queued)
}

/// A verification cut off by the last shutdown starts over.
pub fn requeue_running_verifies(conn: &Connection) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE backups SET verify_state = 'queued' WHERE verify_state = 'running'",
        [],
    )?;
    Ok(())
}

pub fn claim_verify(conn: &Connection, id: i64) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE backups SET verify_state = ?2 WHERE id = ?1 AND verify_state = ?3",
        params![id, BackupStatus::Running, BackupStatus::Queued],
    )? > 0)
}

pub fn finish_verify(
    conn: &Connection,
    id: i64,
    ok: bool,
    message: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE backups SET verify_state = ?2, verify_message = ?3, verified_at = ?4 WHERE id = ?1",
        params![id, BackupStatus::finished(ok), message, now()],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, id: i64) -> Result<(), StoreError> {
    conn.execute("DELETE FROM backups WHERE id = ?1", [id])?;
    Ok(())
}

pub fn path_known(conn: &Connection, path: &str) -> Result<bool, StoreError> {
    Ok(conn
        .query_row("SELECT 1 FROM backups WHERE path = ?1", [path], |_| Ok(()))
        .optional()?
        .is_some())
}

/// A backup rebuilt from its sidecar manifest (the database was lost).
pub fn insert_imported(
    conn: &Connection,
    instance_id: Option<i64>,
    m: &crate::domain::Manifest,
    path: &str,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO backups (instance_id, client_slug, instance_name, status, trigger, path, consistency,
         bytes_done, source_bytes, size, files, sha256, level, duration_ms, freeze_ms, created_at, started_at, finished_at)
         VALUES (?1, ?2, ?3, ?15, ?16, ?4, ?5, ?6, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, ?14)",
        params![instance_id, m.client, m.instance, path, m.consistency, m.source_bytes as i64, m.size as i64,
            m.files as i64, m.sha256, m.level, m.duration_ms as i64, m.freeze_ms as i64, m.created_at, m.finished_at,
            BackupStatus::Ok, Trigger::Import],
    )?;
    Ok(conn.last_insert_rowid())
}

/// (instance id, newest good backup's time, newest failed one's time).
pub type LastBackups = (i64, Option<String>, Option<String>);

/// Per instance: the newest good and failed backup times (None = never), for staleness.
pub fn last_ok_per_instance(conn: &Connection) -> Result<Vec<LastBackups>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.id, (SELECT MAX(finished_at) FROM backups b WHERE b.instance_id = i.id AND b.status = 'ok'),
                (SELECT MAX(finished_at) FROM backups b WHERE b.instance_id = i.id AND b.status = 'failed')
         FROM instances i WHERE i.desired != 'absent' ORDER BY i.id",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// (client slug, instance name, newest good backup's finish time) per live instance.
pub fn newest_ok_by_name(
    conn: &Connection,
) -> Result<Vec<(String, String, Option<String>)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.slug, i.name,
                (SELECT MAX(finished_at) FROM backups b WHERE b.instance_id = i.id AND b.status = 'ok')
         FROM instances i JOIN clients c ON c.id = i.client_id
         WHERE i.desired != 'absent' ORDER BY c.slug, i.name",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Each instance's newest good backup.
pub fn newest_ok_ids(conn: &Connection) -> Result<Vec<i64>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT MAX(id) FROM backups WHERE status = 'ok' AND instance_id IS NOT NULL GROUP BY instance_id",
    )?;
    let ids = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(ids)
}
