//! One instance's step, as a loop over its recorded state: each pass reads
//! the step, does what its state calls for and writes the next state (with
//! an audit entry) before doing anything more. Resuming after a crash is the
//! same loop starting from whatever state was written last.

use std::time::Instant;

use super::worker::{lock, record, until, RolloutWorker};
use crate::domain::{
    BackupStatus, ClientStatus, DesiredState, Phase, RestoreMode, RolloutKind, RolloutStatus,
    StepState, Trigger,
};
use crate::store::rollouts::{self as rows, RolloutRow, StepRow};
use crate::store::{backup_jobs, backups, instances, Conn, InstanceRow, StoreError};

/// What a step ends or moves on with.
enum Next {
    To(StepState, String),
    /// Retry the job (a backup or restore cut off by the last berth).
    Again,
}

impl RolloutWorker {
    pub(super) async fn run_step(&self, r: &RolloutRow, step: StepRow) -> Result<(), StoreError> {
        let (rid, sid) = (r.id, step.id);
        loop {
            let (rollout, s) = self
                .store
                .read(move |c| Ok((rows::get(c, rid)?, rows::get_step(c, sid)?)))
                .await?;
            let next = match s.state {
                _ if s.state.is_final() => return self.after_final(&rollout, &s).await,
                // A halted rollout starts nothing new; steps under way finish.
                StepState::Pending if rollout.status != RolloutStatus::Running => return Ok(()),
                StepState::Pending => self.begin(&rollout, &s).await?,
                StepState::BackingUp => self.backed_up(&s).await?,
                StepState::Updating => self.updated(&s).await?,
                StepState::RollingBack => self.rolled_back(&rollout, &s).await?,
                _ => unreachable!("final states return above"),
            };
            if let Next::To(state, message) = next {
                self.transition(&rollout, &s, state, &message, |_| Ok(()))
                    .await?;
            }
        }
    }

    /// Writes the step's next state, `also` in the same transaction, and an audit entry.
    async fn transition(
        &self,
        r: &RolloutRow,
        s: &StepRow,
        state: StepState,
        message: &str,
        also: impl FnOnce(&Conn) -> Result<(), StoreError> + Send + 'static,
    ) -> Result<(), StoreError> {
        tracing::info!(rollout = r.id, instance = %s.instance_label, %state, %message, "rollout step");
        let (rid, sid, label, msg) = (r.id, s.id, s.instance_label.clone(), message.to_owned());
        let client = label.split('/').next().unwrap_or_default().to_owned();
        self.store
            .write(move |tx| {
                also(tx)?;
                rows::set_step(tx, sid, state, &msg)?;
                let action = format!("rollout.{state}");
                record(tx, rid, &action, &label, Some(&client), &msg)
            })
            .await?;
        self.reconcile.notify_one();
        Ok(())
    }

    /// A final step: a failed or rolled back update halts the rollout
    /// unless it was told to keep going.
    async fn after_final(&self, r: &RolloutRow, s: &StepRow) -> Result<(), StoreError> {
        let failed = matches!(s.state, StepState::Failed | StepState::RolledBack)
            && r.kind == RolloutKind::Update;
        if !failed || r.keep_going {
            return Ok(());
        }
        let (id, msg) = (
            r.id,
            format!("halted: {} {}: {}", s.instance_label, s.state, s.message),
        );
        self.store
            .write(move |tx| {
                // With nothing left to do it finishes (failed) instead.
                let left = rows::steps(tx, id)?.iter().any(|s| !s.state.is_final());
                if left && rows::get(tx, id)?.status == RolloutStatus::Running {
                    rows::set_status(tx, id, RolloutStatus::Halted, &msg)?;
                    record(tx, id, "rollout.halt", "rollouts", None, &msg)?;
                }
                Ok::<_, StoreError>(())
            })
            .await
    }

    /// Pending: an update records where the instance stands and queues its
    /// backup; a manual rollback has recorded both already.
    async fn begin(&self, r: &RolloutRow, s: &StepRow) -> Result<Next, StoreError> {
        if r.kind == RolloutKind::Rollback {
            return Ok(Next::To(StepState::RollingBack, "rolling back".into()));
        }
        let (iid, sid) = (s.instance_id, s.id);
        let inst = self.store.read(move |c| instances::get(c, iid)).await;
        let inst = match inst {
            Ok(i) if i.desired.is_live() => i,
            _ => return Ok(Next::To(StepState::Failed, "the instance is gone".into())),
        };
        let from_ref = inst.resolved_image();
        let from_id = inst
            .pinned_image_id()
            .or(inst.image_id.as_deref())
            .map(str::to_owned);
        let from_pin = inst.image_tag.clone();
        if from_id.is_some() && from_id == s.to_image_id && from_ref == s.target_ref {
            let msg = format!("already on {from_ref}");
            self.transition(r, s, StepState::Succeeded, &msg, |_| Ok(()))
                .await?;
            return Ok(Next::Again);
        }
        let (slug, name) = (inst.client_slug.clone(), inst.name.clone());
        let msg = "backing up before the update".to_owned();
        self.transition(r, s, StepState::BackingUp, &msg, move |tx| {
            let backup = backups::enqueue(tx, iid, &slug, &name, Trigger::Rollout)?;
            rows::set_step_from(
                tx,
                sid,
                from_pin.as_deref(),
                &from_ref,
                from_id.as_deref(),
                Some(backup),
            )
        })
        .await?;
        Ok(Next::Again)
    }

    /// Backing up: wait for the backup; good → pin the new image (the
    /// reconciler recreates the container); failed → the instance is left
    /// as it was and the step fails.
    async fn backed_up(&self, s: &StepRow) -> Result<Next, StoreError> {
        let Some(bid) = s.backup_id else {
            return Ok(Next::To(StepState::Failed, "no backup was queued".into()));
        };
        let backup = loop {
            let b = self.store.read(move |c| backups::get(c, bid)).await?;
            if b.status.is_finished() {
                break b;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        };
        let (iid, sid) = (s.instance_id, s.id);
        if backup.status == BackupStatus::Failed {
            if lock(&self.retry).remove(&sid) {
                let (slug, name) = (backup.client_slug.clone(), backup.instance_name.clone());
                self.store
                    .write(move |tx| {
                        let again = backups::enqueue(tx, iid, &slug, &name, Trigger::Rollout)?;
                        rows::set_step_backup(tx, sid, Some(again))
                    })
                    .await?;
                return Ok(Next::Again);
            }
            let msg = format!(
                "backup {bid} before the update failed: {}; the instance was not updated",
                backup.message
            );
            return Ok(Next::To(StepState::Failed, msg));
        }
        let Some(to_id) = s.to_image_id.clone() else {
            return Ok(Next::To(
                StepState::Failed,
                "no image ID to update to".into(),
            ));
        };
        let (pin, target) = (s.to_pin.clone(), s.target_ref.clone());
        let msg = format!("backup {bid} taken; updating to {target}");
        let rollout = self.store.read({
            let rid = s.rollout_id;
            move |c| rows::get(c, rid)
        });
        let r = rollout.await?;
        self.transition(&r, s, StepState::Updating, &msg, move |tx| {
            instances::set_desired_image(tx, iid, pin.as_deref(), &target, &to_id)
        })
        .await?;
        Ok(Next::Again)
    }

    /// Updating: the instance must run the new image and be healthy within
    /// `[updates] health_timeout`; anything else rolls it back.
    async fn updated(&self, s: &StepRow) -> Result<Next, StoreError> {
        let Some(to_id) = s.to_image_id.clone() else {
            return Ok(Next::To(
                StepState::RollingBack,
                "no image ID to update to".into(),
            ));
        };
        // Re-set (idempotent): a crash may have come before the reconciler acted.
        let (iid, pin, target, want) = (
            s.instance_id,
            s.to_pin.clone(),
            s.target_ref.clone(),
            to_id.clone(),
        );
        let inst = self
            .store
            .write(move |c| {
                instances::set_desired_image(c, iid, pin.as_deref(), &target, &want)?;
                instances::get(c, iid)
            })
            .await?;
        self.reconcile.notify_one();
        // A stopped (or suspended) instance has no health to wait for: its
        // next container is created on the pinned image when it starts.
        if inst.desired != DesiredState::Running || inst.client_status != ClientStatus::Active {
            let msg = format!("pinned to {}; the instance is not running", s.target_ref);
            return Ok(Next::To(StepState::Succeeded, msg));
        }
        crate::testhook::pause_at("rollout-updating").await;
        match self.wait_healthy(s.instance_id, &to_id).await {
            Ok(()) => Ok(Next::To(
                StepState::Succeeded,
                format!("healthy on {}", s.target_ref),
            )),
            Err(why) => Ok(Next::To(
                StepState::RollingBack,
                format!("{why}; rolling back"),
            )),
        }
    }

    /// Healthy: the observed container runs `image_id` and its phase is
    /// running (the reconciler records health); unhealthy or an error on
    /// that image fails at once, anything else at the deadline.
    async fn wait_healthy(&self, iid: i64, image_id: &str) -> Result<(), String> {
        let deadline = Instant::now() + self.config.updates.health_timeout;
        let seen = until(deadline, || async {
            let inst = self
                .store
                .read(move |c| instances::get(c, iid))
                .await
                .ok()?;
            let on_it = inst.image_id.as_deref() == Some(image_id) && inst.container_id.is_some();
            match inst.phase {
                Phase::Running if on_it && inst.message.is_empty() => Some(Ok(())),
                Phase::Unhealthy if on_it => Some(Err(format!("unhealthy: {}", inst.message))),
                Phase::Error if on_it => Some(Err(format!("error: {}", inst.message))),
                _ => None,
            }
        })
        .await;
        seen.unwrap_or_else(|| {
            Err(format!(
                "not healthy within {} s",
                self.config.updates.health_timeout.as_secs()
            ))
        })
    }

    /// Rolling back: pin the image from before, wait for the container on
    /// it, then restore the pre-update backup in place (the restore stops
    /// it, swaps the data atomically, starts it and waits for health).
    async fn rolled_back(&self, r: &RolloutRow, s: &StepRow) -> Result<Next, StoreError> {
        let (pin, image_ref, image_id) = match r.kind {
            RolloutKind::Update => (
                s.from_pin.clone(),
                s.from_ref.clone(),
                s.from_image_id.clone(),
            ),
            RolloutKind::Rollback => (
                s.to_pin.clone(),
                Some(s.target_ref.clone()),
                s.to_image_id.clone(),
            ),
        };
        let (Some(image_ref), Some(image_id), Some(bid)) = (image_ref, image_id, s.backup_id)
        else {
            return Ok(Next::To(
                StepState::Failed,
                format!(
                    "{}; cannot roll back: no image or backup from before",
                    s.message
                ),
            ));
        };
        let (iid, sid) = (s.instance_id, s.id);
        let (p, rf, id) = (pin.clone(), image_ref.clone(), image_id.clone());
        let inst = self
            .store
            .write(move |tx| {
                instances::set_desired_image(tx, iid, p.as_deref(), &rf, &id)?;
                instances::get(tx, iid)
            })
            .await?;
        self.reconcile.notify_one();
        crate::testhook::pause_at("rollout-rolling-back").await;
        if s.restore_id.is_none() {
            if let Err(why) = self.wait_recreated(&inst, &image_id).await {
                return Ok(Next::To(
                    StepState::Failed,
                    format!("rollback failed: {why}"),
                ));
            }
            self.store
                .write(move |tx| {
                    let restore = backup_jobs::enqueue_restore(tx, bid, iid, RestoreMode::InPlace)?;
                    rows::set_step_restore(tx, sid, Some(restore))
                })
                .await?;
            return Ok(Next::Again);
        }
        let rid = s.restore_id.unwrap_or_default();
        let restore = loop {
            let j = self
                .store
                .read(move |c| backup_jobs::get_restore(c, rid))
                .await?;
            if j.status.is_finished() {
                break j;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        };
        if restore.status == BackupStatus::Ok {
            let msg = format!("rolled back to {image_ref} with the data of backup {bid}");
            return Ok(Next::To(StepState::RolledBack, msg));
        }
        if lock(&self.retry).remove(&sid) {
            self.store
                .call(move |c| rows::set_step_restore(c, sid, None))
                .await?;
            return Ok(Next::Again);
        }
        Ok(Next::To(
            StepState::Failed,
            format!("rollback failed: restore {rid}: {}", restore.message),
        ))
    }

    /// The reconciler has replaced the container with one on `image_id`
    /// (running or not: the old version may not start on migrated data,
    /// which the restore puts back).
    async fn wait_recreated(&self, inst: &InstanceRow, image_id: &str) -> Result<(), String> {
        // Not running: nothing is recreated; the restore swaps the data alone.
        if inst.desired != DesiredState::Running || inst.client_status != ClientStatus::Active {
            return Ok(());
        }
        let deadline = Instant::now() + self.config.updates.health_timeout;
        let iid = inst.id;
        until(deadline, || async {
            let i = self
                .store
                .read(move |c| instances::get(c, iid))
                .await
                .ok()?;
            (i.image_id.as_deref() == Some(image_id) && i.container_id.is_some()).then_some(())
        })
        .await
        .ok_or_else(|| format!("no container on {image_id} within the health timeout"))
    }
}
