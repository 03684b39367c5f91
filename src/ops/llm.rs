//! LLM keys as the front ends see them: a client's key (status, budget,
//! spend), rotation, a client's budget override, a plan's LLM settings and
//! the provider-wide overview. The key worker (`llm::`) does the provider
//! work; these only read and write desired state. No view carries a key's
//! plaintext: the rows' encrypted secret never leaves the store layer here.

use serde::Deserialize;
use serde_json::json;

use super::llm_views::{key_view, overview, LlmKeyView, LlmOverview};
use super::{Ops, OpsError};
use crate::audit::{self, Actor};
use crate::domain::llm::{parse_reset, LlmBudget};
use crate::domain::{LimitReset, LlmKeyStatus, LlmProvider};
use crate::store::llm::{self as rows, ClientLlm, PlanLlm};
use crate::store::{clients, Conn, StoreError};

/// How far back a client's spend series goes in its view.
const SERIES: std::time::Duration = std::time::Duration::from_secs(31 * 86400);

/// A client's own budget, or back to the plan's.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmBudgetInput {
    /// USD; absent or null with no `use_plan`: no limit.
    pub limit_usd: Option<f64>,
    /// "daily", "weekly", "monthly" or "none".
    pub limit_reset: Option<String>,
    /// true: drop the client's own budget and follow the plan's again.
    #[serde(default)]
    pub use_plan: bool,
}

/// A plan's LLM settings, replaced whole.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanLlmInput {
    pub enabled: bool,
    pub limit_usd: Option<f64>,
    pub limit_reset: Option<String>,
}

fn budget_from(limit_usd: Option<f64>, reset: Option<&str>) -> Result<LlmBudget, OpsError> {
    let reset: Option<LimitReset> = reset.map(parse_reset).transpose()?.flatten();
    Ok(LlmBudget::new(limit_usd, reset)?)
}

impl Ops {
    fn provider(&self) -> Option<LlmProvider> {
        self.config.llm.provider
    }

    fn require_provider(&self) -> Result<(), OpsError> {
        match self.provider() {
            Some(_) => Ok(()),
            None => Err(OpsError::Refused(
                "no LLM provider is configured ([llm] provider)".into(),
            )),
        }
    }

    /// A client's key with its spend over the last month.
    pub async fn llm_status(&self, slug: &str) -> Result<LlmKeyView, OpsError> {
        let (slug, provider) = (slug.to_owned(), self.provider());
        Ok(self
            .store
            .read(move |conn| {
                let client = client_llm(conn, &slug)?;
                let spend = rows::spend_series(conn, &slug, &crate::store::now_minus(SERIES))?;
                let mut view = key_view(&client, provider);
                view.spend = spend;
                Ok(view)
            })
            .await?)
    }

    /// Every client's key (clients whose plan has none included).
    pub async fn llm_statuses(&self) -> Result<Vec<LlmKeyView>, OpsError> {
        let provider = self.provider();
        Ok(self
            .store
            .read(move |conn| {
                Ok(rows::planning_input(conn)?
                    .iter()
                    .map(|c| key_view(c, provider))
                    .collect())
            })
            .await?)
    }

    /// Asks for a new key: the worker makes it, then deletes the old one.
    pub async fn rotate_llm_key(&self, actor: &Actor, slug: &str) -> Result<LlmKeyView, OpsError> {
        self.require_provider()?;
        let (slug_owned, actor) = (slug.to_owned(), actor.clone());
        self.write(move |tx| {
            let client = client_llm(tx, &slug_owned)?;
            if !client.plan.enabled {
                return Err(OpsError::Refused(format!(
                    "{slug_owned}'s plan includes no LLM key"
                )));
            }
            let current = client
                .keys
                .iter()
                .filter(|k| k.status != LlmKeyStatus::Deleted && !k.retired)
                .collect::<Vec<_>>();
            if current.is_empty() || current.iter().any(|k| k.status == LlmKeyStatus::Creating) {
                return Err(OpsError::Conflict(format!(
                    "{slug_owned}'s key is still being made; rotate it once it exists"
                )));
            }
            if current.iter().all(|k| k.rotating) {
                return Ok(());
            }
            rows::mark_rotating(tx, client.client_id)?;
            let labels: Vec<&str> = current.iter().map(|k| k.label.as_str()).collect();
            audit::record(
                tx,
                &actor,
                "llm.rotate",
                &slug_owned,
                Some(&slug_owned),
                json!({ "replacing": labels }),
            )?;
            Ok(())
        })
        .await?;
        self.wake();
        self.llm_status(slug).await
    }

    /// Sets (or with `use_plan` drops) the client's own budget; the worker
    /// then patches the key's limit.
    pub async fn set_llm_budget(
        &self,
        actor: &Actor,
        slug: &str,
        input: LlmBudgetInput,
    ) -> Result<LlmKeyView, OpsError> {
        let budget = if input.use_plan {
            if input.limit_usd.is_some() || input.limit_reset.is_some() {
                return Err(OpsError::Refused(
                    "use_plan cannot be given with limit_usd or limit_reset".into(),
                ));
            }
            None
        } else {
            Some(budget_from(input.limit_usd, input.limit_reset.as_deref())?)
        };
        let (slug_owned, actor) = (slug.to_owned(), actor.clone());
        self.write(move |tx| {
            let client = clients::get(tx, &slug_owned)?;
            let before = rows::budget_override(tx, client.id)?;
            rows::set_budget_override(tx, client.id, budget.as_ref())?;
            audit::record(
                tx,
                &actor,
                "llm.budget",
                &slug_owned,
                Some(&slug_owned),
                json!({ "before": before, "after": budget }),
            )?;
            Ok(())
        })
        .await?;
        self.wake();
        self.llm_status(slug).await
    }

    pub async fn plan_llm(&self, plan: &str) -> Result<PlanLlm, OpsError> {
        let plan = plan.to_owned();
        Ok(self.store.read(move |c| rows::plan_llm(c, &plan)).await?)
    }

    /// Replaces a plan's LLM settings; every key of the plan follows (a
    /// new budget is patched onto each, a plan that drops LLM deletes them).
    pub async fn set_plan_llm(
        &self,
        actor: &Actor,
        plan: &str,
        input: PlanLlmInput,
    ) -> Result<PlanLlm, OpsError> {
        let after = PlanLlm {
            enabled: input.enabled,
            budget: budget_from(input.limit_usd, input.limit_reset.as_deref())?,
        };
        let (plan, actor) = (plan.to_owned(), actor.clone());
        let stored = self
            .write(move |tx| {
                let before = rows::plan_llm(tx, &plan)?;
                rows::set_plan_llm(tx, &plan, &after)?;
                audit::record(
                    tx,
                    &actor,
                    "plan.llm",
                    &plan,
                    None,
                    json!({ "before": before, "after": after }),
                )?;
                Ok(after)
            })
            .await?;
        self.wake();
        Ok(stored)
    }

    pub async fn llm_overview(&self) -> Result<LlmOverview, OpsError> {
        let provider = self.provider();
        Ok(self
            .store
            .read(move |conn| {
                let account = rows::provider_state(conn)?;
                let clients = rows::planning_input(conn)?;
                Ok(overview(provider, account, &clients))
            })
            .await?)
    }
}

pub(super) fn client_llm(conn: &Conn, slug: &str) -> Result<ClientLlm, StoreError> {
    let client = clients::get(conn, slug)?;
    Ok(ClientLlm {
        client_id: client.id,
        slug: client.slug,
        status: client.status,
        plan: rows::plan_llm(conn, &client.plan)?,
        budget_override: rows::budget_override(conn, client.id)?,
        deleting: false,
        keys: rows::client_keys(conn, client.id)?,
        live: rows::live_keys(conn)?
            .remove(&client.id)
            .unwrap_or_default(),
    })
}

/// Each client's current spend and limit for `/metrics`.
impl Ops {
    pub async fn llm_gauges(&self) -> Result<Vec<(String, f64, Option<f64>)>, OpsError> {
        Ok(self
            .llm_statuses()
            .await?
            .into_iter()
            .filter_map(|v| {
                let spend = v.usage_monthly_usd.or(v.usage_usd)?;
                Some((v.client, spend, v.budget.limit_usd))
            })
            .collect())
    }
}
