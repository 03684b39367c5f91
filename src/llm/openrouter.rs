//! OpenRouter's management ("provisioning") key API: `/v1/keys` under the
//! configured base URL (`https://openrouter.ai/api`), keys addressed by
//! their hash, listed in pages of 100, the plaintext only in the create
//! answer.

use serde::Deserialize;
use serde_json::{json, Value};

use super::http::Api;
use super::provider::{
    hint, CreatedKey, Credits, KeyChange, KeyInfo, KeyProvider, KeyRef, NewKey, ProviderError,
};
use crate::domain::llm::LlmBudget;

/// OpenRouter's page size for `GET /v1/keys`.
const PAGE: usize = 100;

#[derive(Clone)]
pub struct OpenRouter {
    api: Api,
}

impl OpenRouter {
    pub(super) fn new(api: Api) -> Self {
        Self { api }
    }

    /// Every key of the account, page by page.
    async fn list_all(&self) -> Result<Vec<KeyInfo>, ProviderError> {
        let mut all = Vec::new();
        loop {
            let req = self.api.get(&format!(
                "/v1/keys?offset={}&include_disabled=true",
                all.len()
            ));
            let page: Data<Vec<KeyData>> = self.api.json(req).await?;
            let n = page.data.len();
            all.extend(page.data.into_iter().map(KeyData::info));
            if n < PAGE {
                return Ok(all);
            }
        }
    }
}

#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

#[derive(Deserialize)]
struct KeyData {
    hash: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    disabled: bool,
    limit: Option<f64>,
    limit_remaining: Option<f64>,
    #[serde(default)]
    usage: f64,
    usage_monthly: Option<f64>,
}

impl KeyData {
    fn info(self) -> KeyInfo {
        KeyInfo {
            id: self.hash,
            name: self.name,
            disabled: self.disabled,
            limit_usd: self.limit,
            usage_usd: self.usage,
            usage_monthly_usd: self.usage_monthly,
            limit_remaining_usd: self.limit_remaining,
        }
    }
}

#[derive(Deserialize)]
struct CreateAnswer {
    data: KeyData,
    key: String,
}

fn budget_fields(body: &mut Value, budget: &LlmBudget) {
    body["limit"] = json!(budget.limit_usd);
    body["limit_reset"] = json!(budget.limit_reset.map(|r| r.as_str()));
}

fn path(id: &str) -> String {
    // A hash is hex; anything else would be a corrupted row, never a path.
    let safe: String = id.chars().filter(char::is_ascii_alphanumeric).collect();
    format!("/v1/keys/{safe}")
}

impl KeyProvider for OpenRouter {
    fn chooses_secret(&self) -> bool {
        false
    }

    async fn create(&self, new: &NewKey<'_>) -> Result<CreatedKey, ProviderError> {
        let mut body = json!({ "name": new.label, "include_byok_in_limit": true });
        budget_fields(&mut body, &new.budget);
        let answer: CreateAnswer = self.api.json(self.api.post("/v1/keys").json(&body)).await?;
        let shown = if answer.data.label.is_empty() {
            hint(&answer.key)
        } else {
            answer.data.label.clone()
        };
        Ok(CreatedKey {
            id: answer.data.hash,
            key: answer.key,
            hint: shown,
        })
    }

    async fn find(&self, key: KeyRef<'_>) -> Result<Option<KeyInfo>, ProviderError> {
        if let Some(id) = key.id {
            return match self
                .api
                .json::<Data<KeyData>>(self.api.get(&path(id)))
                .await
            {
                Ok(found) => Ok(Some(found.data.info())),
                Err(ProviderError::NotFound(_)) => Ok(None),
                Err(e) => Err(e),
            };
        }
        // No hash yet (a create whose answer was lost): only the name is known.
        Ok(self
            .list_all()
            .await?
            .into_iter()
            .find(|k| k.name == key.label))
    }

    async fn update(&self, key: KeyRef<'_>, change: KeyChange) -> Result<(), ProviderError> {
        let id = key
            .id
            .ok_or_else(|| ProviderError::Protocol(format!("{} has no hash", key.label)))?;
        let mut body = json!({});
        if let Some(disabled) = change.disabled {
            body["disabled"] = json!(disabled);
        }
        if let Some(budget) = &change.budget {
            budget_fields(&mut body, budget);
        }
        self.api.ok(self.api.patch(&path(id)).json(&body)).await
    }

    async fn delete(&self, key: KeyRef<'_>) -> Result<(), ProviderError> {
        let Some(id) = key.id else {
            return Ok(());
        };
        match self.api.ok(self.api.delete(&path(id))).await {
            Ok(()) | Err(ProviderError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn poll(&self, _keys: &[KeyRef<'_>]) -> Result<Vec<KeyInfo>, ProviderError> {
        self.list_all().await
    }

    async fn credits(&self) -> Result<Option<Credits>, ProviderError> {
        #[derive(Deserialize)]
        struct Figures {
            total_credits: f64,
            total_usage: f64,
        }
        let answer: Data<Figures> = self.api.json(self.api.get("/v1/credits")).await?;
        Ok(Some(Credits {
            total_credits: answer.data.total_credits,
            total_usage: answer.data.total_usage,
        }))
    }
}
