//! Admin accounts and the failed-login counter behind the login throttle.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::{now, StoreError};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UserRow {
    pub id: i64,
    pub name: String,
    pub created_at: String,
    pub password_changed_at: String,
}

pub fn count(conn: &Connection) -> Result<u32, StoreError> {
    Ok(conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?)
}

pub fn insert(conn: &Connection, name: &str, hash: &str) -> Result<(), StoreError> {
    let at = now();
    conn.execute(
        "INSERT INTO users (name, password_hash, created_at, password_changed_at) VALUES (?1, ?2, ?3, ?3)",
        params![name, hash, at],
    )
    .map_err(|e| StoreError::unique(e, || format!("user {name} already exists")))?;
    Ok(())
}

pub fn list(conn: &Connection) -> Result<Vec<UserRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, created_at, password_changed_at FROM users ORDER BY name",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(UserRow {
                id: r.get(0)?,
                name: r.get(1)?,
                created_at: r.get(2)?,
                password_changed_at: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The stored hash, or None for an unknown name.
pub fn password_hash(conn: &Connection, name: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT password_hash FROM users WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()?)
}

/// When the password last changed: sessions older than this are void, so a
/// reset signs the account out everywhere. None for an unknown name.
pub fn password_changed_at(conn: &Connection, name: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT password_changed_at FROM users WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn set_password(conn: &Connection, name: &str, hash: &str) -> Result<(), StoreError> {
    let n = conn.execute(
        "UPDATE users SET password_hash = ?1, password_changed_at = ?2 WHERE name = ?3",
        params![hash, now_micros(), name],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("user {name} not found")));
    }
    Ok(())
}

pub fn delete(conn: &Connection, name: &str) -> Result<(), StoreError> {
    if conn.execute("DELETE FROM users WHERE name = ?1", [name])? == 0 {
        return Err(StoreError::NotFound(format!("user {name} not found")));
    }
    Ok(())
}

/// Records a failed (or a not yet checked) login; returns its row id.
pub fn record_failure(conn: &Connection, ip: &str, account: &str) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO login_failures (at, ip, account) VALUES (?1, ?2, ?3)",
        params![now(), ip, account],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Failures since `since` (RFC 3339) from this IP and for this account.
pub fn failures_since(
    conn: &Connection,
    ip: &str,
    account: &str,
    since: &str,
) -> Result<(u32, u32), StoreError> {
    let by_ip = conn.query_row(
        "SELECT COUNT(*) FROM login_failures WHERE ip = ?1 AND at >= ?2",
        params![ip, since],
        |r| r.get(0),
    )?;
    let by_account = conn.query_row(
        "SELECT COUNT(*) FROM login_failures WHERE account = ?1 AND at >= ?2",
        params![account, since],
        |r| r.get(0),
    )?;
    Ok((by_ip, by_account))
}

/// A successful login forgives earlier failures of that account from that
/// IP only: failures from elsewhere may be someone else guessing.
pub fn clear_failures(conn: &Connection, ip: &str, account: &str) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM login_failures WHERE ip = ?1 AND account = ?2",
        params![ip, account],
    )?;
    Ok(())
}

pub fn prune_failures(conn: &Connection, before: &str) -> Result<usize, StoreError> {
    Ok(conn.execute("DELETE FROM login_failures WHERE at < ?1", [before])?)
}

/// Sub-second precision: a session created in the same second as a reset
/// must still be told apart from one created just before it.
pub(crate) fn now_micros() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
