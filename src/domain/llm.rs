//! LLM keys as values: a plan's (or a client's own) budget, and the name
//! berth gives a key at its provider. The name is how berth finds a key it
//! created but never stored (a crash between the provider's answer and the
//! commit): it is derived, never random.

use serde::{Deserialize, Serialize};

use super::{DomainError, LimitReset, SpendWarning};

/// The most a budget may be: far above any real client, low enough that a
/// typo (an extra four zeros) is refused rather than sent to the provider.
pub const MAX_LIMIT_USD: f64 = 100_000.0;

/// A spend limit in USD (None: no limit) and when it starts again (None:
/// never, the limit is for the key's lifetime).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LlmBudget {
    pub limit_usd: Option<f64>,
    pub limit_reset: Option<LimitReset>,
}

impl LlmBudget {
    pub const UNLIMITED: LlmBudget = LlmBudget {
        limit_usd: None,
        limit_reset: None,
    };

    pub fn new(
        limit_usd: Option<f64>,
        limit_reset: Option<LimitReset>,
    ) -> Result<Self, DomainError> {
        if let Some(usd) = limit_usd {
            if !usd.is_finite() || !(0.0..=MAX_LIMIT_USD).contains(&usd) {
                return Err(DomainError::new(
                    "limit_usd",
                    format!("{usd} is out of range (0 to {MAX_LIMIT_USD} USD)"),
                ));
            }
        }
        if limit_usd.is_none() && limit_reset.is_some() {
            return Err(DomainError::new(
                "limit_reset",
                "a reset period needs a limit (limit_usd)",
            ));
        }
        // Cents: the providers store more digits, but a budget typed as
        // 12.345 is a mistake, and equal budgets must compare equal.
        let limit_usd = limit_usd.map(|u| (u * 100.0).round() / 100.0);
        Ok(Self {
            limit_usd,
            limit_reset,
        })
    }

    /// The budget the plan-less default means: a monthly limit.
    pub fn monthly(limit_usd: f64) -> Result<Self, DomainError> {
        Self::new(Some(limit_usd), Some(LimitReset::Monthly))
    }
}

/// Parses "monthly", "weekly", "daily" or "none"/"" (no reset).
pub fn parse_reset(value: &str) -> Result<Option<LimitReset>, DomainError> {
    match value.trim() {
        "" | "none" => Ok(None),
        other => LimitReset::parse(other).map(Some),
    }
}

/// The name of a client's key at its provider: `berth/<owner>/<slug>/<n>`,
/// with `n` the key row's id. `/` occurs in neither an owner nor a slug, so
/// [`key_prefix`] matches exactly this berth's keys and nobody else's.
pub fn key_label(owner: &str, slug: &str, n: i64) -> String {
    format!("{}{slug}/{n}", key_prefix(owner))
}

/// The start every key name of this berth (its `docker.owner`) shares.
pub fn key_prefix(owner: &str) -> String {
    format!("berth/{owner}/")
}

/// The fraction of a limit spent from which a key is near it.
pub const NEAR_LIMIT: f64 = 0.8;

/// Whether a key is near or at its limit. The provider's remaining amount
/// is the truth where it gives one (it knows the reset period); otherwise
/// `spent` (this period's spend) against the limit. No limit, no warning.
pub fn spend_warning(
    limit_usd: Option<f64>,
    remaining_usd: Option<f64>,
    spent_usd: Option<f64>,
) -> Option<SpendWarning> {
    let limit = limit_usd.filter(|l| *l > 0.0)?;
    let used = match remaining_usd {
        Some(left) => limit - left,
        None => spent_usd?,
    };
    let fraction = used / limit;
    if fraction >= 1.0 {
        Some(SpendWarning::LimitReached)
    } else if fraction >= NEAR_LIMIT {
        Some(SpendWarning::NearLimit)
    } else {
        None
    }
}

/// The budget period a spend warning belongs to, so each threshold is
/// announced once per period: the UTC day, the week from Monday (as
/// OpenRouter resets weekly limits), the UTC month, or the key's lifetime
/// when its limit never resets.
pub fn budget_period(reset: Option<LimitReset>, key_id: i64, now: time::OffsetDateTime) -> String {
    let day = now.date();
    match reset {
        Some(LimitReset::Daily) => format!("day:{day}"),
        Some(LimitReset::Weekly) => {
            let monday =
                day - time::Duration::days(i64::from(day.weekday().number_days_from_monday()));
            format!("week:{monday}")
        }
        Some(LimitReset::Monthly) => {
            format!("month:{:04}-{:02}", day.year(), u8::from(day.month()))
        }
        None => format!("key:{key_id}"),
    }
}

/// The percentage a warning stands for (80 or 100), as audited and sent.
pub fn warning_threshold(w: SpendWarning) -> u8 {
    match w {
        SpendWarning::NearLimit => 80,
        SpendWarning::LimitReached => 100,
    }
}

/// What a key spent in a window, from its polled counter: `before` is the
/// last reading before the window (None: the key was new, so it started
/// at 0), `inside` the readings in it, oldest first. Each rise between two
/// readings counts; a fall means the counter was reset (a LiteLLM budget
/// period ending, a monthly counter starting again), and then the new
/// reading is all spend since the reset. Spend between the window's last
/// reading and its end is counted in the next window, so nothing is
/// counted twice or lost, only shifted by at most one poll interval.
pub fn spend_in_window(before: Option<f64>, inside: &[f64]) -> f64 {
    let mut last = before.unwrap_or(0.0);
    let mut total = 0.0;
    for &v in inside {
        total += if v >= last { v - last } else { v };
        last = v;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_follow_the_reset() {
        let at = time::macros::datetime!(2026-12-02 13:00 UTC);
        assert_eq!(
            budget_period(Some(LimitReset::Monthly), 7, at),
            "month:2026-12"
        );
        assert_eq!(
            budget_period(Some(LimitReset::Daily), 7, at),
            "day:2026-12-02"
        );
        // 2026-12-02 is a Wednesday.
        assert_eq!(
            budget_period(Some(LimitReset::Weekly), 7, at),
            "week:2026-11-30"
        );
        assert_eq!(budget_period(None, 7, at), "key:7");
    }

    #[test]
    fn spend_in_a_window_counts_rises_and_survives_resets() {
        assert_eq!(spend_in_window(None, &[]), 0.0);
        assert_eq!(spend_in_window(Some(5.0), &[]), 0.0);
        // A new key: all of it.
        assert_eq!(spend_in_window(None, &[1.0, 3.0]), 3.0);
        // From the reading before the window.
        assert_eq!(spend_in_window(Some(2.0), &[2.5, 4.0]), 2.0);
        // 4 → reset → 1.5 → 2: 1 + 1.5 + 0.5.
        assert_eq!(spend_in_window(Some(3.0), &[4.0, 1.5, 2.0]), 3.0);
    }

    #[test]
    fn budgets_are_checked_and_rounded_to_cents() {
        let b = LlmBudget::monthly(12.345).unwrap();
        assert_eq!(b.limit_usd, Some(12.35));
        assert_eq!(b.limit_reset, Some(LimitReset::Monthly));
        assert!(LlmBudget::new(Some(-1.0), None).is_err());
        assert!(LlmBudget::new(Some(f64::NAN), None).is_err());
        assert!(LlmBudget::new(Some(1e9), None).is_err());
        assert_eq!(
            LlmBudget::new(None, Some(LimitReset::Daily))
                .unwrap_err()
                .field,
            "limit_reset"
        );
        assert_eq!(LlmBudget::new(None, None).unwrap(), LlmBudget::UNLIMITED);
        assert_eq!(
            LlmBudget::new(Some(0.0), None).unwrap().limit_usd,
            Some(0.0)
        );
    }

    #[test]
    fn warnings_start_at_80_percent_and_trust_the_provider() {
        use SpendWarning::*;
        assert_eq!(spend_warning(Some(10.0), Some(5.0), Some(9.9)), None);
        assert_eq!(spend_warning(Some(10.0), Some(2.0), None), Some(NearLimit));
        assert_eq!(
            spend_warning(Some(10.0), Some(0.0), None),
            Some(LimitReached)
        );
        assert_eq!(spend_warning(Some(10.0), None, Some(7.99)), None);
        assert_eq!(spend_warning(Some(10.0), None, Some(8.0)), Some(NearLimit));
        assert_eq!(
            spend_warning(Some(10.0), None, Some(12.0)),
            Some(LimitReached)
        );
        assert_eq!(spend_warning(None, None, Some(1e6)), None);
        assert_eq!(spend_warning(Some(0.0), Some(0.0), None), None);
        assert_eq!(spend_warning(Some(10.0), None, None), None);
    }

    #[test]
    fn resets_parse_with_none() {
        assert_eq!(parse_reset("none").unwrap(), None);
        assert_eq!(parse_reset("").unwrap(), None);
        assert_eq!(parse_reset("weekly").unwrap(), Some(LimitReset::Weekly));
        assert!(parse_reset("yearly").is_err());
    }

    #[test]
    fn labels_share_the_owner_prefix_and_no_other() {
        let label = key_label("berth", "acme", 7);
        assert_eq!(label, "berth/berth/acme/7");
        assert!(label.starts_with(&key_prefix("berth")));
        assert!(!key_label("berth-2", "acme", 7).starts_with(&key_prefix("berth")));
    }
}
