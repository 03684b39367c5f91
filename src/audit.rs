//! Who did what, when, from where. Every mutating operation records one
//! entry inside the same transaction as its change, so an action and its
//! audit entry land together or not at all.

use rusqlite::Connection;
use serde::Serialize;

use crate::store::{audit as rows, NewAuditEntry, StoreError};

/// The one doing an operation: a signed-in user, an API token, the CLI or
/// a client's user in the portal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    pub name: String,
    pub ip: Option<String>,
}

impl Actor {
    pub fn cli() -> Self {
        Self {
            name: "cli".into(),
            ip: None,
        }
    }

    pub fn token(name: &str, ip: Option<String>) -> Self {
        Self {
            name: format!("token:{name}"),
            ip,
        }
    }

    pub fn user(name: &str, ip: Option<String>) -> Self {
        Self {
            name: format!("user:{name}"),
            ip,
        }
    }

    /// A client's user in the portal: `client:{slug}:{email}`, so the
    /// log tells which client acted and who of them.
    pub fn client_user(email: &str, client_slug: &str, ip: Option<String>) -> Self {
        Self {
            name: format!("client:{client_slug}:{email}"),
            ip,
        }
    }

    /// Changes berth makes on its own (retention, pruning).
    pub fn system() -> Self {
        Self {
            name: "system".into(),
            ip: None,
        }
    }
}

/// Records one entry. `details` must never hold secrets: callers pass field
/// names and non-secret values only.
pub fn record(
    conn: &Connection,
    actor: &Actor,
    action: &str,
    target: &str,
    client_slug: Option<&str>,
    details: serde_json::Value,
) -> Result<(), StoreError> {
    rows::insert(
        conn,
        &NewAuditEntry {
            actor: &actor.name,
            action,
            target,
            client_slug,
            details,
            ip: actor.ip.as_deref(),
        },
    )
}

/// Deletes entries older than `before` (an RFC 3339 UTC time) and records
/// the pruning when it removed anything, so a gap in the log is explained
/// by the log; returns how many went.
pub fn prune(conn: &Connection, actor: &Actor, before: &str) -> Result<usize, StoreError> {
    let removed = rows::prune(conn, before)?;
    if removed > 0 {
        record(
            conn,
            actor,
            "audit.prune",
            "audit_log",
            None,
            serde_json::json!({ "removed": removed, "before": before }),
        )?;
    }
    Ok(removed)
}
