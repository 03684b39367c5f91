//! LLM keys: the plan's budget columns, a client's budget override
//! ([`budgets`]), one row per key berth made at the provider ([`keys`]),
//! the spend series and the account's credits ([`spend`]), and the view of
//! every client the key worker plans from.

mod budgets;
mod inject;
mod keys;
mod spend;
mod warnings;

use rusqlite::Connection;

pub use budgets::{budget_override, plan_llm, set_budget_override, set_plan_llm, PlanLlm};
pub use inject::{
    admin, admins, forget_admin, insert_admin, live_keys, mark_revealed, record_injections,
    AdminRow, Audience, KeySeen,
};
pub use keys::{
    all_keys, client_keys, deleted_labels, get_key, insert_creating, mark_rotating, record_created,
    record_failure, record_synced, retire, undeleted_labels, Created, KeyRow,
};
pub use spend::{
    monthly_spend, provider_state, record_provider_poll, record_usage, spend_between, spend_series,
    ProviderState, SpendPoint, Usage,
};
pub use warnings::{new_alerts, SpendAlert};

use super::StoreError;
use crate::domain::llm::LlmBudget;
use crate::domain::ClientStatus;

/// One client as the key planner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientLlm {
    pub client_id: i64,
    pub slug: String,
    pub status: ClientStatus,
    pub plan: PlanLlm,
    pub budget_override: Option<LlmBudget>,
    /// A confirmed delete of the whole client is under way.
    pub deleting: bool,
    pub keys: Vec<KeyRow>,
    /// The key each of its running instances that injects one was last
    /// seen healthy with (`None`: not yet healthy with any).
    pub live: Vec<Option<i64>>,
}

impl ClientLlm {
    /// The budget its key should have: its own, else its plan's.
    pub fn budget(&self) -> LlmBudget {
        self.budget_override.unwrap_or(self.plan.budget)
    }
}

/// Every client with its plan's LLM settings and its key rows: what the key
/// worker plans from.
pub fn planning_input(conn: &Connection) -> Result<Vec<ClientLlm>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.id, c.slug, c.status, p.llm_enabled, p.llm_limit_usd, p.llm_limit_reset,
            o.client_id IS NOT NULL, o.limit_usd, o.limit_reset,
            EXISTS (SELECT 1 FROM deletions d WHERE d.client_id = c.id AND d.whole_client = 1
                    AND d.status IN ('pending', 'running'))
         FROM clients c JOIN plans p ON p.id = c.plan_id
         LEFT JOIN llm_budget_overrides o ON o.client_id = c.id ORDER BY c.id",
    )?;
    let mut clients: Vec<ClientLlm> = stmt
        .query_map([], |r| {
            Ok(ClientLlm {
                client_id: r.get(0)?,
                slug: r.get(1)?,
                status: r.get(2)?,
                plan: PlanLlm {
                    enabled: r.get(3)?,
                    budget: LlmBudget {
                        limit_usd: r.get(4)?,
                        limit_reset: r.get(5)?,
                    },
                },
                budget_override: if r.get::<_, bool>(6)? {
                    Some(LlmBudget {
                        limit_usd: r.get(7)?,
                        limit_reset: r.get(8)?,
                    })
                } else {
                    None
                },
                deleting: r.get(9)?,
                keys: Vec::new(),
                live: Vec::new(),
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut by_client: std::collections::HashMap<i64, Vec<KeyRow>> = Default::default();
    for key in all_keys(conn)? {
        by_client.entry(key.client_id).or_default().push(key);
    }
    let mut live = live_keys(conn)?;
    for client in &mut clients {
        client.keys = by_client.remove(&client.client_id).unwrap_or_default();
        client.live = live.remove(&client.client_id).unwrap_or_default();
    }
    Ok(clients)
}
