//! Which backups to keep: the newest N, plus the newest of each of the last
//! D days, W ISO weeks and M months that have one (grandfather-father-son).
//! The newest verified backup is always kept. Pure: the worker deletes.

use std::collections::{BTreeSet, HashSet};

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rules {
    pub last: u32,
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
}

/// A good (status ok) backup as retention sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub id: i64,
    /// Unix seconds (UTC).
    pub at: i64,
    pub verified: bool,
}

/// The ids to keep. Ties in time are broken by the higher id (newer row).
pub fn keep(candidates: &[Candidate], rules: &Rules) -> BTreeSet<i64> {
    let mut sorted: Vec<&Candidate> = candidates.iter().collect();
    sorted.sort_by_key(|c| std::cmp::Reverse((c.at, c.id)));
    let mut kept: BTreeSet<i64> = sorted
        .iter()
        .take(rules.last as usize)
        .map(|c| c.id)
        .collect();
    for (count, bucket) in [
        (rules.daily, day as fn(i64) -> i64),
        (rules.weekly, week),
        (rules.monthly, month),
    ] {
        let mut seen = HashSet::new();
        for c in &sorted {
            if seen.len() >= count as usize {
                break;
            }
            if seen.insert(bucket(c.at)) {
                kept.insert(c.id);
            }
        }
    }
    if let Some(newest_verified) = sorted.iter().find(|c| c.verified) {
        kept.insert(newest_verified.id);
    }
    kept
}

fn day(at: i64) -> i64 {
    at.div_euclid(86_400)
}

/// Weeks starting on Monday (1970-01-01 was a Thursday).
fn week(at: i64) -> i64 {
    (day(at) + 3).div_euclid(7)
}

fn month(at: i64) -> i64 {
    let date =
        time::OffsetDateTime::from_unix_timestamp(at).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    i64::from(date.year()) * 12 + i64::from(u8::from(date.month()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DAY: i64 = 86_400;

    fn c(id: i64, at: i64, verified: bool) -> Candidate {
        Candidate { id, at, verified }
    }

    #[test]
    fn gfs_by_example() {
        // One backup a day for 60 days starting Monday 2024-01-01, two on the last day.
        let start = 1_704_067_200;
        let mut all: Vec<Candidate> = (0..60)
            .map(|d| c(d, start + d * DAY + 3600, false))
            .collect();
        all.push(c(100, start + 59 * DAY + 7200, false));
        let kept = keep(
            &all,
            &Rules {
                last: 2,
                daily: 3,
                weekly: 2,
                monthly: 2,
            },
        );
        // last 2: 100, 59; daily: days 59 (100), 58, 57; weekly: this week (100), last Sunday 55;
        // monthly: February (100), January's newest (day 30).
        assert_eq!(
            kept.into_iter().collect::<Vec<_>>(),
            vec![30, 55, 57, 58, 59, 100]
        );
    }

    #[test]
    fn the_newest_verified_survives_zero_rules() {
        let all = [c(1, 10, true), c(2, 20, true), c(3, 30, false)];
        let kept = keep(
            &all,
            &Rules {
                last: 0,
                daily: 0,
                weekly: 0,
                monthly: 0,
            },
        );
        assert_eq!(kept.into_iter().collect::<Vec<_>>(), vec![2]);
    }

    fn history() -> impl Strategy<Value = Vec<Candidate>> {
        prop::collection::vec((0i64..400 * DAY, any::<bool>()), 0..80).prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (at, verified))| c(i as i64, 1_600_000_000 + at, verified))
                .collect()
        })
    }

    fn rules() -> impl Strategy<Value = Rules> {
        (0u32..5, 0u32..10, 0u32..6, 0u32..8).prop_map(|(last, daily, weekly, monthly)| Rules {
            last,
            daily,
            weekly,
            monthly,
        })
    }

    /// Straightforward model: per bucket kind, the distinct buckets newest first, the
    /// newest backup of each of the first `count`.
    fn model(all: &[Candidate], r: &Rules) -> BTreeSet<i64> {
        let newest_first =
            |v: &mut Vec<Candidate>| v.sort_by_key(|c| std::cmp::Reverse((c.at, c.id)));
        let mut sorted = all.to_vec();
        newest_first(&mut sorted);
        let mut out: BTreeSet<i64> = sorted.iter().take(r.last as usize).map(|c| c.id).collect();
        for (count, f) in [
            (r.daily, day as fn(i64) -> i64),
            (r.weekly, week),
            (r.monthly, month),
        ] {
            let mut buckets: Vec<i64> = sorted.iter().map(|c| f(c.at)).collect();
            buckets.dedup();
            for b in buckets.into_iter().take(count as usize) {
                out.insert(sorted.iter().find(|c| f(c.at) == b).unwrap().id);
            }
        }
        out.extend(sorted.iter().find(|c| c.verified).map(|c| c.id));
        out
    }

    proptest! {
        #[test]
        fn never_drops_the_newest_verified(all in history(), r in rules()) {
            let kept = keep(&all, &r);
            let newest = all.iter().filter(|c| c.verified).max_by_key(|c| (c.at, c.id));
            if let Some(n) = newest {
                prop_assert!(kept.contains(&n.id));
            }
            prop_assert!(kept.iter().all(|id| all.iter().any(|c| c.id == *id)));
        }

        #[test]
        fn keeps_exactly_what_gfs_says(all in history(), r in rules()) {
            prop_assert_eq!(keep(&all, &r), model(&all, &r));
        }

        #[test]
        fn keeps_at_most_the_sum_of_the_rules_plus_one(all in history(), r in rules()) {
            let bound = (r.last + r.daily + r.weekly + r.monthly + 1) as usize;
            prop_assert!(keep(&all, &r).len() <= bound.min(all.len()));
        }
    }
}
