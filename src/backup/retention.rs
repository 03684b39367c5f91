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
    //! Dates and expected keep sets are written out by hand (a calendar, not
    //! this module's arithmetic); the property model buckets with the `time`
    //! crate's own calendar (ISO weeks, months), never with `day`/`week`/`month`.
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;
    use time::OffsetDateTime;

    const DAY: i64 = 86_400;

    fn c(id: i64, at: i64, verified: bool) -> Candidate {
        Candidate { id, at, verified }
    }

    fn at(id: i64, when: OffsetDateTime) -> Candidate {
        c(id, when.unix_timestamp(), false)
    }

    fn rules(last: u32, daily: u32, weekly: u32, monthly: u32) -> Rules {
        Rules {
            last,
            daily,
            weekly,
            monthly,
        }
    }

    fn kept(all: &[Candidate], r: Rules) -> Vec<i64> {
        keep(all, &r).into_iter().collect()
    }

    #[test]
    fn gfs_by_example() {
        // One backup a day at 01:00 for 60 days from Monday 2024-01-01 (day 0)
        // to Thursday 2024-02-29 (day 59, a leap day), and a second one
        // (id 100) on the last day at 02:00.
        let start = datetime!(2024-01-01 00:00 UTC).unix_timestamp();
        let mut all: Vec<Candidate> = (0..60)
            .map(|d| c(d, start + d * DAY + 3600, false))
            .collect();
        all.push(at(100, datetime!(2024-02-29 02:00 UTC)));
        // last 2: 100, 59. daily 3: Feb 29 (100), Feb 28 (58), Feb 27 (57).
        // weekly 2: the week of Mon Feb 26 (100), the week before: Sun Feb 25 (55).
        // monthly 2: February (100), January: Jan 31 (30).
        assert_eq!(kept(&all, rules(2, 3, 2, 2)), vec![30, 55, 57, 58, 59, 100]);
    }

    #[test]
    fn an_iso_week_spans_the_new_year() {
        // 2026 starts on a Thursday, so it has an ISO week 53: Mon 2026-12-28
        // to Sun 2027-01-03. 2027-W01 starts on Mon 2027-01-04.
        let all = [
            at(1, datetime!(2026-12-27 12:00 UTC)), // Sun, 2026-W52
            at(2, datetime!(2026-12-28 10:00 UTC)), // Mon, 2026-W53
            at(3, datetime!(2026-12-31 10:00 UTC)), // Thu, 2026-W53
            at(4, datetime!(2027-01-01 10:00 UTC)), // Fri, 2026-W53
            at(5, datetime!(2027-01-03 23:30 UTC)), // Sun, 2026-W53, its newest
            at(6, datetime!(2027-01-04 00:30 UTC)), // Mon, 2027-W01
        ];
        assert_eq!(kept(&all, rules(0, 0, 1, 0)), vec![6]);
        assert_eq!(kept(&all, rules(0, 0, 2, 0)), vec![5, 6]);
        assert_eq!(kept(&all, rules(0, 0, 3, 0)), vec![1, 5, 6]);
        assert_eq!(kept(&all, rules(0, 0, 9, 0)), vec![1, 5, 6]);
        // Months do split there: January 2027 (6), December 2026 (3).
        assert_eq!(kept(&all, rules(0, 0, 0, 2)), vec![3, 6]);
        // Days: Jan 4 (6), Jan 3 (5), Jan 1 (4).
        assert_eq!(kept(&all, rules(0, 3, 0, 0)), vec![4, 5, 6]);
    }

    #[test]
    fn month_and_day_boundaries_around_a_leap_day() {
        let all = [
            at(1, datetime!(2027-12-31 12:00 UTC)),    // Dec 2027
            at(2, datetime!(2028-01-31 23:59:59 UTC)), // Jan 2028, its newest
            at(3, datetime!(2028-02-28 23:59:59 UTC)), // Feb 28
            at(4, datetime!(2028-02-29 00:00 UTC)),    // the leap day
            at(5, datetime!(2028-02-29 23:59:59 UTC)), // leap day, Feb's newest
            at(6, datetime!(2028-03-01 00:00 UTC)),    // Mar 2028
        ];
        assert_eq!(kept(&all, rules(0, 0, 0, 3)), vec![2, 5, 6]);
        assert_eq!(kept(&all, rules(0, 0, 0, 4)), vec![1, 2, 5, 6]);
        // Days: Mar 1 (6), Feb 29 (5), Feb 28 (3).
        assert_eq!(kept(&all, rules(0, 3, 0, 0)), vec![3, 5, 6]);
        // Weeks: Mon 2028-02-28 to Sun 2028-03-05 holds 3..6 (newest 6);
        // the week before holds nothing; Mon 2028-01-31's week holds 2;
        // Mon 2027-12-27's week holds 1.
        assert_eq!(kept(&all, rules(0, 0, 2, 0)), vec![2, 6]);
        assert_eq!(kept(&all, rules(0, 0, 3, 0)), vec![1, 2, 6]);
    }

    #[test]
    fn months_without_a_backup_are_not_counted() {
        let all = [
            at(1, datetime!(2026-11-02 08:00 UTC)),
            at(2, datetime!(2026-11-30 08:00 UTC)),
            at(3, datetime!(2027-03-01 08:00 UTC)),
            at(4, datetime!(2027-03-31 08:00 UTC)),
        ];
        // "The last 2 months that have one": March 2027 and November 2026.
        assert_eq!(kept(&all, rules(0, 0, 0, 2)), vec![2, 4]);
    }

    #[test]
    fn ties_in_time_go_to_the_newer_row() {
        let noon = datetime!(2027-06-15 12:00 UTC);
        let all = [at(7, noon), at(8, noon), at(3, noon - time::Duration::DAY)];
        assert_eq!(kept(&all, rules(1, 0, 0, 0)), vec![8]);
        assert_eq!(kept(&all, rules(0, 2, 0, 0)), vec![3, 8]);
        assert_eq!(kept(&all, rules(2, 0, 0, 0)), vec![7, 8]);
    }

    #[test]
    fn the_newest_verified_survives_zero_rules() {
        let all = [c(1, 10, true), c(2, 20, true), c(3, 30, false)];
        assert_eq!(kept(&all, rules(0, 0, 0, 0)), vec![2]);
        // Kept on top of what the rules keep.
        assert_eq!(kept(&all, rules(1, 0, 0, 0)), vec![2, 3]);
    }

    fn history() -> impl Strategy<Value = Vec<Candidate>> {
        prop::collection::vec((0i64..400 * DAY, any::<bool>()), 0..80).prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (at, verified))| c(i as i64, 1_600_000_000 + at, verified))
                .collect()
        })
    }

    fn any_rules() -> impl Strategy<Value = Rules> {
        (0u32..5, 0u32..10, 0u32..6, 0u32..8).prop_map(|(l, d, w, m)| rules(l, d, w, m))
    }

    /// A calendar bucket from the `time` crate: (year, ordinal) days, ISO
    /// (year, week) weeks, (year, month) months.
    fn calendar(kind: u8, at: i64) -> (i32, u16) {
        let date = OffsetDateTime::from_unix_timestamp(at).unwrap().date();
        match kind {
            0 => (date.year(), date.ordinal()),
            1 => {
                let (year, week, _) = date.to_iso_week_date();
                (year, u16::from(week))
            }
            _ => (date.year(), u16::from(u8::from(date.month()))),
        }
    }

    /// Straightforward model: per bucket kind, the distinct calendar buckets
    /// newest first, the newest backup of each of the first `count`.
    fn model(all: &[Candidate], r: &Rules) -> BTreeSet<i64> {
        let mut sorted = all.to_vec();
        sorted.sort_by_key(|c| std::cmp::Reverse((c.at, c.id)));
        let mut out: BTreeSet<i64> = sorted.iter().take(r.last as usize).map(|c| c.id).collect();
        for (kind, count) in [(0u8, r.daily), (1, r.weekly), (2, r.monthly)] {
            let mut buckets: Vec<(i32, u16)> =
                sorted.iter().map(|c| calendar(kind, c.at)).collect();
            buckets.dedup();
            for b in buckets.into_iter().take(count as usize) {
                out.insert(
                    sorted
                        .iter()
                        .find(|c| calendar(kind, c.at) == b)
                        .unwrap()
                        .id,
                );
            }
        }
        out.extend(sorted.iter().find(|c| c.verified).map(|c| c.id));
        out
    }

    proptest! {
        #[test]
        fn never_drops_the_newest_verified(all in history(), r in any_rules()) {
            let kept = keep(&all, &r);
            let newest = all.iter().filter(|c| c.verified).max_by_key(|c| (c.at, c.id));
            if let Some(n) = newest {
                prop_assert!(kept.contains(&n.id));
            }
            prop_assert!(kept.iter().all(|id| all.iter().any(|c| c.id == *id)));
        }

        #[test]
        fn keeps_exactly_what_the_calendar_says(all in history(), r in any_rules()) {
            prop_assert_eq!(keep(&all, &r), model(&all, &r));
        }

        #[test]
        fn keeps_at_most_the_sum_of_the_rules_plus_one(all in history(), r in any_rules()) {
            let bound = (r.last + r.daily + r.weekly + r.monthly + 1) as usize;
            prop_assert!(keep(&all, &r).len() <= bound.min(all.len()));
        }
    }
}
