//! The `[llm]` section: which key provider berth manages clients' LLM keys
//! through, and where its management key comes from. The management key is
//! never in the TOML file, the database or a page: it comes from
//! `BERTH_LLM_MANAGEMENT_KEY` or `management_key_file`, and `Debug` masks it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::duration as humantime_serde_lite;
use super::ConfigError;
use crate::domain::LlmProvider;

/// The environment variable holding the management (OpenRouter) or master
/// (LiteLLM) key; it wins over `management_key_file`.
pub const MANAGEMENT_KEY_ENV: &str = "BERTH_LLM_MANAGEMENT_KEY";

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    /// "openrouter" or "litellm"; unset: berth manages no LLM keys.
    pub provider: Option<LlmProvider>,
    /// The provider's API root: `https://openrouter.ai/api` for OpenRouter
    /// (berth appends `/v1/keys`), the proxy's URL for LiteLLM.
    pub base_url: String,
    /// A file holding the management key (one line), readable by berth only.
    pub management_key_file: Option<PathBuf>,
    /// Filled at load from the environment or the file; never from TOML.
    #[serde(skip)]
    pub management_key: Option<ManagementKey>,
    /// How often every key's spend is read.
    #[serde(with = "humantime_serde_lite")]
    pub poll_interval: Duration,
    /// How long one provider request may take before it counts as failed.
    #[serde(with = "humantime_serde_lite")]
    pub timeout: Duration,
    /// The first wait after a failed key operation without a Retry-After;
    /// it doubles per failure up to 15 minutes.
    #[serde(with = "humantime_serde_lite")]
    pub retry_base: Duration,
    /// The 32-byte key that encrypts clients' LLM keys (and instances'
    /// first-start admin passwords) in the database.
    /// Default `<data_dir>/secrets/llm.key`, created on first use.
    pub secret_file: Option<PathBuf>,
    /// The OpenAI-compatible base URL instances get with their key (a
    /// blueprint's `[llm] base_url_env`). Default: OpenRouter's
    /// `https://openrouter.ai/api/v1`, or `base_url` itself for LiteLLM (the
    /// proxy serves both). Set it when containers reach the provider by
    /// another address than berth does.
    pub inference_url: Option<String>,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            provider: None,
            base_url: "https://openrouter.ai/api".into(),
            management_key_file: None,
            management_key: None,
            poll_interval: Duration::from_secs(300),
            timeout: Duration::from_secs(20),
            retry_base: Duration::from_secs(5),
            secret_file: None,
            inference_url: None,
        }
    }
}

/// The provider's management key; prints as `<set>`.
#[derive(Clone, PartialEq)]
pub struct ManagementKey(String);

impl ManagementKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ManagementKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<set>")
    }
}

impl fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmConfig")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("management_key_file", &self.management_key_file)
            .field("management_key", &self.management_key)
            .field("poll_interval", &self.poll_interval)
            .field("timeout", &self.timeout)
            .field("retry_base", &self.retry_base)
            .field("secret_file", &self.secret_file)
            .field("inference_url", &self.inference_url)
            .finish()
    }
}

impl LlmConfig {
    /// Whether berth manages LLM keys at all.
    pub fn enabled(&self) -> bool {
        self.provider.is_some()
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: String| Err(ConfigError(format!("llm.{key}: {why}")));
        if self.provider.is_none() {
            return Ok(());
        }
        let url_ok = (self.base_url.starts_with("http://")
            || self.base_url.starts_with("https://"))
            && reqwest::Url::parse(&self.base_url).is_ok();
        if !url_ok {
            return bad(
                "base_url",
                format!("{:?} is not an http(s) URL", self.base_url),
            );
        }
        if let Some(url) = &self.inference_url {
            let ok = (url.starts_with("http://") || url.starts_with("https://"))
                && reqwest::Url::parse(url).is_ok();
            if !ok {
                return bad("inference_url", format!("{url:?} is not an http(s) URL"));
            }
        }
        if self.poll_interval < Duration::from_secs(1) {
            return bad("poll_interval", "must be at least 1s".into());
        }
        if !(Duration::from_millis(100)..=Duration::from_secs(300)).contains(&self.timeout) {
            return bad("timeout", "must be 100ms-300s".into());
        }
        Ok(())
    }

    /// Reads the management key from the environment, else the file. A
    /// provider with no key is a configuration error: every call would 401.
    pub(super) fn load_key(
        &mut self,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        if let Some(key) = env(MANAGEMENT_KEY_ENV).filter(|k| !k.trim().is_empty()) {
            self.management_key = Some(ManagementKey(key.trim().to_owned()));
        } else if let Some(path) = &self.management_key_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError(format!(
                    "llm.management_key_file: cannot read {}: {e}",
                    path.display()
                ))
            })?;
            let key = text.trim();
            if key.is_empty() {
                return Err(ConfigError(format!(
                    "llm.management_key_file: {} is empty",
                    path.display()
                )));
            }
            self.management_key = Some(ManagementKey(key.to_owned()));
        }
        if self.provider.is_some() && self.management_key.is_none() {
            return Err(ConfigError(format!(
                "llm.provider is set but no management key: set {MANAGEMENT_KEY_ENV} or llm.management_key_file"
            )));
        }
        Ok(())
    }

    pub(super) fn resolve_paths(&mut self, cwd: &Path, data_dir: &Path) {
        for path in [&mut self.management_key_file, &mut self.secret_file]
            .into_iter()
            .flatten()
        {
            if path.is_relative() {
                *path = cwd.join(&*path);
            }
        }
        if self.secret_file.is_none() {
            self.secret_file = Some(data_dir.join("secrets").join("llm.key"));
        }
    }

    /// The base URL injected beside each key; `None` without a provider.
    pub fn injected_url(&self) -> Option<String> {
        let provider = self.provider?;
        Some(match (&self.inference_url, provider) {
            (Some(url), _) => url.clone(),
            (None, LlmProvider::OpenRouter) => "https://openrouter.ai/api/v1".into(),
            (None, LlmProvider::LiteLlm) => self.base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// Where the key-encryption key lives (resolved at load).
    pub fn secret_file(&self, data_dir: &Path) -> PathBuf {
        self.secret_file
            .clone()
            .unwrap_or_else(|| data_dir.join("secrets").join("llm.key"))
    }
}
