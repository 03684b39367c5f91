use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::{now, StoreError};
use crate::domain::{ClientStatus, ClientUpdate, DisplayName, Email, Notes, Slug};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClientRow {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub email: String,
    pub plan: String,
    pub notes: String,
    pub status: ClientStatus,
    pub created_at: String,
    pub instance_count: u32,
}

pub struct NewClient<'a> {
    pub slug: &'a Slug,
    pub name: &'a DisplayName,
    pub email: &'a Email,
    pub plan_id: i64,
    pub notes: &'a Notes,
}

const SELECT: &str =
    "SELECT c.id, c.slug, c.name, c.email, p.name, c.notes, c.status, c.created_at,
    (SELECT COUNT(*) FROM instances i WHERE i.client_id = c.id AND i.desired != 'absent')
    FROM clients c JOIN plans p ON p.id = c.plan_id";

fn from_row(r: &Row) -> rusqlite::Result<ClientRow> {
    Ok(ClientRow {
        id: r.get(0)?,
        slug: r.get(1)?,
        name: r.get(2)?,
        email: r.get(3)?,
        plan: r.get(4)?,
        notes: r.get(5)?,
        status: r.get(6)?,
        created_at: r.get(7)?,
        instance_count: r.get(8)?,
    })
}

pub fn slug_taken(conn: &Connection, slug: &Slug) -> Result<bool, StoreError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM clients WHERE slug = ?1",
            [slug.as_str()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

pub fn insert(conn: &Connection, c: &NewClient) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO clients (slug, name, email, plan_id, notes, status, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![c.slug.as_str(), c.name.as_str(), c.email.as_str(), c.plan_id, c.notes.as_str(), ClientStatus::Active, now()],
    )
    .map_err(|e| StoreError::unique(e, || format!("client {} already exists", c.slug)))?;
    Ok(conn.last_insert_rowid())
}

pub fn get(conn: &Connection, slug: &str) -> Result<ClientRow, StoreError> {
    conn.query_row(&format!("{SELECT} WHERE c.slug = ?1"), [slug], from_row)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("client {slug} not found")))
}

pub fn list(conn: &Connection) -> Result<Vec<ClientRow>, StoreError> {
    let mut stmt =
        conn.prepare_cached(&format!("{SELECT} ORDER BY c.name COLLATE NOCASE, c.slug"))?;
    let rows = stmt.query_map([], from_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Applies the given fields; returns the names of the fields that changed.
pub fn update(
    conn: &Connection,
    slug: &str,
    u: &ClientUpdate,
    plan_id: Option<i64>,
) -> Result<Vec<&'static str>, StoreError> {
    let before = get(conn, slug)?;
    let mut changed = Vec::new();
    if let Some(name) = &u.name {
        if name.as_str() != before.name {
            conn.execute(
                "UPDATE clients SET name = ?1 WHERE id = ?2",
                params![name.as_str(), before.id],
            )?;
            changed.push("name");
        }
    }
    if let Some(email) = &u.email {
        if email.as_str() != before.email {
            conn.execute(
                "UPDATE clients SET email = ?1 WHERE id = ?2",
                params![email.as_str(), before.id],
            )?;
            changed.push("email");
        }
    }
    if let (Some(plan), Some(plan_id)) = (&u.plan, plan_id) {
        if plan.as_str() != before.plan {
            conn.execute(
                "UPDATE clients SET plan_id = ?1 WHERE id = ?2",
                params![plan_id, before.id],
            )?;
            changed.push("plan");
        }
    }
    if let Some(notes) = &u.notes {
        if notes.as_str() != before.notes {
            conn.execute(
                "UPDATE clients SET notes = ?1 WHERE id = ?2",
                params![notes.as_str(), before.id],
            )?;
            changed.push("notes");
        }
    }
    Ok(changed)
}

pub fn set_status(conn: &Connection, slug: &str, status: ClientStatus) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "UPDATE clients SET status = ?1 WHERE slug = ?2 AND status != ?1",
        params![status, slug],
    )?;
    if changed == 0 {
        get(conn, slug)?;
    }
    Ok(changed > 0)
}

pub fn delete(conn: &Connection, id: i64) -> Result<(), StoreError> {
    conn.execute("DELETE FROM clients WHERE id = ?1", [id])?;
    Ok(())
}
