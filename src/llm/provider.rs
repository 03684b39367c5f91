//! The one small trait both key APIs sit behind, the values it speaks and
//! its typed error. The worker and the meter know nothing else about a
//! provider.

use std::future::Future;
use std::time::Duration;

use crate::domain::llm::LlmBudget;

/// A key to make. `secret` is the plaintext berth chose, for a provider that
/// takes one ([`KeyProvider::chooses_secret`]).
#[derive(Debug, Clone)]
pub struct NewKey<'a> {
    pub label: &'a str,
    pub client: &'a str,
    pub budget: LlmBudget,
    pub secret: Option<&'a str>,
}

/// What a create answered: the provider's id for the key and the plaintext,
/// which is shown only in this answer.
pub struct CreatedKey {
    pub id: String,
    pub key: String,
    /// A recognisable, harmless abbreviation ("sk-or-v1-abc...123").
    pub hint: String,
}

impl std::fmt::Debug for CreatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedKey")
            .field("id", &self.id)
            .field("hint", &self.hint)
            .finish_non_exhaustive()
    }
}

/// A key as the provider reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyInfo {
    pub id: String,
    pub name: String,
    pub disabled: bool,
    pub limit_usd: Option<f64>,
    pub usage_usd: f64,
    pub usage_monthly_usd: Option<f64>,
    pub limit_remaining_usd: Option<f64>,
}

/// How to address a stored key: its provider id (OpenRouter's hash), its
/// label, and for LiteLLM (whose endpoints take the key itself) the plaintext.
#[derive(Clone, Copy)]
pub struct KeyRef<'a> {
    pub id: Option<&'a str>,
    pub label: &'a str,
    pub secret: Option<&'a str>,
}

/// A change to a key; `None` leaves that part alone.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct KeyChange {
    pub disabled: Option<bool>,
    pub budget: Option<LlmBudget>,
}

/// The provider account's balance (OpenRouter).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Credits {
    pub total_credits: f64,
    pub total_usage: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    #[error("the provider refused the management key (401): {0}")]
    Unauthorized(String),
    #[error("the provider account is out of credits (402): {0}")]
    OutOfCredits(String),
    #[error("rate limited by the provider (429): {message}")]
    RateLimited {
        retry_after: Option<Duration>,
        message: String,
    },
    #[error("not found at the provider (404): {0}")]
    NotFound(String),
    #[error("the provider rejected the request ({status}): {message}")]
    Rejected { status: u16, message: String },
    #[error("the provider failed ({status}): {message}")]
    Server { status: u16, message: String },
    /// No answer: refused connection, timeout, broken response.
    #[error("the provider did not answer: {0}")]
    Transport(String),
    #[error("unexpected answer from the provider: {0}")]
    Protocol(String),
}

impl ProviderError {
    /// How long the provider asked us to wait, if it did (429 Retry-After).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A request that may have reached the provider and been carried out
    /// even though no answer came back: a create must then look for its key.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            Self::Transport(_) | Self::Server { .. } | Self::Protocol(_)
        )
    }
}

/// One provider's key API. Both implementations are plain HTTP clients with
/// timeouts; the worker retries what fails.
pub trait KeyProvider: Send + Sync + 'static {
    /// True when berth picks the plaintext itself (LiteLLM): a key found
    /// by name after a crash can then be adopted; otherwise it is deleted
    /// and made again, as its plaintext is gone with the lost answer.
    fn chooses_secret(&self) -> bool;

    fn create(
        &self,
        new: &NewKey<'_>,
    ) -> impl Future<Output = Result<CreatedKey, ProviderError>> + Send;

    /// The key by id, or by label when it has no id yet; `None` when gone.
    fn find(
        &self,
        key: KeyRef<'_>,
    ) -> impl Future<Output = Result<Option<KeyInfo>, ProviderError>> + Send;

    fn update(
        &self,
        key: KeyRef<'_>,
        change: KeyChange,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;

    /// Deletes the key; one that is already gone counts as deleted.
    fn delete(&self, key: KeyRef<'_>) -> impl Future<Output = Result<(), ProviderError>> + Send;

    /// The figures of `keys` with as few requests as the API allows: one
    /// paged list of every key (OpenRouter, which then also returns keys
    /// berth does not know) or one request per key (LiteLLM).
    fn poll(
        &self,
        keys: &[KeyRef<'_>],
    ) -> impl Future<Output = Result<Vec<KeyInfo>, ProviderError>> + Send;

    /// The account's credits, where the API has them.
    fn credits(&self) -> impl Future<Output = Result<Option<Credits>, ProviderError>> + Send;
}

/// A recognisable, harmless abbreviation of a key: its first 12 and last 3
/// characters (OpenRouter's own label style), nothing for a short one.
pub fn hint(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 24 {
        return String::new();
    }
    let head: String = chars[..12].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}...{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_show_little_of_the_key() {
        let key = "sk-or-v1-0123456789abcdef0123456789abcdef";
        assert_eq!(hint(key), "sk-or-v1-012...def");
        assert_eq!(hint("short"), "");
    }

    #[test]
    fn only_lost_answers_leave_the_outcome_unknown() {
        assert!(ProviderError::Transport("timeout".into()).outcome_unknown());
        assert!(ProviderError::Server {
            status: 502,
            message: String::new()
        }
        .outcome_unknown());
        assert!(!ProviderError::Unauthorized(String::new()).outcome_unknown());
        let limited = ProviderError::RateLimited {
            retry_after: Some(Duration::from_secs(7)),
            message: String::new(),
        };
        assert!(!limited.outcome_unknown());
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(7)));
    }
}
