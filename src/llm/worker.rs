//! The key worker: plans from the store, carries each action out at the
//! provider and records what happened on the key's row. A failed action
//! leaves its error and a retry time on the row (never a loop in memory),
//! so a restart, a 429 or a provider outage only delays it.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{stream, StreamExt};
use rand::distr::{Alphanumeric, SampleString};
use tokio::sync::Notify;

use super::plan::{plan, KeyAction};
use super::provider::{KeyChange, KeyProvider, KeyRef, NewKey, ProviderError};
use super::secret::{Sealer, SecretError};
use super::AnyProvider;
use crate::config::Config;
use crate::domain::llm::LlmBudget;
use crate::domain::LlmKeyStatus;
use crate::store::llm::{self as rows, Created, KeyRow};
use crate::store::{Store, StoreError};

/// Provider calls in flight at once during a pass.
const CONCURRENCY: usize = 4;

#[derive(Clone)]
pub struct KeyWorker {
    pub(super) store: Store,
    pub(super) config: Arc<Config>,
    pub(super) provider: Arc<AnyProvider>,
    pub(super) sealer: Sealer,
    /// For the spend-warning webhook.
    pub(super) http: reqwest::Client,
    wake: Arc<Notify>,
    /// The reconciler's: a deleted key may be what a confirmed delete waits for.
    reconcile_wake: Arc<Notify>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

/// What one pass did: actions taken, and how many of them failed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PassOutcome {
    pub actions: usize,
    pub failed: usize,
}

impl KeyWorker {
    /// The worker for the configured provider; `None` when `[llm]` names none.
    pub fn from_config(
        store: Store,
        config: Arc<Config>,
        wake: Arc<Notify>,
        reconcile_wake: Arc<Notify>,
    ) -> Result<Option<Self>, String> {
        let Some(provider) = AnyProvider::from_config(&config.llm)? else {
            return Ok(None);
        };
        let sealer = Sealer::open_or_create(&config.llm.secret_file(&config.data_dir))
            .map_err(|e| format!("llm.secret_file: {e}"))?;
        Ok(Some(Self {
            store,
            config,
            provider: Arc::new(provider),
            sealer,
            http: crate::tls::client_builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            wake,
            reconcile_wake,
        }))
    }

    /// Key passes on every wake-up (and at least every reconcile interval,
    /// or when a failed key's retry time comes); the meter in its own task.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let meter = tokio::spawn(self.clone().meter_loop());
        tokio::pin!(shutdown);
        loop {
            let wait = match self.pass().await {
                Ok(outcome) => {
                    if outcome.actions > 0 {
                        tracing::debug!(
                            actions = outcome.actions,
                            failed = outcome.failed,
                            "llm key pass"
                        );
                    }
                    self.until_next_retry().await
                }
                Err(e) => {
                    tracing::warn!(error = %e, "llm key pass failed");
                    Duration::from_secs(5)
                }
            };
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = &mut shutdown => break,
            }
        }
        meter.abort();
        tracing::info!("llm key worker stopped");
    }

    /// One pass: plan every client's keys and carry the actions out, a few
    /// at a time; each result (or failure) is on its key's row after.
    pub async fn pass(&self) -> Result<PassOutcome, StoreError> {
        let clients = self.store.read(rows::planning_input).await?;
        let actions = plan(&clients, true, &crate::store::now());
        // A deleted key may be what a confirmed delete waits for; a new,
        // enabled or disabled key changes what instances are injected with.
        let acted = !actions.is_empty();
        let results: Vec<bool> = stream::iter(actions)
            .map(|action| self.execute(action))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        if acted {
            self.reconcile_wake.notify_one();
        }
        Ok(PassOutcome {
            actions: results.len(),
            failed: results.iter().filter(|ok| !**ok).count(),
        })
    }

    /// Carries one action out; a failure goes on the key's row. True if it
    /// went through.
    async fn execute(&self, action: KeyAction) -> bool {
        let (key_id, result) = match action {
            KeyAction::Create {
                client_id,
                slug,
                budget,
            } => match self.insert(client_id, &slug).await {
                Ok(row) => (row.id, self.make(&row, &slug, budget).await),
                Err(e) => {
                    tracing::warn!(client = %slug, error = %e, "cannot write a new llm key row");
                    return false;
                }
            },
            KeyAction::Resume {
                key_id,
                slug,
                budget,
            } => (key_id, self.resume(key_id, &slug, budget).await),
            KeyAction::Update {
                key_id,
                change,
                status,
                budget,
            } => (key_id, self.update(key_id, change, status, budget).await),
            KeyAction::Delete { key_id } => (key_id, self.delete(key_id).await),
        };
        match result {
            Ok(()) => true,
            Err(e) => {
                self.record_failure(key_id, &e).await;
                false
            }
        }
    }

    async fn insert(&self, client_id: i64, slug: &str) -> Result<KeyRow, StoreError> {
        // Where the provider takes a key berth chooses, it is chosen and
        // stored before asking: a lost answer can then be adopted.
        let sealed = self
            .provider
            .chooses_secret()
            .then(|| self.sealer.seal(&new_secret()));
        let (owner, slug, kind) = (
            self.config.docker.owner.clone(),
            slug.to_owned(),
            self.provider.kind(),
        );
        self.store
            .write(move |tx| {
                rows::insert_creating(tx, client_id, kind, &owner, &slug, sealed.as_deref())
            })
            .await
    }

    /// Makes the row's key at the provider and stores it.
    async fn make(&self, row: &KeyRow, slug: &str, budget: LlmBudget) -> Result<(), KeyError> {
        let chosen = self.plaintext(row)?;
        let new = NewKey {
            label: &row.label,
            client: slug,
            budget,
            secret: chosen.as_deref(),
        };
        let created = self.provider.create(&new).await?;
        crate::testhook::pause_at("llm-created").await;
        let sealed = self.sealer.seal(&created.key);
        let (id, provider_key_id, hint) = (row.id, created.id.clone(), created.hint.clone());
        self.store
            .write(move |tx| {
                rows::record_created(
                    tx,
                    id,
                    &Created {
                        provider_key_id: &provider_key_id,
                        key_hint: &hint,
                        secret: Some(sealed.as_slice()),
                        status: LlmKeyStatus::Active,
                        budget,
                    },
                )
            })
            .await?;
        tracing::info!(key = %row.label, "llm key created");
        Ok(())
    }

    /// A create never confirmed: the key may exist under its label.
    async fn resume(&self, key_id: i64, slug: &str, budget: LlmBudget) -> Result<(), KeyError> {
        let row = self.store.read(move |c| rows::get_key(c, key_id)).await?;
        let plain = self.plaintext(&row)?;
        let lookup = KeyRef {
            id: None,
            label: &row.label,
            secret: plain.as_deref(),
        };
        match self.provider.find(lookup).await? {
            Some(found) if self.provider.chooses_secret() => {
                let adopted = LlmBudget {
                    limit_usd: found.limit_usd,
                    limit_reset: (found.limit_usd == budget.limit_usd)
                        .then_some(budget.limit_reset)
                        .flatten(),
                };
                let status = if found.disabled {
                    LlmKeyStatus::Disabled
                } else {
                    LlmKeyStatus::Active
                };
                let hint = super::provider::hint(plain.as_deref().unwrap_or(""));
                self.store
                    .write(move |tx| {
                        rows::record_created(
                            tx,
                            key_id,
                            &Created {
                                provider_key_id: &found.id,
                                key_hint: &hint,
                                secret: None,
                                status,
                                budget: adopted,
                            },
                        )
                    })
                    .await?;
                tracing::info!(key = %row.label, "llm key adopted after a lost create answer");
                Ok(())
            }
            Some(found) => {
                // Its plaintext went with the lost answer: useless, delete it.
                let orphan = KeyRef {
                    id: Some(&found.id),
                    label: &row.label,
                    secret: None,
                };
                self.provider.delete(orphan).await?;
                tracing::info!(key = %row.label, "llm key from a lost create answer deleted; making it again");
                self.make(&row, slug, budget).await
            }
            None => self.make(&row, slug, budget).await,
        }
    }

    async fn update(
        &self,
        key_id: i64,
        change: KeyChange,
        status: LlmKeyStatus,
        budget: LlmBudget,
    ) -> Result<(), KeyError> {
        let row = self.store.read(move |c| rows::get_key(c, key_id)).await?;
        let plain = self.plaintext(&row)?;
        let key = KeyRef {
            id: row.provider_key_id.as_deref(),
            label: &row.label,
            secret: plain.as_deref(),
        };
        match self.provider.update(key, change).await {
            Ok(()) => {
                self.store
                    .write(move |tx| rows::record_synced(tx, key_id, status, &budget))
                    .await?;
                Ok(())
            }
            Err(ProviderError::NotFound(_)) => {
                // Deleted behind berth's back: record it; a new key follows.
                tracing::warn!(key = %row.label, "llm key is gone at the provider; replacing it");
                let old = row.budget;
                self.store
                    .write(move |tx| {
                        rows::retire(tx, key_id)?;
                        rows::record_synced(tx, key_id, LlmKeyStatus::Deleted, &old)
                    })
                    .await?;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, key_id: i64) -> Result<(), KeyError> {
        let row = self
            .store
            .write(move |tx| {
                rows::retire(tx, key_id)?;
                rows::get_key(tx, key_id)
            })
            .await?;
        let plain = self.plaintext(&row)?;
        let mut id = row.provider_key_id.clone();
        if id.is_none() && !self.provider.chooses_secret() {
            // Never confirmed: it is known by its label only, if at all.
            let lookup = KeyRef {
                id: None,
                label: &row.label,
                secret: None,
            };
            id = self.provider.find(lookup).await?.map(|k| k.id);
        }
        let key = KeyRef {
            id: id.as_deref(),
            label: &row.label,
            secret: plain.as_deref(),
        };
        self.provider.delete(key).await?;
        let budget = row.budget;
        self.store
            .write(move |tx| rows::record_synced(tx, key_id, LlmKeyStatus::Deleted, &budget))
            .await?;
        tracing::info!(key = %row.label, "llm key deleted");
        Ok(())
    }

    pub(super) fn plaintext(&self, row: &KeyRow) -> Result<Option<String>, SecretError> {
        row.secret
            .as_deref()
            .map(|s| self.sealer.open(s))
            .transpose()
    }
}

/// A key berth chooses (LiteLLM): `sk-` and 48 random letters and digits.
fn new_secret() -> String {
    format!("sk-{}", Alphanumeric.sample_string(&mut rand::rng(), 48))
}
