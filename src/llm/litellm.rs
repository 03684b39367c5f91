//! A LiteLLM proxy's virtual keys: `/key/generate`, `/key/info`,
//! `/key/update`, `/key/delete`, with the master key as bearer. The
//! endpoints take the key itself, so berth chooses it (and stores it,
//! encrypted) before asking: a key whose answer was lost is then adopted.

use futures_util::{stream, StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::{json, Value};

use super::http::Api;
use super::provider::{
    hint, CreatedKey, Credits, KeyChange, KeyInfo, KeyProvider, KeyRef, NewKey, ProviderError,
};
use crate::domain::llm::LlmBudget;
use crate::domain::LimitReset;

/// `/key/info` requests in flight at once while polling.
const POLL_CONCURRENCY: usize = 8;

#[derive(Clone)]
pub struct LiteLlm {
    api: Api,
}

impl LiteLlm {
    pub(super) fn new(api: Api) -> Self {
        Self { api }
    }
}

#[derive(Deserialize)]
struct Info {
    #[serde(default)]
    key_alias: Option<String>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    spend: f64,
    max_budget: Option<f64>,
    #[serde(default)]
    blocked: Option<bool>,
}

#[derive(Deserialize)]
struct InfoAnswer {
    #[serde(default)]
    key: Option<String>,
    info: Info,
}

impl InfoAnswer {
    fn into_info(self, fallback_id: &str) -> KeyInfo {
        let i = self.info;
        KeyInfo {
            id: i
                .token
                .or(self.key)
                .unwrap_or_else(|| fallback_id.to_owned()),
            name: i.key_alias.unwrap_or_default(),
            disabled: i.blocked.unwrap_or(false),
            limit_usd: i.max_budget,
            usage_usd: i.spend,
            usage_monthly_usd: None,
            limit_remaining_usd: i.max_budget.map(|m| (m - i.spend).max(0.0)),
        }
    }
}

/// LiteLLM budgets reset after a duration, not at a calendar boundary.
fn duration(reset: LimitReset) -> &'static str {
    match reset {
        LimitReset::Daily => "1d",
        LimitReset::Weekly => "7d",
        LimitReset::Monthly => "30d",
    }
}

fn budget_fields(body: &mut Value, budget: &LlmBudget) {
    body["max_budget"] = json!(budget.limit_usd);
    body["budget_duration"] = json!(budget.limit_reset.map(duration));
}

fn secret<'a>(key: &KeyRef<'a>) -> Result<&'a str, ProviderError> {
    key.secret
        .ok_or_else(|| ProviderError::Protocol(format!("{}: no stored key to address", key.label)))
}

impl KeyProvider for LiteLlm {
    fn chooses_secret(&self) -> bool {
        true
    }

    async fn create(&self, new: &NewKey<'_>) -> Result<CreatedKey, ProviderError> {
        #[derive(Deserialize)]
        struct Generated {
            key: String,
            #[serde(default)]
            token: Option<String>,
        }
        let mut body = json!({
            "key_alias": new.label,
            "metadata": { "berth_client": new.client },
        });
        if let Some(key) = new.secret {
            body["key"] = json!(key);
        }
        budget_fields(&mut body, &new.budget);
        let answer: Generated = self
            .api
            .json(self.api.post("/key/generate").json(&body))
            .await?;
        Ok(CreatedKey {
            id: answer.token.unwrap_or_else(|| new.label.to_owned()),
            hint: hint(&answer.key),
            key: answer.key,
        })
    }

    async fn find(&self, key: KeyRef<'_>) -> Result<Option<KeyInfo>, ProviderError> {
        let Some(plain) = key.secret else {
            return Ok(None);
        };
        let query: String = form_urlencoded::byte_serialize(plain.as_bytes()).collect();
        let req = self.api.get(&format!("/key/info?key={query}"));
        match self.api.json::<InfoAnswer>(req).await {
            Ok(answer) => Ok(Some(answer.into_info(key.id.unwrap_or(key.label)))),
            Err(ProviderError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn update(&self, key: KeyRef<'_>, change: KeyChange) -> Result<(), ProviderError> {
        let mut body = json!({ "key": secret(&key)? });
        if let Some(disabled) = change.disabled {
            body["blocked"] = json!(disabled);
        }
        if let Some(budget) = &change.budget {
            budget_fields(&mut body, budget);
        }
        self.api.ok(self.api.post("/key/update").json(&body)).await
    }

    async fn delete(&self, key: KeyRef<'_>) -> Result<(), ProviderError> {
        let Some(plain) = key.secret else {
            return Ok(());
        };
        let body = json!({ "keys": [plain] });
        match self.api.ok(self.api.post("/key/delete").json(&body)).await {
            Ok(()) | Err(ProviderError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn poll(&self, keys: &[KeyRef<'_>]) -> Result<Vec<KeyInfo>, ProviderError> {
        // Owned per request: a stream of borrowed refs trips the compiler's
        // proof that the whole future is Send.
        let wanted: Vec<(String, Option<String>)> = keys
            .iter()
            .map(|k| (k.label.to_owned(), k.secret.map(str::to_owned)))
            .collect();
        let found: Vec<Option<KeyInfo>> = stream::iter(wanted)
            .map(|(label, secret)| {
                let this = self.clone();
                async move {
                    let key = KeyRef {
                        id: None,
                        label: &label,
                        secret: secret.as_deref(),
                    };
                    this.find(key).await
                }
            })
            .buffer_unordered(POLL_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(found.into_iter().flatten().collect())
    }

    async fn credits(&self) -> Result<Option<Credits>, ProviderError> {
        Ok(None)
    }
}
