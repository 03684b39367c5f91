//! Rollouts: moving a blueprint's instances to another image in waves, each
//! instance backed up first and rolled back (image and data) when the new
//! version does not come up healthy. The states here are what the store,
//! the API and the CLI hold; the waves are parsed once, here.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::state::state_enum;
use super::DomainError;

state_enum! {
    /// An update of many instances, or the manual rollback of one.
    RolloutKind, "kind" {
        Update = "update",
        Rollback = "rollback",
    }
}

state_enum! {
    /// Where a rollout stands: pulling its image, running its steps, halted
    /// (by a failure or the admin; resume continues), or finished.
    RolloutStatus, "rollout_status" {
        Pulling = "pulling",
        Running = "running",
        Halted = "halted",
        /// Every step succeeded.
        Done = "done",
        /// Finished with a step failed or rolled back (`keep_going`), or the pull failed.
        Failed = "failed",
        /// Halted, then cancelled: its pending instances were never touched.
        Cancelled = "cancelled",
    }
}

state_enum! {
    /// One instance's update: pending → backing_up → updating → succeeded,
    /// or → rolling_back → rolled_back; failed when its backup failed (the
    /// instance was not touched) or its rollback did.
    StepState, "step_state" {
        Pending = "pending",
        BackingUp = "backing_up",
        Updating = "updating",
        Succeeded = "succeeded",
        RollingBack = "rolling_back",
        RolledBack = "rolled_back",
        Failed = "failed",
        /// Never started: its rollout was cancelled first.
        Skipped = "skipped",
    }
}

impl RolloutStatus {
    /// Nothing more will happen to it.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            RolloutStatus::Done | RolloutStatus::Failed | RolloutStatus::Cancelled
        )
    }
}

impl StepState {
    /// Nothing more will happen to it.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            StepState::Succeeded | StepState::RolledBack | StepState::Failed | StepState::Skipped
        )
    }
}

/// How many instances each wave takes: "1,5,all" is a canary, then five,
/// then the rest. Instances past the last number form one more wave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waves(Vec<Option<u32>>);

impl Default for Waves {
    fn default() -> Self {
        Waves(vec![Some(1), None])
    }
}

impl Waves {
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let bad = |why: String| Err(DomainError::new("waves", why));
        let text = text.trim();
        if text.is_empty() {
            return Ok(Self::default());
        }
        let parts: Vec<&str> = text.split(',').map(str::trim).collect();
        let mut out = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            if part.eq_ignore_ascii_case("all") {
                if i + 1 != parts.len() {
                    return bad(format!("\"all\" must be the last wave in {text:?}"));
                }
                out.push(None);
                continue;
            }
            match part.parse::<u32>() {
                Ok(n) if n > 0 => out.push(Some(n)),
                _ => {
                    return bad(format!(
                        "{part:?} is not a positive number or \"all\" (e.g. 1,5,all)"
                    ))
                }
            }
        }
        Ok(Waves(out))
    }

    /// The wave (numbered from 1) of each of `count` instances, in order.
    pub fn assign(&self, count: usize) -> Vec<u32> {
        let mut out = Vec::with_capacity(count);
        let mut wave = 1u32;
        for size in &self.0 {
            if out.len() == count {
                break;
            }
            let take = size.map_or(count - out.len(), |n| (n as usize).min(count - out.len()));
            out.extend(std::iter::repeat_n(wave, take));
            wave += 1;
        }
        out.resize(count, wave);
        out
    }
}

impl fmt::Display for Waves {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|w| w.map_or("all".to_owned(), |n| n.to_string()))
            .collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waves_parse_and_assign() {
        let w = Waves::parse("1, 2,all").unwrap();
        assert_eq!(w.to_string(), "1,2,all");
        assert_eq!(w.assign(5), vec![1, 2, 2, 3, 3]);
        assert_eq!(w.assign(2), vec![1, 2]);
        assert_eq!(Waves::parse("").unwrap(), Waves::default());
        assert_eq!(Waves::default().assign(3), vec![1, 2, 2]);
        // Past the last number, the rest is one more wave.
        assert_eq!(
            Waves::parse("1,2").unwrap().assign(6),
            vec![1, 2, 2, 3, 3, 3]
        );
        assert_eq!(Waves::parse("ALL").unwrap().assign(2), vec![1, 1]);
    }

    #[test]
    fn bad_waves_name_the_problem() {
        for bad in ["0,all", "all,1", "x", "1,,2", "-1"] {
            let err = Waves::parse(bad).unwrap_err();
            assert_eq!(err.field, "waves", "{bad}");
        }
    }

    #[test]
    fn states_round_trip_and_split() {
        for s in StepState::ALL {
            assert_eq!(StepState::parse(s.as_str()).unwrap(), *s);
        }
        assert!(StepState::RolledBack.is_final() && !StepState::RollingBack.is_final());
        assert!(RolloutStatus::Done.is_finished() && !RolloutStatus::Halted.is_finished());
        assert_eq!(
            RolloutKind::parse("rollback").unwrap(),
            RolloutKind::Rollback
        );
    }
}
