use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::{now, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

pub fn insert(conn: &Connection, name: &str, hash: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO api_tokens (name, hash, created_at) VALUES (?1, ?2, ?3)",
        params![name, hash, now()],
    )
    .map_err(|e| StoreError::unique(e, || format!("a token named {name} already exists")))?;
    Ok(())
}

/// The token's name when `hash` belongs to a live token; notes its use.
pub fn authenticate(conn: &Connection, hash: &str) -> Result<Option<String>, StoreError> {
    let name: Option<String> = conn
        .query_row("SELECT name FROM api_tokens WHERE hash = ?1", [hash], |r| {
            r.get(0)
        })
        .optional()?;
    if name.is_some() {
        conn.execute(
            "UPDATE api_tokens SET last_used_at = ?1 WHERE hash = ?2",
            params![now(), hash],
        )?;
    }
    Ok(name)
}

pub fn list(conn: &Connection) -> Result<Vec<TokenRow>, StoreError> {
    let mut stmt =
        conn.prepare("SELECT id, name, created_at, last_used_at FROM api_tokens ORDER BY name")?;
    let rows = stmt
        .query_map([], |r| {
            Ok(TokenRow {
                id: r.get(0)?,
                name: r.get(1)?,
                created_at: r.get(2)?,
                last_used_at: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

pub fn revoke(conn: &Connection, name: &str) -> Result<(), StoreError> {
    if conn.execute("DELETE FROM api_tokens WHERE name = ?1", [name])? == 0 {
        return Err(StoreError::NotFound(format!("token {name} not found")));
    }
    Ok(())
}
