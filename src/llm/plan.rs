//! Decides what to do with every client's keys: pure, like the container
//! reconciler's `plan`. A client whose plan includes an LLM key (and that is
//! not being deleted) has exactly one current key, enabled while the client
//! is active, with the client's budget; every other key it has is deleted.

use crate::domain::llm::LlmBudget;
use crate::domain::{ClientStatus, LlmKeyStatus};
use crate::llm::provider::KeyChange;
use crate::store::llm::{ClientLlm, KeyRow};

#[derive(Debug, Clone, PartialEq)]
pub enum KeyAction {
    /// Write a row for a new key, then make it at the provider.
    Create {
        client_id: i64,
        slug: String,
        budget: LlmBudget,
    },
    /// A row whose create was never confirmed: look for its key by label,
    /// adopt or delete what is found, make it if nothing is.
    Resume {
        key_id: i64,
        slug: String,
        budget: LlmBudget,
    },
    /// Enable, disable or re-budget a key; the row records the result.
    Update {
        key_id: i64,
        change: KeyChange,
        status: LlmKeyStatus,
        budget: LlmBudget,
    },
    /// Delete the key at the provider (marking it retired first).
    Delete { key_id: i64 },
}

impl KeyAction {
    pub fn key_id(&self) -> Option<i64> {
        match self {
            KeyAction::Create { .. } => None,
            KeyAction::Resume { key_id, .. }
            | KeyAction::Update { key_id, .. }
            | KeyAction::Delete { key_id } => Some(*key_id),
        }
    }
}

/// `now` is RFC 3339 UTC like the rows' `next_retry_at`: a key whose retry
/// time is later is left alone this time (but still counts as there).
pub fn plan(clients: &[ClientLlm], provider_on: bool, now: &str) -> Vec<KeyAction> {
    let mut actions = Vec::new();
    for client in clients {
        plan_client(client, provider_on, &mut actions);
    }
    actions.retain(|a| {
        a.key_id().is_none_or(|id| {
            let row = clients.iter().flat_map(|c| &c.keys).find(|k| k.id == id);
            row.is_none_or(|k| due(k, now))
        })
    });
    actions
}

fn due(key: &KeyRow, now: &str) -> bool {
    key.next_retry_at.as_deref().is_none_or(|t| t <= now)
}

fn exists(key: &KeyRow) -> bool {
    key.status != LlmKeyStatus::Deleted
}

fn plan_client(c: &ClientLlm, provider_on: bool, out: &mut Vec<KeyAction>) {
    let delete =
        |k: &KeyRow, out: &mut Vec<KeyAction>| out.push(KeyAction::Delete { key_id: k.id });
    // Without a provider nothing can be asked; keys wait where they are.
    if !provider_on {
        return;
    }
    let wanted = c.plan.enabled && !c.deleting;
    let (live, retired): (Vec<&KeyRow>, Vec<&KeyRow>) = c
        .keys
        .iter()
        .filter(|k| exists(k))
        .partition(|k| !k.retired);
    for key in retired {
        delete(key, out);
    }
    if !wanted {
        for key in live {
            delete(key, out);
        }
        return;
    }
    // The newest key not being replaced is the current one; an older one
    // (two rows left by an interrupted rotation) goes.
    let mut current: Vec<&KeyRow> = live.iter().copied().filter(|k| !k.rotating).collect();
    let newest = current.pop();
    for extra in current {
        delete(extra, out);
    }
    let budget = c.budget();
    let Some(key) = newest else {
        out.push(KeyAction::Create {
            client_id: c.client_id,
            slug: c.slug.clone(),
            budget,
        });
        return;
    };
    if key.status == LlmKeyStatus::Creating {
        out.push(KeyAction::Resume {
            key_id: key.id,
            slug: c.slug.clone(),
            budget,
        });
        return;
    }
    // The replacement exists: the keys it replaces go once every running
    // instance that injects the key is healthy with the new one. Until then
    // a recreate that failed can still fall back on the old key.
    let handed_over = c.live.iter().all(|k| *k == Some(key.id));
    if handed_over {
        for old in live.iter().filter(|k| k.rotating) {
            delete(old, out);
        }
    }
    let want_disabled = c.status == ClientStatus::Suspended;
    let is_disabled = key.status == LlmKeyStatus::Disabled;
    let change = KeyChange {
        disabled: (want_disabled != is_disabled).then_some(want_disabled),
        budget: (key.budget != budget).then_some(budget),
    };
    if change != KeyChange::default() {
        out.push(KeyAction::Update {
            key_id: key.id,
            change,
            status: if want_disabled {
                LlmKeyStatus::Disabled
            } else {
                LlmKeyStatus::Active
            },
            budget,
        });
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
