use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::DomainError;

/// An instance's name within its client ("main", "staging"): a short DNS label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct InstanceName(String);

impl InstanceName {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let ok = !value.is_empty()
            && value.len() <= 20
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !value.starts_with('-')
            && !value.ends_with('-');
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(DomainError::new(
                "instance",
                format!("{value:?} is not an instance name (1-20 of a-z, 0-9, '-')"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InstanceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Environment variables set on one instance (on top of its blueprint's):
/// POSIX-style names, bounded values, no NUL bytes.
pub fn parse_env(
    env: &std::collections::BTreeMap<String, String>,
) -> Result<std::collections::BTreeMap<String, String>, DomainError> {
    if env.len() > 64 {
        return Err(DomainError::new("env", "at most 64 variables"));
    }
    for (key, value) in env {
        let name_ok = !key.is_empty()
            && key.len() <= 64
            && key
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            && !key.as_bytes()[0].is_ascii_digit();
        if !name_ok {
            return Err(DomainError::new(
                "env",
                format!(
                    "{key:?} is not a variable name (A-Z, 0-9, '_', not starting with a digit)"
                ),
            ));
        }
        if value.len() > 4096 || value.contains('\0') {
            return Err(DomainError::new(
                "env",
                format!("value of {key} is longer than 4096 bytes or contains NUL"),
            ));
        }
    }
    Ok(env.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn env_names_and_values_are_checked() {
        let ok = BTreeMap::from([("OPENAI_API_KEY".to_string(), "sk-1".to_string())]);
        assert!(parse_env(&ok).is_ok());
        for bad in ["", "lower", "1ABC", "A-B", "A B"] {
            assert!(
                parse_env(&BTreeMap::from([(bad.to_string(), "v".to_string())])).is_err(),
                "{bad:?}"
            );
        }
        assert!(parse_env(&BTreeMap::from([("A".to_string(), "x".repeat(5000))])).is_err());
        assert!(parse_env(&BTreeMap::from([("A".to_string(), "a\0b".to_string())])).is_err());
    }

    #[test]
    fn instance_names() {
        assert!(InstanceName::parse("main").is_ok());
        for bad in ["", "Main", "-a", "a-", "a_b", "waytoolongnameforaninstance"] {
            assert!(InstanceName::parse(bad).is_err(), "{bad:?}");
        }
    }
}

/// The secrets berth generated for an instance (blueprint `secrets`), by
/// variable name. Reads like the map it wraps; `Debug` prints the names
/// only, so no log line or panic message carries a value.
#[derive(Clone, Default, PartialEq)]
pub struct GeneratedSecrets(BTreeMap<String, String>);

impl GeneratedSecrets {
    pub fn into_inner(self) -> BTreeMap<String, String> {
        self.0
    }
}

impl From<BTreeMap<String, String>> for GeneratedSecrets {
    fn from(map: BTreeMap<String, String>) -> Self {
        Self(map)
    }
}

impl std::ops::Deref for GeneratedSecrets {
    type Target = BTreeMap<String, String>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl fmt::Debug for GeneratedSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

#[cfg(test)]
mod secrets_tests {
    use super::*;

    #[test]
    fn debug_names_the_secrets_without_their_values() {
        let s = GeneratedSecrets::from(BTreeMap::from([("KEY".to_owned(), "hunter2".to_owned())]));
        let shown = format!("{s:?}");
        assert!(
            shown.contains("KEY") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
