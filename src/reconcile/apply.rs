//! Carries out a plan's actions, stage by stage, concurrently within a stage.
//! Failures do not stop the pass: they become the instance's error phase.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;

use futures_util::stream::{FuturesUnordered, StreamExt};

use super::late::{Chain, PassWork};
use super::observe::PassNotes;
use super::plan::{Action, DesiredInstance, RemoveReason};
use super::worker::Reconciler;
use crate::blueprint::BuildKind;
use crate::docker::{busybox_rootfs, DockerError};
use crate::fsutil::{self, Owner};
use crate::store::instances;

/// Docker overlaps creates and starts well up to a few dozen; beyond that
/// they only queue inside the engine.
const CONCURRENCY: usize = 24;
const STOP_TIMEOUT_S: i64 = 10;

enum Outcome {
    Done,
    Pulling(String),
}

impl Reconciler {
    /// Orphans go first, then each instance's actions run as one chain (in
    /// stage order), chains concurrently: a new instance's create does not
    /// wait for every other instance's network. Instances created meanwhile
    /// join `work` and run their chains alongside (see `late`). Networks are
    /// removed last, once their containers are gone. A failed step ends its chain.
    pub(super) async fn apply(&self, actions: Vec<Action>, work: &mut PassWork) -> PassNotes {
        let desired: Arc<[DesiredInstance]> = work.instances.clone().into();
        let mut notes = PassNotes::default();
        let mut orphans = Vec::new();
        let mut chains: std::collections::BTreeMap<i64, Vec<Action>> = Default::default();
        let mut networks = Vec::new();
        for a in actions {
            match (a.instance_id(), &a) {
                (None, Action::RemoveNetwork { .. }) => networks.push((vec![a], desired.clone())),
                (Some(id), _) => chains.entry(id).or_default().push(a),
                (None, _) => orphans.push((vec![a], desired.clone())),
            }
        }
        let chains = chains.into_values().map(|c| (c, desired.clone()));
        self.run_all(orphans, None, &mut notes).await;
        self.run_all(chains, Some(work), &mut notes).await;
        self.run_all(networks, None, &mut notes).await;
        notes
    }

    /// Runs `chains`, [`CONCURRENCY`] at a time; with `join`, a wake-up
    /// meanwhile adds the chains of newly created instances.
    async fn run_all(
        &self,
        chains: impl IntoIterator<Item = Chain>,
        mut join: Option<&mut PassWork>,
        notes: &mut PassNotes,
    ) {
        let mut queue: VecDeque<Chain> = chains.into_iter().collect();
        let mut running = FuturesUnordered::new();
        loop {
            while running.len() < CONCURRENCY {
                let Some(chain) = queue.pop_front() else {
                    break;
                };
                running.push(self.run_chain(chain));
            }
            if running.is_empty() {
                break;
            }
            tokio::select! {
                Some((id, result)) = running.next() => note(notes, id, result),
                _ = self.wake.notified(), if join.is_some() => {
                    if let Some(work) = join.as_deref_mut() {
                        queue.extend(self.join_late(work).await);
                    }
                }
            }
        }
    }

    async fn run_chain(&self, (chain, desired): Chain) -> (Option<i64>, Result<Outcome, String>) {
        let id = chain.first().and_then(Action::instance_id);
        let mut last = Ok(Outcome::Done);
        for action in &chain {
            let started = std::time::Instant::now();
            last = self.apply_one(action, &desired).await;
            tracing::debug!(
                instance = id,
                step = action.kind(),
                ms = started.elapsed().as_millis() as u64,
                "timing action"
            );
            match &last {
                Err(e) => {
                    tracing::warn!(?action, error = %e, "action failed");
                    break;
                }
                Ok(Outcome::Pulling(_)) => break,
                Ok(Outcome::Done) => {}
            }
        }
        (id, last)
    }

    async fn apply_one(
        &self,
        action: &Action,
        desired: &[DesiredInstance],
    ) -> Result<Outcome, String> {
        let d = |id: i64| {
            desired
                .iter()
                .find(|d| d.id == id)
                .ok_or_else(|| format!("instance {id} vanished"))
        };
        match action {
            Action::Remove {
                container_id,
                name,
                reason,
                ..
            } => {
                tracing::info!(container = %name, ?reason, "removing container");
                self.docker
                    .stop(container_id, STOP_TIMEOUT_S)
                    .await
                    .map_err(text)?;
                self.docker.remove(container_id).await.map_err(text)?;
                if *reason == RemoveReason::Outdated {
                    crate::testhook::pause_at("recreate-removed").await;
                }
            }
            Action::Stop { container_id, .. } => self
                .docker
                .stop(container_id, STOP_TIMEOUT_S)
                .await
                .map_err(text)?,
            Action::CreateNetwork { instance_id, name } => {
                let subnet = self.config.instance_subnet(d(*instance_id)?.spec.host_port);
                self.docker
                    .ensure_network(name, *instance_id, Some(&subnet))
                    .await
                    .map_err(text)?
            }
            Action::Create { instance_id, start } => {
                return self.create(d(*instance_id)?, *start).await
            }
            Action::Start { container_id, .. } => {
                self.docker.start(container_id).await.map_err(text)?
            }
            Action::Restart {
                instance_id,
                container_id,
                generation,
            } => {
                self.docker
                    .stop(container_id, STOP_TIMEOUT_S)
                    .await
                    .map_err(text)?;
                self.docker.start(container_id).await.map_err(text)?;
                let (id, generation) = (*instance_id, *generation);
                self.store
                    .call(move |conn| instances::restart_done(conn, id, generation))
                    .await
                    .map_err(text)?;
            }
            Action::RemoveNetwork { name, .. } => {
                self.docker.remove_network(name).await.map_err(text)?
            }
        }
        Ok(Outcome::Done)
    }

    async fn create(&self, d: &DesiredInstance, start: bool) -> Result<Outcome, String> {
        let started = std::time::Instant::now();
        let lap = |step: &'static str| {
            tracing::debug!(
                instance = d.id,
                step,
                at_ms = started.elapsed().as_millis() as u64,
                "timing create"
            )
        };
        if let Some(progress) = self.ensure_image(d).await? {
            return Ok(Outcome::Pulling(progress));
        }
        lap("image");
        self.prepare_data_dir(d).await?;
        lap("data_dir");
        let id = match self.docker.create(&d.spec).await {
            Ok(id) => id,
            Err(DockerError::Conflict(_)) => {
                return Err(format!(
                    "a container named {} exists that berth does not manage; rename or remove it",
                    d.spec.name
                ))
            }
            Err(e) => return Err(e.to_string()),
        };
        lap("container");
        if start {
            self.docker.start(&id).await.map_err(text)?;
            lap("start");
        }
        // A restart requested before the container existed is satisfied by creating it.
        if let Some(generation) = d.restart {
            let instance = d.id;
            self.store
                .call(move |conn| instances::restart_done(conn, instance, generation))
                .await
                .map_err(text)?;
        }
        Ok(Outcome::Done)
    }

    /// `Ok(None)` when the image is present; `Ok(Some(progress))` while a pull runs.
    async fn ensure_image(&self, d: &DesiredInstance) -> Result<Option<String>, String> {
        if let Some(id) = &d.spec.create_from {
            if self.docker.image_present(id).await.map_err(text)? {
                return Ok(None);
            }
            // Removed by hand: the instance cannot run what no longer exists,
            // so its tag is resolved again (and adopted) on the next pass.
            let (instance, gone) = (d.id, id.clone());
            self.store
                .call(move |conn| instances::forget_desired_image(conn, instance, &gone))
                .await
                .map_err(text)?;
            tracing::warn!(instance = d.id, image_id = %id, "pinned image is gone; resolving its tag again");
            self.wake.notify_one();
            return Err(format!(
                "image {id} is gone; resolving {} again",
                d.spec.image
            ));
        }
        let image = &d.spec.image;
        if self.docker.image_present(image).await.map_err(text)? {
            return Ok(None);
        }
        let blueprint = self.blueprints.get_by_image(image);
        if blueprint.and_then(|b| b.build) == Some(BuildKind::Busybox) {
            let _one_at_a_time = self.build_lock.lock().await;
            if !self.docker.image_present(image).await.map_err(text)? {
                let busybox = self.config.docker.busybox.clone();
                let tar = tokio::task::spawn_blocking(move || busybox_rootfs(&busybox))
                    .await
                    .map_err(text)?
                    .map_err(|e| {
                        format!(
                            "building {image} from {}: {e}",
                            self.config.docker.busybox.display()
                        )
                    })?;
                self.docker
                    .import_rootfs(tar, image, &[])
                    .await
                    .map_err(text)?;
                tracing::info!(%image, "built image from busybox");
            }
            return Ok(None);
        }
        self.pulls.ensure(
            &self.docker,
            &self.wake,
            image,
            self.config.docker.pull_timeout,
        )
    }

    /// Creates the instance's data dir (owned by the blueprint's container
    /// user) and writes the blueprint's seed files that are missing; existing
    /// data is never overwritten and no link in it is ever followed.
    async fn prepare_data_dir(&self, d: &DesiredInstance) -> Result<(), String> {
        let dir = d.spec.data_dir.clone();
        // A reader: in a burst the writer is busy with the creates' own
        // inserts, and every chain would queue behind them here.
        let rows = self.store.read({
            let id = d.id;
            move |conn| instances::get(conn, id)
        });
        let row = rows.await.map_err(text)?;
        let bp = self.blueprints.get(&row.blueprint);
        let owner = bp.map_or(Owner { uid: 0, gid: 0 }, |bp| bp.data_owner());
        let seeds: Vec<(String, String)> = match bp {
            Some(bp) => {
                let fill = super::desired::placeholders(&row, &self.config);
                bp.seed
                    .iter()
                    .map(|(file, body)| (file.clone(), fill.fill(body, file.ends_with(".html"))))
                    .collect()
            }
            None => Vec::new(),
        };
        tokio::task::spawn_blocking(move || write_seeds(&dir, &seeds, owner))
            .await
            .map_err(text)?
    }
}

/// Errors name the path and are the instance's phase message.
fn write_seeds(dir: &Path, seeds: &[(String, String)], owner: Owner) -> Result<(), String> {
    let fd = fsutil::ensure_data_dir(dir, owner)?;
    for (file, body) in seeds {
        fsutil::create_new_file(&fd, dir, file, body.as_bytes(), owner)?;
    }
    Ok(())
}

fn note(notes: &mut PassNotes, id: Option<i64>, result: Result<Outcome, String>) {
    match (id, result) {
        (Some(id), Err(e)) => {
            notes.errors.insert(id, e);
        }
        (Some(id), Ok(Outcome::Pulling(p))) => {
            notes.pulling.insert(id, p);
        }
        _ => {}
    }
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}
