//! Offsite retention, pure: which of a target's snapshots to forget.
//!
//! An instance's snapshots (tags `client=`, `instance=`) are kept by its
//! plan's rules, the same GFS rules and the same code as its local backups
//! ([`crate::backup::retention::keep`]), applied to the snapshots' times;
//! its newest snapshot always stays. berth's state snapshots go by the
//! global `[backup]` rules. Snapshots of an instance that no longer exists,
//! or that are older than the instance now bearing its name (a deleted
//! client's slug given again), are forgotten whatever the rules say: an
//! erased client's data must not live on offsite. Snapshots berth did not
//! make (no `berth` tag) are never touched.
//!
//! berth decides and then forgets by id, rather than one `restic forget
//! --tag client=…,instance=… --keep-*` per instance: one policy
//! implementation for local and offsite, one `snapshots` and one `forget`
//! per target instead of one exclusive lock per instance.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::restic::Snapshot;
use crate::backup::retention::{keep, Candidate, Rules};

/// An instance that exists: its retention, and since when (Unix seconds).
#[derive(Debug, Clone, Copy)]
pub struct Live {
    pub rules: Rules,
    pub since: i64,
}

/// Why a snapshot goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Outside its instance's (or the state's) retention.
    Policy,
    /// Its instance or client is gone.
    Gone,
}

/// What a forget does: ids to forget with why, and how many stay.
#[derive(Debug, Default, PartialEq)]
pub struct ForgetPlan {
    pub forget: Vec<(String, Reason)>,
    pub kept: usize,
}

impl ForgetPlan {
    pub fn gone(&self) -> usize {
        self.forget
            .iter()
            .filter(|(_, r)| *r == Reason::Gone)
            .count()
    }

    /// Keeps the snapshots it would forget as gone; returns how many.
    pub fn spare_gone(&mut self) -> usize {
        let before = self.forget.len();
        self.forget.retain(|(_, r)| *r != Reason::Gone);
        let spared = before - self.forget.len();
        self.kept += spared;
        spared
    }
}

/// What a berth snapshot holds.
enum Holds<'a> {
    State,
    Instance(&'a str, &'a str),
    Unknown,
}

fn holds(s: &Snapshot) -> Holds<'_> {
    if s.tags.iter().any(|t| t == "berth-state") {
        return Holds::State;
    }
    match (s.tag("client"), s.tag("instance")) {
        (Some(c), Some(i)) => Holds::Instance(c, i),
        _ => Holds::Unknown,
    }
}

/// A snapshot's time as Unix seconds; None when restic wrote something unreadable.
pub fn snapshot_time(s: &Snapshot) -> Option<i64> {
    time::OffsetDateTime::parse(&s.time, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// Snapshots held to the same rules: (index into the list, Unix time).
type Group = (Rules, Vec<(usize, i64)>);

/// Decides a target's forget. `live` maps (client slug, instance name) of
/// every existing instance to its rules; `state` is the global rules.
pub fn plan(
    snapshots: &[Snapshot],
    live: &HashMap<(String, String), Live>,
    state: &Rules,
) -> ForgetPlan {
    let mut out = ForgetPlan::default();
    // Groups of (index into `snapshots`, time), by what they hold.
    let mut groups: BTreeMap<Option<(&str, &str)>, Group> = BTreeMap::new();
    for (i, s) in snapshots.iter().enumerate() {
        if !s.tags.iter().any(|t| t == "berth") {
            continue;
        }
        let Some(at) = snapshot_time(s) else {
            out.kept += 1;
            continue;
        };
        match holds(s) {
            Holds::Unknown => out.kept += 1,
            Holds::State => groups
                .entry(None)
                .or_insert_with(|| (*state, Vec::new()))
                .1
                .push((i, at)),
            Holds::Instance(c, n) => match live.get(&(c.to_owned(), n.to_owned())) {
                Some(l) if at >= l.since => groups
                    .entry(Some((c, n)))
                    .or_insert_with(|| (l.rules, Vec::new()))
                    .1
                    .push((i, at)),
                _ => out.forget.push((s.id.clone(), Reason::Gone)),
            },
        }
    }
    for (rules, members) in groups.values() {
        // The newest snapshot counts as verified, so it always stays.
        let candidates: Vec<Candidate> = members
            .iter()
            .map(|&(i, at)| Candidate {
                id: i as i64,
                at,
                verified: true,
            })
            .collect();
        let kept = keep(&candidates, rules);
        for &(i, _) in members {
            if kept.contains(&(i as i64)) {
                out.kept += 1;
            } else {
                out.forget.push((snapshots[i].id.clone(), Reason::Policy));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;
    /// 2026-01-05 00:00 UTC, a Monday.
    const MON: i64 = 1_767_571_200;

    fn snap(id: &str, at: i64, tags: &[&str]) -> Snapshot {
        let time = time::OffsetDateTime::from_unix_timestamp(at)
            .unwrap()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        Snapshot {
            id: id.into(),
            short_id: id.into(),
            time,
            paths: vec![],
            tags: tags.iter().map(|t| t.to_string()).collect(),
            hostname: "h".into(),
        }
    }

    fn inst(id: &str, at: i64, client: &str, name: &str) -> Snapshot {
        let (c, i) = (format!("client={client}"), format!("instance={name}"));
        snap(id, at, &["berth", &c, &i, "backup=1", "tar-bytes=10"])
    }

    fn rules(last: u32, daily: u32, weekly: u32, monthly: u32) -> Rules {
        Rules {
            last,
            daily,
            weekly,
            monthly,
        }
    }

    fn live(entries: &[(&str, &str, Rules, i64)]) -> HashMap<(String, String), Live> {
        entries
            .iter()
            .map(|(c, n, r, since)| {
                (
                    (c.to_string(), n.to_string()),
                    Live {
                        rules: *r,
                        since: *since,
                    },
                )
            })
            .collect()
    }

    fn forgotten(p: &ForgetPlan) -> Vec<(&str, Reason)> {
        let mut v: Vec<_> = p.forget.iter().map(|(id, r)| (id.as_str(), *r)).collect();
        v.sort();
        v
    }

    #[test]
    fn each_instance_keeps_its_plans_rules_and_the_state_the_global_ones() {
        // acme/main copied 4 times on one day (keep_last 2); beta/main 3
        // times over 3 days with keep_daily 2; the state 3 times (global: last 1).
        let snaps = vec![
            inst("a1", MON + 3600, "acme", "main"),
            inst("a2", MON + 7200, "acme", "main"),
            inst("a3", MON + 10800, "acme", "main"),
            inst("a4", MON + 14400, "acme", "main"),
            inst("b1", MON, "beta", "main"),
            inst("b2", MON + DAY, "beta", "main"),
            inst("b3", MON + 2 * DAY, "beta", "main"),
            snap("s1", MON, &["berth", "berth-state"]),
            snap("s2", MON + 60, &["berth", "berth-state"]),
            snap("s3", MON + 120, &["berth", "berth-state"]),
            // Not berth's: never touched, whatever it holds.
            snap("x1", MON, &["client=acme", "instance=main"]),
            // berth's but unrecognisable: kept.
            snap("u1", MON, &["berth"]),
        ];
        let l = live(&[
            ("acme", "main", rules(2, 0, 0, 0), 0),
            ("beta", "main", rules(0, 2, 0, 0), 0),
        ]);
        let p = plan(&snaps, &l, &rules(1, 0, 0, 0));
        assert_eq!(
            forgotten(&p),
            vec![
                ("a1", Reason::Policy),
                ("a2", Reason::Policy),
                ("b1", Reason::Policy),
                ("s1", Reason::Policy),
                ("s2", Reason::Policy),
            ]
        );
        assert_eq!(p.kept, 6);
    }

    #[test]
    fn snapshots_of_gone_instances_go_whatever_the_rules() {
        let snaps = vec![
            inst("old1", MON, "acme", "main"),
            inst("old2", MON + DAY, "acme", "main"),
            inst("erased", MON + DAY, "gone", "main"),
            inst("new", MON + 3 * DAY, "acme", "main"),
        ];
        // acme was erased and its slug given again on Wednesday: the copies
        // before that were the old client's.
        let l = live(&[("acme", "main", rules(9, 9, 9, 9), MON + 2 * DAY)]);
        let p = plan(&snaps, &l, &rules(9, 9, 9, 9));
        assert_eq!(
            forgotten(&p),
            vec![
                ("erased", Reason::Gone),
                ("old1", Reason::Gone),
                ("old2", Reason::Gone)
            ]
        );
        assert_eq!((p.gone(), p.kept), (3, 1));
        let mut spared = p;
        assert_eq!(spared.spare_gone(), 3);
        assert_eq!((spared.forget.len(), spared.kept), (0, 4));
    }

    #[test]
    fn zero_rules_keep_the_newest_and_weeks_follow_the_calendar() {
        let snaps: Vec<Snapshot> = (0..10)
            .map(|d| inst(&format!("d{d}"), MON + d * DAY, "acme", "main"))
            .collect();
        let l = live(&[("acme", "main", rules(0, 0, 0, 0), 0)]);
        let p = plan(&snaps, &l, &rules(0, 0, 0, 0));
        assert_eq!((p.forget.len(), p.kept), (9, 1));
        assert!(!p.forget.iter().any(|(id, _)| id == "d9"));
        // Weekly 2 over Mon 5th..Wed 14th: Sun 11th (d6) and Wed 14th (d9).
        let l = live(&[("acme", "main", rules(0, 0, 2, 0), 0)]);
        let p = plan(&snaps, &l, &rules(0, 0, 0, 0));
        assert_eq!(p.kept, 2);
        assert!(!p.forget.iter().any(|(id, _)| id == "d6" || id == "d9"));
    }

    #[test]
    fn restic_times_with_nanoseconds_and_offsets_parse() {
        let mut s = inst("a", 0, "c", "i");
        s.time = "2026-12-03T07:43:05.603028173Z".into();
        assert_eq!(snapshot_time(&s), Some(1_796_283_785));
        s.time = "2026-12-03T08:43:05.5+01:00".into();
        assert_eq!(snapshot_time(&s), Some(1_796_283_785));
        s.time = "yesterday".into();
        assert_eq!(snapshot_time(&s), None);
        // An undatable snapshot is kept, never forgotten.
        let p = plan(&[s], &HashMap::new(), &rules(0, 0, 0, 0));
        assert_eq!((p.forget.len(), p.kept), (0, 1));
    }
}
