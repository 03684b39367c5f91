//! `[updates] check_schedule`: the update check fired by the backup worker's
//! scheduler (the one cron ticker berth has). The check runs in its own task
//! so a slow registry never delays the next tick's backups, and at most one
//! runs at a time. Each image whose pull failed is logged, audited with the
//! check and sent to the failure webhook.

use std::sync::atomic::Ordering;

use serde_json::json;

use super::Runner;
use crate::audit::{self, Actor};
use crate::domain::schedule;
use crate::updates::Scope;

impl Runner {
    /// Starts the update check if its schedule fired in (after, now].
    pub(super) fn fire_update_check(
        &self,
        after: chrono::DateTime<chrono::Utc>,
        now: chrono::DateTime<chrono::Utc>,
    ) {
        let Ok(Some(cron)) = schedule::parse_optional(&self.config.updates.check_schedule) else {
            return;
        };
        if !schedule::fired(&cron, after, now) {
            return;
        }
        if self.checking.swap(true, Ordering::AcqRel) {
            tracing::info!("scheduled update check skipped: the previous one still runs");
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            me.scheduled_update_check().await;
            me.checking.store(false, Ordering::Release);
        });
    }

    async fn scheduled_update_check(&self) {
        let checked = crate::updates::check(
            &self.store,
            &self.config,
            &self.blueprints,
            &self.docker,
            &Scope::default(),
        )
        .await;
        let rows = match checked {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "scheduled update check not recorded");
                return;
            }
        };
        let failed: Vec<_> = rows.iter().filter(|r| r.error.is_some()).collect();
        tracing::info!(
            images = rows.len(),
            failed = failed.len(),
            "scheduled update check done"
        );
        let summary = json!({
            "scheduled": true,
            "images": rows.iter().map(|r| &r.image).collect::<Vec<_>>(),
            "errors": failed.iter().map(|r| json!({ "image": r.image, "error": r.error })).collect::<Vec<_>>(),
        });
        let audited = self
            .store
            .call(move |c| {
                audit::record(
                    c,
                    &Actor::system(),
                    "updates.check",
                    "updates",
                    None,
                    summary,
                )
            })
            .await;
        if let Err(e) = audited {
            tracing::warn!(error = %e, "scheduled update check not audited");
        }
        for r in failed {
            let error = r.error.as_deref().unwrap_or_default();
            tracing::warn!(blueprint = %r.blueprint, image = %r.image, %error, "scheduled update check failed");
            let body = json!({
                "event": "update_check_failed",
                "blueprint": r.blueprint,
                "image": r.image,
                "error": r.error,
            });
            self.post_failure("update_check_failed", body).await;
        }
    }
}
