//! Clients' requests for a new instance (`instance_requests`). A row keeps
//! the decision; what the requester sees is read together with the created
//! instance's phase (see `RequestStatus::seen`).

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::{now, StoreError};
use crate::domain::{Phase, RequestStatus};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RequestRow {
    pub id: i64,
    pub client_id: i64,
    pub client_slug: String,
    pub client_name: String,
    pub instance_name: String,
    pub blueprint: String,
    /// The requesting client user's id (kept after that user is removed).
    pub requested_by: i64,
    pub requested_by_label: String,
    /// What the requester sees: the decision, carried on by the instance's phase.
    pub status: RequestStatus,
    /// The stored decision: requested, approved, rejected or failed.
    pub decision: RequestStatus,
    /// Why it was rejected (given by the provider).
    pub reason: String,
    /// Why it failed: the create refusal, or the instance's error message.
    pub error: String,
    pub instance_id: Option<i64>,
    pub created_at: String,
    pub decided_at: Option<String>,
    pub decided_by: Option<String>,
}

pub struct NewRequest<'a> {
    pub client_id: i64,
    pub instance_name: &'a str,
    pub blueprint: &'a str,
    pub requested_by: i64,
    pub requested_by_label: &'a str,
}

/// How a waiting request was decided; `instance_id` once one was created.
pub struct Decision<'a> {
    pub status: RequestStatus,
    pub reason: &'a str,
    pub error: &'a str,
    pub instance_id: Option<i64>,
    pub decided_by: &'a str,
}

const SELECT: &str = "SELECT r.id, r.client_id, c.slug, c.name, r.instance_name, r.blueprint,
    r.requested_by, r.requested_by_label, r.status, r.reason, r.error, r.instance_id,
    r.created_at, r.decided_at, r.decided_by, i.phase, i.message
    FROM instance_requests r JOIN clients c ON c.id = r.client_id
    LEFT JOIN instances i ON i.id = r.instance_id";

fn from_row(r: &Row) -> rusqlite::Result<RequestRow> {
    let decision: RequestStatus = r.get(8)?;
    let phase: Option<Phase> = r.get(15)?;
    let status = decision.seen(phase);
    let mut error: String = r.get(10)?;
    if error.is_empty() && status == RequestStatus::Failed {
        error = r.get::<_, Option<String>>(16)?.unwrap_or_default();
    }
    Ok(RequestRow {
        id: r.get(0)?,
        client_id: r.get(1)?,
        client_slug: r.get(2)?,
        client_name: r.get(3)?,
        instance_name: r.get(4)?,
        blueprint: r.get(5)?,
        requested_by: r.get(6)?,
        requested_by_label: r.get(7)?,
        status,
        decision,
        reason: r.get(9)?,
        error,
        instance_id: r.get(11)?,
        created_at: r.get(12)?,
        decided_at: r.get(13)?,
        decided_by: r.get(14)?,
    })
}

pub fn insert(conn: &Connection, new: &NewRequest) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO instance_requests (client_id, instance_name, blueprint, requested_by, requested_by_label, status, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            new.client_id,
            new.instance_name,
            new.blueprint,
            new.requested_by,
            new.requested_by_label,
            RequestStatus::Requested,
            now()
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn get(conn: &Connection, id: i64) -> Result<RequestRow, StoreError> {
    conn.query_row(&format!("{SELECT} WHERE r.id = ?1"), [id], from_row)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("request {id} not found")))
}

/// Newest first; `client_id` narrows to one client.
pub fn list(conn: &Connection, client_id: Option<i64>) -> Result<Vec<RequestRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE ?1 IS NULL OR r.client_id = ?1 ORDER BY r.id DESC"
    ))?;
    let rows = stmt
        .query_map([client_id], from_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Requests waiting for the provider, oldest first (the dashboard's queue).
pub fn pending(conn: &Connection) -> Result<Vec<RequestRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE r.status = ?1 ORDER BY r.created_at, r.id"
    ))?;
    let rows = stmt
        .query_map([RequestStatus::Requested], from_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

pub fn count_pending(conn: &Connection, client_id: i64) -> Result<u32, StoreError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM instance_requests WHERE client_id = ?1 AND status = ?2",
        params![client_id, RequestStatus::Requested],
        |r| r.get(0),
    )?)
}

/// Whether a waiting request of this client already names `instance_name`.
pub fn name_pending(
    conn: &Connection,
    client_id: i64,
    instance_name: &str,
) -> Result<bool, StoreError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM instance_requests WHERE client_id = ?1 AND instance_name = ?2 AND status = ?3",
            params![client_id, instance_name, RequestStatus::Requested],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Records the decision of a request that is still waiting; a request
/// decided meanwhile (a second approve in another tab) is a conflict.
pub fn decide(conn: &Connection, id: i64, d: &Decision) -> Result<(), StoreError> {
    let changed = conn.execute(
        "UPDATE instance_requests SET status = ?1, reason = ?2, error = ?3, instance_id = ?4,
             decided_at = ?5, decided_by = ?6
         WHERE id = ?7 AND status = ?8",
        params![
            d.status,
            d.reason,
            d.error,
            d.instance_id,
            now(),
            d.decided_by,
            id,
            RequestStatus::Requested
        ],
    )?;
    if changed == 0 {
        return Err(StoreError::Conflict(format!(
            "request {id} was already decided"
        )));
    }
    Ok(())
}
