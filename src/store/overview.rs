//! Read-only aggregates for the dashboard and the clients list: computed
//! in SQL so a page with a thousand instances reads a handful of rows.

use std::collections::HashMap;

use rusqlite::Connection;
use serde::Serialize;

use super::StoreError;
use crate::domain::Phase;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Overview {
    pub clients: u32,
    pub suspended: u32,
    pub plans: u32,
    pub instances: u32,
    /// (phase, count), most common first.
    pub by_phase: Vec<(Phase, u32)>,
    /// Sums of the plan limits of every instance that should exist.
    pub cpus_committed: f64,
    pub memory_committed: u64,
    pub storage_committed: u64,
    pub failing: Vec<FailingInstance>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FailingInstance {
    pub id: i64,
    pub client_slug: String,
    pub client_name: String,
    pub name: String,
    pub phase: Phase,
    pub message: String,
    pub observed_at: Option<String>,
}

pub fn overview(conn: &Connection) -> Result<Overview, StoreError> {
    let mut o = Overview::default();
    (o.clients, o.suspended) = conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(status = 'suspended'), 0) FROM clients",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    o.plans = conn.query_row("SELECT COUNT(*) FROM plans", [], |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(
        "SELECT i.phase, COUNT(*), SUM(p.cpus), SUM(p.memory), SUM(COALESCE(p.storage, 0))
         FROM instances i JOIN clients c ON c.id = i.client_id JOIN plans p ON p.id = c.plan_id
         WHERE i.desired != 'absent' GROUP BY i.phase ORDER BY COUNT(*) DESC, i.phase",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let count: u32 = r.get(1)?;
        o.instances += count;
        o.cpus_committed += r.get::<_, f64>(2)?;
        o.memory_committed += r.get::<_, i64>(3)? as u64;
        o.storage_committed += r.get::<_, i64>(4)? as u64;
        o.by_phase.push((r.get(0)?, count));
    }
    let mut stmt = conn.prepare_cached(
        "SELECT i.id, c.slug, c.name, i.name, i.phase, i.message, i.observed_at
         FROM instances i JOIN clients c ON c.id = i.client_id
         WHERE i.desired != 'absent' AND i.phase IN ('error', 'unhealthy')
         ORDER BY i.observed_at DESC LIMIT 20",
    )?;
    o.failing = stmt
        .query_map([], |r| {
            Ok(FailingInstance {
                id: r.get(0)?,
                client_slug: r.get(1)?,
                client_name: r.get(2)?,
                name: r.get(3)?,
                phase: r.get(4)?,
                message: r.get(5)?,
                observed_at: r.get(6)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(o)
}

/// Each client's instance phases (instances being removed left out).
pub fn client_phases(conn: &Connection) -> Result<HashMap<i64, Vec<Phase>>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT client_id, phase FROM instances WHERE desired != 'absent' ORDER BY id",
    )?;
    let mut out: HashMap<i64, Vec<Phase>> = HashMap::new();
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        out.entry(r.get(0)?).or_default().push(r.get(1)?);
    }
    Ok(out)
}

/// A live instance's backup times, for the dashboard's backup health.
#[derive(Debug, Clone)]
pub struct BackupTimes {
    pub instance_id: i64,
    pub client_slug: String,
    pub instance: String,
    pub created_at: String,
    pub last_ok_at: Option<String>,
    pub last_failed_at: Option<String>,
}

/// Every live instance's newest good and failed backup, in one query (the
/// clients joined in SQL, not looked up per row).
pub fn backup_times(conn: &Connection) -> Result<Vec<BackupTimes>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.id, c.slug, i.name, i.created_at,
                (SELECT MAX(finished_at) FROM backups b WHERE b.instance_id = i.id AND b.status = 'ok'),
                (SELECT MAX(finished_at) FROM backups b WHERE b.instance_id = i.id AND b.status = 'failed')
         FROM instances i JOIN clients c ON c.id = i.client_id
         WHERE i.desired != 'absent' ORDER BY i.id",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(BackupTimes {
                instance_id: r.get(0)?,
                client_slug: r.get(1)?,
                instance: r.get(2)?,
                created_at: r.get(3)?,
                last_ok_at: r.get(4)?,
                last_failed_at: r.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}
