use serde_json::json;

use super::{Ops, OpsError};
use crate::audit::{self, Actor};
use crate::store::{audit as rows, users, AuditEntry, AuditFilter};

impl Ops {
    pub async fn query_audit(&self, filter: AuditFilter) -> Result<Vec<AuditEntry>, OpsError> {
        Ok(self
            .store
            .call(move |conn| rows::query(conn, &filter))
            .await?)
    }

    /// Deletes audit entries older than the configured retention and stale
    /// login failures. The pruning itself is recorded (when it removed
    /// anything), so a gap in the log is explained by the log.
    pub async fn prune_audit(&self, actor: &Actor) -> Result<usize, OpsError> {
        let now = time::OffsetDateTime::now_utc();
        // Whole seconds, like the stored timestamps, so string order is time order.
        let fmt = |t: time::OffsetDateTime| {
            t.replace_nanosecond(0)
                .unwrap_or(t)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        };
        // A retention longer than the calendar (e.g. "100000y") keeps everything.
        let ago = |d: std::time::Duration| {
            time::Duration::try_from(d)
                .ok()
                .and_then(|d| now.checked_sub(d))
                .map_or_else(|| "0000".to_owned(), fmt)
        };
        let before = ago(self.config.audit.retention);
        let failures_before = ago(self.login_gate().window());
        let actor = actor.clone();
        self.write(move |tx| {
            let removed = rows::prune(tx, &before)?;
            users::prune_failures(tx, &failures_before)?;
            if removed > 0 {
                audit::record(
                    tx,
                    &actor,
                    "audit.prune",
                    "audit_log",
                    None,
                    json!({ "removed": removed, "before": before }),
                )?;
            }
            Ok(removed)
        })
        .await
    }
}
