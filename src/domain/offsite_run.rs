//! Offsite maintenance runs (forget, prune, check, test-restore): what a
//! run is, and the `check_read_data` subset restic is asked to read.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::state::state_enum;
use super::DomainError;

state_enum! {
    /// What an offsite maintenance run does to a target's repository.
    OffsiteRunKind, "kind" {
        /// Forgets snapshots outside each instance's retention and those of
        /// instances that no longer exist (restic's data stays until a prune).
        Forget = "forget",
        /// Removes data no snapshot references any more.
        Prune = "prune",
        /// `restic check --read-data-subset`.
        Check = "check",
        /// Downloads one instance's newest snapshot into scratch space and
        /// verifies it as a local backup is verified.
        TestRestore = "test_restore",
    }
}

impl OffsiteRunKind {
    /// Whether restic takes the repository's exclusive lock for it (0.14:
    /// forget, prune and check do): no copy may run beside it.
    pub fn exclusive(self) -> bool {
        !matches!(self, OffsiteRunKind::TestRestore)
    }

    /// The failure webhook's event.
    pub fn failure_event(self) -> &'static str {
        match self {
            OffsiteRunKind::Forget => "offsite.forget.failed",
            OffsiteRunKind::Prune => "offsite.prune.failed",
            OffsiteRunKind::Check => "offsite.check.failed",
            OffsiteRunKind::TestRestore => "offsite.test_restore.failed",
        }
    }
}

/// How much data `restic check` reads: every pack, or a subset restic 0.14
/// accepts for `--read-data-subset` (`n/t`, `x%` / `x.y%`, or a size with
/// a k/m/g/t suffix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadData {
    All,
    Subset(String),
}

impl ReadData {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let v = value.trim();
        let bad = || {
            DomainError::new(
                "check_read_data",
                format!(
                    "{value:?} is not \"all\", a part like \"1/7\", a percentage like \"5%\" \
                     or a size like \"500M\""
                ),
            )
        };
        if v == "all" {
            return Ok(ReadData::All);
        }
        if let Some((n, t)) = v.split_once('/') {
            let (n, t): (u32, u32) = (n.parse().map_err(|_| bad())?, t.parse().map_err(|_| bad())?);
            return if n >= 1 && n <= t {
                Ok(ReadData::Subset(v.to_owned()))
            } else {
                Err(bad())
            };
        }
        if let Some(pct) = v.strip_suffix('%') {
            let digits_ok = !pct.is_empty()
                && pct.chars().all(|c| c.is_ascii_digit() || c == '.')
                && pct.matches('.').count() <= 1
                && !pct.starts_with('.')
                && !pct.ends_with('.');
            let p: f64 = pct.parse().map_err(|_| bad())?;
            return if digits_ok && p > 0.0 && p <= 100.0 {
                Ok(ReadData::Subset(v.to_owned()))
            } else {
                Err(bad())
            };
        }
        let number = v.trim_end_matches(|c: char| "kKmMgGtT".contains(c));
        let suffixes = v.len() - number.len();
        if suffixes == 1
            && !number.is_empty()
            && number.chars().all(|c| c.is_ascii_digit())
            && number.parse::<u64>().is_ok_and(|n| n > 0)
        {
            return Ok(ReadData::Subset(v.to_owned()));
        }
        Err(bad())
    }

    /// restic's flag for it.
    pub fn flag(&self) -> String {
        match self {
            ReadData::All => "--read-data".into(),
            ReadData::Subset(s) => format!("--read-data-subset={s}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_data_takes_what_restic_0_14_takes() {
        for ok in [
            "all", "5%", "2.5%", "100%", "1/7", "7/7", "500M", "2g", "10k",
        ] {
            assert!(ReadData::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "0%", "101%", "5.%", ".5%", "x%", "0/7", "8/7", "1/", "500", "5MB", "0M", "-1%",
            "some",
        ] {
            let err = ReadData::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("check_read_data:"), "{bad}: {err}");
        }
        assert_eq!(ReadData::parse("all").unwrap().flag(), "--read-data");
        assert_eq!(
            ReadData::parse("5%").unwrap().flag(),
            "--read-data-subset=5%"
        );
    }

    #[test]
    fn only_test_restores_share_the_repository() {
        assert!(OffsiteRunKind::Prune.exclusive() && OffsiteRunKind::Check.exclusive());
        assert!(!OffsiteRunKind::TestRestore.exclusive());
        assert_eq!(
            OffsiteRunKind::parse("test_restore").unwrap(),
            OffsiteRunKind::TestRestore
        );
    }
}
