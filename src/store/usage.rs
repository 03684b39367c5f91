//! Usage history reads: chart series, billing totals, host samples, disk
//! walks and quota warnings.

use std::collections::HashMap;

use rusqlite::{params, Connection};
use serde::Serialize;

use super::metrics::{marks, read_tier, HostSample};
use super::{get_u64, now, StoreError};
use crate::domain::rollup::{plan_reads, rollup, totals, Bucket};

/// The buckets of one instance over `[from, to)`, `width` seconds wide (0:
/// one per raw sample), each read from the coarsest tier that has it.
pub fn buckets(
    conn: &Connection,
    id: i64,
    from: i64,
    to: i64,
    width: i64,
) -> Result<Vec<Bucket>, StoreError> {
    let marks = marks(conn)?;
    let mut rows = Vec::new();
    for (tier, a, b) in plan_reads(from, to, marks, width) {
        rows.extend(read_tier(conn, tier, id, a, b)?);
    }
    Ok(if width > 0 { rollup(rows, width) } else { rows })
}

/// An instance as billing names it, even after it was deleted.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Subject {
    pub instance_id: i64,
    /// `None` for history recorded before client ids were kept whose client
    /// could not be told (see migration 005): such a client is gone.
    pub client_id: Option<i64>,
    pub client_slug: String,
    /// The client was deleted (its slug may belong to a new client now).
    pub client_deleted: bool,
    pub instance_name: String,
}

pub fn subjects(conn: &Connection) -> Result<Vec<Subject>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.instance_id, s.client_id, s.client_slug, c.id IS NULL, s.instance_name
         FROM metric_subjects s LEFT JOIN clients c ON c.id = s.client_id
         ORDER BY s.client_slug, s.client_id, s.instance_name",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Subject {
                instance_id: r.get(0)?,
                client_id: r.get(1)?,
                client_slug: r.get(2)?,
                client_deleted: r.get(3)?,
                instance_name: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Per-instance totals over `[from, to)` (`from` hour-aligned), for billing.
pub fn totals_between(
    conn: &Connection,
    from: i64,
    to: i64,
) -> Result<Vec<(Subject, Bucket)>, StoreError> {
    let mut out = Vec::new();
    for s in subjects(conn)? {
        let rows = buckets(conn, s.instance_id, from, to, i64::MAX)?;
        if let Some(total) = totals(rows).remove(&s.instance_id) {
            out.push((s, total));
        }
    }
    Ok(out)
}

/// Everything recorded about one client's usage, hour by hour: the
/// instances it ever had (removed ones too) and their hourly buckets up to
/// `to`, sorted by instance then time. For its GDPR export and the billing
/// months an erasure keeps.
pub fn client_history(
    conn: &Connection,
    client_id: i64,
    to: i64,
) -> Result<(Vec<Subject>, Vec<Bucket>), StoreError> {
    let subjects: Vec<Subject> = subjects(conn)?
        .into_iter()
        .filter(|s| s.client_id == Some(client_id))
        .collect();
    let mut hourly = Vec::new();
    for s in &subjects {
        hourly.extend(buckets(conn, s.instance_id, 0, to, 3600)?);
    }
    Ok((subjects, hourly))
}

/// Host samples averaged into `width`-second buckets.
pub fn host_series(
    conn: &Connection,
    from: i64,
    to: i64,
    width: i64,
) -> Result<Vec<HostSample>, StoreError> {
    let width = width.max(1);
    let mut stmt = conn.prepare_cached(
        "SELECT (ts / ?3) * ?3, AVG(cpu_used), MAX(cpus), AVG(mem_used), MAX(mem_total), MAX(disk_used),
            MAX(disk_total), AVG(load1)
         FROM host_samples WHERE ts >= ?1 AND ts < ?2 GROUP BY 1 ORDER BY 1",
    )?;
    let rows = stmt
        .query_map(params![from, to, width], |r| {
            Ok(HostSample {
                ts: r.get(0)?,
                cpu_used: r.get(1)?,
                cpus: r.get(2)?,
                // An average, so REAL; whole bytes are enough.
                mem_used: r.get::<_, f64>(3)? as u64,
                mem_total: get_u64(r, 4)?,
                disk_used: get_u64(r, 5)?,
                disk_total: get_u64(r, 6)?,
                load1: r.get(7)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

pub fn latest_host(conn: &Connection) -> Result<Option<HostSample>, StoreError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    Ok(host_series(conn, now - 600, now + 1, 1)?.pop())
}

/// The last walk's bytes per instance.
pub fn disk_usage(conn: &Connection) -> Result<HashMap<i64, u64>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT instance_id, bytes FROM disk_usage")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, get_u64(r, 1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// [`disk_usage`] of one client's instances: a client's page should not
/// read every instance of the host.
pub fn disk_usage_of_client(
    conn: &Connection,
    client_id: i64,
) -> Result<HashMap<i64, u64>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.instance_id, d.bytes FROM disk_usage d JOIN instances i ON i.id = d.instance_id
         WHERE i.client_id = ?1",
    )?;
    let rows = stmt
        .query_map([client_id], |r| Ok((r.get(0)?, get_u64(r, 1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QuotaWarning {
    pub instance_id: i64,
    pub instance: String,
    pub client_slug: String,
    pub kind: String,
    pub used: u64,
    pub quota: u64,
    pub since: String,
}

/// Makes the storage warnings exactly `over` (instance id, used, quota);
/// returns the instance ids whose warning is new.
pub fn set_storage_warnings(
    conn: &Connection,
    over: &[(i64, u64, u64)],
) -> Result<Vec<i64>, StoreError> {
    let before: Vec<i64> = conn
        .prepare_cached("SELECT instance_id FROM quota_warnings WHERE kind = 'storage'")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut started = Vec::new();
    for (id, used, quota) in over {
        if !before.contains(id) {
            started.push(*id);
        }
        conn.prepare_cached(
            "INSERT INTO quota_warnings (instance_id, kind, used, quota, since) VALUES (?1, 'storage', ?2, ?3, ?4)
             ON CONFLICT (instance_id, kind) DO UPDATE SET used = ?2, quota = ?3",
        )?
        .execute(params![id, *used as i64, *quota as i64, now()])?;
    }
    for id in before {
        if !over.iter().any(|(o, _, _)| *o == id) {
            conn.execute(
                "DELETE FROM quota_warnings WHERE instance_id = ?1 AND kind = 'storage'",
                [id],
            )?;
        }
    }
    Ok(started)
}

/// Warnings, of one client or all.
pub fn warnings(
    conn: &Connection,
    client_id: Option<i64>,
) -> Result<Vec<QuotaWarning>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT w.instance_id, i.name, c.slug, w.kind, w.used, w.quota, w.since
         FROM quota_warnings w JOIN instances i ON i.id = w.instance_id JOIN clients c ON c.id = i.client_id
         WHERE ?1 IS NULL OR c.id = ?1 ORDER BY c.slug, i.name",
    )?;
    let rows = stmt
        .query_map([client_id], |r| {
            Ok(QuotaWarning {
                instance_id: r.get(0)?,
                instance: r.get(1)?,
                client_slug: r.get(2)?,
                kind: r.get(3)?,
                used: get_u64(r, 4)?,
                quota: get_u64(r, 5)?,
                since: r.get(6)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

#[cfg(test)]
#[path = "usage_tests.rs"]
mod tests;
