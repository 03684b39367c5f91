//! Offsite copies: verified local backups and berth's own state, copied to
//! the `[[offsite]]` restic repositories, and restores back from them.
//!
//! Like backups, requests only queue rows (`offsite_copies`,
//! `offsite_restores`); the [`Worker`] claims them, beside the backup
//! worker and never in its way: its own task, its own concurrency bound
//! (`backup.offsite_concurrency`), reading finished archives only, so a
//! slow storage box delays nothing local. Encryption and deduplication are
//! restic's.
//!
//! - [`restic`]: command lines, JSON lines, exit codes.
//! - [`copy`]: an instance's tar stream (or the state dir) into `restic backup`.
//! - [`download`]: a snapshot back into a local archive; the local restore
//!   (swap with rollback, crash recovery) then puts it in place.
//! - [`state`]: what berth's state copy carries besides the database.
//! - `jobs`: claiming, running and finishing rows; what is due when;
//!   `restore`: a snapshot into a local backup plus a queued local restore.
//! - [`retention`]: which snapshots a forget drops (plan rules, gone
//!   instances); `maintenance`: forget, prune and check runs, and when
//!   they are due; `test_restore`: a snapshot verified in scratch space.

pub mod copy;
pub mod download;
mod jobs;
mod maintenance;
mod pipe;
pub mod restic;
mod restore;
pub mod retention;
pub mod state;
mod test_restore;

use std::sync::Arc;

use crate::config::{Config, OffsiteTarget};
use crate::store::Store;

pub use restic::{Restic, Snapshot};

/// Runs queued offsite copies and restores. Cheap to clone.
#[derive(Clone)]
pub struct Worker {
    store: Store,
    config: Arc<Config>,
    http: reqwest::Client,
    pid: u32,
}

impl Worker {
    pub fn new(store: Store, config: Arc<Config>) -> Self {
        let http = crate::tls::client_builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            store,
            config,
            http,
            pid: std::process::id(),
        }
    }

    fn restic(&self, target: &OffsiteTarget) -> Restic {
        restic_for(&self.config, target)
    }

    /// Tells the operator's failure webhook, as backups do. Never fails itself.
    async fn notify_failure(&self, event: &str, id: i64, target: &str, what: &str, error: &str) {
        let Some(url) = self.config.backup.failure_webhook.clone() else {
            return;
        };
        let body = serde_json::json!({
            "event": event, "id": id, "target": target, "instance": what, "error": error,
        });
        if let Err(e) = self
            .http
            .post(&url)
            .json(&body)
            .send()
            .await
            .and_then(|r| r.error_for_status())
        {
            tracing::warn!(error = %e, event, "failure webhook not delivered");
        }
    }
}

/// The restic a target is driven through, with berth's cache dir.
pub fn restic_for(config: &Config, target: &OffsiteTarget) -> Restic {
    Restic::new(target.clone(), config.offsite_cache_dir())
}
