//! Usage history writes: samples, rollups with their watermarks, pruning.
//! Reads for charts and billing are in [`super::usage`].

use rusqlite::{params, Connection, OptionalExtension};

use super::{get_u64, StoreError};
use crate::domain::rollup::{
    align, rollup, Bucket, Marks, Sample, Tier, FIVE_MIN_KEEP_SECS, HOURLY_KEEP_SECS, RAW_KEEP_SECS,
};

/// Host numbers at one moment.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct HostSample {
    pub ts: i64,
    /// Cores busy (not percent), so it compares with plan CPUs.
    pub cpu_used: f64,
    pub cpus: u32,
    pub mem_used: u64,
    pub mem_total: u64,
    pub disk_used: u64,
    pub disk_total: u64,
    pub load1: f64,
}

/// Remembers which client and name an instance had, for billing after it is
/// gone. A subject never moves to another client: ids are never reused
/// (migration 005), and even so an update only applies to the same client.
pub fn upsert_subject(
    conn: &Connection,
    id: i64,
    client_id: i64,
    slug: &str,
    name: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO metric_subjects (instance_id, client_id, client_slug, instance_name) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (instance_id) DO UPDATE SET client_slug = ?3, instance_name = ?4
         WHERE client_id IS ?2 AND (client_slug != ?3 OR instance_name != ?4)",
    )?
    .execute(params![id, client_id, slug, name])?;
    Ok(())
}

pub fn subject_ids(conn: &Connection) -> Result<Vec<i64>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT instance_id FROM metric_subjects ORDER BY instance_id")?;
    let ids = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(ids)
}

pub fn insert_sample(conn: &Connection, s: &Sample) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO samples_raw (instance_id, ts, secs, up, cpu, mem, mem_limit, disk, rx, tx,
            blk_read, blk_write, pids, oom_kills, mem_hits)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        s.instance_id, s.ts, s.secs, s.up, s.cpu, s.mem as i64, s.mem_limit as i64, s.disk as i64,
        s.rx as i64, s.tx as i64, s.blk_read as i64, s.blk_write as i64, s.pids as i64,
        s.oom_kills as i64, s.mem_hits as i64
    ])?;
    Ok(())
}

pub fn insert_host(conn: &Connection, h: &HostSample) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO host_samples (ts, cpu_used, cpus, mem_used, mem_total, disk_used, disk_total, load1)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        h.ts, h.cpu_used, h.cpus, h.mem_used as i64, h.mem_total as i64, h.disk_used as i64,
        h.disk_total as i64, h.load1
    ])?;
    Ok(())
}

pub fn set_disk(
    conn: &Connection,
    id: i64,
    bytes: u64,
    files: u64,
    at: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO disk_usage (instance_id, bytes, files, measured_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![id, bytes as i64, files as i64, at])?;
    Ok(())
}

pub fn marks(conn: &Connection) -> Result<Marks, StoreError> {
    let get = |k: &str| -> Result<i64, StoreError> {
        Ok(conn
            .query_row("SELECT value FROM metrics_state WHERE key = ?1", [k], |r| {
                r.get(0)
            })
            .optional()?
            .unwrap_or(0))
    };
    Ok(Marks {
        five_min: get("rolled_5m")?,
        hourly: get("rolled_1h")?,
    })
}

fn set_mark(conn: &Connection, key: &str, value: i64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT OR REPLACE INTO metrics_state (key, value) VALUES (?1, ?2)",
        params![key, value],
    )?;
    Ok(())
}

pub(crate) fn table(tier: Tier) -> &'static str {
    match tier {
        Tier::Raw => "samples_raw",
        Tier::FiveMin => "rollup_5m",
        Tier::Hourly => "rollup_1h",
    }
}

/// Rows of one instance and tier with `from <= ts < to`, as buckets.
pub fn read_tier(
    conn: &Connection,
    tier: Tier,
    id: i64,
    from: i64,
    to: i64,
) -> Result<Vec<Bucket>, StoreError> {
    if tier == Tier::Raw {
        let mut stmt = conn.prepare_cached(
            "SELECT instance_id, ts, secs, up, cpu, mem, mem_limit, disk, rx, tx, blk_read, blk_write, pids, oom_kills, mem_hits
             FROM samples_raw WHERE instance_id = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts",
        )?;
        let rows = stmt.query_map(params![id, from, to], |r| {
            let u = |i| get_u64(r, i);
            Ok(Sample {
                instance_id: r.get(0)?,
                ts: r.get(1)?,
                secs: r.get(2)?,
                up: r.get(3)?,
                cpu: r.get(4)?,
                mem: u(5)?,
                mem_limit: u(6)?,
                disk: u(7)?,
                rx: u(8)?,
                tx: u(9)?,
                blk_read: u(10)?,
                blk_write: u(11)?,
                pids: u(12)?,
                oom_kills: u(13)?,
                mem_hits: u(14)?,
            })
        })?;
        return rows.map(|s| Ok(Bucket::from_sample(&s?, 0))).collect();
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT instance_id, ts, n, secs, up_secs, cpu_secs, cpu_max, mem_byte_secs, mem_max, mem_limit,
            disk_byte_secs, disk_max, rx, tx, blk_read, blk_write, pids_max, oom_kills, mem_hits
         FROM {} WHERE instance_id = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts",
        table(tier)
    ))?;
    let rows = stmt.query_map(params![id, from, to], |r| {
        let u = |i| get_u64(r, i);
        Ok(Bucket {
            instance_id: r.get(0)?,
            ts: r.get(1)?,
            n: u(2)?,
            secs: r.get(3)?,
            up_secs: r.get(4)?,
            cpu_secs: r.get(5)?,
            cpu_max: r.get(6)?,
            mem_byte_secs: r.get(7)?,
            mem_max: u(8)?,
            mem_limit: u(9)?,
            disk_byte_secs: r.get(10)?,
            disk_max: u(11)?,
            rx: u(12)?,
            tx: u(13)?,
            blk_read: u(14)?,
            blk_write: u(15)?,
            pids_max: u(16)?,
            oom_kills: u(17)?,
            mem_hits: u(18)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn write_buckets(conn: &Connection, tier: Tier, buckets: &[Bucket]) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO {} (instance_id, ts, n, secs, up_secs, cpu_secs, cpu_max, mem_byte_secs, mem_max,
            mem_limit, disk_byte_secs, disk_max, rx, tx, blk_read, blk_write, pids_max, oom_kills, mem_hits)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
        table(tier)
    ))?;
    for b in buckets {
        stmt.execute(params![
            b.instance_id,
            b.ts,
            b.n as i64,
            b.secs,
            b.up_secs,
            b.cpu_secs,
            b.cpu_max,
            b.mem_byte_secs,
            b.mem_max as i64,
            b.mem_limit as i64,
            b.disk_byte_secs,
            b.disk_max as i64,
            b.rx as i64,
            b.tx as i64,
            b.blk_read as i64,
            b.blk_write as i64,
            b.pids_max as i64,
            b.oom_kills as i64,
            b.mem_hits as i64
        ])?;
    }
    Ok(())
}

/// Rolls every complete 5-minute and hourly bucket before `now` into its
/// tier and moves the watermarks; call inside a transaction. Returns how
/// many buckets were written.
pub fn roll(conn: &Connection, now: i64) -> Result<usize, StoreError> {
    let marks = marks(conn)?;
    let mut written = 0;
    let five_to = align(now, 300);
    if marks.five_min < five_to {
        for id in subject_ids(conn)? {
            let raw = read_tier(conn, Tier::Raw, id, marks.five_min, five_to)?;
            let buckets = rollup(raw, 300);
            written += buckets.len();
            write_buckets(conn, Tier::FiveMin, &buckets)?;
        }
        set_mark(conn, "rolled_5m", five_to)?;
    }
    let hour_to = align(five_to, 3600);
    if marks.hourly < hour_to {
        for id in subject_ids(conn)? {
            let five = read_tier(conn, Tier::FiveMin, id, marks.hourly, hour_to)?;
            let buckets = rollup(five, 3600);
            written += buckets.len();
            write_buckets(conn, Tier::Hourly, &buckets)?;
        }
        set_mark(conn, "rolled_1h", hour_to)?;
    }
    Ok(written)
}

/// Drops what is older than each tier keeps, never rows not yet rolled up.
pub fn prune(conn: &Connection, now: i64) -> Result<usize, StoreError> {
    let marks = marks(conn)?;
    let cuts = [
        (Tier::Raw, (now - RAW_KEEP_SECS).min(marks.five_min)),
        (Tier::FiveMin, (now - FIVE_MIN_KEEP_SECS).min(marks.hourly)),
        (Tier::Hourly, now - HOURLY_KEEP_SECS),
    ];
    let mut removed = 0;
    for id in subject_ids(conn)? {
        for (tier, cut) in cuts {
            removed += conn
                .prepare_cached(&format!(
                    "DELETE FROM {} WHERE instance_id = ?1 AND ts < ?2",
                    table(tier)
                ))?
                .execute(params![id, cut])?;
        }
    }
    removed += conn.execute(
        "DELETE FROM host_samples WHERE ts < ?1",
        [now - FIVE_MIN_KEEP_SECS],
    )?;
    Ok(removed)
}
