//! Spend as polled: figures on the key rows, a point per key per poll in
//! the series, and the provider account's credits.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::domain::llm::spend_in_window;
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

/// Each client's LLM spend in `[from, to)` (RFC 3339, as the series
/// stores it), by slug: per key, the reset-aware rise of its polled
/// counter from the last reading before `from` through the readings in
/// the window ([`spend_in_window`]).
pub fn spend_between(
    conn: &Connection,
    from: &str,
    to: &str,
) -> Result<Vec<(String, f64)>, StoreError> {
    // The last reading before the window, per key (the primary key makes
    // MAX(at) per key an index walk), then every reading inside it.
    let mut stmt = conn.prepare_cached(
        "SELECT s.key_id, s.client_slug, s.usage_usd, 1, s.at FROM llm_spend s
         JOIN (SELECT key_id, MAX(at) AS at FROM llm_spend WHERE at < ?1 GROUP BY key_id) p
           ON p.key_id = s.key_id AND p.at = s.at
         WHERE s.key_id IN (SELECT DISTINCT key_id FROM llm_spend WHERE at >= ?1 AND at < ?2)
         UNION ALL
         SELECT key_id, client_slug, usage_usd, 0, at FROM llm_spend WHERE at >= ?1 AND at < ?2
         ORDER BY 1, 4 DESC, 5",
    )?;
    let mut rows = stmt.query(params![from, to])?;
    // Per key: (slug, reading before, readings inside oldest first).
    let mut keys: std::collections::BTreeMap<i64, (String, Option<f64>, Vec<f64>)> =
        Default::default();
    while let Some(r) = rows.next()? {
        let (key, slug, usd, before): (i64, String, f64, bool) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
        let entry = keys.entry(key).or_insert_with(|| (slug, None, Vec::new()));
        if before {
            entry.1 = Some(usd);
        } else {
            entry.2.push(usd);
        }
    }
    let mut by_client: std::collections::BTreeMap<String, f64> = Default::default();
    for (slug, before, inside) in keys.into_values() {
        *by_client.entry(slug).or_default() += spend_in_window(before, &inside);
    }
    Ok(by_client.into_iter().collect())
}

/// One client's LLM spend per calendar month (UTC), oldest first, as
/// `("YYYY-MM", usd)`: [`spend_between`] over each month its series
/// touches. For the months a client's own history is read by itself (its
/// GDPR export, the billing kept when it is erased).
pub fn monthly_spend(conn: &Connection, slug: &str) -> Result<Vec<(String, f64)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT substr(at, 1, 7) FROM llm_spend WHERE client_slug = ?1 ORDER BY 1",
    )?;
    let months: Vec<String> = stmt
        .query_map([slug], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(months.len());
    for month in months {
        let Some((from, to)) = month_bounds(&month) else {
            continue;
        };
        let usd = spend_between(conn, &from, &to)?
            .into_iter()
            .find(|(s, _)| s == slug)
            .map_or(0.0, |(_, usd)| usd);
        out.push((month, usd));
    }
    Ok(out)
}

/// `[from, to)` of a `YYYY-MM` month as the series writes its times.
fn month_bounds(month: &str) -> Option<(String, String)> {
    let (y, m) = month.split_once('-')?;
    let (y, m): (i32, u32) = (y.parse().ok()?, m.parse().ok()?);
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (1..=12).contains(&m).then(|| {
        (
            format!("{y:04}-{m:02}-01T00:00:00Z"),
            format!("{ny:04}-{nm:02}-01T00:00:00Z"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn a_months_spend_counts_rises_from_the_reading_before_and_survives_resets() {
        let store = Store::open_in_memory().unwrap();
        let got = store
            .call_blocking(|conn| {
                let conn = &*conn;
                let point = |key: i64, slug: &str, at: &str, usd: f64| {
                    conn.execute(
                        "INSERT INTO llm_spend (key_id, client_slug, at, usage_usd) VALUES (?1, ?2, ?3, ?4)",
                        params![key, slug, at, usd],
                    )
                };
                // Key 1 (acme): 2 before December, 5 by its end, 9 in January.
                point(1, "acme", "2026-11-30T23:55:00Z", 2.0)?;
                point(1, "acme", "2026-12-01T00:00:00Z", 2.5)?;
                point(1, "acme", "2026-12-31T23:55:00Z", 5.0)?;
                point(1, "acme", "2027-01-01T00:00:00Z", 9.0)?;
                // Key 2 (acme, made in December): reset mid-month (4 → 1).
                point(2, "acme", "2026-12-10T00:00:00Z", 1.0)?;
                point(2, "acme", "2026-12-20T00:00:00Z", 4.0)?;
                point(2, "acme", "2026-12-21T00:00:00Z", 1.0)?;
                // Key 3 (beta): nothing in December.
                point(3, "beta", "2026-11-01T00:00:00Z", 7.0)?;
                spend_between(conn, "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z")
            })
            .unwrap();
        // acme: key 1 3.0 (2 → 5), key 2 1 + 3 + 1 = 5.
        assert_eq!(got, vec![("acme".to_owned(), 8.0)]);
    }

    #[test]
    fn a_clients_months_each_count_their_own_spend() {
        let store = Store::open_in_memory().unwrap();
        let got = store
            .call_blocking(|conn| {
                let conn = &*conn;
                for (key, slug, at, usd) in [
                    (1, "acme", "2026-11-05T00:00:00Z", 1.0),
                    (1, "acme", "2026-11-30T23:55:00Z", 2.0),
                    (1, "acme", "2026-12-31T23:55:00Z", 5.0),
                    (1, "acme", "2027-01-02T00:00:00Z", 6.5),
                    (2, "beta", "2026-12-05T00:00:00Z", 9.0),
                ] {
                    conn.execute(
                        "INSERT INTO llm_spend (key_id, client_slug, at, usage_usd) VALUES (?1, ?2, ?3, ?4)",
                        params![key, slug, at, usd],
                    )?;
                }
                monthly_spend(conn, "acme")
            })
            .unwrap();
        let months: Vec<(&str, f64)> = got.iter().map(|(m, u)| (m.as_str(), *u)).collect();
        // A new key counts from 0; December from November's last reading; the
        // December boundary goes over the year.
        assert_eq!(
            months,
            vec![("2026-11", 2.0), ("2026-12", 3.0), ("2027-01", 1.5)]
        );
        assert_eq!(month_bounds("2026-13"), None);
    }
}
