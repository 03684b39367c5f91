//! What the reconciler injects into containers beyond the instance rows:
//! instances' first-start admin accounts, and what it saw of each injecting
//! instance's key (which the key planner waits on before deleting a
//! rotated key).

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use crate::store::{now, StoreError};

/// An instance's first-start admin account. `secret` is the sealed password.
#[derive(Clone, PartialEq)]
pub struct AdminRow {
    pub instance_id: i64,
    pub email: String,
    pub name: String,
    pub secret: Vec<u8>,
    /// Seen healthy with the password in its env: the account exists.
    pub account_at: Option<String>,
    pub revealed_provider_at: Option<String>,
    pub revealed_owner_at: Option<String>,
}

// The sealed password is no secret without the key file, but it has no
// business in a log line either.
impl std::fmt::Debug for AdminRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminRow")
            .field("instance_id", &self.instance_id)
            .field("email", &self.email)
            .field("account_at", &self.account_at)
            .finish_non_exhaustive()
    }
}

const ADMIN_SELECT: &str = "SELECT instance_id, email, name, secret, account_at,
    revealed_provider_at, revealed_owner_at FROM instance_admins";

fn admin_from_row(r: &rusqlite::Row) -> rusqlite::Result<AdminRow> {
    Ok(AdminRow {
        instance_id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        secret: r.get(3)?,
        account_at: r.get(4)?,
        revealed_provider_at: r.get(5)?,
        revealed_owner_at: r.get(6)?,
    })
}

pub fn insert_admin(
    conn: &Connection,
    instance_id: i64,
    email: &str,
    name: &str,
    secret: &[u8],
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO instance_admins (instance_id, email, name, secret, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![instance_id, email, name, secret, now()],
    )?;
    Ok(())
}

pub fn admins(conn: &Connection) -> Result<HashMap<i64, AdminRow>, StoreError> {
    let mut stmt = conn.prepare_cached(ADMIN_SELECT)?;
    let rows = stmt
        .query_map([], admin_from_row)?
        .map(|r| r.map(|a| (a.instance_id, a)))
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

pub fn admin(conn: &Connection, instance_id: i64) -> Result<Option<AdminRow>, StoreError> {
    Ok(conn
        .query_row(
            &format!("{ADMIN_SELECT} WHERE instance_id = ?1"),
            [instance_id],
            admin_from_row,
        )
        .optional()?)
}

/// The instance gets no account from berth (a clone: its data has users).
pub fn forget_admin(conn: &Connection, instance_id: i64) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM instance_admins WHERE instance_id = ?1",
        [instance_id],
    )?;
    Ok(())
}

/// Who a password is revealed to; each sees it once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The provider's admins: the admin UI, the API, the CLI.
    Provider,
    /// The client's owner, in the portal.
    Owner,
}

/// Marks the password revealed to `audience`; false when it already was
/// (the caller then shows nothing).
pub fn mark_revealed(
    conn: &Connection,
    instance_id: i64,
    audience: Audience,
) -> Result<bool, StoreError> {
    let column = match audience {
        Audience::Provider => "revealed_provider_at",
        Audience::Owner => "revealed_owner_at",
    };
    let n = conn.execute(
        &format!(
            "UPDATE instance_admins SET {column} = ?2 WHERE instance_id = ?1 AND {column} IS NULL"
        ),
        params![instance_id, now()],
    )?;
    Ok(n == 1)
}

/// What one reconcile pass saw of an instance that injects a key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeySeen {
    pub instance_id: i64,
    /// The key its desired spec carries.
    pub wanted: Option<i64>,
    /// The key of a healthy container with the desired spec, when there is one.
    pub live: Option<i64>,
}

/// Records the pass's key observations and the admin accounts now known to
/// exist. A live key is only ever replaced by another live one: a container
/// being recreated (or failing) leaves the last healthy key recorded.
/// Returns whether any live key changed (the key worker may now delete a
/// rotated key).
pub fn record_injections(
    conn: &Connection,
    seen: &[KeySeen],
    accounts: &[i64],
) -> Result<bool, StoreError> {
    let at = now();
    let mut changed = false;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO instance_llm (instance_id, wanted_key_id, live_key_id, updated_at)
         SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM instances WHERE id = ?1)
         ON CONFLICT (instance_id) DO UPDATE SET wanted_key_id = excluded.wanted_key_id,
            live_key_id = COALESCE(excluded.live_key_id, live_key_id), updated_at = excluded.updated_at
         WHERE wanted_key_id IS NOT excluded.wanted_key_id
            OR (excluded.live_key_id IS NOT NULL AND live_key_id IS NOT excluded.live_key_id)",
    )?;
    let mut live =
        conn.prepare_cached("SELECT live_key_id FROM instance_llm WHERE instance_id = ?1")?;
    for s in seen {
        let before: Option<Option<i64>> =
            live.query_row([s.instance_id], |r| r.get(0)).optional()?;
        stmt.execute(params![s.instance_id, s.wanted, s.live, at])?;
        changed |= s.live.is_some() && before.flatten() != s.live;
    }
    for id in accounts {
        conn.execute(
            "UPDATE instance_admins SET account_at = ?2 WHERE instance_id = ?1 AND account_at IS NULL",
            params![id, at],
        )?;
    }
    Ok(changed)
}

/// Per client: the live key of each of its instances that injects one,
/// wants to run, and belongs to an active client. A rotation waits until
/// all of them run the new key.
pub fn live_keys(conn: &Connection) -> Result<HashMap<i64, Vec<Option<i64>>>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.client_id, l.live_key_id FROM instance_llm l
         JOIN instances i ON i.id = l.instance_id JOIN clients c ON c.id = i.client_id
         WHERE i.desired = 'running' AND c.status = 'active' AND l.wanted_key_id IS NOT NULL",
    )?;
    let mut out: HashMap<i64, Vec<Option<i64>>> = HashMap::new();
    for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get(1)?)))? {
        let (client, live) = row?;
        out.entry(client).or_default().push(live);
    }
    Ok(out)
}
