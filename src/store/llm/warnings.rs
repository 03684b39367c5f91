//! Spend warnings as announced: which threshold of which budget period a
//! client's key has been reported past, so each is sent once per period.

use rusqlite::{params, Connection};
use serde::Serialize;

use crate::domain::llm::{budget_period, spend_warning, warning_threshold};
use crate::domain::{LimitReset, SpendWarning};
use crate::store::{now, StoreError};

/// A threshold a client's key just went past, for the first time this period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpendAlert {
    pub client: String,
    pub warning: SpendWarning,
    /// 80 or 100.
    pub threshold: u8,
    pub period: String,
    pub key_label: String,
    pub spent_usd: f64,
    pub limit_usd: f64,
}

/// Marks the thresholds each live key is past (as last polled) and returns
/// those not marked before in their period at that limit (a budget changed
/// mid-period starts afresh): one alert per client, the
/// highest threshold (a jump from 50 % to 110 % announces 100 % only, and
/// 80 % counts as announced with it).
pub fn new_alerts(
    conn: &Connection,
    at: time::OffsetDateTime,
) -> Result<Vec<SpendAlert>, StoreError> {
    let mut keys = conn.prepare_cached(
        "SELECT k.id, k.client_id, c.slug, k.label, k.limit_usd, k.limit_reset,
            k.limit_remaining_usd, COALESCE(k.usage_monthly_usd, k.usage_usd)
         FROM llm_keys k JOIN clients c ON c.id = k.client_id
         WHERE k.status IN ('active', 'disabled') AND k.retired = 0 AND k.polled_at IS NOT NULL
            AND k.limit_usd > 0
         ORDER BY k.id",
    )?;
    type KeyFigures = (
        i64,
        i64,
        String,
        String,
        f64,
        Option<LimitReset>,
        Option<f64>,
        Option<f64>,
    );
    let rows: Vec<KeyFigures> = keys
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut mark = conn.prepare_cached(
        "INSERT OR IGNORE INTO llm_warnings (client_id, period, threshold, key_id, spent_usd, limit_usd, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let stamp = now();
    let mut alerts = Vec::new();
    for (key_id, client_id, slug, label, limit, reset, remaining, spent) in rows {
        let Some(warning) = spend_warning(Some(limit), remaining, spent) else {
            continue;
        };
        let spent_usd = remaining.map_or(spent.unwrap_or(0.0), |left| limit - left);
        let period = budget_period(reset, key_id, at);
        let mut newest = None;
        for w in SpendWarning::ALL
            .iter()
            .filter(|w| warning_threshold(**w) <= warning_threshold(warning))
        {
            let threshold = warning_threshold(*w);
            let added = mark.execute(params![
                client_id, period, threshold, key_id, spent_usd, limit, stamp
            ])?;
            if added > 0 {
                newest = Some(*w);
            }
        }
        if let Some(w) = newest {
            alerts.push(SpendAlert {
                client: slug,
                warning: w,
                threshold: warning_threshold(w),
                period,
                key_label: label,
                spent_usd,
                limit_usd: limit,
            });
        }
    }
    Ok(alerts)
}
