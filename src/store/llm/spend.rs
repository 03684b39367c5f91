//! Spend as polled: figures on the key rows, a point per key per poll in
//! the series, and the provider account's credits.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::store::{now, StoreError};

/// One key's figures from a poll.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    pub key_id: i64,
    pub usage_usd: f64,
    pub usage_monthly_usd: Option<f64>,
    pub limit_usd: Option<f64>,
    pub limit_remaining_usd: Option<f64>,
}

/// Stores a poll: the figures on each key row and one point per key in
/// the series, all at the same instant.
pub fn record_usage(conn: &Connection, usage: &[Usage]) -> Result<(), StoreError> {
    let at = now();
    let mut update = conn.prepare_cached(
        "UPDATE llm_keys SET usage_usd = ?2, usage_monthly_usd = ?3, limit_remaining_usd = ?4,
         polled_at = ?5 WHERE id = ?1",
    )?;
    let mut point = conn.prepare_cached(
        "INSERT OR REPLACE INTO llm_spend (key_id, client_slug, at, usage_usd, usage_monthly_usd, limit_usd)
         SELECT k.id, c.slug, ?2, ?3, ?4, ?5 FROM llm_keys k JOIN clients c ON c.id = k.client_id
         WHERE k.id = ?1",
    )?;
    for u in usage {
        update.execute(params![
            u.key_id,
            u.usage_usd,
            u.usage_monthly_usd,
            u.limit_remaining_usd,
            at
        ])?;
        point.execute(params![
            u.key_id,
            at,
            u.usage_usd,
            u.usage_monthly_usd,
            u.limit_usd
        ])?;
    }
    Ok(())
}

/// A point of a client's spend series (all its keys added up).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpendPoint {
    pub at: String,
    pub usage_usd: f64,
    pub usage_monthly_usd: Option<f64>,
}

/// The client's spend since `since` (RFC 3339), oldest first.
pub fn spend_series(
    conn: &Connection,
    slug: &str,
    since: &str,
) -> Result<Vec<SpendPoint>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT at, SUM(usage_usd), SUM(usage_monthly_usd) FROM llm_spend
         WHERE client_slug = ?1 AND at >= ?2 GROUP BY at ORDER BY at",
    )?;
    let rows = stmt
        .query_map(params![slug, since], |r| {
            Ok(SpendPoint {
                at: r.get(0)?,
                usage_usd: r.get(1)?,
                usage_monthly_usd: r.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The provider account as last polled.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProviderState {
    pub total_credits: Option<f64>,
    pub total_usage: Option<f64>,
    pub polled_at: Option<String>,
    pub last_error: String,
}

pub fn provider_state(conn: &Connection) -> Result<ProviderState, StoreError> {
    Ok(conn
        .query_row(
            "SELECT total_credits, total_usage, polled_at, last_error FROM llm_provider_state WHERE id = 1",
            [],
            |r| {
                Ok(ProviderState {
                    total_credits: r.get(0)?,
                    total_usage: r.get(1)?,
                    polled_at: r.get(2)?,
                    last_error: r.get(3)?,
                })
            },
        )
        .optional()?
        .unwrap_or_default())
}

/// Credits read (Some) or the poll's failure (an error message).
pub fn record_provider_poll(
    conn: &Connection,
    credits: Result<Option<(f64, f64)>, &str>,
) -> Result<(), StoreError> {
    match credits {
        Ok(figures) => conn.execute(
            "INSERT INTO llm_provider_state (id, total_credits, total_usage, polled_at, last_error)
             VALUES (1, ?1, ?2, ?3, '') ON CONFLICT (id) DO UPDATE
             SET total_credits = ?1, total_usage = ?2, polled_at = ?3, last_error = ''",
            params![figures.map(|f| f.0), figures.map(|f| f.1), now()],
        )?,
        Err(error) => conn.execute(
            "INSERT INTO llm_provider_state (id, last_error) VALUES (1, ?1)
             ON CONFLICT (id) DO UPDATE SET last_error = ?1",
            [error],
        )?,
    };
    Ok(())
}
