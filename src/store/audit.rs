use rusqlite::{params, Connection};
use serde::Serialize;

use super::{now, StoreError};

pub struct NewAuditEntry<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub client_slug: Option<&'a str>,
    pub details: serde_json::Value,
    pub ip: Option<&'a str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub client_slug: Option<String>,
    pub details: serde_json::Value,
    pub ip: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub client_slug: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: u32,
}

pub fn insert(conn: &Connection, e: &NewAuditEntry) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO audit_log (at, actor, action, target, client_slug, details, ip) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![now(), e.actor, e.action, e.target, e.client_slug, e.details.to_string(), e.ip],
    )?;
    Ok(())
}

pub fn query(conn: &Connection, f: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, at, actor, action, target, client_slug, details, ip FROM audit_log
         WHERE (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR action = ?2) AND (?3 IS NULL OR client_slug = ?3)
           AND (?4 IS NULL OR at >= ?4) AND (?5 IS NULL OR at < ?5)
         ORDER BY id DESC LIMIT ?6",
    )?;
    let limit = if f.limit == 0 { 1000 } else { f.limit };
    let rows = stmt
        .query_map(
            params![f.actor, f.action, f.client_slug, f.since, f.until, limit],
            from_row,
        )?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        id: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        target: r.get(4)?,
        client_slug: r.get(5)?,
        details: serde_json::from_str(&r.get::<_, String>(6)?).unwrap_or_default(),
        ip: r.get(7)?,
    })
}

/// Every entry about one client, oldest first, without a limit (its GDPR
/// export): those filed under its slug and those its users made.
pub fn for_client(conn: &Connection, slug: &str) -> Result<Vec<AuditEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, at, actor, action, target, client_slug, details, ip FROM audit_log
         WHERE client_slug = ?1 OR actor LIKE 'client:' || ?1 || ':%' ORDER BY id",
    )?;
    let rows = stmt
        .query_map([slug], from_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Up to `limit` entries about one client, newest first, older than the
/// entry `before` when given: pages that stay put while entries are added.
pub fn page_for_client(
    conn: &Connection,
    client_slug: &str,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<AuditEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, at, actor, action, target, client_slug, details, ip FROM audit_log
         WHERE client_slug = ?1 AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3",
    )?;
    let rows = stmt
        .query_map(params![client_slug, before, limit], from_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Deletes entries older than `before` (RFC 3339); returns how many.
pub fn prune(conn: &Connection, before: &str) -> Result<usize, StoreError> {
    Ok(conn.execute("DELETE FROM audit_log WHERE at < ?1", [before])?)
}
