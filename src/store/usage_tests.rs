//! The history tables end to end on an in-memory store: sampling for days,
//! rolling and pruning as the sampler does, then billing and charts.

use proptest::prelude::*;

use crate::domain::rollup::{totals, Bucket, Sample, Tier, FIVE_MIN_KEEP_SECS, RAW_KEEP_SECS};
use crate::store::metrics::{insert_sample, prune, read_tier, roll, upsert_subject};
use crate::store::usage::{buckets, totals_between};
use crate::store::Store;

const T0: i64 = 1_800_000_000 - 1_800_000_000 % 86400;

fn sample(id: i64, ts: i64, cpu: f64, mem: u64) -> Sample {
    Sample {
        instance_id: id,
        ts,
        secs: 15.0,
        up: true,
        cpu,
        mem,
        mem_limit: 1 << 30,
        disk: 5 << 20,
        rx: 1000,
        tx: 10,
        blk_read: 0,
        blk_write: 0,
        pids: 2,
        oom_kills: u64::from(ts % 3600 == 0),
        mem_hits: 0,
    }
}

/// Writes `samples` in sweep order, rolling after each sweep (as the sampler
/// does), pruning every `prune_every` sweeps.
fn record(store: &Store, samples: &[Sample], prune_every: usize) {
    store
        .call_blocking(|conn| {
            upsert_subject(conn, 1, 1, "acme", "main")?;
            upsert_subject(conn, 2, 2, "beta", "main")?;
            for (n, s) in samples.iter().enumerate() {
                insert_sample(conn, s)?;
                roll(conn, s.ts)?;
                if prune_every > 0 && n % prune_every == 0 {
                    prune(conn, s.ts)?;
                }
            }
            Ok(())
        })
        .unwrap();
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever moment billing runs at, its totals equal the raw samples'.
    #[test]
    fn stored_totals_equal_raw(cpus in prop::collection::vec(0.0f64..2.0, 1..900), cut in 0usize..900) {
        let store = Store::open_in_memory().unwrap();
        let samples: Vec<Sample> = cpus.iter().enumerate()
            .map(|(i, c)| sample(1 + (i % 2) as i64, T0 + 15 * i as i64 + 15, *c, (i as u64) << 20))
            .collect();
        let cut = cut.min(samples.len());
        record(&store, &samples[..cut], 0);
        let end = T0 + 86400;
        let got = store.call_blocking(|c| totals_between(c, T0, end)).unwrap();
        let expected = totals(samples[..cut].iter().map(|s| Bucket::from_sample(s, 0)));
        prop_assert_eq!(got.len(), expected.len());
        for (subject, b) in &got {
            let e = &expected[&subject.instance_id];
            prop_assert_eq!((b.n, b.rx, b.tx, b.mem_max, b.oom_kills), (e.n, e.rx, e.tx, e.mem_max, e.oom_kills));
            prop_assert!(close(b.cpu_secs, e.cpu_secs) && close(b.mem_byte_secs, e.mem_byte_secs) && close(b.up_secs, e.up_secs));
        }
    }
}

#[test]
fn pruning_keeps_the_promised_windows() {
    let store = Store::open_in_memory().unwrap();
    // Forty days at one sample per minute (coarser than the sampler, same rules).
    let days = 40;
    let samples: Vec<Sample> = (1..=days * 1440)
        .map(|i| sample(1, T0 + i * 60, 0.25, 1 << 20))
        .collect();
    record(&store, &samples, 500);
    let now = samples.last().unwrap().ts;
    store
        .call_blocking(|c| {
            prune(c, now)?;
            let raw = read_tier(c, Tier::Raw, 1, 0, i64::MAX)?;
            let five = read_tier(c, Tier::FiveMin, 1, 0, i64::MAX)?;
            let hour = read_tier(c, Tier::Hourly, 1, 0, i64::MAX)?;
            // Raw: the last 48 h, nothing older.
            assert!(raw.first().unwrap().ts >= now - RAW_KEEP_SECS);
            assert!(raw.first().unwrap().ts <= now - RAW_KEEP_SECS + 60);
            // 5-minute rollups: 35 days.
            assert!(five.first().unwrap().ts >= now - FIVE_MIN_KEEP_SECS - 300);
            assert!(five.first().unwrap().ts <= now - FIVE_MIN_KEEP_SECS + 300);
            // Hourly: all 40 days (kept 400).
            assert_eq!(hour.first().unwrap().ts, T0);
            // A 30-day chart still has every hour, with the right average.
            let month = buckets(c, 1, now - now % 3600 - 30 * 86400, now + 1, 3600)?;
            assert!(month.len() >= 30 * 24, "{}", month.len());
            assert!(month.iter().all(|b| (b.cpu_avg() - 0.25).abs() < 1e-9));
            // Billing the first day still sees every minute of it.
            let day = totals_between(c, T0, T0 + 86400)?;
            assert_eq!(day[0].1.n, 1439);
            Ok(())
        })
        .unwrap();
}
