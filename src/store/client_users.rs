//! A client's users (who sign in to the portal) and their one-time links.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::{now, StoreError};
use crate::domain::{ClientRole, ClientStatus, DisplayName, Email, LinkKind};

/// A client user as front ends show it: never the password hash.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClientUserRow {
    pub id: i64,
    pub client_slug: String,
    pub email: String,
    pub name: String,
    pub role: ClientRole,
    /// False until the user has set a password from their invitation.
    pub active: bool,
    pub created_at: String,
    pub password_changed_at: String,
}

pub struct NewClientUser<'a> {
    pub client_id: i64,
    pub email: &'a Email,
    pub name: &'a DisplayName,
    pub role: ClientRole,
}

const COLUMNS: &str = "SELECT u.id, c.slug, u.email, u.name, u.role, u.password_hash IS NOT NULL,
    u.created_at, u.password_changed_at";
const FROM: &str = "FROM client_users u JOIN clients c ON c.id = u.client_id";

fn from_row(r: &Row) -> rusqlite::Result<ClientUserRow> {
    Ok(ClientUserRow {
        id: r.get(0)?,
        client_slug: r.get(1)?,
        email: r.get(2)?,
        name: r.get(3)?,
        role: r.get(4)?,
        active: r.get(5)?,
        created_at: r.get(6)?,
        password_changed_at: r.get(7)?,
    })
}

pub fn insert(conn: &Connection, u: &NewClientUser) -> Result<i64, StoreError> {
    let at = now();
    conn.execute(
        "INSERT INTO client_users (client_id, email, name, role, created_at, password_changed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        params![u.client_id, u.email.as_str(), u.name.as_str(), u.role, at],
    )
    // An email belongs to one client only: a duplicate is named without
    // saying which client has it.
    .map_err(|e| {
        StoreError::unique(e, || {
            format!("{} already has a portal account", u.email.as_str())
        })
    })?;
    Ok(conn.last_insert_rowid())
}

pub fn list(conn: &Connection, client_id: i64) -> Result<Vec<ClientUserRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "{COLUMNS} {FROM} WHERE u.client_id = ?1 ORDER BY u.email COLLATE NOCASE"
    ))?;
    let rows = stmt
        .query_map([client_id], from_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// A user of this client; another client's user is "not found" exactly
/// like a missing one.
pub fn get(conn: &Connection, client_id: i64, id: i64) -> Result<ClientUserRow, StoreError> {
    conn.query_row(
        &format!("{COLUMNS} {FROM} WHERE u.client_id = ?1 AND u.id = ?2"),
        [client_id, id],
        from_row,
    )
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("user {id} not found")))
}

pub fn delete(conn: &Connection, id: i64) -> Result<(), StoreError> {
    if conn.execute("DELETE FROM client_users WHERE id = ?1", [id])? == 0 {
        return Err(StoreError::NotFound(format!("user {id} not found")));
    }
    Ok(())
}

pub fn owner_count(conn: &Connection, client_id: i64) -> Result<u32, StoreError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM client_users WHERE client_id = ?1 AND role = ?2",
        params![client_id, ClientRole::Owner],
        |r| r.get(0),
    )?)
}

/// The user with this email (any case) and their hash, for a sign-in.
pub fn by_email(
    conn: &Connection,
    email: &str,
) -> Result<Option<(ClientUserRow, Option<String>)>, StoreError> {
    Ok(conn
        .query_row(
            &format!("{COLUMNS}, u.password_hash {FROM} WHERE u.email = ?1"),
            [email.trim()],
            |r| Ok((from_row(r)?, r.get(8)?)),
        )
        .optional()?)
}

pub fn set_password(conn: &Connection, id: i64, hash: &str) -> Result<(), StoreError> {
    let n = conn.execute(
        "UPDATE client_users SET password_hash = ?1, password_changed_at = ?2 WHERE id = ?3",
        params![hash, super::users::now_micros(), id],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("user {id} not found")));
    }
    Ok(())
}

/// Who a portal session belongs to, read on every portal request.
#[derive(Debug, Clone)]
pub struct PortalIdentity {
    pub user_id: i64,
    pub client_id: i64,
    pub client_slug: String,
    pub client_name: String,
    pub email: String,
    pub name: String,
    pub role: ClientRole,
    pub password_changed_at: String,
    /// Active and not being deleted: otherwise its users are signed out.
    pub client_open: bool,
}

pub fn identity(conn: &Connection, user_id: i64) -> Result<Option<PortalIdentity>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT u.id, c.id, c.slug, c.name, u.email, u.name, u.role, u.password_changed_at,
            c.status = ?2 AND NOT EXISTS (SELECT 1 FROM deletions d WHERE d.client_id = c.id
                AND d.whole_client = 1 AND d.status IN ('pending', 'running'))
         FROM client_users u JOIN clients c ON c.id = u.client_id
         WHERE u.id = ?1 AND u.password_hash IS NOT NULL",
    )?;
    Ok(stmt
        .query_row(params![user_id, ClientStatus::Active], |r| {
            Ok(PortalIdentity {
                user_id: r.get(0)?,
                client_id: r.get(1)?,
                client_slug: r.get(2)?,
                client_name: r.get(3)?,
                email: r.get(4)?,
                name: r.get(5)?,
                role: r.get(6)?,
                password_changed_at: r.get(7)?,
                client_open: r.get(8)?,
            })
        })
        .optional()?)
}

/// A one-time link as stored (its token only as a hash).
#[derive(Debug, Clone)]
pub struct LinkRow {
    pub id: i64,
    pub user_id: i64,
    pub kind: LinkKind,
    pub expires_at: String,
    pub used_at: Option<String>,
}

/// Stores a new link for the user; their older unused links stop working,
/// so only the last one handed out is valid.
pub fn insert_link(
    conn: &Connection,
    user_id: i64,
    kind: LinkKind,
    hash: &str,
    expires_at: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM client_user_tokens WHERE user_id = ?1 AND used_at IS NULL",
        [user_id],
    )?;
    conn.execute(
        "INSERT INTO client_user_tokens (user_id, kind, hash, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![user_id, kind, hash, now(), expires_at],
    )?;
    Ok(())
}

pub fn link(conn: &Connection, hash: &str) -> Result<Option<LinkRow>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id, user_id, kind, expires_at, used_at FROM client_user_tokens WHERE hash = ?1",
            [hash],
            |r| {
                Ok(LinkRow {
                    id: r.get(0)?,
                    user_id: r.get(1)?,
                    kind: r.get(2)?,
                    expires_at: r.get(3)?,
                    used_at: r.get(4)?,
                })
            },
        )
        .optional()?)
}

pub fn use_link(conn: &Connection, id: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE client_user_tokens SET used_at = ?2 WHERE id = ?1",
        params![id, now()],
    )?;
    Ok(())
}

/// Links that expired before `before` are of no more use, not even to say
/// "expired": a week after, "not valid" says as much.
pub fn prune_links(conn: &Connection, before: &str) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM client_user_tokens WHERE expires_at < ?1",
        [before],
    )?)
}
