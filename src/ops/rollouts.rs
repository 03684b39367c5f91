//! Rollouts and manual rollbacks: checked here and written as desired state
//! (a rollout row with one step per instance); the rollout worker
//! (`crate::rollout`) carries them out and resumes them after a restart.

use serde::Deserialize;
use serde_json::json;

use super::backups::live_instance;
use super::instances::parse_tag;
use super::{Ops, OpsError};
use crate::audit::{self, Actor};
use crate::domain::{RolloutKind, RolloutStatus, StepState, Waves};

pub use super::rollout_views::{RolloutStepView, RolloutView};
use crate::store::instances::{self, with_tag};
use crate::store::rollouts::{self as rows, NewRollout, NewStep};
use crate::store::Conn;

/// How many rollouts `list_rollouts` returns at most.
pub const ROLLOUT_LIST_LIMIT: u32 = 100;

/// `POST /api/v1/rollouts`, `berth update apply`, the admin form.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutInput {
    pub blueprint: String,
    /// The tag to move to; none: each instance's own tag, pulled afresh.
    pub tag: Option<String>,
    /// A subset of the blueprint's instances (ids); none: all of them.
    pub instances: Option<Vec<i64>>,
    /// e.g. "1,5,all" (the default is "1,all": a canary, then the rest).
    pub waves: Option<String>,
    /// Go on to the next instances after a failed one instead of halting.
    #[serde(default)]
    pub keep_going: bool,
}

impl Ops {
    /// Starts a rollout of `input.blueprint`'s instances: checked, written
    /// with one step per instance, and handed to the rollout worker. 422 for
    /// bad input or no instances, 409 when an instance is in another rollout.
    pub async fn start_rollout(
        &self,
        actor: &Actor,
        input: RolloutInput,
    ) -> Result<RolloutView, OpsError> {
        let blueprint = input.blueprint.trim().to_owned();
        if self.blueprints.get(&blueprint).is_none() {
            return Err(OpsError::Refused(format!(
                "blueprint {blueprint:?} is not installed"
            )));
        }
        let tag = match input.tag.as_deref().map(str::trim) {
            Some(t) => parse_tag(t)?,
            None => None,
        };
        let waves = Waves::parse(input.waves.as_deref().unwrap_or(""))?;
        let (actor, keep_going, subset) = (actor.clone(), input.keep_going, input.instances);
        let view = self
            .write(move |tx| {
                let targets = pick_instances(tx, &blueprint, subset.as_deref())?;
                let assigned = waves.assign(targets.len());
                let mut steps = Vec::with_capacity(targets.len());
                for (inst, wave) in targets.iter().zip(assigned) {
                    if let Some(other) = rows::busy_with(tx, inst.id)? {
                        return Err(OpsError::Conflict(format!(
                            "{}/{} is already in rollout {other}; halt it or wait for it to finish",
                            inst.client_slug, inst.name
                        )));
                    }
                    steps.push(NewStep {
                        instance_id: inst.id,
                        label: format!("{}/{}", inst.client_slug, inst.name),
                        wave,
                        target_ref: match &tag {
                            Some(t) => with_tag(&inst.image, t),
                            None => inst.resolved_image(),
                        },
                        state: StepState::Pending,
                    });
                }
                let waves_text = waves.to_string();
                let id = rows::insert(
                    tx,
                    &NewRollout {
                        kind: RolloutKind::Update,
                        blueprint: &blueprint,
                        tag: tag.as_deref(),
                        waves: &waves_text,
                        keep_going,
                        status: RolloutStatus::Pulling,
                        actor: &actor.name,
                    },
                    &steps,
                )?;
                let ids: Vec<i64> = targets.iter().map(|i| i.id).collect();
                audit::record(
                    tx,
                    &actor,
                    "rollout.start",
                    &format!("rollout/{id}"),
                    None,
                    json!({ "blueprint": blueprint, "tag": tag, "instances": ids,
                            "waves": waves_text, "keep_going": keep_going }),
                )?;
                view(tx, id)
            })
            .await?;
        self.wake_rollouts();
        Ok(view)
    }

    pub async fn get_rollout(&self, id: i64) -> Result<RolloutView, OpsError> {
        self.store.read(move |conn| Ok(view(conn, id))).await?
    }

    /// The newest rollouts first (at most [`ROLLOUT_LIST_LIMIT`]).
    pub async fn list_rollouts(&self) -> Result<Vec<RolloutView>, OpsError> {
        self.store
            .read(|conn| {
                Ok(rows::list(conn, ROLLOUT_LIST_LIMIT)?
                    .into_iter()
                    .map(|r| {
                        let steps = rows::steps(conn, r.id)?;
                        Ok(RolloutView::new(r, steps))
                    })
                    .collect::<Result<Vec<_>, OpsError>>())
            })
            .await?
    }

    /// Stops a rollout before its next step; a step under way finishes
    /// (a backup or a rollback is never cut off). 422 once it has finished.
    pub async fn halt_rollout(&self, actor: &Actor, id: i64) -> Result<RolloutView, OpsError> {
        let actor = actor.clone();
        let v = self
            .write(move |tx| {
                let r = rows::get(tx, id)?;
                if !matches!(r.status, RolloutStatus::Pulling | RolloutStatus::Running) {
                    return Err(OpsError::Refused(format!(
                        "rollout {id} is {}; only a pulling or running rollout can be halted",
                        r.status
                    )));
                }
                let msg = format!("halted by {}", actor.name);
                rows::set_status(tx, id, RolloutStatus::Halted, &msg)?;
                audit::record(
                    tx,
                    &actor,
                    "rollout.halt",
                    &format!("rollout/{id}"),
                    None,
                    json!({}),
                )?;
                view(tx, id)
            })
            .await?;
        self.wake_rollouts();
        Ok(v)
    }

    /// Continues a halted rollout with its pending steps (failed ones stay
    /// as they are). 422 unless it is halted.
    pub async fn resume_rollout(&self, actor: &Actor, id: i64) -> Result<RolloutView, OpsError> {
        let actor = actor.clone();
        let v = self
            .write(move |tx| {
                let r = rows::get(tx, id)?;
                if r.status != RolloutStatus::Halted {
                    return Err(OpsError::Refused(format!(
                        "rollout {id} is {}; only a halted rollout can be resumed",
                        r.status
                    )));
                }
                let steps = rows::steps(tx, id)?;
                for s in steps.iter().filter(|s| !s.state.is_final()) {
                    if let Some(other) = rows::busy_with(tx, s.instance_id)?.filter(|o| *o != id) {
                        return Err(OpsError::Conflict(format!(
                            "{} is in rollout {other} now; finish or halt that one first",
                            s.instance_label
                        )));
                    }
                }
                // The image is resolved once for every step, at the pull.
                let pulled = r.kind == RolloutKind::Rollback
                    || steps
                        .iter()
                        .all(|s| s.to_image_id.is_some() || s.state.is_final());
                let status = if pulled {
                    RolloutStatus::Running
                } else {
                    RolloutStatus::Pulling
                };
                rows::set_status(tx, id, status, &format!("resumed by {}", actor.name))?;
                audit::record(
                    tx,
                    &actor,
                    "rollout.resume",
                    &format!("rollout/{id}"),
                    None,
                    json!({}),
                )?;
                view(tx, id)
            })
            .await?;
        self.wake_rollouts();
        Ok(v)
    }

    /// Ends a halted rollout for good: its pending instances are skipped and
    /// keep what they run. 422 unless it is halted, or while the step under
    /// way when it was halted (a backup, an update, a rollback) still runs.
    pub async fn cancel_rollout(&self, actor: &Actor, id: i64) -> Result<RolloutView, OpsError> {
        let actor = actor.clone();
        self.write(move |tx| {
            let r = rows::get(tx, id)?;
            if r.status != RolloutStatus::Halted {
                return Err(OpsError::Refused(format!(
                    "rollout {id} is {}; only a halted rollout can be cancelled (halt it first)",
                    r.status
                )));
            }
            let steps = rows::steps(tx, id)?;
            if let Some(busy) = steps
                .iter()
                .find(|s| !s.state.is_final() && s.state != StepState::Pending)
            {
                return Err(OpsError::Refused(format!(
                    "{} is still {}; cancel once that step has finished",
                    busy.instance_label, busy.state
                )));
            }
            let skipped = rows::skip_pending(tx, id, &format!("cancelled by {}", actor.name))?;
            let msg = format!(
                "cancelled by {}; {skipped} instance(s) not updated",
                actor.name
            );
            rows::set_status(tx, id, RolloutStatus::Cancelled, &msg)?;
            audit::record(
                tx,
                &actor,
                "rollout.cancel",
                &format!("rollout/{id}"),
                None,
                json!({ "skipped": skipped }),
            )?;
            view(tx, id)
        })
        .await
    }

    /// Rolls one instance back to the image it ran before its last update,
    /// with the data of the backup taken just before it, as a tracked
    /// rollout of kind `rollback`. 422 when there is nothing to roll back
    /// to, 409 when the instance is in a rollout.
    pub async fn rollback_instance(
        &self,
        actor: &Actor,
        instance_id: i64,
    ) -> Result<RolloutView, OpsError> {
        let actor = actor.clone();
        let v = self
            .write(move |tx| {
                let inst = live_instance(tx, instance_id)?;
                let label = format!("{}/{}", inst.client_slug, inst.name);
                if let Some(other) = rows::busy_with(tx, instance_id)? {
                    return Err(OpsError::Conflict(format!(
                        "{label} is in rollout {other}; halt it or wait for it to finish"
                    )));
                }
                let point = match super::rollout_points::rollback_point(tx, instance_id)? {
                    Ok(p) => p,
                    Err(why) => {
                        return Err(OpsError::Refused(format!(
                            "nothing to roll back to: {label} {why}"
                        )))
                    }
                };
                let (last, image_id, image_ref, backup_id) =
                    (point.step, point.image_id, point.image_ref, point.backup_id);
                let id = rows::insert(
                    tx,
                    &NewRollout {
                        kind: RolloutKind::Rollback,
                        blueprint: &inst.blueprint,
                        tag: None,
                        waves: "1",
                        keep_going: false,
                        status: RolloutStatus::Running,
                        actor: &actor.name,
                    },
                    &[NewStep {
                        instance_id,
                        label: label.clone(),
                        wave: 1,
                        target_ref: image_ref.clone(),
                        state: StepState::Pending,
                    }],
                )?;
                let step = rows::steps(tx, id)?.remove(0);
                rows::set_step_from(
                    tx,
                    step.id,
                    inst.image_tag.as_deref(),
                    &inst.resolved_image(),
                    inst.pinned_image_id().or(inst.image_id.as_deref()),
                    Some(backup_id),
                )?;
                rows::set_step_to(tx, step.id, last.from_pin.as_deref(), &image_id)?;
                audit::record(
                    tx,
                    &actor,
                    "instance.rollback",
                    &label,
                    Some(&inst.client_slug),
                    json!({ "rollout": id, "undoes": last.rollout_id, "image": image_ref,
                            "image_id": image_id, "backup": backup_id }),
                )?;
                view(tx, id)
            })
            .await?;
        self.wake_rollouts();
        Ok(v)
    }

    /// Wakes the rollout worker (and the reconciler, which carries out
    /// what a step changes).
    fn wake_rollouts(&self) {
        self.rollout_wake.notify_one();
        self.wake();
    }
}

/// The live instances of `blueprint` (or the named subset of them).
fn pick_instances(
    conn: &Conn,
    blueprint: &str,
    subset: Option<&[i64]>,
) -> Result<Vec<crate::store::InstanceRow>, OpsError> {
    let all: Vec<_> = instances::list_all(conn)?
        .into_iter()
        .filter(|i| i.desired.is_live())
        .collect();
    let picked: Vec<_> = match subset {
        None => all
            .into_iter()
            .filter(|i| i.blueprint == blueprint)
            .collect(),
        Some(ids) => {
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let Some(inst) = all.iter().find(|i| i.id == *id) else {
                    return Err(OpsError::Refused(format!("instance {id} not found")));
                };
                if inst.blueprint != blueprint {
                    return Err(OpsError::Refused(format!(
                        "instance {id} ({}/{}) runs blueprint {}, not {blueprint}",
                        inst.client_slug, inst.name, inst.blueprint
                    )));
                }
                if !out.iter().any(|o: &crate::store::InstanceRow| o.id == *id) {
                    out.push(inst.clone());
                }
            }
            out
        }
    };
    if picked.is_empty() {
        return Err(OpsError::Refused(format!(
            "no instances of blueprint {blueprint} to update"
        )));
    }
    Ok(picked)
}

fn view(conn: &Conn, id: i64) -> Result<RolloutView, OpsError> {
    let r = rows::get(conn, id)?;
    let steps = rows::steps(conn, id)?;
    Ok(RolloutView::new(r, steps))
}
