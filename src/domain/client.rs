use std::fmt;

use serde::Serialize;

use super::{check_text, DomainError};

/// A client's display name as the provider typed it. Any script is fine (it is
/// escaped wherever shown); control characters and very long names are not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let v = value.trim();
        if v.is_empty() {
            return Err(DomainError::new("name", "is empty"));
        }
        check_text("name", v, 100)?;
        // A name is one line: it fills `{client_name}` in container env and
        // blueprint files, where a CR/LF or TAB could start a new entry.
        // Notes may span lines; names may not.
        if v.chars()
            .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
        {
            return Err(DomainError::new(
                "name",
                "must be one line without control characters (no tabs or line breaks)",
            ));
        }
        Ok(Self(v.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A contact address: one '@', a plausible host part, no spaces or brackets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let v = value.trim();
        let err = || DomainError::new("email", format!("{value:?} is not an email address"));
        if v.len() > 254
            || v.chars()
                .any(|c| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"".contains(c))
        {
            return Err(err());
        }
        let (local, host) = v.split_once('@').ok_or_else(err)?;
        if local.is_empty() || local.len() > 64 || host.contains('@') {
            return Err(err());
        }
        super::Hostname::parse(host).map_err(|_| err())?;
        Ok(Self(v.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Free-form notes about a client, kept as typed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct Notes(String);

impl Notes {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        check_text("notes", value, 4000)?;
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The fields an edit may change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ClientUpdate {
    pub name: Option<DisplayName>,
    pub email: Option<Email>,
    pub plan: Option<super::PlanName>,
    pub notes: Option<Notes>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_allow_unicode_but_not_control_or_huge() {
        assert!(DisplayName::parse("Bäckerei Müller 日本 <b>").is_ok());
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse("a\u{0}b").is_err());
        for bad in [
            "a\nb",
            "a\rb",
            "a\tb",
            "a\u{1b}[31mb",
            "a\u{85}b",
            "a\u{2028}b",
        ] {
            assert!(DisplayName::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(DisplayName::parse(" Acme \n").unwrap().as_str(), "Acme");
        assert!(DisplayName::parse(&"x".repeat(10_000)).is_err());
    }

    #[test]
    fn emails() {
        assert!(Email::parse("ops@acme.example").is_ok());
        for bad in [
            "",
            "acme",
            "a@",
            "@b.com",
            "a b@c.com",
            "a@b",
            "a@@b.com",
            "<a@b.com>",
            "a@b.com;rm",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }
}
