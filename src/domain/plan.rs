use std::fmt;

use serde::Serialize;

use super::{Approval, ByteSize, DomainError};

/// A plan's name: short, human, also used in URLs and the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct PlanName(String);

impl PlanName {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let v = value.trim();
        // It becomes a URL segment and a CLI argument: "." and ".." would
        // walk paths, so a name starts and ends with a letter or digit.
        let edge_ok = |b: Option<&u8>| b.is_some_and(u8::is_ascii_alphanumeric);
        let ok = v.len() <= 40
            && edge_ok(v.as_bytes().first())
            && edge_ok(v.as_bytes().last())
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        if ok {
            Ok(Self(v.to_owned()))
        } else {
            Err(DomainError::new(
                "name",
                format!("{value:?} is not a plan name (1-40 of A-Z, a-z, 0-9, '-', '_', '.', starting and ending with a letter or digit)"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PlanName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// CPU and memory limits one container gets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Limits {
    pub cpus: f64,
    pub memory: ByteSize,
    pub memory_reservation: Option<ByteSize>,
}

impl Limits {
    /// Docker refuses less than 6 MiB; nothing useful runs in less than 16.
    pub const MIN_MEMORY: u64 = 16 << 20;

    pub fn new(
        cpus: f64,
        memory: ByteSize,
        memory_reservation: Option<ByteSize>,
    ) -> Result<Self, DomainError> {
        if !cpus.is_finite() || !(0.01..=512.0).contains(&cpus) {
            return Err(DomainError::new(
                "cpus",
                format!("{cpus} is out of range (0.01 to 512)"),
            ));
        }
        if memory.0 < Self::MIN_MEMORY {
            return Err(DomainError::new(
                "memory",
                format!("{memory} is below the minimum of 16 MiB"),
            ));
        }
        if memory.0 > 1 << 42 {
            return Err(DomainError::new(
                "memory",
                format!("{memory} is more than 4 TiB"),
            ));
        }
        if let Some(r) = memory_reservation {
            if r.0 > memory.0 {
                return Err(DomainError::new(
                    "memory_reservation",
                    format!("{r} is above the memory limit {memory}"),
                ));
            }
        }
        Ok(Self {
            cpus,
            memory,
            memory_reservation,
        })
    }

    pub fn nano_cpus(&self) -> i64 {
        (self.cpus * 1e9).round() as i64
    }
}

/// What a plan promises: limits per instance, storage quota, instance count,
/// and what its clients' users may do themselves in the portal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanSpec {
    pub name: PlanName,
    pub limits: Limits,
    pub storage: Option<ByteSize>,
    pub max_instances: Option<u32>,
    /// Whether a client owner's request for a new instance waits for the provider.
    pub approval: Approval,
    /// Whether a client user may restore their own backups from the portal.
    pub portal_restore: bool,
    /// The blueprints a client may request; `None` = every installed one.
    pub blueprints: Option<Vec<String>>,
    /// The image tag its clients' instances run (beats the blueprint's,
    /// loses to the instance's own pin); checked with `parse_image_tag`.
    pub image_tag: Option<String>,
}

impl PlanSpec {
    pub fn new(
        name: PlanName,
        limits: Limits,
        storage: Option<ByteSize>,
        max_instances: Option<u32>,
    ) -> Result<Self, DomainError> {
        if let Some(s) = storage {
            if s.0 < 1 << 20 {
                return Err(DomainError::new("storage", format!("{s} is below 1 MiB")));
            }
        }
        if max_instances == Some(0) {
            return Err(DomainError::new("max_instances", "must be at least 1"));
        }
        Ok(Self {
            name,
            limits,
            storage,
            max_instances,
            approval: Approval::default(),
            portal_restore: false,
            blueprints: None,
            image_tag: None,
        })
    }

    /// Sets the blueprint allow-list: sorted, without repeats; an empty list
    /// means "every blueprint" (a plan allowing none could never be used).
    pub fn allow_blueprints(&mut self, names: Option<Vec<String>>) {
        self.blueprints = names
            .map(|mut v| {
                v.iter_mut().for_each(|n| *n = n.trim().to_owned());
                v.retain(|n| !n.is_empty());
                v.sort();
                v.dedup();
                v
            })
            .filter(|v| !v.is_empty());
    }
}

/// Whether a plan's blueprint allow-list (`None` = all) lets a client ask for `name`.
pub fn blueprint_allowed(allowed: Option<&[String]>, name: &str) -> bool {
    allowed.is_none_or(|list| list.iter().any(|b| b == name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked() {
        let mib = |n: u64| ByteSize(n << 20);
        assert!(Limits::new(0.5, mib(256), Some(mib(128))).is_ok());
        assert!(Limits::new(0.0, mib(256), None).is_err());
        assert!(Limits::new(f64::NAN, mib(256), None).is_err());
        assert!(Limits::new(1.0, mib(1), None).is_err());
        assert!(Limits::new(1.0, mib(256), Some(mib(512))).is_err());
        assert_eq!(
            Limits::new(0.5, mib(256), None).unwrap().nano_cpus(),
            500_000_000
        );
    }

    #[test]
    fn blueprint_allow_list_is_normalised_and_empty_means_all() {
        let limits = Limits::new(1.0, ByteSize(64 << 20), None).unwrap();
        let mut spec = PlanSpec::new(PlanName::parse("p").unwrap(), limits, None, None).unwrap();
        assert_eq!(
            spec.approval,
            Approval::Manual,
            "manual unless said otherwise"
        );
        spec.allow_blueprints(Some(vec![" b".into(), "a".into(), "b".into(), "".into()]));
        assert_eq!(spec.blueprints, Some(vec!["a".to_owned(), "b".to_owned()]));
        assert!(blueprint_allowed(spec.blueprints.as_deref(), "a"));
        assert!(!blueprint_allowed(spec.blueprints.as_deref(), "c"));
        spec.allow_blueprints(Some(vec![" ".into()]));
        assert_eq!(spec.blueprints, None);
        assert!(blueprint_allowed(None, "anything"));
    }

    #[test]
    fn plan_names() {
        assert!(PlanName::parse("small").is_ok());
        assert!(PlanName::parse("").is_err());
        assert!(PlanName::parse("a b").is_err());
        assert!(PlanName::parse("<b>").is_err());
        for bad in [".", "..", ".hidden", "a.", "-x", "x_", "a/b", "a\tb"] {
            assert!(PlanName::parse(bad).is_err(), "{bad:?}");
        }
        for good in ["a", "pro.2", "s-1_x", "9"] {
            assert!(PlanName::parse(good).is_ok(), "{good:?}");
        }
    }
}
