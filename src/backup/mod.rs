//! Backups of instance data directories: archived consistently, checksummed,
//! verified, pruned and restorable.
//!
//! Requests (API, CLI, UI) only queue rows in the store through
//! [`crate::ops`]; a [`Runner`] claims them and does the work. The daemon's
//! [`worker`] runs one for queued jobs and the schedule; `berth backup run`
//! runs one in the CLI process for a system cron. The runner is a worker
//! with its own handles (store, config, blueprints, wake-up), not an `Ops`,
//! and talks to the filesystem, never to Caddy.
//!
//! The one named exception to "only the reconciler changes containers":
//! backup pauses, stops, starts and execs in a tenant's container itself,
//! through one narrow handle, [`Hold`]. Consistency needs the tenant still
//! at a moment the runner chooses and only for as long as the archive
//! takes; while it stops a container or swaps its data it holds the
//! instance in the store, and the reconciler leaves held instances alone
//! (`store::backup_jobs::held`).
//!
//! - [`archive`]: tar + zstd (multi-threaded) + sha256, `.partial` → rename;
//!   `unpack` reads one back without following links.
//! - [`manifest`]: finds the sidecar JSON ([`crate::domain::Manifest`]) that
//!   keeps archives restorable without the database.
//! - [`verify`]: sha256, tar structure and SQLite integrity_check.
//! - [`retention`]: pure GFS selection. Cron parsing and what is due:
//!   [`crate::domain::schedule`].
//! - `run` (a backup job; `freeze` holds a `pause` tenant still only while
//!   a [`snapshot`] staging copy catches up), `restore` (in place with rollback, or a clone),
//!   `recover` (settles a restore a crash cut off), [`worker`]; `hold`: the
//!   Docker calls above.

pub mod archive;
pub mod bundle;
mod decompress;
mod freeze;
mod hold;
pub mod job_pool;
pub mod manifest;
pub mod mirror;
pub(crate) mod prune;
mod recover;
mod restore;
pub mod retention;
mod run;
mod scheduled_check;
pub mod snapshot;
mod unpack;
pub mod verify;
mod walk;
pub mod worker;

use std::path::PathBuf;
use std::sync::Arc;

pub use hold::Hold;
pub use prune::prune;

use tokio::sync::Notify;

use crate::blueprint::Blueprints;
use crate::config::Config;
use crate::docker::Docker;
use crate::store::Store;

/// Does queued backup, verify and restore jobs. Cheap to clone.
///
/// A worker with its own handles (built in `app.rs`, or by `berth backup
/// run` for its own process), not an [`crate::ops::Ops`]: it writes the rows
/// of the jobs it runs and reaches the tenant's container only through
/// [`Hold`].
#[derive(Clone)]
pub struct Runner {
    store: Store,
    config: Arc<Config>,
    blueprints: Arc<Blueprints>,
    tenant: Hold,
    wake: Arc<Notify>,
    http: reqwest::Client,
    /// For the scheduled update check's pulls (the hold has its own handle).
    docker: Docker,
    /// Set while a scheduled update check runs: a slow registry never
    /// stacks one check on another.
    checking: Arc<std::sync::atomic::AtomicBool>,
}

impl Runner {
    pub fn new(
        store: Store,
        config: Arc<Config>,
        blueprints: Arc<Blueprints>,
        docker: Docker,
        wake: Arc<Notify>,
    ) -> Self {
        let http = crate::tls::client_builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            tenant: Hold::new(docker.clone(), store.clone()),
            docker,
            checking: Arc::default(),
            store,
            config,
            blueprints,
            wake,
            http,
        }
    }

    /// Tells the reconciler an instance may need it (a container started
    /// again, a hold given back, a restored clone to start).
    fn wake(&self) {
        self.wake.notify_one();
    }

    fn backup_root(&self) -> PathBuf {
        self.config.backup_dir()
    }

    /// Tells the operator's webhook (if any) that something failed. Never fails itself.
    pub(crate) async fn notify_failure(&self, event: &str, id: i64, instance: &str, error: &str) {
        let body =
            serde_json::json!({ "event": event, "id": id, "instance": instance, "error": error });
        self.post_failure(event, body).await;
    }

    /// POSTs `body` to the failure webhook, if one is configured.
    pub(crate) async fn post_failure(&self, event: &str, body: serde_json::Value) {
        let Some(url) = self.config.backup.failure_webhook.clone() else {
            return;
        };
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
