//! The meter: every `[llm] poll_interval`, every key's spend in as few
//! requests as the provider allows (one paged list at OpenRouter), stored on
//! the key rows and as a time series. OpenRouter's list also shows keys
//! named like this berth's that no row knows: orphans of a lost create,
//! deleted here.

use std::collections::HashMap;

use super::provider::{KeyProvider, KeyRef};
use super::worker::KeyWorker;
use crate::domain::llm::key_prefix;
use crate::domain::LlmKeyStatus;
use crate::store::llm::{self as rows, Usage};
use crate::store::StoreError;

/// What one poll did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PollOutcome {
    /// Keys whose figures were stored.
    pub keys: usize,
    pub orphans_deleted: usize,
    /// Spend thresholds passed for the first time this period.
    pub alerts: usize,
    /// Why the provider could not be read, if it could not.
    pub error: Option<String>,
}

impl KeyWorker {
    pub(super) async fn meter_loop(self) {
        loop {
            match self.poll().await {
                Ok(outcome) => {
                    if let Some(error) = &outcome.error {
                        tracing::warn!(%error, "llm spend poll failed");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "llm spend poll: store failed"),
            }
            tokio::time::sleep(self.config.llm.poll_interval).await;
        }
    }

    /// One poll of every key's spend (and the account's credits).
    pub async fn poll(&self) -> Result<PollOutcome, StoreError> {
        let keys = self.store.read(rows::all_keys).await?;
        let live: Vec<_> = keys
            .iter()
            .filter(|k| matches!(k.status, LlmKeyStatus::Active | LlmKeyStatus::Disabled))
            .collect();
        let mut plain = HashMap::new();
        if self.provider.chooses_secret() {
            for key in &live {
                if let Ok(Some(p)) = self.plaintext(key) {
                    plain.insert(key.id, p);
                }
            }
        }
        let refs: Vec<KeyRef> = live
            .iter()
            .map(|k| KeyRef {
                id: k.provider_key_id.as_deref(),
                label: &k.label,
                secret: plain.get(&k.id).map(String::as_str),
            })
            .collect();
        let infos = match self.provider.poll(&refs).await {
            Ok(infos) => infos,
            Err(e) => {
                let message = e.to_string();
                let store_msg = message.clone();
                self.store
                    .write(move |tx| rows::record_provider_poll(tx, Err(store_msg.as_str())))
                    .await?;
                return Ok(PollOutcome {
                    error: Some(message),
                    ..PollOutcome::default()
                });
            }
        };
        let by_label: HashMap<&str, i64> = live.iter().map(|k| (k.label.as_str(), k.id)).collect();
        let usage: Vec<Usage> = infos
            .iter()
            .filter_map(|info| {
                Some(Usage {
                    key_id: *by_label.get(info.name.as_str())?,
                    usage_usd: info.usage_usd,
                    usage_monthly_usd: info.usage_monthly_usd,
                    limit_usd: info.limit_usd,
                    limit_remaining_usd: info.limit_remaining_usd,
                })
            })
            .collect();
        let stored = usage.len();
        let alerts = self
            .store
            .write(move |tx| {
                rows::record_usage(tx, &usage)?;
                let alerts = rows::new_alerts(tx, time::OffsetDateTime::now_utc())?;
                super::alerts::audit_alerts(tx, &alerts)?;
                Ok::<_, StoreError>(alerts)
            })
            .await?;
        let alert_count = alerts.len();
        self.announce(alerts);
        let orphans_deleted = if self.provider.chooses_secret() {
            0
        } else {
            self.delete_orphans(&infos).await?
        };
        let error = match self.provider.credits().await {
            Ok(credits) => {
                let figures = credits.map(|c| (c.total_credits, c.total_usage));
                self.store
                    .write(move |tx| rows::record_provider_poll(tx, Ok(figures)))
                    .await?;
                None
            }
            Err(e) => {
                let message = e.to_string();
                let store_msg = message.clone();
                self.store
                    .write(move |tx| rows::record_provider_poll(tx, Err(store_msg.as_str())))
                    .await?;
                Some(message)
            }
        };
        Ok(PollOutcome {
            keys: stored,
            orphans_deleted,
            alerts: alert_count,
            error,
        })
    }

    /// Logs new spend warnings and sends them to the webhook, off the
    /// meter's path: a slow hook delays no poll.
    fn announce(&self, alerts: Vec<rows::SpendAlert>) {
        if alerts.is_empty() {
            return;
        }
        for a in &alerts {
            tracing::warn!(client = %a.client, threshold = a.threshold, spent = a.spent_usd, limit = a.limit_usd, "llm spend warning");
        }
        if let Some(url) = self.config.backup.failure_webhook.clone() {
            tokio::spawn(super::alerts::notify(self.http.clone(), url, alerts));
        }
    }

    /// Keys named like this berth's that no row knows, or that carry a
    /// row's name but are not its key (a create that answered after berth
    /// had given up and made the key again). The rows are read after the
    /// list: a row is written before its key is made, so a key being made
    /// right now is known by then.
    async fn delete_orphans(&self, infos: &[super::KeyInfo]) -> Result<usize, StoreError> {
        let prefix = key_prefix(&self.config.docker.owner);
        let known: HashMap<String, Option<String>> = self
            .store
            .read(rows::all_keys)
            .await?
            .into_iter()
            .map(|k| (k.label, k.provider_key_id))
            .collect();
        let orphan = |info: &&super::KeyInfo| {
            info.name.starts_with(&prefix)
                && match known.get(&info.name) {
                    None => true,
                    Some(Some(id)) => *id != info.id,
                    // Still being made: the key worker resolves it by name.
                    Some(None) => false,
                }
        };
        let mut deleted = 0;
        for info in infos.iter().filter(orphan) {
            let key = KeyRef {
                id: Some(&info.id),
                label: &info.name,
                secret: None,
            };
            match self.provider.delete(key).await {
                Ok(()) => {
                    deleted += 1;
                    tracing::warn!(key = %info.name, "deleted an llm key no row holds (orphan)");
                }
                Err(e) => {
                    tracing::warn!(key = %info.name, error = %e, "cannot delete an orphan llm key")
                }
            }
        }
        Ok(deleted)
    }
}
