//! Deletion jobs: one row per confirmed delete, from "pending" (instances
//! marked absent) to "done" (rows gone, report kept here and in a file).

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{now, StoreError};
use crate::domain::{DeletionReport, DeletionStatus};

#[derive(Debug, Clone, PartialEq)]
pub struct DeletionRow {
    pub id: i64,
    pub client_id: i64,
    pub client_slug: String,
    pub client_name: String,
    /// The client goes too, not only the listed instances.
    pub whole_client: bool,
    pub instance_ids: Vec<i64>,
    pub requested_by: String,
    pub status: DeletionStatus,
    /// Set once the job is done.
    pub report: Option<DeletionReport>,
    pub error: String,
    pub created_at: String,
    pub finished_at: Option<String>,
    /// What the worker found on disk before removing it (its own JSON).
    pub measured: Option<serde_json::Value>,
}

pub struct NewDeletion<'a> {
    pub client_id: i64,
    pub client_slug: &'a str,
    pub client_name: &'a str,
    pub whole_client: bool,
    pub instance_ids: &'a [i64],
    pub requested_by: &'a str,
}

const SELECT: &str = "SELECT id, client_id, client_slug, client_name, whole_client, instance_ids,
    requested_by, status, report, error, created_at, finished_at, measured FROM deletions";

fn from_row(r: &Row) -> rusqlite::Result<DeletionRow> {
    let json_col = |i: usize, e: serde_json::Error| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    };
    let ids: String = r.get(5)?;
    let report: Option<String> = r.get(8)?;
    let measured: Option<String> = r.get(12)?;
    Ok(DeletionRow {
        id: r.get(0)?,
        client_id: r.get(1)?,
        client_slug: r.get(2)?,
        client_name: r.get(3)?,
        whole_client: r.get(4)?,
        instance_ids: serde_json::from_str(&ids).map_err(|e| json_col(5, e))?,
        requested_by: r.get(6)?,
        status: r.get(7)?,
        report: report
            .map(|t| serde_json::from_str(&t))
            .transpose()
            .map_err(|e| json_col(8, e))?,
        error: r.get(9)?,
        created_at: r.get(10)?,
        finished_at: r.get(11)?,
        measured: measured
            .map(|t| serde_json::from_str(&t))
            .transpose()
            .map_err(|e| json_col(12, e))?,
    })
}

pub fn insert(conn: &Connection, new: &NewDeletion) -> Result<i64, StoreError> {
    let ids = serde_json::to_string(new.instance_ids).unwrap_or_else(|_| "[]".into());
    conn.execute(
        "INSERT INTO deletions (client_id, client_slug, client_name, whole_client, instance_ids,
            requested_by, status, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            new.client_id,
            new.client_slug,
            new.client_name,
            new.whole_client,
            ids,
            new.requested_by,
            DeletionStatus::Pending,
            now()
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn get(conn: &Connection, id: i64) -> Result<DeletionRow, StoreError> {
    conn.query_row(&format!("{SELECT} WHERE id = ?1"), [id], from_row)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("deletion {id} not found")))
}

/// Pending and running jobs, oldest first: what the worker has to finish.
pub fn unfinished(conn: &Connection) -> Result<Vec<DeletionRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE status IN ('pending', 'running') ORDER BY id"
    ))?;
    let rows = stmt.query_map([], from_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Every job, newest first: the record of what was deleted.
pub fn list(conn: &Connection) -> Result<Vec<DeletionRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT} ORDER BY id DESC"))?;
    let rows = stmt.query_map([], from_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Every job of one client, oldest first.
pub fn for_client(conn: &Connection, client_id: i64) -> Result<Vec<DeletionRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT} WHERE client_id = ?1 ORDER BY id"))?;
    let rows = stmt
        .query_map([client_id], from_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Replaces the client's slug and name on a job (its erasure's pseudonym)
/// and, when given, its report.
pub fn rename_client(
    conn: &Connection,
    id: i64,
    label: &str,
    report: Option<&DeletionReport>,
) -> Result<(), StoreError> {
    let text = report
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    conn.execute(
        "UPDATE deletions SET client_slug = ?2, client_name = '', report = COALESCE(?3, report)
         WHERE id = ?1",
        params![id, label, text],
    )?;
    Ok(())
}

/// Records what the job found on disk, before it removes anything.
pub fn set_measured(
    conn: &Connection,
    id: i64,
    measured: &serde_json::Value,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE deletions SET measured = ?2 WHERE id = ?1",
        params![id, measured.to_string()],
    )?;
    Ok(())
}

pub fn set_running(conn: &Connection, id: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE deletions SET status = ?2 WHERE id = ?1",
        params![id, DeletionStatus::Running],
    )?;
    Ok(())
}

pub fn set_done(conn: &Connection, id: i64, report: &DeletionReport) -> Result<(), StoreError> {
    let text = serde_json::to_string(report).map_err(|e| StoreError::Invalid(e.to_string()))?;
    conn.execute(
        "UPDATE deletions SET status = ?2, report = ?3, finished_at = ?4 WHERE id = ?1",
        params![id, DeletionStatus::Done, text, now()],
    )?;
    Ok(())
}

pub fn set_failed(conn: &Connection, id: i64, error: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE deletions SET status = ?2, error = ?3, finished_at = ?4 WHERE id = ?1",
        params![id, DeletionStatus::Failed, error, now()],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn report() -> DeletionReport {
        DeletionReport {
            schema: crate::domain::REPORT_SCHEMA.into(),
            deletion_id: 1,
            client_id: 7,
            client: "c".into(),
            client_name: "C".into(),
            client_deleted: true,
            subject_proof: None,
            instances: Vec::new(),
            categories: vec![crate::domain::Category::erased_files(
                "backup archives",
                1,
                9,
            )],
            billing_kept: Vec::new(),
            llm_keys_deleted: Vec::new(),
            llm_keys_left: Vec::new(),
            deleted_at: "now".into(),
            deleted_by: "admin".into(),
            report_file: "/r/deletion-1.json".into(),
        }
    }

    #[test]
    fn a_job_goes_from_pending_to_done_with_its_report() {
        let store = Store::open_in_memory().unwrap();
        store
            .call_blocking(|conn| {
                let id = insert(
                    conn,
                    &NewDeletion {
                        client_id: 7,
                        client_slug: "c",
                        client_name: "C",
                        whole_client: true,
                        instance_ids: &[3, 4],
                        requested_by: "admin",
                    },
                )?;
                let job = get(conn, id)?;
                assert_eq!(job.status, DeletionStatus::Pending);
                assert_eq!(job.instance_ids, vec![3, 4]);
                assert_eq!(unfinished(conn)?.len(), 1);
                set_running(conn, id)?;
                assert_eq!(get(conn, id)?.status, DeletionStatus::Running);
                set_done(conn, id, &report())?;
                let job = get(conn, id)?;
                assert_eq!(job.status, DeletionStatus::Done);
                assert_eq!(job.report, Some(report()));
                assert!(job.finished_at.is_some());
                assert!(unfinished(conn)?.is_empty());
                assert!(matches!(get(conn, id + 1), Err(StoreError::NotFound(_))));
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn a_failed_job_keeps_its_error_and_is_finished() {
        let store = Store::open_in_memory().unwrap();
        store
            .call_blocking(|conn| {
                let new = NewDeletion {
                    client_id: 1,
                    client_slug: "c",
                    client_name: "C",
                    whole_client: false,
                    instance_ids: &[1],
                    requested_by: "cli",
                };
                let id = insert(conn, &new)?;
                set_failed(conn, id, "removing /x: permission denied")?;
                let job = get(conn, id)?;
                assert_eq!(job.status, DeletionStatus::Failed);
                assert_eq!(job.error, "removing /x: permission denied");
                assert!(unfinished(conn)?.is_empty());
                Ok(())
            })
            .unwrap();
    }
}
