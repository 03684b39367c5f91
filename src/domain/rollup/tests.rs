use proptest::prelude::*;

use super::*;

fn sample(instance_id: i64, ts: i64, secs: f64, cpu: f64, mem: u64) -> Sample {
    Sample {
        instance_id,
        ts,
        secs,
        up: cpu > 0.0,
        cpu,
        mem,
        mem_limit: 1 << 30,
        disk: mem / 2,
        rx: mem / 3,
        tx: mem / 5,
        blk_read: 7,
        blk_write: 11,
        pids: 3,
        oom_kills: u64::from(mem.is_multiple_of(7)),
        mem_hits: 1,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn assert_same(a: &Bucket, b: &Bucket) {
    assert_eq!(
        (
            a.instance_id,
            a.n,
            a.mem_max,
            a.mem_limit,
            a.disk_max,
            a.rx,
            a.tx
        ),
        (
            b.instance_id,
            b.n,
            b.mem_max,
            b.mem_limit,
            b.disk_max,
            b.rx,
            b.tx
        )
    );
    assert_eq!(
        (a.blk_read, a.blk_write, a.pids_max, a.oom_kills, a.mem_hits),
        (b.blk_read, b.blk_write, b.pids_max, b.oom_kills, b.mem_hits)
    );
    for (x, y) in [
        (a.secs, b.secs),
        (a.up_secs, b.up_secs),
        (a.cpu_secs, b.cpu_secs),
        (a.cpu_max, b.cpu_max),
        (a.mem_byte_secs, b.mem_byte_secs),
        (a.disk_byte_secs, b.disk_byte_secs),
    ] {
        assert!(close(x, y), "{x} != {y}\n{a:?}\n{b:?}");
    }
}

#[test]
fn buckets_sum_and_keep_maxima() {
    let s = [
        sample(1, 1000, 15.0, 0.5, 100),
        sample(1, 1015, 15.0, 1.5, 300),
        sample(1, 1300, 15.0, 0.0, 0),
    ];
    let b = rollup(s.iter().map(|s| Bucket::from_sample(s, 300)), 300);
    assert_eq!(b.len(), 2);
    assert_eq!(b[0].ts, 900);
    assert_eq!(b[0].n, 2);
    assert!(close(b[0].cpu_secs, 30.0));
    assert!(close(b[0].cpu_avg(), 1.0));
    assert_eq!(b[0].cpu_max, 1.5);
    assert!(close(b[0].mem_avg(), 200.0));
    assert_eq!(b[0].mem_max, 300);
    assert_eq!(b[1].ts, 1200);
    assert_eq!(b[1].up_secs, 0.0);
}

#[test]
fn reads_cover_the_range_once_coarsest_first() {
    let marks = Marks {
        five_min: 7200 + 900,
        hourly: 7200,
    };
    assert_eq!(
        plan_reads(0, 9000, marks, i64::MAX),
        vec![
            (Tier::Hourly, 0, 7200),
            (Tier::FiveMin, 7200, 8100),
            (Tier::Raw, 8100, 9000)
        ]
    );
    // A 30-minute chart step cannot use hourly buckets.
    assert_eq!(
        plan_reads(0, 9000, marks, 1800),
        vec![(Tier::FiveMin, 0, 8100), (Tier::Raw, 8100, 9000)]
    );
    // Raw only for a 1-hour chart; nothing past `to`.
    assert_eq!(
        plan_reads(3600, 7200, marks, 0),
        vec![(Tier::Raw, 3600, 7200)]
    );
    assert_eq!(
        plan_reads(0, 3600, marks, 3600),
        vec![(Tier::Hourly, 0, 3600)]
    );
}

#[test]
fn counters_survive_restarts() {
    assert_eq!(counter_delta(10, 25), 15);
    assert_eq!(counter_delta(100, 4), 4);
    assert_eq!(counter_delta(0, 0), 0);
}

fn arb_samples() -> impl Strategy<Value = Vec<Sample>> {
    prop::collection::vec((1i64..=3, 1i64..90, 0.0f64..4.0, 0u64..(8 << 30)), 1..400).prop_map(
        |rows| {
            let mut ts = [5_000i64; 4];
            rows.into_iter()
                .map(|(inst, gap, cpu, mem)| {
                    ts[inst as usize] += gap;
                    sample(inst, ts[inst as usize], gap as f64, cpu, mem)
                })
                .collect()
        },
    )
}

proptest! {
    /// Billing reads hourly, then 5-minute, then raw rows as the watermarks
    /// say; whatever the watermarks, the totals equal the raw samples'.
    #[test]
    fn tiered_totals_equal_raw(samples in arb_samples(), h in 0i64..12, extra in 0i64..12) {
        let hourly = 3600 + h * 3600;
        let five_min = hourly + extra * 300;
        let marks = Marks { five_min, hourly };
        let raw: Vec<Bucket> = samples.iter().map(|s| Bucket::from_sample(s, 0)).collect();
        let five: Vec<Bucket> = rollup(raw.iter().filter(|b| b.ts < five_min).cloned(), 300);
        let hour: Vec<Bucket> = rollup(five.iter().filter(|b| b.ts < hourly).cloned(), 3600);
        let end = samples.iter().map(|s| s.ts).max().unwrap() + 1;
        let mut read = Vec::new();
        for (tier, a, b) in plan_reads(3600, end.max(3600), marks, i64::MAX) {
            let rows = match tier { Tier::Raw => &raw, Tier::FiveMin => &five, Tier::Hourly => &hour };
            read.extend(rows.iter().filter(|r| r.ts >= a && r.ts < b).cloned());
        }
        let expected = totals(raw.iter().filter(|b| b.ts >= 3600).cloned());
        let got = totals(read);
        prop_assert_eq!(expected.len(), got.len());
        for (id, e) in &expected {
            assert_same(e, &got[id]);
        }
    }

    /// Rolling raw → 5 min → 1 h equals rolling raw → 1 h directly.
    #[test]
    fn rollups_compose(samples in arb_samples()) {
        let raw = samples.iter().map(|s| Bucket::from_sample(s, 0));
        let direct = rollup(raw.clone(), 3600);
        let staged = rollup(rollup(raw, 300), 3600);
        prop_assert_eq!(direct.len(), staged.len());
        for (a, b) in direct.iter().zip(&staged) {
            prop_assert_eq!(a.ts, b.ts);
            assert_same(a, b);
        }
    }
}
