//! Drives every active rollout: one task per rollout, started when the
//! store shows it pulling or running (ops wake the worker; the CLI writes
//! from another process, so the store is also looked at every second).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use tokio::sync::Notify;

use crate::audit::{self, Actor};
use crate::config::Config;
use crate::docker::Docker;
use crate::domain::{RolloutKind, RolloutStatus, StepState};
use crate::store::rollouts::{self as rows, RolloutRow, StepRow};
use crate::store::{instances, Store, StoreError};

/// How often the store is looked at for work queued by another process.
const POLL: Duration = Duration::from_secs(1);
/// How often pull progress is written to the rollout's message.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

#[derive(Clone)]
pub struct RolloutWorker {
    pub(super) store: Store,
    pub(super) config: Arc<Config>,
    pub(super) docker: Docker,
    /// The reconciler's wake-up: a step's change of desired image is its work.
    pub(super) reconcile: Arc<Notify>,
    wake: Arc<Notify>,
    /// Rollouts with a task driving them now.
    driving: Arc<Mutex<HashSet<i64>>>,
    /// Steps found mid-job at start-up: their backup or restore was cut off
    /// with the last berth, so a failed one is retried once.
    pub(super) retry: Arc<Mutex<HashSet<i64>>>,
}

impl RolloutWorker {
    pub fn new(
        store: Store,
        config: Arc<Config>,
        docker: Docker,
        reconcile: Arc<Notify>,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            config,
            docker,
            reconcile,
            wake,
            driving: Arc::default(),
            retry: Arc::default(),
        }
    }

    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        match self.store.read(interrupted_steps).await {
            Ok(ids) => *lock(&self.retry) = ids,
            Err(e) => tracing::warn!(error = %e, "rollout steps not read at start"),
        }
        tokio::pin!(shutdown);
        loop {
            match self.store.read(rows::active).await {
                Ok(active) => {
                    for r in active {
                        if lock(&self.driving).insert(r.id) {
                            let me = self.clone();
                            tokio::spawn(async move {
                                let id = r.id;
                                if let Err(e) = me.drive(id).await {
                                    tracing::warn!(rollout = id, error = %e, "rollout not driven");
                                }
                                lock(&me.driving).remove(&id);
                                // It may have been resumed meanwhile.
                                me.wake.notify_one();
                            });
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "rollouts not read"),
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = &mut shutdown => break,
            }
        }
        // Tasks still driving are cut off with the runtime; their rows say
        // where they stood and the next start resumes them.
        tracing::info!("rollout worker stopped");
    }

    /// Drives rollout `id` until it is halted or finished.
    async fn drive(&self, id: i64) -> Result<(), StoreError> {
        loop {
            let (r, steps) = self
                .store
                .read(move |c| Ok((rows::get(c, id)?, rows::steps(c, id)?)))
                .await?;
            match r.status {
                RolloutStatus::Pulling => self.pull(&r, &steps).await?,
                RolloutStatus::Running => {
                    let Some(wave) = steps.iter().find(|s| !s.state.is_final()).map(|s| s.wave)
                    else {
                        return self.finish(&r, &steps).await;
                    };
                    let todo = steps
                        .into_iter()
                        .filter(|s| s.wave == wave && !s.state.is_final());
                    // At most `parallel` at once; a step that halts the
                    // rollout keeps the pending ones from starting.
                    let results: Vec<_> = stream::iter(todo.map(|s| self.run_step(&r, s)))
                        .buffer_unordered(self.config.updates.parallel)
                        .collect()
                        .await;
                    for result in results {
                        result?;
                    }
                }
                RolloutStatus::Halted
                | RolloutStatus::Done
                | RolloutStatus::Failed
                | RolloutStatus::Cancelled => return Ok(()),
            }
        }
    }

    /// Pulls every target image of the rollout, with progress in its
    /// message, and records each step's target image ID: the ID the
    /// instance will be pinned to, whatever the tag points at later.
    async fn pull(&self, r: &RolloutRow, steps: &[StepRow]) -> Result<(), StoreError> {
        let id = r.id;
        let mut refs: Vec<&str> = steps
            .iter()
            .filter(|s| !s.state.is_final() && s.to_image_id.is_none())
            .map(|s| s.target_ref.as_str())
            .collect();
        refs.sort_unstable();
        refs.dedup();
        let mut notes = Vec::new();
        for image in refs {
            match self.pull_one(id, image).await {
                Ok((image_id, note)) => {
                    notes.extend(note);
                    let (tag, image, steps) = (r.tag.clone(), image.to_owned(), steps.to_vec());
                    self.store
                        .call(move |c| {
                            for s in steps.iter().filter(|s| s.target_ref == image) {
                                let inst = instances::get(c, s.instance_id).ok();
                                let pin = tag.clone().or(inst.and_then(|i| i.image_tag));
                                rows::set_step_to(c, s.id, pin.as_deref(), &image_id)?;
                            }
                            Ok(())
                        })
                        .await?;
                }
                Err(e) => {
                    let msg = format!("pulling {image} failed: {e}");
                    tracing::warn!(rollout = id, error = %msg, "rollout failed");
                    return self
                        .store
                        .call(move |c| {
                            rows::set_status(c, id, RolloutStatus::Failed, &msg)?;
                            record(c, id, "rollout.failed", "rollouts", None, &msg)
                        })
                        .await;
                }
            }
        }
        // Halted meanwhile: it stays halted (resume continues from here).
        let message = if notes.is_empty() {
            "image pulled".to_owned()
        } else {
            notes.join("; ")
        };
        self.store
            .call(move |c| {
                if rows::get(c, id)?.status == RolloutStatus::Pulling {
                    rows::set_status(c, id, RolloutStatus::Running, &message)?;
                }
                Ok(())
            })
            .await
    }

    /// The pulled image's ID; progress goes to the rollout's message. An
    /// image that cannot be pulled but is on this host (built here, as a
    /// provider without a registry does) is used as it is, with a note
    /// saying so for the rollout's message.
    async fn pull_one(&self, id: i64, image: &str) -> Result<(String, Option<String>), String> {
        let pulled = self.pull_from_registry(id, image).await;
        match pulled {
            Ok(image_id) => Ok((image_id, None)),
            Err(e) => match self.docker.image_id(image).await {
                Ok(Some(local)) => {
                    tracing::warn!(rollout = id, image, error = %e, "pull failed; using the image on this host");
                    let short = local
                        .trim_start_matches("sha256:")
                        .get(..12)
                        .unwrap_or(&local)
                        .to_owned();
                    Ok((
                        local,
                        Some(format!(
                            "{image} not pulled ({e}); using the image on this host ({short})"
                        )),
                    ))
                }
                _ => Err(e),
            },
        }
    }

    async fn pull_from_registry(&self, id: i64, image: &str) -> Result<String, String> {
        let progress = Arc::new(Mutex::new(format!("pulling {image}")));
        let line = progress.clone();
        let owned = image.to_owned();
        let pull = self.docker.pull(image, move |p| {
            *lock(&line) = format!("pulling {owned}: {p}");
        });
        let timeout = self.config.docker.pull_timeout;
        let pull = tokio::time::timeout(timeout, pull);
        tokio::pin!(pull);
        let mut shown = String::new();
        let result = loop {
            tokio::select! {
                r = &mut pull => break r,
                _ = tokio::time::sleep(PROGRESS_EVERY) => {
                    let now = lock(&progress).clone();
                    if now != shown {
                        shown = now.clone();
                        let _ = self.store.call(move |c| rows::set_message(c, id, &now)).await;
                    }
                }
            }
        };
        match result {
            Err(_) => Err(format!(
                "timed out after {} s (docker.pull_timeout)",
                timeout.as_secs()
            )),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(())) => match self.docker.image_id(image).await {
                Ok(Some(id)) => Ok(id),
                Ok(None) => Err("the engine does not have it after the pull".into()),
                Err(e) => Err(e.to_string()),
            },
        }
    }

    /// Every step is final: done when all succeeded (a rollback's step
    /// succeeds by being rolled back), failed otherwise; then old images go.
    async fn finish(&self, r: &RolloutRow, steps: &[StepRow]) -> Result<(), StoreError> {
        let good = |s: &StepRow| match r.kind {
            RolloutKind::Update => s.state == StepState::Succeeded,
            RolloutKind::Rollback => s.state == StepState::RolledBack,
        };
        let ok = steps.iter().filter(|s| good(s)).count();
        let (status, msg) = if ok == steps.len() {
            (RolloutStatus::Done, format!("{ok} of {} done", steps.len()))
        } else {
            let count = |st: StepState| steps.iter().filter(|s| s.state == st).count();
            (
                RolloutStatus::Failed,
                format!(
                    "{ok} of {} done, {} rolled back, {} failed",
                    steps.len(),
                    count(StepState::RolledBack),
                    count(StepState::Failed)
                ),
            )
        };
        let id = r.id;
        let m = msg.clone();
        self.store
            .call(move |c| {
                rows::set_status(c, id, status, &m)?;
                record(c, id, "rollout.finish", "rollouts", None, &m)
            })
            .await?;
        tracing::info!(rollout = id, %status, %msg, "rollout finished");
        if self.config.updates.remove_old_images {
            self.remove_old_images().await;
        }
        Ok(())
    }
}

/// Steps that were waiting on a backup or restore when berth stopped.
fn interrupted_steps(conn: &crate::store::Conn) -> Result<HashSet<i64>, StoreError> {
    let mut out = HashSet::new();
    for r in rows::active(conn)? {
        for s in rows::steps(conn, r.id)? {
            if matches!(s.state, StepState::BackingUp | StepState::RollingBack) {
                out.insert(s.id);
            }
        }
    }
    Ok(out)
}

/// One audit entry for a rollout's or a step's transition, by the system.
pub(super) fn record(
    conn: &crate::store::Conn,
    rollout: i64,
    action: &str,
    target: &str,
    client: Option<&str>,
    message: &str,
) -> Result<(), StoreError> {
    audit::record(
        conn,
        &Actor::system(),
        action,
        target,
        client,
        serde_json::json!({ "rollout": rollout, "message": message }),
    )
}

/// A std mutex: held only to read or write the set, never across an `.await`.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Polls `check` every half second until it says something or `deadline` passes.
pub(super) async fn until<T, F, Fut>(deadline: Instant, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
