use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use super::DomainError;

/// A byte count that reads "256MiB", "2 GiB", "1.5G" or a plain integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ByteSize(pub u64);

/// Parses a human-readable size; decimal (MB) and binary (MiB) units both work.
pub fn parse_size(field: &'static str, value: &str) -> Result<ByteSize, DomainError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(DomainError::new(
            field,
            "is empty; give a size like 512MiB or 2GiB",
        ));
    }
    if let Ok(n) = trimmed.parse::<u64>() {
        return Ok(ByteSize(n));
    }
    trimmed
        .parse::<bytesize::ByteSize>()
        .map(|b| ByteSize(b.as_u64()))
        .map_err(|_| {
            DomainError::new(
                field,
                format!("{value:?} is not a size; use e.g. 512MiB or 2GiB"),
            )
        })
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", bytesize::ByteSize(self.0).display().iec())
    }
}

/// A measured amount for people to read: 1.5 GiB, 12 MiB, 900 B. Unlike
/// [`ByteSize`]'s exact display, it rounds to what a chart or table needs.
pub fn human_bytes(v: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = v.max(0.0);
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 || v >= 100.0 {
        format!("{v:.0} {}", UNITS[i])
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

/// Accepts either a JSON number of bytes or a human-readable string.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SizeInput {
    Bytes(u64),
    Text(String),
}

impl SizeInput {
    pub fn parse(&self, field: &'static str) -> Result<ByteSize, DomainError> {
        match self {
            SizeInput::Bytes(n) => Ok(ByteSize(*n)),
            SizeInput::Text(s) => parse_size(field, s),
        }
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        SizeInput::deserialize(d)?
            .parse("size")
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_size("m", "256MiB").unwrap().0, 256 * 1024 * 1024);
        assert_eq!(parse_size("m", "2 GiB").unwrap().0, 2 << 30);
        assert_eq!(parse_size("m", "1000").unwrap().0, 1000);
        assert_eq!(parse_size("m", "1MB").unwrap().0, 1_000_000);
        assert!(parse_size("m", "lots").is_err());
        assert!(parse_size("m", "").is_err());
        assert!(parse_size("m", "-5").is_err());
    }

    #[test]
    fn measured_sizes_read_like_humans_write_them() {
        assert_eq!(human_bytes(900.0), "900 B");
        assert_eq!(human_bytes(1536.0), "1.5 KiB");
        assert_eq!(human_bytes(150.0 * 1024.0), "150 KiB");
        assert_eq!(human_bytes(3.0 * 1024.0 * 1024.0 * 1024.0), "3.0 GiB");
        assert_eq!(human_bytes(-1.0), "0 B");
    }
}
