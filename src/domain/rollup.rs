//! Bucket math shared by rollups, charts and billing. Everything here is
//! pure: the store reads rows, these functions add them up.
//!
//! A bucket keeps *sums* (seconds, core-seconds, byte-seconds, byte counts)
//! and maxima, never averages: sums of sums are exact, so a month billed from
//! hourly rollups equals the month billed from raw samples.

use std::collections::BTreeMap;

use serde::Serialize;

/// Raw samples are kept this long.
pub const RAW_KEEP_SECS: i64 = 48 * 3600;
/// 5-minute rollups are kept this long.
pub const FIVE_MIN_KEEP_SECS: i64 = 35 * 86400;
/// Hourly rollups are kept this long.
pub const HOURLY_KEEP_SECS: i64 = 400 * 86400;

/// What one instance used during the `secs` before `ts` (unix seconds).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    pub instance_id: i64,
    pub ts: i64,
    pub secs: f64,
    /// The container was running for this sample.
    pub up: bool,
    /// CPU cores used, averaged over `secs`.
    pub cpu: f64,
    pub mem: u64,
    /// 0 when unlimited.
    pub mem_limit: u64,
    /// The data directory's size at its last walk.
    pub disk: u64,
    pub rx: u64,
    pub tx: u64,
    pub blk_read: u64,
    pub blk_write: u64,
    pub pids: u64,
    pub oom_kills: u64,
    /// Times the memory limit was hit (v1 failcnt, v2 `max` events).
    pub mem_hits: u64,
}

/// The sums and maxima of the samples of one instance whose `ts` falls in
/// `[ts, ts + width)`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Bucket {
    pub instance_id: i64,
    pub ts: i64,
    pub n: u64,
    pub secs: f64,
    pub up_secs: f64,
    pub cpu_secs: f64,
    pub cpu_max: f64,
    pub mem_byte_secs: f64,
    pub mem_max: u64,
    pub mem_limit: u64,
    pub disk_byte_secs: f64,
    pub disk_max: u64,
    pub rx: u64,
    pub tx: u64,
    pub blk_read: u64,
    pub blk_write: u64,
    pub pids_max: u64,
    pub oom_kills: u64,
    pub mem_hits: u64,
}

impl Bucket {
    pub fn from_sample(s: &Sample, width: i64) -> Self {
        Self {
            instance_id: s.instance_id,
            ts: align(s.ts, width),
            n: 1,
            secs: s.secs,
            up_secs: if s.up { s.secs } else { 0.0 },
            cpu_secs: s.cpu * s.secs,
            cpu_max: s.cpu,
            mem_byte_secs: s.mem as f64 * s.secs,
            mem_max: s.mem,
            mem_limit: s.mem_limit,
            disk_byte_secs: s.disk as f64 * s.secs,
            disk_max: s.disk,
            rx: s.rx,
            tx: s.tx,
            blk_read: s.blk_read,
            blk_write: s.blk_write,
            pids_max: s.pids,
            oom_kills: s.oom_kills,
            mem_hits: s.mem_hits,
        }
    }

    /// Adds `o` into `self` (same instance; `self.ts` is kept).
    pub fn absorb(&mut self, o: &Bucket) {
        self.n += o.n;
        self.secs += o.secs;
        self.up_secs += o.up_secs;
        self.cpu_secs += o.cpu_secs;
        self.cpu_max = self.cpu_max.max(o.cpu_max);
        self.mem_byte_secs += o.mem_byte_secs;
        self.mem_max = self.mem_max.max(o.mem_max);
        self.mem_limit = self.mem_limit.max(o.mem_limit);
        self.disk_byte_secs += o.disk_byte_secs;
        self.disk_max = self.disk_max.max(o.disk_max);
        self.rx += o.rx;
        self.tx += o.tx;
        self.blk_read += o.blk_read;
        self.blk_write += o.blk_write;
        self.pids_max = self.pids_max.max(o.pids_max);
        self.oom_kills += o.oom_kills;
        self.mem_hits += o.mem_hits;
    }

    fn per_sec(&self, sum: f64) -> f64 {
        if self.secs > 0.0 {
            sum / self.secs
        } else {
            0.0
        }
    }

    pub fn cpu_avg(&self) -> f64 {
        self.per_sec(self.cpu_secs)
    }

    pub fn mem_avg(&self) -> f64 {
        self.per_sec(self.mem_byte_secs)
    }

    pub fn disk_avg(&self) -> f64 {
        self.per_sec(self.disk_byte_secs)
    }

    pub fn rx_rate(&self) -> f64 {
        self.per_sec(self.rx as f64)
    }

    pub fn tx_rate(&self) -> f64 {
        self.per_sec(self.tx as f64)
    }
}

/// Start of the `width`-wide bucket holding `ts`; `width <= 0` keeps `ts`.
pub fn align(ts: i64, width: i64) -> i64 {
    if width <= 0 {
        ts
    } else {
        ts.div_euclid(width) * width
    }
}

/// Merges buckets (of any finer width, in any order) into `width`-wide
/// buckets, sorted by instance then time.
pub fn rollup(items: impl IntoIterator<Item = Bucket>, width: i64) -> Vec<Bucket> {
    let mut out: BTreeMap<(i64, i64), Bucket> = BTreeMap::new();
    for mut b in items {
        b.ts = align(b.ts, width);
        match out.get_mut(&(b.instance_id, b.ts)) {
            Some(acc) => acc.absorb(&b),
            None => {
                out.insert((b.instance_id, b.ts), b);
            }
        }
    }
    out.into_values().collect()
}

/// One bucket per instance over everything given (billing totals).
pub fn totals(items: impl IntoIterator<Item = Bucket>) -> BTreeMap<i64, Bucket> {
    let mut out: BTreeMap<i64, Bucket> = BTreeMap::new();
    for b in items {
        match out.get_mut(&b.instance_id) {
            Some(acc) => acc.absorb(&b),
            None => {
                out.insert(b.instance_id, b);
            }
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Raw,
    FiveMin,
    Hourly,
}

impl Tier {
    pub fn width(self) -> i64 {
        match self {
            Tier::Raw => 0,
            Tier::FiveMin => 300,
            Tier::Hourly => 3600,
        }
    }
}

/// Rollup watermarks: every raw sample with `ts < five_min` is in the
/// 5-minute tier; every 5-minute bucket with `ts < hourly` is in the hourly
/// tier. Both are aligned to their width and `hourly <= five_min`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Marks {
    pub five_min: i64,
    pub hourly: i64,
}

/// Which tier to read for which part of `[from, to)`, coarsest first, so no
/// sample is counted twice or missed. Tiers wider than `width` (the chart
/// step; `i64::MAX` for billing) are not used. `from` must be aligned to
/// the widest tier used.
pub fn plan_reads(from: i64, to: i64, marks: Marks, width: i64) -> Vec<(Tier, i64, i64)> {
    let mut reads = Vec::new();
    let mut cursor = from;
    for (tier, mark) in [
        (Tier::Hourly, marks.hourly),
        (Tier::FiveMin, marks.five_min),
    ] {
        let fits = width == i64::MAX || (width >= tier.width() && width % tier.width() == 0);
        if fits && cursor < mark.min(to) {
            reads.push((tier, cursor, mark.min(to)));
            cursor = mark.min(to);
        }
    }
    if cursor < to {
        reads.push((Tier::Raw, cursor, to));
    }
    reads
}

/// The increase of a counter that restarts from zero when its container
/// does: a drop means a restart, and everything counted since is new.
pub fn counter_delta(prev: u64, cur: u64) -> u64 {
    if cur >= prev {
        cur - prev
    } else {
        cur
    }
}

#[cfg(test)]
mod tests;
