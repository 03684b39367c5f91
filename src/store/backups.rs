//! Backup rows: each is a job (queued → running) and then its result
//! (ok | failed) with size, sha256, timings and the last verification.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use super::{now, StoreError};

pub use super::backup_jobs::{BackupPolicy, RestoreRow};

#[derive(Debug, Clone, PartialEq)]
pub struct BackupRow {
    pub id: i64,
    pub instance_id: Option<i64>,
    pub client_slug: String,
    pub instance_name: String,
    /// "queued", "running", "ok" or "failed".
    pub status: String,
    /// "api", "cli", "ui", "schedule" or "import".
    pub trigger: String,
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
    pub verify_state: Option<String>,
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

const SELECT: &str = "SELECT id, instance_id, client_slug, instance_name, status, trigger, path, consistency,
    bytes_done, bytes_total, source_bytes, size, files, sha256, level, duration_ms, freeze_ms, message,
    verify_state, verified_at, verify_message, created_at, started_at, finished_at, runner_pid FROM backups";

fn from_row(r: &Row) -> rusqlite::Result<BackupRow> {
    let u = |i: usize| -> rusqlite::Result<Option<u64>> {
        Ok(r.get::<_, Option<i64>>(i)?.map(|v| v.max(0) as u64))
    };
    Ok(BackupRow {
        id: r.get(0)?,
        instance_id: r.get(1)?,
        client_slug: r.get(2)?,
        instance_name: r.get(3)?,
        status: r.get(4)?,
        trigger: r.get(5)?,
        path: r.get(6)?,
        consistency: r.get(7)?,
        bytes_done: r.get::<_, i64>(8)?.max(0) as u64,
        bytes_total: u(9)?,
        source_bytes: u(10)?,
        size: u(11)?,
        files: u(12)?,
        sha256: r.get(13)?,
        level: r.get(14)?,
        duration_ms: u(15)?,
        freeze_ms: u(16)?,
        message: r.get(17)?,
        verify_state: r.get(18)?,
        verified_at: r.get(19)?,
        verify_message: r.get(20)?,
        created_at: r.get(21)?,
        started_at: r.get(22)?,
        finished_at: r.get(23)?,
        runner_pid: r.get(24)?,
    })
}

/// Queues a backup; returns its id.
pub fn enqueue(
    conn: &Connection,
    instance_id: i64,
    client_slug: &str,
    instance_name: &str,
    trigger: &str,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO backups (instance_id, client_slug, instance_name, status, trigger, created_at)
         VALUES (?1, ?2, ?3, 'queued', ?4, ?5)",
        params![instance_id, client_slug, instance_name, trigger, now()],
    )?;
    Ok(conn.last_insert_rowid())
}

/// A queued or running backup of this instance, if any: one at a time per instance.
pub fn active_for(conn: &Connection, instance_id: i64) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id FROM backups WHERE instance_id = ?1 AND status IN ('queued', 'running') LIMIT 1",
            [instance_id],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn get(conn: &Connection, id: i64) -> Result<BackupRow, StoreError> {
    conn.query_row(&format!("{SELECT} WHERE id = ?1"), [id], from_row)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("backup {id} not found")))
}

/// Newest first.
pub fn list_for_instance(
    conn: &Connection,
    instance_id: i64,
) -> Result<Vec<BackupRow>, StoreError> {
    let mut stmt =
        conn.prepare_cached(&format!("{SELECT} WHERE instance_id = ?1 ORDER BY id DESC"))?;
    let rows = stmt
        .query_map([instance_id], from_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

pub fn list_by_status(conn: &Connection, status: &str) -> Result<Vec<BackupRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT} WHERE status = ?1 ORDER BY id"))?;
    let rows = stmt
        .query_map([status], from_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

pub fn list_verify_queued(conn: &Connection) -> Result<Vec<BackupRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE verify_state = 'queued' ORDER BY id"
    ))?;
    let rows = stmt.query_map([], from_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
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
        "UPDATE backups SET status = 'running', runner_pid = ?2, path = ?3, consistency = ?4,
         started_at = ?5, heartbeat_at = ?5 WHERE id = ?1 AND status = 'queued'",
        params![id, pid, path, consistency, at],
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
        "UPDATE backups SET status = 'ok', source_bytes = ?2, bytes_done = ?2, size = ?3, files = ?4, sha256 = ?5,
         level = ?6, duration_ms = ?7, freeze_ms = ?8, message = ?9, finished_at = ?10 WHERE id = ?1",
        params![id, r.source_bytes as i64, r.size as i64, r.files as i64, r.sha256, r.level,
            r.duration_ms as i64, r.freeze_ms as i64, r.message, now()],
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
        "UPDATE backups SET status = 'failed', path = NULL, message = ?2, freeze_ms = COALESCE(?3, freeze_ms),
         finished_at = ?4 WHERE id = ?1",
        params![id, message, freeze_ms.map(|f| f as i64), now()],
    )?;
    Ok(())
}

pub fn request_verify(conn: &Connection, id: i64) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE backups SET verify_state = 'queued' WHERE id = ?1 AND status = 'ok'
         AND (verify_state IS NULL OR verify_state NOT IN ('queued', 'running'))",
        [id],
    )? > 0)
}

pub fn claim_verify(conn: &Connection, id: i64) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE backups SET verify_state = 'running' WHERE id = ?1 AND verify_state = 'queued'",
        [id],
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
        params![id, if ok { "ok" } else { "failed" }, message, now()],
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
    m: &crate::backup::Manifest,
    path: &str,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO backups (instance_id, client_slug, instance_name, status, trigger, path, consistency,
         bytes_done, source_bytes, size, files, sha256, level, duration_ms, freeze_ms, created_at, started_at, finished_at)
         VALUES (?1, ?2, ?3, 'ok', 'import', ?4, ?5, ?6, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, ?14)",
        params![instance_id, m.client, m.instance, path, m.consistency, m.source_bytes as i64, m.size as i64,
            m.files as i64, m.sha256, m.level, m.duration_ms as i64, m.freeze_ms as i64, m.created_at, m.finished_at],
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
