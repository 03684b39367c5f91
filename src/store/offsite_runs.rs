//! Offsite maintenance runs (migration 021): forget, prune, check and
//! test-restore of a target, jobs like copies (queued → running → ok |
//! failed). Claims keep restic's locks apart: a run that takes the
//! repository's exclusive lock starts only when no copy or restore of its
//! target runs, and while one is queued or running no copy starts there.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::backup_jobs::pid_alive;
use super::rows::{all, by_id, count_opt, jobs_by_status, select_row, SelectRow};
use super::{now, StoreError};
use crate::domain::{BackupStatus, OffsiteRunKind};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRow {
    pub id: i64,
    pub target: String,
    pub kind: OffsiteRunKind,
    pub status: BackupStatus,
    pub dry_run: bool,
    /// Check: the data to read, when not the target's `check_read_data`.
    pub read_data: Option<String>,
    /// `schedule`, `copies`, `deletion:<id>` or who asked.
    pub requested_by: String,
    /// A test-restore's instance (None once deleted, or not chosen yet).
    pub instance_id: Option<i64>,
    pub client_slug: String,
    pub instance_name: String,
    pub snapshot_id: Option<String>,
    /// Forget: snapshots forgotten (or, dry, that would be).
    pub snapshots: Option<u64>,
    /// Test-restore: bytes of the instance's files verified.
    pub bytes: Option<u64>,
    pub message: String,
    pub runner_pid: Option<i64>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

select_row! {
    RunRow from "offsite_runs" as "offsite run" {
        id, target, kind, status, dry_run, read_data, requested_by, instance_id, client_slug,
        instance_name, snapshot_id, snapshots as count_opt, bytes as count_opt, message,
        runner_pid, created_at, started_at, finished_at,
    }
}

/// A run to queue.
pub struct NewRun<'a> {
    pub target: &'a str,
    pub kind: OffsiteRunKind,
    pub dry_run: bool,
    pub read_data: Option<&'a str>,
    pub requested_by: &'a str,
    /// Test-restore of this instance rather than the least recently tested.
    pub instance_id: Option<i64>,
}

/// Exclusive runs (forget, prune, check; not dry) queued or running on the
/// target of the row being claimed: a copy waits for them.
const EXCLUSIVE_PENDING: &str = "EXISTS (SELECT 1 FROM offsite_runs r WHERE r.target = ?1
    AND r.status IN ('queued', 'running') AND r.kind IN ('forget', 'prune', 'check') AND r.dry_run = 0)";

/// Whether a copy to `target` may start now.
pub fn copies_allowed(conn: &Connection, target: &str) -> Result<bool, StoreError> {
    let blocked: bool = conn.query_row(&format!("SELECT {EXCLUSIVE_PENDING}"), [target], |r| {
        r.get(0)
    })?;
    Ok(!blocked)
}

/// Whether a restore download from `target` may start: not while an
/// exclusive run holds the repository (a queued one waits its turn).
pub fn restores_allowed(conn: &Connection, target: &str) -> Result<bool, StoreError> {
    let blocked: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM offsite_runs WHERE target = ?1 AND status = 'running'
            AND kind IN ('forget', 'prune', 'check') AND dry_run = 0)",
        [target],
        |r| r.get(0),
    )?;
    Ok(!blocked)
}

/// Queues a run unless the same one (target, kind, dry, instance) is queued
/// already; returns the id of the one that will run.
pub fn enqueue_run(conn: &Connection, n: &NewRun) -> Result<i64, StoreError> {
    let existing: Option<i64> = conn
        .query_row(
            "SELECT id FROM offsite_runs WHERE target = ?1 AND kind = ?2 AND dry_run = ?3
             AND instance_id IS ?4 AND read_data IS ?5 AND status = 'queued'",
            params![n.target, n.kind, n.dry_run, n.instance_id, n.read_data],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = existing {
        return Ok(id);
    }
    conn.execute(
        "INSERT INTO offsite_runs (target, kind, status, dry_run, read_data, requested_by, instance_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![n.target, n.kind, BackupStatus::Queued, n.dry_run, n.read_data, n.requested_by,
            n.instance_id, now()],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn get_run(conn: &Connection, id: i64) -> Result<RunRow, StoreError> {
    by_id(conn, id)
}

pub fn runs_by_status(conn: &Connection, s: BackupStatus) -> Result<Vec<RunRow>, StoreError> {
    jobs_by_status(conn, s)
}

/// A target's runs, newest first.
pub fn list_runs(conn: &Connection, target: &str, limit: u32) -> Result<Vec<RunRow>, StoreError> {
    let sql = format!(
        "{} WHERE target = ?1 ORDER BY id DESC LIMIT ?2",
        RunRow::SELECT
    );
    all(conn, &sql, params![target, limit], RunRow::from_row)
}

/// Claims queued run `id` for process `pid`, if restic's locks allow: one
/// run per target at a time, in the order they were queued (a delete's
/// prune after its forget), and an exclusive one only while no copy or
/// restore of the target runs.
pub fn claim_run(conn: &Connection, id: i64, pid: u32) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE offsite_runs SET status = 'running', runner_pid = ?2, started_at = ?3
         WHERE id = ?1 AND status = 'queued'
         AND NOT EXISTS (SELECT 1 FROM offsite_runs o WHERE o.target = offsite_runs.target
                         AND (o.status = 'running' OR (o.status = 'queued' AND o.id < ?1)))
         AND NOT ((kind IN ('forget', 'prune', 'check') AND dry_run = 0) AND (
             EXISTS (SELECT 1 FROM offsite_copies c WHERE c.target = offsite_runs.target
                     AND c.status = 'running')
             OR EXISTS (SELECT 1 FROM offsite_restores s WHERE s.target = offsite_runs.target
                     AND s.status = 'running')))",
        params![id, pid, now()],
    )? > 0)
}

/// What a finished run found.
#[derive(Debug, Clone, Default)]
pub struct RunDone {
    pub message: String,
    pub snapshots: Option<u64>,
    pub bytes: Option<u64>,
    /// Test-restore: the instance and snapshot it took.
    pub sample: Option<Sample>,
}

/// The instance snapshot a test-restore took.
#[derive(Debug, Clone)]
pub struct Sample {
    pub instance_id: Option<i64>,
    pub client_slug: String,
    pub instance_name: String,
    pub snapshot_id: String,
}

/// Records which snapshot a test-restore took, before it downloads.
pub fn set_sample(conn: &Connection, id: i64, s: &Sample) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE offsite_runs SET instance_id = ?2, client_slug = ?3, instance_name = ?4,
         snapshot_id = ?5 WHERE id = ?1",
        params![
            id,
            s.instance_id,
            s.client_slug,
            s.instance_name,
            s.snapshot_id
        ],
    )?;
    Ok(())
}

pub fn finish_run(
    conn: &Connection,
    id: i64,
    outcome: Result<&RunDone, &str>,
) -> Result<(), StoreError> {
    match outcome {
        Ok(d) => {
            if let Some(s) = &d.sample {
                set_sample(conn, id, s)?;
            }
            conn.execute(
                "UPDATE offsite_runs SET status = ?2, message = ?3, snapshots = ?4, bytes = ?5,
                 finished_at = ?6 WHERE id = ?1",
                params![
                    id,
                    BackupStatus::Ok,
                    d.message,
                    d.snapshots.map(|v| v as i64),
                    d.bytes.map(|v| v as i64),
                    now()
                ],
            )?
        }
        Err(why) => conn.execute(
            "UPDATE offsite_runs SET status = ?2, message = ?3, finished_at = ?4 WHERE id = ?1",
            params![id, BackupStatus::Failed, why, now()],
        )?,
    };
    Ok(())
}

/// Runs left running by a berth that is gone: failed, with the reason
/// (restic died with it; a cut-off forget or prune leaves restic's own
/// consistent state, which the next prune finishes).
pub fn fail_orphaned_runs(conn: &Connection) -> Result<Vec<RunRow>, StoreError> {
    let running = runs_by_status(conn, BackupStatus::Running)?;
    let mut failed = Vec::new();
    for row in running.into_iter().filter(|r| !pid_alive(r.runner_pid)) {
        let why = format!(
            "interrupted: the berth process (pid {}) ended during the {}",
            row.runner_pid.unwrap_or(0),
            row.kind
        );
        finish_run(conn, row.id, Err(&why))?;
        failed.push(row);
    }
    Ok(failed)
}

/// When each kind of run last succeeded on a target (RFC 3339), and how
/// the newest of each ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Maintenance {
    pub last_forget: Option<String>,
    pub last_prune: Option<String>,
    pub last_check: Option<String>,
    pub last_test_restore: Option<String>,
    /// The newest finished run of each kind that failed, if it is the newest.
    pub failing: Vec<OffsiteRunKind>,
}

pub fn maintenance(conn: &Connection, target: &str) -> Result<Maintenance, StoreError> {
    let mut m = Maintenance::default();
    for kind in OffsiteRunKind::ALL {
        let last_ok: Option<String> = conn.query_row(
            "SELECT MAX(finished_at) FROM offsite_runs WHERE target = ?1 AND kind = ?2
             AND status = 'ok' AND dry_run = 0",
            params![target, kind],
            |r| r.get(0),
        )?;
        let newest: Option<BackupStatus> = conn
            .query_row(
                "SELECT status FROM offsite_runs WHERE target = ?1 AND kind = ?2
                 AND status IN ('ok', 'failed') AND dry_run = 0 ORDER BY id DESC LIMIT 1",
                params![target, kind],
                |r| r.get(0),
            )
            .optional()?;
        if newest == Some(BackupStatus::Failed) {
            m.failing.push(*kind);
        }
        *match kind {
            OffsiteRunKind::Forget => &mut m.last_forget,
            OffsiteRunKind::Prune => &mut m.last_prune,
            OffsiteRunKind::Check => &mut m.last_check,
            OffsiteRunKind::TestRestore => &mut m.last_test_restore,
        } = last_ok;
    }
    Ok(m)
}

/// Whether a round of copies to `target` has ended since the last forget:
/// none queued or running, and one finished ok after the newest forget was
/// asked for.
pub fn forget_due(conn: &Connection, target: &str) -> Result<bool, StoreError> {
    Ok(conn.query_row(
        "SELECT NOT EXISTS (SELECT 1 FROM offsite_copies WHERE target = ?1
                            AND status IN ('queued', 'running'))
            AND NOT EXISTS (SELECT 1 FROM offsite_runs WHERE target = ?1 AND kind = 'forget'
                            AND dry_run = 0 AND status IN ('queued', 'running'))
            AND EXISTS (SELECT 1 FROM offsite_copies WHERE target = ?1 AND status = 'ok'
                        AND finished_at >= COALESCE((SELECT MAX(created_at) FROM offsite_runs
                            WHERE target = ?1 AND kind = 'forget' AND dry_run = 0), ''))",
        [target],
        |r| r.get(0),
    )?)
}

/// Per (client, instance): when a test-restore on `target` last took it.
pub fn test_restored(
    conn: &Connection,
    target: &str,
) -> Result<HashMap<(String, String), String>, StoreError> {
    let rows = all(
        conn,
        "SELECT client_slug, instance_name, MAX(COALESCE(finished_at, created_at))
         FROM offsite_runs WHERE target = ?1 AND kind = 'test_restore' AND client_slug != ''
         GROUP BY client_slug, instance_name",
        [target],
        |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)),
    )?;
    Ok(rows.into_iter().collect())
}

/// A confirmed delete of `instance_ids` (before their rows go): each
/// target gets a forget (which drops every snapshot of an instance that no
/// longer exists) and, when copies of them reached it, a prune after it.
/// Returns the report's line, None without targets.
pub fn queue_deletion(
    conn: &Connection,
    targets: &[String],
    deletion_id: i64,
    instance_ids: &[i64],
) -> Result<Option<crate::domain::Category>, StoreError> {
    if targets.is_empty() {
        return Ok(None);
    }
    let ids = serde_json::to_string(instance_ids).unwrap_or_else(|_| "[]".into());
    let copies: i64 = conn.query_row(
        "SELECT COUNT(*) FROM offsite_copies WHERE status = 'ok' AND kind = 'instance'
         AND instance_id IN (SELECT value FROM json_each(?1))",
        [&ids],
        |r| r.get(0),
    )?;
    let by = format!("deletion:{deletion_id}");
    for target in targets {
        let mut kinds = vec![OffsiteRunKind::Forget];
        if copies > 0 {
            kinds.push(OffsiteRunKind::Prune);
        }
        for kind in kinds {
            enqueue_run(
                conn,
                &NewRun {
                    target,
                    kind,
                    dry_run: false,
                    read_data: None,
                    requested_by: &by,
                    instance_id: None,
                },
            )?;
        }
    }
    Ok(Some(crate::domain::Category::queued(
        &format!(
            "offsite snapshots (forget and prune queued on {})",
            targets.join(", ")
        ),
        copies.max(0) as u64,
    )))
}

/// A whole client's erasure: its offsite copy and run records name it.
pub fn erase_client_rows(conn: &Connection, slug: &str) -> Result<u64, StoreError> {
    let copies = conn.execute("DELETE FROM offsite_copies WHERE client_slug = ?1", [slug])?;
    let runs = conn.execute("DELETE FROM offsite_runs WHERE client_slug = ?1", [slug])?;
    Ok((copies + runs) as u64)
}

#[cfg(test)]
#[path = "offsite_runs_tests.rs"]
mod tests;
