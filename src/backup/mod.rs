//! Backups of instance data directories: archived consistently, checksummed,
//! verified, pruned and restorable.
//!
//! Requests (API, CLI, UI, schedule) only queue rows in the store through
//! [`crate::ops`]; a [`Runner`] claims them and does the work. The daemon's
//! [`worker`] runs one for queued jobs and the schedule; `berth backup run`
//! runs one in the CLI process for a system cron. Like the reconciler, the
//! runner is an infrastructure worker: it talks to Docker (pause, stop,
//! exec, start) and to the filesystem, never to Caddy.
//!
//! - [`archive`]: tar + zstd (multi-threaded) + sha256, `.partial` → rename;
//!   `unpack` reads one back without following links.
//! - [`manifest`]: finds the sidecar JSON ([`crate::domain::Manifest`]) that
//!   keeps archives restorable without the database.
//! - [`verify`]: sha256, tar structure and SQLite integrity_check.
//! - [`retention`]: pure GFS selection. Cron parsing and what is due:
//!   [`crate::domain::schedule`].
//! - `run` (a backup job), `restore` (in place with rollback, or a clone),
//!   `recover` (settles a restore a crash cut off), [`worker`].

pub mod archive;
pub mod manifest;
mod prune;
mod recover;
mod restore;
pub mod retention;
mod run;
mod unpack;
pub mod verify;
pub mod worker;

use std::path::PathBuf;
use std::sync::Arc;

pub use prune::prune;

use crate::docker::Docker;
use crate::ops::Ops;
use crate::store::{backup_jobs, StoreError};

/// Does queued backup, verify and restore jobs. Cheap to clone.
#[derive(Clone)]
pub struct Runner {
    pub(crate) ops: Ops,
    pub(crate) docker: Docker,
    pub(crate) http: reqwest::Client,
    pid: u32,
}

impl Runner {
    pub fn new(ops: Ops, docker: Docker) -> Self {
        let http = crate::tls::client_builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            ops,
            docker,
            http,
            pid: std::process::id(),
        }
    }

    /// Takes this process's hold on the instance, so the reconciler leaves
    /// its container and data alone while `reason` works on them.
    async fn hold(&self, instance_id: i64, reason: &'static str) -> Result<(), StoreError> {
        let pid = self.pid;
        self.ops
            .store
            .call(move |c| backup_jobs::hold(c, instance_id, reason, pid))
            .await
    }

    /// Gives the hold back. A failure is ignored: the hold names this
    /// process, and the recovery sweep drops holds of a process that is gone.
    async fn release(&self, instance_id: i64) {
        let pid = self.pid;
        let _ = self
            .ops
            .store
            .call(move |c| backup_jobs::release(c, instance_id, pid))
            .await;
    }

    fn backup_root(&self) -> PathBuf {
        self.ops.config.backup_dir()
    }

    /// Tells the operator's webhook (if any) that something failed. Never fails itself.
    pub(crate) async fn notify_failure(&self, event: &str, id: i64, instance: &str, error: &str) {
        let Some(url) = self.ops.config.backup.failure_webhook.clone() else {
            return;
        };
        let body =
            serde_json::json!({ "event": event, "id": id, "instance": instance, "error": error });
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

/// Runs blocking work (tar, zstd, directory walks) off the runtime.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("task failed: {e}"))?
}

/// Keeps the Arc'd progress counter type in one place.
pub(crate) type Progress = Arc<std::sync::atomic::AtomicU64>;
