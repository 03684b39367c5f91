use std::fmt;

use serde::Serialize;

use super::DomainError;

/// A DNS label naming a client everywhere: container names, data directories,
/// default domains, URLs. Lowercase a-z, 0-9 and '-', never empty, never
/// starting or ending with '-'.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    /// Leaves room for a "-NN" suffix and a container-name prefix within 63.
    pub const MAX_LEN: usize = 40;

    /// Accepts only an already well-formed slug (from a URL or the CLI).
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let ok = !value.is_empty()
            && value.len() <= Self::MAX_LEN + 8
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !value.starts_with('-')
            && !value.ends_with('-')
            && !value.contains("--");
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(DomainError::new(
                "slug",
                format!("{value:?} is not a slug (a-z, 0-9 and single '-')"),
            ))
        }
    }

    /// Derives a slug from a display name: ASCII-folds what it can, turns every
    /// other run of characters into one '-', trims and caps. A name with no
    /// usable character becomes "client".
    pub fn derive(name: &str) -> Self {
        let mut out = String::with_capacity(name.len());
        for c in name.chars().flat_map(fold_ascii) {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        }
        out.truncate(Self::MAX_LEN);
        let trimmed = out.trim_end_matches('-');
        if trimmed.is_empty() {
            Self("client".to_owned())
        } else {
            Self(trimmed.to_owned())
        }
    }

    /// The n-th alternative when the base is taken: "acme-2", "acme-3", ...
    pub fn with_suffix(&self, n: u32) -> Self {
        Self(format!("{}-{n}", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A small fold of common Latin letters so "Müller Café" becomes "muller-cafe".
fn fold_ascii(c: char) -> impl Iterator<Item = char> {
    let folded: &[char] = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => &['a'],
        'æ' | 'Æ' => &['a', 'e'],
        'ç' | 'Ç' => &['c'],
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => &['e'],
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => &['i'],
        'ñ' | 'Ñ' => &['n'],
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => &['o'],
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => &['u'],
        'ý' | 'ÿ' | 'Ý' => &['y'],
        'ß' => &['s', 's'],
        _ => &[],
    };
    let keep = if folded.is_empty() { Some(c) } else { None };
    folded.iter().copied().chain(keep)
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn derives_readable_slugs() {
        assert_eq!(Slug::derive("Acme Corp.").as_str(), "acme-corp");
        assert_eq!(
            Slug::derive("  --Müller & Söhne--  ").as_str(),
            "muller-sohne"
        );
        assert_eq!(
            Slug::derive("<script>alert(1)</script>").as_str(),
            "script-alert-1-script"
        );
        assert_eq!(Slug::derive("日本").as_str(), "client");
        assert_eq!(Slug::derive("").as_str(), "client");
        assert_eq!(Slug::derive("a;rm -rf /").as_str(), "a-rm-rf");
    }

    #[test]
    fn suffix_keeps_it_a_slug() {
        let s = Slug::derive(&"x".repeat(200)).with_suffix(99);
        assert!(Slug::parse(s.as_str()).is_ok());
    }

    #[test]
    fn parse_rejects_malformed() {
        for bad in ["", "-a", "a-", "A", "a--b", "a b", "ä", "a_b"] {
            assert!(Slug::parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn derived_slug_is_always_a_valid_dns_label(name in "\\PC{0,300}") {
            let slug = Slug::derive(&name);
            prop_assert!(Slug::parse(slug.as_str()).is_ok());
            prop_assert!(!slug.as_str().is_empty());
            prop_assert!(slug.as_str().len() <= Slug::MAX_LEN);
        }

        #[test]
        fn derive_is_idempotent(name in "\\PC{0,100}") {
            let once = Slug::derive(&name);
            prop_assert_eq!(Slug::derive(once.as_str()), once);
        }

        #[test]
        fn suffixed_slugs_are_valid_and_distinct(name in "\\PC{0,100}", n in 2u32..1_000_000) {
            let base = Slug::derive(&name);
            let suffixed = base.with_suffix(n);
            prop_assert!(Slug::parse(suffixed.as_str()).is_ok());
            prop_assert_ne!(suffixed, base);
        }
    }
}
