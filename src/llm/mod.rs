//! Clients' LLM keys at OpenRouter or a LiteLLM proxy: the worker that
//! makes the keys the store wants exist (create, disable, enable, budget,
//! rotate, delete) and the meter that polls their spend.
//!
//! - [`provider`]: the one trait both APIs sit behind, its values and errors;
//!   [`openrouter`] and [`litellm`] implement it over [`http`].
//! - [`plan`]: pure, from the store's rows to [`plan::KeyAction`]s.
//! - [`worker`]: carries the actions out, records each result or failure
//!   (with a retry time) on the key's row; [`meter`] polls spend.
//!   `retry` keeps the backoff.
//! - [`secret`]: keys are stored encrypted; the key file is not in the database.
//!
//! The worker runs beside the container reconciler, never inside its pass:
//! a slow or failing provider delays no container.

mod alerts;
mod http;
pub mod litellm;
pub mod meter;
pub mod openrouter;
pub mod plan;
pub mod provider;
mod retry;
pub mod secret;
pub mod worker;

pub use provider::{
    CreatedKey, Credits, KeyChange, KeyInfo, KeyProvider, KeyRef, NewKey, ProviderError,
};
pub use worker::KeyWorker;

use crate::config::LlmConfig;
use crate::domain::LlmProvider;
use litellm::LiteLlm;
use openrouter::OpenRouter;

/// The configured provider, one of the two implementations.
#[derive(Clone)]
pub enum AnyProvider {
    OpenRouter(OpenRouter),
    LiteLlm(LiteLlm),
}

impl AnyProvider {
    /// The provider `[llm]` names; `None` when none is configured.
    pub fn from_config(config: &LlmConfig) -> Result<Option<Self>, String> {
        let (Some(kind), Some(key)) = (config.provider, config.management_key.clone()) else {
            return Ok(None);
        };
        let api = http::Api::new(&config.base_url, key, config.timeout)?;
        Ok(Some(match kind {
            LlmProvider::OpenRouter => AnyProvider::OpenRouter(OpenRouter::new(api)),
            LlmProvider::LiteLlm => AnyProvider::LiteLlm(LiteLlm::new(api)),
        }))
    }

    pub fn kind(&self) -> LlmProvider {
        match self {
            AnyProvider::OpenRouter(_) => LlmProvider::OpenRouter,
            AnyProvider::LiteLlm(_) => LlmProvider::LiteLlm,
        }
    }
}

/// Forwards to the implementation: the worker sees only the trait.
macro_rules! each {
    ($self:ident, $p:ident => $call:expr) => {
        match $self {
            AnyProvider::OpenRouter($p) => $call,
            AnyProvider::LiteLlm($p) => $call,
        }
    };
}

impl KeyProvider for AnyProvider {
    fn chooses_secret(&self) -> bool {
        each!(self, p => p.chooses_secret())
    }

    async fn create(&self, new: &NewKey<'_>) -> Result<CreatedKey, ProviderError> {
        each!(self, p => p.create(new).await)
    }

    async fn find(&self, key: KeyRef<'_>) -> Result<Option<KeyInfo>, ProviderError> {
        each!(self, p => p.find(key).await)
    }

    async fn update(&self, key: KeyRef<'_>, change: KeyChange) -> Result<(), ProviderError> {
        each!(self, p => p.update(key, change).await)
    }

    async fn delete(&self, key: KeyRef<'_>) -> Result<(), ProviderError> {
        each!(self, p => p.delete(key).await)
    }

    async fn poll(&self, keys: &[KeyRef<'_>]) -> Result<Vec<KeyInfo>, ProviderError> {
        each!(self, p => p.poll(keys).await)
    }

    async fn credits(&self) -> Result<Option<Credits>, ProviderError> {
        each!(self, p => p.credits().await)
    }
}
