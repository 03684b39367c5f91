//! What a client's LLM key and the provider overview look like to the front
//! ends, built from the store's rows. Nothing here carries a plaintext key:
//! the rows' encrypted secret is never copied into a view.

use serde::Serialize;

use crate::domain::llm::spend_warning;
use crate::domain::llm::LlmBudget;
use crate::domain::{LlmKeyStatus, LlmProvider, SpendWarning};
use crate::store::llm::{ClientLlm, KeyRow, ProviderState, SpendPoint};

/// A client's LLM key. `sync` says whether the provider matches what berth
/// wants: "ok", "pending" (work queued) or "retrying" (the last try failed:
/// see `error` and `retry_at`); "off" when the client gets no key.
#[derive(Debug, Clone, Serialize)]
pub struct LlmKeyView {
    pub client: String,
    pub provider: Option<LlmProvider>,
    /// The current key's status; None when it has none (yet).
    pub status: Option<LlmKeyStatus>,
    pub sync: &'static str,
    pub label: Option<String>,
    pub key_hint: Option<String>,
    pub budget: LlmBudget,
    /// "plan" or "client" (an override).
    pub budget_source: &'static str,
    pub usage_usd: Option<f64>,
    pub usage_monthly_usd: Option<f64>,
    pub limit_remaining_usd: Option<f64>,
    /// Past 80 % of the key's limit, or at it (as last polled).
    pub warning: Option<SpendWarning>,
    pub polled_at: Option<String>,
    pub error: Option<String>,
    pub retry_at: Option<String>,
    pub rotating: bool,
    /// Every key the client has had that still has a row, oldest first.
    pub keys: Vec<KeySummary>,
    /// Spend over the last month (empty in lists).
    pub spend: Vec<SpendPoint>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeySummary {
    pub label: String,
    pub status: LlmKeyStatus,
    pub rotating: bool,
    pub retired: bool,
    pub error: String,
    pub created_at: String,
}

/// The provider and every key at a glance.
#[derive(Debug, Clone, Serialize)]
pub struct LlmOverview {
    pub provider: Option<LlmProvider>,
    pub account: ProviderState,
    /// Credits minus usage (OpenRouter), when polled.
    pub credits_left: Option<f64>,
    pub keys_by_status: Vec<(LlmKeyStatus, usize)>,
    /// Keys whose last provider call failed.
    pub failing: usize,
    pub spend_usd: f64,
    /// Clients past 80 % of their key's limit, or at it.
    pub near_limit: Vec<Spender>,
    /// The biggest spenders this month, with their limits.
    pub top: Vec<Spender>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Spender {
    pub client: String,
    pub usage_monthly_usd: f64,
    pub limit_usd: Option<f64>,
    pub warning: Option<SpendWarning>,
}

/// The key that serves the client: the newest one not on its way out and
/// made; during a rotation, the one being replaced until its successor is.
pub(super) fn current(c: &ClientLlm) -> Option<&KeyRow> {
    let live: Vec<&KeyRow> = c
        .keys
        .iter()
        .filter(|k| k.status != LlmKeyStatus::Deleted && !k.retired)
        .collect();
    live.iter()
        .rev()
        .find(|k| !k.rotating && k.status != LlmKeyStatus::Creating)
        .or_else(|| live.iter().rev().find(|k| k.rotating))
        .or_else(|| live.last())
        .copied()
}

fn warning(key: &KeyRow) -> Option<SpendWarning> {
    spend_warning(
        key.budget.limit_usd,
        key.limit_remaining_usd,
        key.usage_monthly_usd.or(key.usage_usd),
    )
}

pub(super) fn key_view(c: &ClientLlm, provider: Option<LlmProvider>) -> LlmKeyView {
    let key = current(c);
    let failing = c
        .keys
        .iter()
        .find(|k| k.status != LlmKeyStatus::Deleted && !k.last_error.is_empty());
    // "pending" exactly when the worker's planner has work for this client.
    let far = "9999-12-31T00:00:00Z";
    let pending =
        !crate::llm::plan::plan(std::slice::from_ref(c), provider.is_some(), far).is_empty();
    let sync = match (failing, pending) {
        (Some(_), _) => "retrying",
        (None, true) => "pending",
        (None, false) if provider.is_none() || !c.plan.enabled => "off",
        (None, false) => "ok",
    };
    LlmKeyView {
        client: c.slug.clone(),
        provider,
        status: key.map(|k| k.status),
        sync,
        label: key.map(|k| k.label.clone()),
        key_hint: key.map(|k| k.key_hint.clone()).filter(|h| !h.is_empty()),
        budget: c.budget(),
        budget_source: if c.budget_override.is_some() {
            "client"
        } else {
            "plan"
        },
        usage_usd: key.and_then(|k| k.usage_usd),
        usage_monthly_usd: key.and_then(|k| k.usage_monthly_usd),
        limit_remaining_usd: key.and_then(|k| k.limit_remaining_usd),
        warning: key.and_then(warning),
        polled_at: key.and_then(|k| k.polled_at.clone()),
        error: failing.map(|k| k.last_error.clone()),
        retry_at: failing.and_then(|k| k.next_retry_at.clone()),
        rotating: c
            .keys
            .iter()
            .any(|k| k.rotating && k.status != LlmKeyStatus::Deleted),
        keys: c
            .keys
            .iter()
            .map(|k| KeySummary {
                label: k.label.clone(),
                status: k.status,
                rotating: k.rotating,
                retired: k.retired,
                error: k.last_error.clone(),
                created_at: k.created_at.clone(),
            })
            .collect(),
        spend: Vec::new(),
    }
}

pub(super) fn overview(
    provider: Option<LlmProvider>,
    account: ProviderState,
    clients: &[ClientLlm],
) -> LlmOverview {
    let keys: Vec<&KeyRow> = clients.iter().flat_map(|c| &c.keys).collect();
    let keys_by_status = LlmKeyStatus::ALL
        .iter()
        .map(|s| (*s, keys.iter().filter(|k| k.status == *s).count()))
        .filter(|(_, n)| *n > 0)
        .collect();
    let mut top: Vec<Spender> = clients
        .iter()
        .filter_map(|c| {
            let key = current(c)?;
            Some(Spender {
                client: c.slug.clone(),
                usage_monthly_usd: key.usage_monthly_usd.or(key.usage_usd)?,
                limit_usd: key.budget.limit_usd,
                warning: warning(key),
            })
        })
        .collect();
    top.sort_by(|a, b| b.usage_monthly_usd.total_cmp(&a.usage_monthly_usd));
    let spend_usd = top.iter().map(|s| s.usage_monthly_usd).sum();
    let near_limit = top
        .iter()
        .filter(|s| s.warning.is_some())
        .cloned()
        .collect();
    top.truncate(10);
    LlmOverview {
        provider,
        credits_left: account
            .total_credits
            .zip(account.total_usage)
            .map(|(c, u)| c - u),
        account,
        keys_by_status,
        failing: keys
            .iter()
            .filter(|k| k.status != LlmKeyStatus::Deleted && !k.last_error.is_empty())
            .count(),
        spend_usd,
        top,
        near_limit,
    }
}

/// A client's LLM spend against its budget over a usage range: what the
/// usage pages, `berth usage show` and the portal show. No label, hint or
/// provider error: the portal shows this to the client as it is.
#[derive(Debug, Clone, Serialize)]
pub struct LlmUsage {
    pub budget: LlmBudget,
    /// Spent in the current budget period (as last polled).
    pub spent_usd: Option<f64>,
    pub warning: Option<SpendWarning>,
    pub polled_at: Option<String>,
    /// The series over the range (all the client's keys added up).
    pub spend: Vec<SpendPoint>,
}

/// `None` when the client's plan includes no key and it never had one.
pub(super) fn llm_usage(c: &ClientLlm, spend: Vec<SpendPoint>) -> Option<LlmUsage> {
    if !c.plan.enabled && c.keys.is_empty() {
        return None;
    }
    let key = current(c);
    Some(LlmUsage {
        budget: c.budget(),
        spent_usd: key.and_then(|k| match (k.budget.limit_usd, k.limit_remaining_usd) {
            (Some(limit), Some(left)) => Some(limit - left),
            _ => k.usage_monthly_usd.or(k.usage_usd),
        }),
        warning: key.and_then(warning),
        polled_at: key.and_then(|k| k.polled_at.clone()),
        spend,
    })
}
