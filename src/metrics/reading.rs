//! Samples from counter readings: what an instance did between two sweeps,
//! worked out from its reading at each. Pure, so the sampler's IO and this
//! arithmetic are read (and tested) apart.

use std::time::Instant;

use crate::docker::ContainerCounters;
use crate::domain::rollup::{counter_delta, Sample};

/// What one sweep read of one instance.
pub(super) struct Reading {
    pub at: Instant,
    /// The container read, `None` while none runs.
    pub container: Option<String>,
    pub counters: Option<ContainerCounters>,
}

/// The instance's sample from `before` to `now` (`ts` is when it ends, in
/// unix seconds). A container that is new since `before` (recreated,
/// restarted) counts everything it did.
pub(super) fn sample(
    instance_id: i64,
    mem_limit: u64,
    disk: u64,
    ts: i64,
    before: &Reading,
    now: &Reading,
) -> Sample {
    let secs = now.at.duration_since(before.at).as_secs_f64().max(0.001);
    let base = match (before.counters, before.container == now.container) {
        (Some(p), true) => p,
        _ => ContainerCounters::default(),
    };
    let (up, cpu, mem, c) = match now.counters {
        Some(c) => {
            let cpu_ns = counter_delta(base.cpu_ns, c.cpu_ns);
            (true, cpu_ns as f64 / 1e9 / secs, c.mem, c)
        }
        None => (false, 0.0, 0, base),
    };
    Sample {
        instance_id,
        ts,
        secs,
        up,
        cpu,
        mem,
        mem_limit,
        disk,
        rx: counter_delta(base.rx, c.rx),
        tx: counter_delta(base.tx, c.tx),
        blk_read: counter_delta(base.blk_read, c.blk_read),
        blk_write: counter_delta(base.blk_write, c.blk_write),
        pids: if up { c.pids } else { 0 },
        oom_kills: counter_delta(base.oom_kills, c.oom_kills),
        mem_hits: counter_delta(base.mem_hits, c.mem_hits),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn reading(at: Instant, container: Option<&str>, cpu_s: u64, rx: u64) -> Reading {
        Reading {
            at,
            container: container.map(str::to_owned),
            counters: container.map(|_| ContainerCounters {
                cpu_ns: cpu_s * 1_000_000_000,
                rx,
                pids: 3,
                ..Default::default()
            }),
        }
    }

    #[test]
    fn the_same_container_counts_the_difference_a_new_one_everything() {
        let then = Instant::now();
        let at = then + Duration::from_secs(10);
        let before = reading(then, Some("a"), 5, 100);
        let same = sample(
            7,
            1 << 30,
            4096,
            1,
            &before,
            &reading(at, Some("a"), 10, 150),
        );
        assert!((same.cpu - 0.5).abs() < 1e-9, "{same:?}");
        assert_eq!(
            (same.rx, same.disk, same.pids, same.up),
            (50, 4096, 3, true)
        );
        let recreated = sample(
            7,
            1 << 30,
            4096,
            1,
            &before,
            &reading(at, Some("b"), 10, 150),
        );
        assert!((recreated.cpu - 1.0).abs() < 1e-9, "{recreated:?}");
        assert_eq!(recreated.rx, 150);
        let stopped = sample(7, 1 << 30, 4096, 1, &before, &reading(at, None, 0, 0));
        assert_eq!(
            (stopped.up, stopped.cpu, stopped.rx, stopped.pids),
            (false, 0.0, 0, 0)
        );
    }
}
