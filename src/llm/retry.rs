//! Failures and their retry times: a failed key action leaves its error
//! and when to try again on the key's row; the worker sleeps until the
//! earliest such time (at most the reconcile interval).

use std::time::Duration;

use super::worker::{KeyError, KeyWorker};
use crate::domain::LlmKeyStatus;
use crate::store::llm as rows;

/// The longest a failing key waits before its next try.
const MAX_BACKOFF: Duration = Duration::from_secs(900);

impl KeyWorker {
    pub(super) async fn record_failure(&self, key_id: i64, error: &KeyError) {
        let wait = backoff(self.config.llm.retry_base, error);
        let attempt = self
            .store
            .read(move |c| rows::get_key(c, key_id))
            .await
            .map(|r| r.attempts)
            .unwrap_or(0);
        let wait = match error {
            KeyError::Provider(e) if e.retry_after().is_some() => wait,
            _ => (wait * 2u32.saturating_pow(attempt.min(10))).min(MAX_BACKOFF),
        };
        let retry_at = rfc3339(time::OffsetDateTime::now_utc() + wait);
        let message = error.to_string();
        tracing::warn!(key = key_id, error = %message, retry_in_s = wait.as_secs(), "llm key action failed");
        let stored = self
            .store
            .write(move |tx| rows::record_failure(tx, key_id, &message, &retry_at))
            .await;
        if let Err(e) = stored {
            tracing::warn!(key = key_id, error = %e, "cannot record the llm key failure");
        }
    }

    /// Until the earliest retry of a failing key, at most the reconcile interval.
    pub(super) async fn until_next_retry(&self) -> Duration {
        let interval = self.config.reconcile_interval;
        let Ok(keys) = self.store.read(rows::all_keys).await else {
            return interval;
        };
        let now = time::OffsetDateTime::now_utc();
        // Only retries still to come: a past one belongs to a key waiting
        // on something else (a rotation's new key), not on time.
        keys.iter()
            .filter(|k| k.status != LlmKeyStatus::Deleted)
            .filter_map(|k| k.next_retry_at.as_deref())
            .filter_map(|t| {
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
            })
            .filter_map(|t| Duration::try_from(t - now).ok())
            .min()
            .map_or(interval, |d| (d + Duration::from_millis(50)).min(interval))
    }
}

/// The first wait after a failure: the provider's Retry-After when it gave one.
fn backoff(base: Duration, error: &KeyError) -> Duration {
    match error {
        KeyError::Provider(e) => e.retry_after().unwrap_or(base).min(MAX_BACKOFF),
        _ => base,
    }
}

pub(super) fn rfc3339(t: time::OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
