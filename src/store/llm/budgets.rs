//! A plan's LLM settings (columns of `plans`) and a client's own budget.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::domain::llm::LlmBudget;
use crate::store::{now, StoreError};

/// Whether a plan's clients get a key, and its budget.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PlanLlm {
    pub enabled: bool,
    #[serde(flatten)]
    pub budget: LlmBudget,
}

pub fn plan_llm(conn: &Connection, plan: &str) -> Result<PlanLlm, StoreError> {
    conn.query_row(
        "SELECT llm_enabled, llm_limit_usd, llm_limit_reset FROM plans WHERE name = ?1",
        [plan],
        |r| {
            Ok(PlanLlm {
                enabled: r.get(0)?,
                budget: LlmBudget {
                    limit_usd: r.get(1)?,
                    limit_reset: r.get(2)?,
                },
            })
        },
    )
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("plan {plan} not found")))
}

pub fn set_plan_llm(conn: &Connection, plan: &str, llm: &PlanLlm) -> Result<(), StoreError> {
    let changed = conn.execute(
        "UPDATE plans SET llm_enabled = ?2, llm_limit_usd = ?3, llm_limit_reset = ?4 WHERE name = ?1",
        params![plan, llm.enabled, llm.budget.limit_usd, llm.budget.limit_reset],
    )?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("plan {plan} not found")));
    }
    Ok(())
}

/// A client's own budget (None: the plan's).
pub fn budget_override(conn: &Connection, client_id: i64) -> Result<Option<LlmBudget>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT limit_usd, limit_reset FROM llm_budget_overrides WHERE client_id = ?1",
            [client_id],
            |r| {
                Ok(LlmBudget {
                    limit_usd: r.get(0)?,
                    limit_reset: r.get(1)?,
                })
            },
        )
        .optional()?)
}

pub fn set_budget_override(
    conn: &Connection,
    client_id: i64,
    budget: Option<&LlmBudget>,
) -> Result<(), StoreError> {
    match budget {
        None => conn.execute(
            "DELETE FROM llm_budget_overrides WHERE client_id = ?1",
            [client_id],
        )?,
        Some(b) => conn.execute(
            "INSERT INTO llm_budget_overrides (client_id, limit_usd, limit_reset, updated_at)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (client_id) DO UPDATE
             SET limit_usd = ?2, limit_reset = ?3, updated_at = ?4",
            params![client_id, b.limit_usd, b.limit_reset, now()],
        )?,
    };
    Ok(())
}
