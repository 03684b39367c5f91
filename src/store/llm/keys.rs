//! One row per key berth made (or is making) at the provider: written
//! before the provider is asked, updated with each result or failure.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::domain::llm::{key_label, LlmBudget};
use crate::domain::{LimitReset, LlmKeyStatus, LlmProvider};
use crate::store::{now, StoreError};

/// A key berth made (or is making) at the provider. `secret` is encrypted.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRow {
    pub id: i64,
    pub client_id: i64,
    pub provider: LlmProvider,
    pub label: String,
    pub provider_key_id: Option<String>,
    pub key_hint: String,
    pub secret: Option<Vec<u8>>,
    pub status: LlmKeyStatus,
    pub rotating: bool,
    pub retired: bool,
    pub budget: LlmBudget,
    pub usage_usd: Option<f64>,
    pub usage_monthly_usd: Option<f64>,
    pub limit_remaining_usd: Option<f64>,
    pub polled_at: Option<String>,
    pub last_error: String,
    pub attempts: u32,
    pub next_retry_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

const KEY_SELECT: &str = "SELECT id, client_id, provider, label, provider_key_id, key_hint, secret,
    status, rotating, retired, limit_usd, limit_reset, usage_usd, usage_monthly_usd,
    limit_remaining_usd, polled_at, last_error, attempts, next_retry_at, created_at, updated_at
    FROM llm_keys";

fn key_from_row(r: &Row) -> rusqlite::Result<KeyRow> {
    Ok(KeyRow {
        id: r.get(0)?,
        client_id: r.get(1)?,
        provider: r.get(2)?,
        label: r.get(3)?,
        provider_key_id: r.get(4)?,
        key_hint: r.get(5)?,
        secret: r.get(6)?,
        status: r.get(7)?,
        rotating: r.get(8)?,
        retired: r.get(9)?,
        budget: LlmBudget {
            limit_usd: r.get(10)?,
            limit_reset: r.get::<_, Option<LimitReset>>(11)?,
        },
        usage_usd: r.get(12)?,
        usage_monthly_usd: r.get(13)?,
        limit_remaining_usd: r.get(14)?,
        polled_at: r.get(15)?,
        last_error: r.get(16)?,
        attempts: r.get(17)?,
        next_retry_at: r.get(18)?,
        created_at: r.get(19)?,
        updated_at: r.get(20)?,
    })
}

pub fn get_key(conn: &Connection, id: i64) -> Result<KeyRow, StoreError> {
    conn.query_row(&format!("{KEY_SELECT} WHERE id = ?1"), [id], key_from_row)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("llm key {id} not found")))
}

/// Every key row, oldest first.
pub fn all_keys(conn: &Connection) -> Result<Vec<KeyRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("{KEY_SELECT} ORDER BY id"))?;
    let rows = stmt
        .query_map([], key_from_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

pub fn client_keys(conn: &Connection, client_id: i64) -> Result<Vec<KeyRow>, StoreError> {
    let mut stmt =
        conn.prepare_cached(&format!("{KEY_SELECT} WHERE client_id = ?1 ORDER BY id"))?;
    let rows = stmt
        .query_map([client_id], key_from_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Writes a new key's row in status `creating`, named after its own id,
/// before the provider is asked; `secret` is set when berth chooses the key.
pub fn insert_creating(
    conn: &Connection,
    client_id: i64,
    provider: LlmProvider,
    owner: &str,
    slug: &str,
    secret: Option<&[u8]>,
) -> Result<KeyRow, StoreError> {
    let now = now();
    // The label names the row's id, known only after the insert: a
    // placeholder that cannot collide first, the real name in the same
    // transaction.
    conn.execute(
        "INSERT INTO llm_keys (client_id, provider, label, secret, status, created_at, updated_at)
         VALUES (?1, ?2, 'pending/' || ?1 || '/' || ?4, ?3, 'creating', ?4, ?4)",
        params![client_id, provider, secret, now],
    )?;
    let id = conn.last_insert_rowid();
    conn.execute(
        "UPDATE llm_keys SET label = ?2 WHERE id = ?1",
        params![id, key_label(owner, slug, id)],
    )?;
    get_key(conn, id)
}

/// What the provider answered to a create (or what berth found by name).
pub struct Created<'a> {
    pub provider_key_id: &'a str,
    pub key_hint: &'a str,
    pub secret: Option<&'a [u8]>,
    pub status: LlmKeyStatus,
    pub budget: LlmBudget,
}

pub fn record_created(conn: &Connection, id: i64, c: &Created) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE llm_keys SET provider_key_id = ?2, key_hint = ?3, secret = COALESCE(?4, secret),
         status = ?5, limit_usd = ?6, limit_reset = ?7, last_error = '', attempts = 0,
         next_retry_at = NULL, updated_at = ?8 WHERE id = ?1",
        params![
            id,
            c.provider_key_id,
            c.key_hint,
            c.secret,
            c.status,
            c.budget.limit_usd,
            c.budget.limit_reset,
            now()
        ],
    )?;
    Ok(())
}

/// A provider change that went through: the new status and budget, no error.
pub fn record_synced(
    conn: &Connection,
    id: i64,
    status: LlmKeyStatus,
    budget: &LlmBudget,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE llm_keys SET status = ?2, limit_usd = ?3, limit_reset = ?4, last_error = '',
         attempts = 0, next_retry_at = NULL, updated_at = ?5 WHERE id = ?1",
        params![id, status, budget.limit_usd, budget.limit_reset, now()],
    )?;
    Ok(())
}

/// A provider call that failed: why, and not before when to try again.
pub fn record_failure(
    conn: &Connection,
    id: i64,
    error: &str,
    next_retry_at: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE llm_keys SET last_error = ?2, attempts = attempts + 1, next_retry_at = ?3,
         updated_at = ?4 WHERE id = ?1",
        params![id, error, next_retry_at, now()],
    )?;
    Ok(())
}

/// Asks for a new key for the client: its live keys are to be replaced.
/// Returns how many keys will be replaced (0: the client has no key yet).
pub fn mark_rotating(conn: &Connection, client_id: i64) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "UPDATE llm_keys SET rotating = 1, updated_at = ?2
         WHERE client_id = ?1 AND retired = 0 AND status != 'deleted'",
        params![client_id, now()],
    )?)
}

/// The key is to be deleted at the provider.
pub fn retire(conn: &Connection, id: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE llm_keys SET retired = 1, updated_at = ?2 WHERE id = ?1",
        params![id, now()],
    )?;
    Ok(())
}

/// A client's keys that still exist at the provider, by label: what a
/// whole-client delete waits for before its rows go.
pub fn undeleted_labels(conn: &Connection, client_id: i64) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT label FROM llm_keys WHERE client_id = ?1 AND status != 'deleted' ORDER BY id",
    )?;
    let rows = stmt
        .query_map([client_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Labels of the client's keys that are gone at the provider.
pub fn deleted_labels(conn: &Connection, client_id: i64) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT label FROM llm_keys WHERE client_id = ?1 AND status = 'deleted' ORDER BY id",
    )?;
    let rows = stmt
        .query_map([client_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}
