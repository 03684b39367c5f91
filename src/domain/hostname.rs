use std::fmt;

use serde::Serialize;

use super::DomainError;

/// A fully qualified host name a route answers for, e.g. "acme.example.com".
/// Lowercased; labels of a-z, 0-9 and inner '-'; at least two labels unless
/// it is "localhost" or ends in ".localhost" (handy for local trials).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Hostname(String);

impl Hostname {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let lower = value.trim().trim_end_matches('.').to_ascii_lowercase();
        let err = |why: &str| Err(DomainError::new("domain", format!("{value:?} {why}")));
        if lower.is_empty() {
            return err("is empty");
        }
        if lower.len() > 253 {
            return err("is longer than 253 characters");
        }
        let labels: Vec<&str> = lower.split('.').collect();
        if labels.len() < 2 && lower != "localhost" {
            return err("needs at least two labels, like acme.example.com");
        }
        for label in &labels {
            let valid = !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-');
            if !valid {
                return err("is not a valid host name (letters, digits and '-' between dots)");
            }
        }
        if labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
        {
            return err("looks like an IP address; use a host name");
        }
        Ok(Self(lower))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a Caddy host matcher `pattern` ("admin.example.com" or
    /// "*.example.com", one label per `*`) matches this host.
    pub fn matched_by(&self, pattern: &str) -> bool {
        let pattern = pattern.trim().trim_end_matches('.').to_ascii_lowercase();
        let (want, got): (Vec<&str>, Vec<&str>) =
            (pattern.split('.').collect(), self.0.split('.').collect());
        want.len() == got.len() && want.iter().zip(&got).all(|(w, g)| *w == "*" || w == g)
    }
}

impl fmt::Display for Hostname {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises() {
        assert_eq!(
            Hostname::parse("Acme.Example.COM.").unwrap().as_str(),
            "acme.example.com"
        );
        assert!(Hostname::parse("a-1.b.localhost").is_ok());
        assert!(Hostname::parse("localhost").is_ok());
    }

    #[test]
    fn matched_by_exact_or_one_label_wildcards() {
        let h = Hostname::parse("admin.example.com").unwrap();
        assert!(h.matched_by("admin.example.com"));
        assert!(h.matched_by("Admin.Example.com."));
        assert!(h.matched_by("*.example.com"));
        assert!(!h.matched_by("*.admin.example.com"));
        assert!(!h.matched_by("example.com"));
        assert!(!h.matched_by("*.com"));
        assert!(!h.matched_by("xadmin.example.com"));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "", "acme", "a..b", "-a.com", "a_b.com", "1.2.3.4", "a b.com", "ü.com", "a.com/x",
            "<b>.com",
        ] {
            assert!(Hostname::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Hostname::parse(&format!("{}.com", "a".repeat(64))).is_err());
    }
}
