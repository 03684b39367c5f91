//! When scheduled backups are due. Cron expressions (5 fields, UTC) are
//! parsed with croner; deciding what is due is pure so it is tested
//! without waiting for a clock.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use croner::Cron;

/// "" means "no schedule".
pub fn parse_optional(expr: &str) -> Result<Option<Cron>, String> {
    let expr = expr.trim();
    if expr.is_empty() {
        return Ok(None);
    }
    Cron::from_str(expr)
        .map(Some)
        .map_err(|e| format!("{expr:?} is not a cron expression: {e}"))
}

/// Whether `cron` has an occurrence in (after, now].
pub fn fired(cron: &Cron, after: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    cron.find_next_occurrence(&after, false)
        .is_ok_and(|next| next <= now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn daily_at_three_fires_once_across_three() {
        let cron = parse_optional("0 3 * * *").unwrap().unwrap();
        let at = |h, m| Utc.with_ymd_and_hms(2026, 1, 5, h, m, 0).unwrap();
        assert!(!fired(&cron, at(2, 0), at(2, 59)));
        assert!(fired(&cron, at(2, 59), at(3, 0)));
        assert!(!fired(&cron, at(3, 0), at(3, 30)));
        assert!(parse_optional("").unwrap().is_none());
        assert!(parse_optional("every day").is_err());
    }
}
